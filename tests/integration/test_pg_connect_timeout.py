# test_pg_connect_timeout.py — a server that accepts TCP and never answers
# (a Python listener on 127.0.0.1): `run`, `check` and `status` give up
# after source.connect_timeout with one line naming the config file and the
# key, and the documented exit code (status still prints its local part,
# the checkpoint, with source.reachable false, on stdout); the default is 10 s; and SIGTERM or
# SIGINT while connecting ends each of them at once (well before the
# timeout), `run` cleanly (exit 0, nothing written). With several hosts in
# the dsn, a silent first host does not keep waybill from the second.
import json
import os
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


class SilentServer:
    """Accepts connections and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()
        add_cleanup(self.close)

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted += 1

    def close(self):
        self.closed = True
        for c in self.conns:
            c.close()
        self.sock.close()


def pipeline(server, timeout):
    extra = f"  connect_timeout: {timeout}\n" if timeout else ""
    return Pipeline(None, name="hang", tables=["public.t"],
                    dsn=f"host=127.0.0.1 port={server.port} dbname=db user=u password=${{WB_TEST_HANG_PW}}",
                    extra_source=extra)


def one_line(r, what):
    lines = r.stderr_lines()
    if len(lines) != 1:
        fail(f"{what}: expected one line on stderr\n{r}")
    return lines[0]


def gives_up(p, server, want):
    """run, check and status give up with the timeout's message."""
    before = server.accepted
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=60, tag="run")
    check_eq(r.rc, 1, "run: exit code")
    line = one_line(r, "run")
    check(want in line and p.config in line and "source.connect_timeout" in line,
          f"run: one line: {line}")
    check(server.accepted > before, "run: the listener accepted its connection")
    check_eq(all_files(p.out), [], "run: nothing written")
    check(not os.path.exists(p.checkpoint_path), "run: no checkpoint")

    r = p.run(["check", "-c", p.config], timeout=60, tag="check")
    check_eq(r.rc, 1, "check: exit code")
    fails = [l for l in r.stdout.split("\n") if l.startswith("FAIL")]
    check(len(fails) == 1 and fails[0].startswith("FAIL connect: ") and want in fails[0],
          f"check: one FAIL line: {fails}")
    check(r.stdout.rstrip().endswith("problems found"), "check: ends with 'problems found'")

    r = p.run(["status", "-c", p.config], timeout=60, tag="status")
    check_eq(r.rc, 1, "status: exit code")
    line = one_line(r, "status")
    check(want in line and "source.connect_timeout" in line, f"status: one line: {line}")
    # the local part stands: the checkpoint (none yet) and that the source
    # cannot be reached
    st = json.loads(r.stdout)
    check_eq((st["checkpoint"], st["source"]["reachable"]), (None, False),
             "status: the local checkpoint and source.reachable false on stdout")
    check(want in st["source"]["error"], "status: source.error names the timeout", st["source"]["error"])


def stopped(p, args, sig, want_rc):
    """Starts waybill args, sends sig after 1 s (while it connects), and
    expects it to end within 5 s (its connect timeout is 30 s)."""
    logf = os.path.join(p.base, f"{args[0]}-{sig}.stderr")
    with open(logf, "w") as errf:
        proc = subprocess.Popen([WAYBILL] + args, stdout=subprocess.PIPE, stderr=errf, text=True)
        add_cleanup(lambda: proc.poll() is None and proc.kill())
        time.sleep(1)
        check(proc.poll() is None, f"{args[0]}: still connecting after 1 s")
        proc.send_signal(sig)
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            fail(f"{args[0]}: did not end within 5 s of {signal.Signals(sig).name} while connecting")
    with open(logf) as f:
        err = f.read()
    check_eq(proc.returncode, want_rc, f"{args[0]}: exit code after {signal.Signals(sig).name}")
    check("stopped while connecting" in err + out, f"{args[0]}: says it stopped while connecting",
          err + out)
    return err


def test():
    os.environ["WB_TEST_HANG_PW"] = "not used"
    server = SilentServer()

    log("connect_timeout: 2s")
    p = pipeline(server, "2s")
    gives_up(p, server, "no answer from 127.0.0.1 port %d within 2 s" % server.port)

    log("the default connect timeout is 10 s")
    d = pipeline(server, None)
    r = d.run(["status", "-c", d.config], timeout=60, tag="status")
    check_eq(r.rc, 1, "status with the default timeout: exit code")
    check("within 10 s (source.connect_timeout)" in one_line(r, "status"), "status: gave up after 10 s",
          r.stderr)

    log("several hosts: one that never answers does not keep waybill from the next")
    pg = Postgres().start()
    pg.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
    two = Pipeline(pg, name="two", tables=["public.t"], extra_source="  connect_timeout: 2s\n",
                   dsn=f"host=127.0.0.1,127.0.0.1 port={server.port},{pg.port} dbname=postgres user=postgres")
    r = two.run(["check", "-c", two.config], timeout=60)
    if r.rc != 0 or "all checks passed" not in r.stdout:
        fail(f"check with a silent first host: expected all checks passed\n{r}")
    check(True, "check connects through the second host")
    two.run_idle(1, timeout=60)
    check_eq([x["after"]["id"] for x in records(two.out, "two.public.t")], [1, 2],
             "run connects through the second host (snapshot read back)")
    both = pipeline(server, "1s")
    both.write_config(both.config_text.replace(f"port={server.port}",
                                               f"port={server.port},{server.port}").replace(
        "host=127.0.0.1", "host=127.0.0.1,localhost"))
    r = both.run(["status", "-c", both.config], timeout=60)
    check_eq(r.rc, 1, "status with two silent hosts: exit code")
    check(f"no answer from 127.0.0.1 port {server.port} within 1 s (source.connect_timeout); "
          f"no answer from localhost port {server.port} within 1 s (source.connect_timeout)"
          in one_line(r, "status"), "status names both hosts", r.stderr)

    log("SIGTERM / SIGINT while connecting (connect_timeout: 30s)")
    slow = pipeline(server, "30s")
    err = stopped(slow, ["run", "-c", slow.config], signal.SIGTERM, 0)
    check_eq(len([l for l in err.split("\n") if l.strip()]), 1, "run: one line on stderr")
    check_eq(all_files(slow.out), [], "run: nothing written")
    check(not os.path.exists(slow.checkpoint_path), "run: no checkpoint")
    stopped(slow, ["run", "-c", slow.config], signal.SIGINT, 0)
    stopped(slow, ["check", "-c", slow.config], signal.SIGTERM, 1)
    stopped(slow, ["status", "-c", slow.config], signal.SIGTERM, 1)
    stopped(slow, ["status", "-c", slow.config], signal.SIGINT, 1)


main(test)
