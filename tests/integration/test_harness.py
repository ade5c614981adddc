# test_harness.py — the harness itself must be able to fail: a sanitizer
# report in a waybill run fails the test whatever exit code it expected
# (run_waybill, Proc, the final check of every log), an exception or a hang
# in a background thread fails it, and the random seed comes from
# WB_TEST_SEED and is printed on failure. Uses stand-in "waybill" scripts;
# no server.
import os
import random
import subprocess
import sys
import textwrap
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402
from wbtest import TestFailure, check, log, make_tmpdir  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def stub(d, name, body):
    """An executable shell script standing in for waybill."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + textwrap.dedent(body))
    os.chmod(path, 0o755)
    return path


def must_fail(fn, what, contains):
    try:
        fn()
    except TestFailure as e:
        check(contains in str(e), what, str(e)[:500])
        return
    wbtest.fail(f"{what}: the harness let it pass")


def with_waybill(path, fn):
    saved = wbtest.WAYBILL
    wbtest.WAYBILL = path
    try:
        return fn()
    finally:
        wbtest.WAYBILL = saved


def run_child(code, env=None):
    """Runs python code (with wbtest importable) in a child; returns
    (exit code, output)."""
    r = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout + r.stderr


ASAN = "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011\n"
UBSAN = "src/x.c:10:5: runtime error: signed integer overflow: 2147483647 + 1\n"
LSAN = "==4242==ERROR: LeakSanitizer: detected memory leaks\n"


def test():
    d = make_tmpdir("wbtest-harness-")

    log("run_waybill: a sanitizer report fails the test whatever the exit code")
    for name, text, rc in (("asan1", ASAN, 1), ("ubsan2", UBSAN, 2), ("lsan0", LSAN, 0)):
        path = stub(d, name, f"""\
            printf '%s' '{text}' >&2
            exit {rc}
            """)
        must_fail(lambda: with_waybill(path, lambda: wbtest.run_waybill(["run"])),
                  f"report with exit {rc} ({name})", "sanitizer report")
    path = stub(d, "rc86", "exit 86\n")
    must_fail(lambda: with_waybill(path, lambda: wbtest.run_waybill(["run"])), "exit 86 without text",
              "the sanitizers' exit code")
    path = stub(d, "plain1", "echo 'waybill: server gone: retry later' >&2; exit 1\n")
    r = with_waybill(path, lambda: wbtest.run_waybill(["run"]))
    check(r.rc == 1, "an ordinary exit 1 is returned to the test", repr(r))

    log("waybill runs get the sanitizer options (unless the caller set them)")
    path = stub(d, "env", 'echo "$ASAN_OPTIONS|$UBSAN_OPTIONS|$LSAN_OPTIONS"\n')
    r = with_waybill(path, lambda: wbtest.run_waybill(["x"], env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1")))
    asan, ubsan, lsan = r.stdout.strip().split("|")
    check(asan == "detect_leaks=1:exitcode=86:halt_on_error=1", "ASAN_OPTIONS", asan)
    check("exitcode=86" in ubsan.split(":") and "halt_on_error=1" in ubsan.split(":"), "UBSAN_OPTIONS", ubsan)
    check(lsan == "exitcode=86", "LSAN_OPTIONS", lsan)
    r = with_waybill(path, lambda: wbtest.run_waybill(["x"], env=dict(os.environ, ASAN_OPTIONS="exitcode=7")))
    check(r.stdout.startswith("exitcode=7:halt_on_error=1|"), "an exitcode the caller set is kept", r.stdout)
    env = wbtest.waybill_env({"ASAN_OPTIONS": "detect_leaks=1:strict_string_checks=1"}, ptrace=True)
    check(env["ASAN_OPTIONS"] == "strict_string_checks=1:detect_leaks=0:exitcode=86:halt_on_error=1",
          "under strace (ptrace=True) leak detection is off, the rest kept", env["ASAN_OPTIONS"])

    log("sanitized(): tells an ASan build of waybill from a plain one")
    for body, want in (("# __asan_init\nexit 0\n", True), ("exit 0\n", False)):
        path = stub(d, f"san{int(want)}", body)
        wbtest._sanitized = None
        check(with_waybill(path, wbtest.sanitized) is want, f"sanitized() is {want}")
    wbtest._sanitized = None

    log("Proc: a report fails wait(), alive() and kill()")
    path = stub(d, "bg", f"""\
        printf '%s' '{ASAN}' >&2
        exit 1
        """)
    p = wbtest.Proc([path], os.path.join(d, "bg1.stderr"))
    must_fail(lambda: p.wait(30), "Proc.wait", "sanitizer report")
    p = wbtest.Proc([path], os.path.join(d, "bg2.stderr"))
    time.sleep(0.5)
    must_fail(lambda: [p.alive() or time.sleep(0.1) for _ in range(100)], "Proc.alive", "sanitizer report")
    slow = stub(d, "slow", f"""\
        printf '%s' '{LSAN}' >&2
        exec sleep 30
        """)
    p = wbtest.Proc([slow], os.path.join(d, "bg3.stderr"))
    time.sleep(0.5)
    must_fail(lambda: p.kill(), "Proc.kill of a process that reported", "sanitizer report")

    log("main(): the logs of every run are checked at the end, even of runs the test ignored")
    code = textwrap.dedent(f"""\
        import os, time, wbtest
        def t():
            p = wbtest.Proc([{slow!r}], os.path.join(wbtest.make_tmpdir(), "x.stderr"))
            time.sleep(0.5)
        wbtest.main(t)
        """)
    rc, out = run_child(code, {"WAYBILL": slow})
    check(rc == 1 and "FAIL" in out and "sanitizer report" in out, "a report in an ignored run fails the test",
          out[-1000:])
    code = textwrap.dedent(f"""\
        import os, wbtest
        def t():
            d = wbtest.make_tmpdir()
            with open(os.path.join(d, "mine.stderr"), "w") as f:
                f.write({LSAN!r})
        wbtest.main(t)
        """)
    rc, out = run_child(code)
    check(rc == 1 and "sanitizer report" in out and "mine.stderr" in out,
          "a report in a *.stderr file of a run the test started itself fails the test", out[-1000:])

    log("threads: an exception or a hang fails the test")
    t = wbtest.Thread(lambda: 1 / 0, name="boom")
    must_fail(lambda: t.join(10), "Thread.join re-raises", "ZeroDivisionError")
    ev = threading.Event()
    t = wbtest.Thread(lambda: ev.wait(30), name="stuck")
    must_fail(lambda: t.join(0.5), "Thread.join timeout", "did not finish within")
    ev.set()
    code = textwrap.dedent("""\
        import threading, wbtest
        def t():
            th = threading.Thread(target=lambda: 1 / 0)
            th.start()
            th.join()
        wbtest.main(t)
        """)
    rc, out = run_child(code)
    check(rc == 1 and "uncaught exception" in out and "ZeroDivisionError" in out,
          "an uncaught exception in a plain thread fails the test", out[-1000:])

    log("kafkatest.Workload: the workload thread's exception and hang fail stop()")
    import kafkatest as kt

    class Session:
        def __init__(self, fail_at=None, sleep=0):
            self.n, self.fail_at, self.sleep = 0, fail_at, sleep

        def run(self, sql, timeout=30):
            self.n += 1
            if self.n == self.fail_at:
                raise wbtest.TestFailure("psql session error on: INSERT")
            time.sleep(self.sleep)

    class PG:
        def __init__(self, s):
            self.s = s

        def session(self):
            return self.s

    wl = kt.Workload(PG(Session(fail_at=3)))
    wl.start(pause=0)
    time.sleep(0.3)
    must_fail(wl.stop, "Workload.stop after an exception", "psql session error")
    wl = kt.Workload(PG(Session(sleep=5)))
    wl.start(pause=0)
    time.sleep(0.1)
    must_fail(lambda: wl.stop(timeout=0.5), "Workload.stop of a stuck thread", "did not finish within")

    log("seeds: WB_TEST_SEED sets them; a failure prints the seed")
    code = textwrap.dedent("""\
        import wbtest
        print("draw", wbtest.seeded_random(5).random())
        def t():
            wbtest.seeded_random()
            wbtest.fail("on purpose")
        wbtest.main(t)
        """)
    rc, out = run_child(code, {"WB_TEST_SEED": "1234"})
    check(f"draw {random.Random(1239).random()}" in out, "seeded_random(5) is Random(WB_TEST_SEED + 5)", out)
    check(rc == 1 and "WB_TEST_SEED=1234" in out.split("FAIL")[0], "the seed is printed before FAIL", out)

    # The reports above were made on purpose: they must not fail this test
    # at its end (main() checks every waybill log it knows).
    wbtest._waybill_logs.clear()
    wbtest._tmpdirs.clear()


wbtest.main(test)
