# test_systemd_notify.py — `waybill run` under systemd's notification
# protocol (sd_notify(3)), against a real PostgreSQL pipeline: a unix
# datagram socket stands in for systemd (NOTIFY_SOCKET) with a watchdog of
# 1 s (WATCHDOG_USEC); the messages must come in order: READY=1 with a
# STATUS=, WATCHDOG=1 every half interval, STATUS= lines with the
# checkpointed position that the checkpoint file holds and the events
# written, STOPPING=1 at SIGTERM. Then `systemd-analyze verify` on the units
# (dist/systemd/*.service.in with ExecStart naming the built binary), where
# it works in this container.
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

SRC = os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("WB_BUILD_DIR", os.path.dirname(WAYBILL))


class Listener:
    """systemd's end of the protocol: every datagram, with its arrival time."""

    def __init__(self):
        d = make_tmpdir("wbtest-notify-")
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        add_cleanup(self.sock.close)
        self.msgs = []  # (time, {VAR: value}, raw)

    def drain(self, seconds=0.0):
        end = time.time() + seconds
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                if time.time() >= end:
                    return
                continue
            text = data.decode()
            kv = dict(line.split("=", 1) for line in text.split("\n") if "=" in line)
            self.msgs.append((time.time(), kv, text))

    def wait_for(self, pred, timeout, what, proc=None):
        deadline = time.time() + timeout
        while True:
            for m in self.msgs:
                if pred(m[1]):
                    return m
            if proc is not None and not proc.alive():
                fail(f"waybill exited ({proc.p.returncode}) before {what}; stderr:\n{proc.stderr()[-3000:]}")
            if time.time() > deadline:
                fail(f"no notify message {what} within {timeout}s; got {[m[2] for m in self.msgs]}")
            self.drain(0.1)


STATUS_RE = re.compile(r"^streaming: checkpoint (\S+|none yet), lag (\d+\.\d) s, (\d+) events$")


def test_notify():
    pg = Postgres().start()
    pg.psql("CREATE TABLE sd_t (id int PRIMARY KEY, v text); INSERT INTO sd_t VALUES (1, 'a'), (2, 'b');")
    p = Pipeline(pg, name="sd", tables=["public.sd_t"])
    lis = Listener()
    log("run with NOTIFY_SOCKET and WATCHDOG_USEC=1000000")
    proc = Proc([WAYBILL, "run", "-c", p.config], p._logfile("notify"),
                env={"NOTIFY_SOCKET": lis.path, "WATCHDOG_USEC": "1000000"})
    ready = lis.wait_for(lambda kv: "READY" in kv, 30, "READY=1", proc)
    check_eq(ready[1]["READY"], "1", "READY=1")
    check_eq(ready[1].get("STATUS"), "streaming from the start (no checkpoint yet)",
             "READY=1 comes with STATUS= saying where streaming starts")
    check(lis.msgs[0] is ready, "READY=1 is the first message", str([m[2] for m in lis.msgs]))
    check_eq(pg.value("SELECT active FROM pg_replication_slots WHERE slot_name = 'waybill_sd'"), "t",
             "the slot is streaming when READY=1 has come")
    lis.drain(2.2)
    pings = [m[0] for m in lis.msgs if m[1].get("WATCHDOG") == "1"]
    check(len(pings) >= 4, f"WATCHDOG=1 every half interval: {len(pings)} pings in 2.2 s (want >= 4)")
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    check(max(gaps) < 0.9, f"no gap between pings reaches the 1 s watchdog (max {max(gaps):.2f} s)")

    log("STATUS= follows the checkpoint")
    pg.psql("INSERT INTO sd_t VALUES (3, 'c'); INSERT INTO sd_t VALUES (4, 'd');")

    def settled(kv):
        m = STATUS_RE.match(kv.get("STATUS", ""))
        return m is not None and m.group(3) == "4"
    st = lis.wait_for(settled, 30, "STATUS= with 4 events", proc)
    m = STATUS_RE.match(st[1]["STATUS"])
    lis.drain(1.5)
    statuses = [kv["STATUS"] for _, kv, _ in lis.msgs if "STATUS" in kv and "READY" not in kv]
    last = STATUS_RE.match(statuses[-1])
    check(last is not None, "the last STATUS= is a streaming line", statuses[-1])
    ck = p.checkpoint()
    check_eq(last.group(1), ck["position"], "STATUS= names the position the checkpoint file holds")
    check_eq(last.group(3), "4", "STATUS= counts 4 events (2 snapshot rows, 2 inserts)")
    check_eq(last.group(2), "0.0", "STATUS= lag 0.0 s once everything is delivered")
    check(all(STATUS_RE.match(s) for s in statuses), "every STATUS= after READY is a streaming line", str(statuses))
    check(len(statuses) == len(set(statuses)), "STATUS= is sent only when it changes", str(statuses))
    order = [("READY" if "READY" in kv else "WATCHDOG" if "WATCHDOG" in kv else "STATUS" if "STATUS" in kv
              else "?") for _, kv, _ in lis.msgs]
    check("?" not in order, "only READY, WATCHDOG and STATUS so far", str(order))
    check(order.index("READY") < order.index("WATCHDOG") < len(order) and "STATUS" in order[order.index("WATCHDOG"):],
          "order: READY, then WATCHDOG and STATUS", str(order[:12]))

    log("SIGTERM: STOPPING=1, then nothing")
    n = len(lis.msgs)
    check_eq(proc.kill(signal.SIGTERM), 0, "waybill stops cleanly")
    lis.drain(0.3)
    stopping = [kv for _, kv, _ in lis.msgs[n:] if "STOPPING" in kv]
    check_eq(len(stopping), 1, "one STOPPING=1")
    check_eq(stopping[0], {"STOPPING": "1", "STATUS": "stopping: draining and checkpointing"},
             "STOPPING=1 with its STATUS=")
    check_eq(list(lis.msgs[-1][1]), ["STOPPING", "STATUS"], "STOPPING=1 is the last message")

    log("without WATCHDOG_USEC: READY and STATUS, no WATCHDOG")
    lis2 = Listener()
    r = run_waybill(["run", "-c", p.config, "--stop-when-idle", "1"], env={"NOTIFY_SOCKET": lis2.path})
    check_eq(r.rc, 0, "run --stop-when-idle exits 0")
    lis2.drain(0.2)
    kinds = [sorted(kv) for _, kv, _ in lis2.msgs]
    check(kinds and kinds[0] == ["READY", "STATUS"], "READY=1 first", str(kinds))
    check(not any("WATCHDOG" in k for k in kinds), "no WATCHDOG=1 without WATCHDOG_USEC", str(kinds))
    check_eq(lis2.msgs[0][1]["STATUS"], f"streaming from {p.checkpoint()['position']}",
             "READY's STATUS= names the checkpoint it resumes from")
    check_eq(lis2.msgs[-1][1], {"STOPPING": "1", "STATUS": "stopping: idle and caught up"},
             "STOPPING=1 when idle")


def test_units():
    if shutil.which("systemd-analyze") is None:
        print("SKIP systemd-analyze verify: systemd-analyze is not installed (apt-get install systemd)")
        return
    log("systemd-analyze verify on the units")
    d = make_tmpdir("wbtest-units-")
    for unit in ("waybill.service", "waybill@.service"):
        with open(os.path.join(SRC, "dist", "systemd", unit + ".in")) as f:
            text = f.read()
        with open(os.path.join(d, unit), "w") as f:
            f.write(text.replace("@CMAKE_INSTALL_FULL_BINDIR@", os.path.dirname(os.path.abspath(WAYBILL))))
        check(re.findall(r"@[A-Z_]+@", text) == ["@CMAKE_INSTALL_FULL_BINDIR@"],
              f"{unit}: no other placeholder than the bin directory (ExecStart)")
        for key in ("Type=notify", "Restart=on-failure", "WatchdogSec=", "ProtectSystem=strict",
                    "NoNewPrivileges=yes", "DynamicUser=yes", "StateDirectory=waybill", "ReadWritePaths=",
                    "RestartPreventExitStatus=2"):
            check(f"\n{key}" in text, f"{unit} sets {key}")
    with open(os.path.join(d, "waybill@.service")) as f:
        check("Environment=WAYBILL_CONFIG=/etc/waybill/%i.yaml" in f.read(), "the template reads /etc/waybill/%i.yaml")
    man = os.path.join(BUILD, "man")
    env = dict(os.environ)
    args = ["systemd-analyze", "verify"]
    if os.path.isdir(man):
        env["MANPATH"] = man  # Documentation=man:waybill(1) must resolve
    else:
        args.append("--man=no")
    r = subprocess.run(args + [os.path.join(d, "waybill.service"), os.path.join(d, "waybill@.service")],
                       capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0 and ("Failed to connect" in r.stderr or "System has not been booted" in r.stderr):
        print(f"SKIP systemd-analyze verify does not work in this container: {r.stderr.strip()[:300]}")
        return
    check_eq((r.returncode, r.stdout + r.stderr), (0, ""), "systemd-analyze verify: exit 0 and no complaint")
    # the check can fail: a misspelt key is reported
    with open(os.path.join(d, "waybill.service")) as f:
        text = f.read()
    with open(os.path.join(d, "bad.service"), "w") as f:
        f.write(text.replace("WatchdogSec=", "WatchdogSek="))
    r = subprocess.run(args + [os.path.join(d, "bad.service")], capture_output=True, text=True, env=env, timeout=60)
    check("Unknown key 'WatchdogSek'" in r.stderr, "a misspelt key would be reported", r.stderr)


def test():
    test_units()
    test_notify()


main(test)
