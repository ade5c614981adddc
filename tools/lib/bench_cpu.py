#!/usr/bin/python3
# bench_cpu.py — CPU seconds per process and per thread while one reader of
# tools/bench runs (tools/bench --profile): where the time goes.
#
#   bench_cpu.py OUT STOPFILE ROOTPID [NAME=PID]...
#
# Every 0.1 s until STOPFILE exists, reads /proc/PID/task/*/stat of: ROOTPID
# and its descendants (the reader: /usr/bin/time and what it runs), each
# named PID and its descendants (the Kafka broker), and PostgreSQL's
# walsenders (processes whose command line says walsender). Writes to OUT,
# per process, its CPU seconds (user + system) used while sampling, and its
# threads' (grouped by thread name with digits dropped), largest first, each
# with the seconds it was runnable but waited for a CPU (the run queue,
# /proc/PID/task/TID/schedstat), and how many times it was put on a CPU (a
# thread that neither runs nor waits there was blocked: on its socket, a
# lock, a sleep; each wake-up is one more time).
import os
import re
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat(path):
    try:
        with open(path) as f:
            s = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split at the last ')'
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK  # ppid, utime+stime


def runq(path):
    """(seconds runnable waiting for a CPU, times scheduled onto one)."""
    try:
        with open(path) as f:
            fields = f.read().split()
        return int(fields[1]) / 1e9, int(fields[2])
    except (OSError, IndexError, ValueError):
        return 0.0, 0


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def main():
    out, stop, root = sys.argv[1], sys.argv[2], int(sys.argv[3])
    named = {int(v): k for k, v in (a.split("=", 1) for a in sys.argv[4:])}
    base = {}     # tid → (cpu, run-queue wait, runs) at first sight
    last = {}     # tid → (pid, thread name, cpu, run-queue wait, runs)
    label = {}    # pid → label
    first = True
    while True:
        procs = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = stat(f"/proc/{d}/stat")
                if st:
                    procs[int(d)] = st
        children = {}
        for pid, (_, ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        want = {}

        def walk(pid, name):
            want[pid] = name
            for c in children.get(pid, []):
                walk(c, name)
        walk(root, None)
        for pid, name in named.items():
            if pid in procs:
                walk(pid, name)
        for pid, (comm, _, _) in procs.items():
            if comm == "postgres" and pid not in want and "walsender" in cmdline(pid):
                want[pid] = "walsender"
        for pid, name in want.items():
            if pid not in label:
                label[pid] = name or (f"{procs[pid][0]}: {cmdline(pid)[:70]}" if pid in procs else str(pid))
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for t in tids:
                st = stat(f"/proc/{pid}/task/{t}/stat")
                if st is None:
                    continue
                tid = int(t)
                wait, runs = runq(f"/proc/{pid}/task/{t}/schedstat")
                if tid not in base:
                    # threads of processes running before the reader (the
                    # broker, a walsender) count from here; the reader's
                    # from its start
                    base[tid] = (st[2], wait, runs) if first and name is not None else (0.0, 0.0, 0)
                last[tid] = (pid, st[0], st[2], wait, runs)
        first = False
        if os.path.exists(stop):
            break
        time.sleep(0.1)
    per_proc = {}
    for tid, (pid, name, cpu, wait, runs) in last.items():
        b_cpu, b_wait, b_runs = base.get(tid, (0.0, 0.0, 0))
        group = re.sub(r"[0-9]+", "N", name)
        p = per_proc.setdefault(label.get(pid, str(pid)), {})
        c, w, r = p.get(group, (0.0, 0.0, 0))
        p[group] = (c + cpu - b_cpu, w + wait - b_wait, r + runs - b_runs)
    with open(out, "w") as f:
        for proc, threads in sorted(per_proc.items(), key=lambda kv: -sum(t[0] for t in kv[1].values())):
            total = sum(t[0] for t in threads.values())
            if total < 0.05:
                continue
            f.write(f"      {total:7.2f} s  {proc}\n")
            for name, (cpu, wait, runs) in sorted(threads.items(), key=lambda kv: -kv[1][0])[:8]:
                if cpu >= 0.05:
                    f.write(f"               {cpu:7.2f} s  thread {name:16s}"
                            f"(waited for a CPU {wait:.2f} s; ran {runs} times)\n")


main()
