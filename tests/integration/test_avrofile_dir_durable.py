# test_avrofile_dir_durable.py — directories are made durable before a
# checkpoint covers what is in them: every directory the avro-file sink
# creates (sink.dir and its missing parents, each series directory) is
# fsynced in its parent, and every new file, rename or delete in a series
# directory is followed by an fsync of that directory, before the next
# checkpoint is renamed into place. Checked on the system calls themselves
# (strace -f -y), since only a power loss would show it otherwise.
import os
import re
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

STRACE = shutil.which("strace")


def parse(path):
    """[(syscall, args text, result)] in order, all threads."""
    calls = []
    pat = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")
    with open(path) as f:
        for line in f:
            m = pat.match(line)
            if m:
                calls.append((m.group(1), m.group(2), int(m.group(3))))
    return calls


def check_durable(calls, base, out, ckpt_json):
    """Every name created/renamed/removed under out is followed by an fsync
    of its directory before the next checkpoint rename."""
    pending = set()  # directories whose entries changed, not yet fsynced
    ncheck = 0
    for name, args, rc in calls:
        if rc < 0:
            continue
        paths = re.findall(r'"([^"]*)"', args)
        if name in ("mkdir", "mkdirat") and paths and paths[-1].startswith(base):
            pending.add(os.path.dirname(os.path.abspath(paths[-1])))
        elif name in ("openat", "open") and "O_CREAT" in args and paths and paths[-1].startswith(out):
            pending.add(os.path.dirname(paths[-1]))
        elif name in ("rename", "renameat", "renameat2", "unlink", "unlinkat") and paths and paths[0].startswith(out):
            for x in paths:
                pending.add(os.path.dirname(x))
        elif name in ("fsync", "fdatasync"):
            m = re.match(r"\d+<(.*)>", args)
            if m:
                pending.discard(m.group(1))
        if name in ("rename", "renameat", "renameat2") and any(x == ckpt_json for x in paths):
            ncheck += 1
            if pending:
                fail(f"checkpoint {ncheck} written while these directories had entries not yet fsynced: "
                     f"{sorted(pending)}")
    return ncheck


def test():
    if STRACE is None:
        fail("strace is needed (apt-get install strace)")
    pg = Postgres().start()
    pg.psql("CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);")
    base = make_tmpdir("wbtest-wb-")
    out = os.path.join(base, "deep", "er", "out")  # three directories to create
    p = Pipeline(pg, name="dd", base=base, out=out, tables=["public.a", "public.b"],
                 extra_sink="  block_bytes: 1024\n  roll_bytes: 4000\n")
    trace = os.path.join(base, "strace.txt")
    for t in range(5):
        pg.psql(f"INSERT INTO a SELECT g, repeat('x', 50) FROM generate_series({t * 40 + 1}, {t * 40 + 40}) g;"
                f"INSERT INTO b SELECT g, repeat('y', 50) FROM generate_series({t * 40 + 1}, {t * 40 + 40}) g;")
    # the slot is made by this run, so these rows come as the snapshot;
    # more come while it streams: rolls, renames
    proc = subprocess.Popen([STRACE, "-f", "-y", "-qq", "-o", trace, "-e",
                             "trace=mkdir,mkdirat,open,openat,rename,renameat,renameat2,unlink,unlinkat,fsync,fdatasync",
                             WAYBILL, "run", "-c", p.config, "--stop-when-idle", "2"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(base, "run.stderr"), "w"),
                            env=waybill_env(ptrace=True))
    add_cleanup(lambda: proc.poll() is None and proc.kill())

    def more():
        for t in range(5, 10):
            pg.psql(f"INSERT INTO a SELECT g, repeat('x', 50) FROM generate_series({t * 40 + 1}, {t * 40 + 40}) g;")
    th = threading.Thread(target=more)
    th.start()
    th.join()
    try:
        rc = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("waybill under strace did not stop")
    with open(os.path.join(base, "run.stderr"), errors="replace") as f:
        check_sanitizer(rc, f.read(), "waybill under strace")
    check_eq(rc, 0, "waybill exits 0")
    ids = [r["after"]["id"] for r in records(out, "dd.public.a")]
    check_eq(sorted(ids), list(range(1, 401)), "a's 400 rows in the files")
    calls = parse(trace)
    ckpt = os.path.join(p.ckpt_dir, "dd.json")
    for d in (os.path.join(base, "deep"), os.path.join(base, "deep", "er"), out, os.path.join(out, "dd.public.a")):
        i = next((k for k, c in enumerate(calls) if c[0] in ("mkdir", "mkdirat") and c[2] == 0
                  and f'"{d}"' in c[1]), None)
        check(i is not None, f"{os.path.relpath(d, base)} created")
        parent = os.path.dirname(d)
        j = next((k for k, c in enumerate(calls[i:]) if c[0] == "fsync"
                  and re.fullmatch(r"\d+<" + re.escape(parent) + ">", c[1])), None)
        check(j is not None, f"{os.path.relpath(d, base)} fsynced in its parent")
    n = check_durable(calls, base, out, ckpt)
    check(n >= 2, f"no checkpoint ({n}) was written before the directory changes it covers were durable")


main(test)
