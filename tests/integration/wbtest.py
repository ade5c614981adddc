# wbtest.py — shared harness for waybill's integration tests: throwaway
# PostgreSQL servers, psql helpers, running waybill, reading its Avro output
# with python3-avro (an independent reader). Standard library + python3-avro.
import atexit
import datetime
import decimal
import glob
import json
import math
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import avro.datafile
import avro.errors
import avro.io
import avro.schema
import warnings

# python3-avro 1.11.1 does not know local-timestamp-micros and decodes it as
# a plain long; the tests expect that, so the warning is noise.
warnings.filterwarnings("ignore", category=avro.errors.IgnoredLogicalType)

PG_BIN = "/usr/lib/postgresql/15/bin"
WAYBILL = os.environ.get("WAYBILL") or os.path.join(
    os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")), "build", "waybill")
SOURCE_DIR = os.environ.get("WB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_cleanups = []       # callables run at exit, last registered first
_cleanup_lock = threading.Lock()

# Sanitizer builds: a report must never pass for one of waybill's own exit
# codes (1 runtime, 2 usage), so every waybill the harness starts gets a
# distinct exit code for sanitizer reports, and its stderr is searched for
# them (run_waybill and Proc at once; every log again in main()). tools/test
# sets the same code for the whole ctest run.
SANITIZER_EXIT = 86
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                              r"SUMMARY: \w*Sanitizer|WARNING: ThreadSanitizer")
_waybill_logs = []   # stderr files of every waybill run, checked in main()
_tmpdirs = []        # make_tmpdir()'s: their *.stderr files are checked too
_thread_errors = []  # (thread name, formatted traceback) of uncaught exceptions


class TestFailure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def fail(msg):
    raise TestFailure(msg)


def check(cond, what, detail=""):
    if not cond:
        fail(f"{what}{': ' + detail if detail else ''}")
    log(f"  ok: {what}")


def same(a, b):
    """Exact equality: decimals by digits and exponent, floats bit-for-bit
    (NaN equals NaN), recursively through lists, tuples and dicts."""
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return (isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal)
                and a.as_tuple() == b.as_tuple())
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, datetime.datetime):
        return a == b and (a.tzinfo is None) == (b.tzinfo is None)
    return a == b


def short(v, n=300):
    s = repr(v)
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def check_eq(actual, expected, what):
    if not same(actual, expected):
        fail(f"{what}: expected {short(expected)}, got {short(actual)}")
    log(f"  ok: {what}")


def lsn(text):
    """'X/Y' (optionally 'X/Y:n') → integer LSN."""
    if text is None:
        fail("LSN expected, got None")
    hi, lo = text.split(":")[0].split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def position(text, allow_end=False):
    """'X/Y:n' → (lsn, n). allow_end: a checkpoint may also say 'X/Y:end'
    (the whole transaction; position.h's UINT32_MAX ordinal)."""
    parts = text.split(":")
    if len(parts) != 2 or not (parts[1].isdigit() or (allow_end and parts[1] == "end")):
        fail(f"position {text!r} is not 'LSN:ordinal'")
    return (lsn(parts[0]), 0xFFFFFFFF if parts[1] == "end" else int(parts[1]))


# ---------------------------------------------------------------- cleanup

def add_cleanup(fn):
    with _cleanup_lock:
        _cleanups.append(fn)


def run_cleanups():
    while True:
        with _cleanup_lock:
            if not _cleanups:
                return
            fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # cleanup must go on
            print(f"cleanup error: {e}", file=sys.stderr)


def _on_signal(signum, frame):
    run_cleanups()
    os._exit(128 + signum)


atexit.register(run_cleanups)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def _sanitizer_options(value, defaults):
    """value (an ASAN_OPTIONS-style string or None) with each default added
    unless value sets that option itself."""
    parts = [kv for kv in (value or "").split(":") if kv]
    have = {kv.split("=", 1)[0] for kv in parts}
    return ":".join(parts + [f"{k}={v}" for k, v in defaults if k not in have])


def waybill_env(env=None, ptrace=False):
    """The environment for a waybill process: env (default os.environ) with
    the sanitizers told to halt on the first report and exit SANITIZER_EXIT
    (options the caller set win). ptrace: waybill runs under strace or gdb,
    where LeakSanitizer cannot work (it stops with a fatal error), so leak
    detection is off for that run; the other checks stay."""
    env = dict(os.environ if env is None else env)
    common = [("exitcode", SANITIZER_EXIT), ("halt_on_error", 1)]
    if ptrace:
        kept = [kv for kv in (env.get("ASAN_OPTIONS") or "").split(":")
                if kv and not kv.startswith("detect_leaks=")]
        env["ASAN_OPTIONS"] = ":".join(kept + ["detect_leaks=0"])
    env["ASAN_OPTIONS"] = _sanitizer_options(env.get("ASAN_OPTIONS"), common)
    env["UBSAN_OPTIONS"] = _sanitizer_options(env.get("UBSAN_OPTIONS"), common + [("print_stacktrace", 1)])
    env["LSAN_OPTIONS"] = _sanitizer_options(env.get("LSAN_OPTIONS"), [("exitcode", SANITIZER_EXIT)])
    return env


_sanitized = None


def sanitized():
    """True when the waybill binary is built with AddressSanitizer
    (WB_SANITIZE): its memory figures (RSS) then include ASan's quarantine,
    redzones and shadow memory and say nothing about waybill's own."""
    global _sanitized
    if _sanitized is None:
        require_waybill()
        with open(WAYBILL, "rb") as f:
            _sanitized = b"__asan_init" in f.read()
    return _sanitized


def sanitizer_report(rc, stderr):
    """A description of the sanitizer report in a waybill run (its exit code
    and stderr), or None when there is none."""
    m = SANITIZER_REPORT.search(stderr or "")
    if m is None and rc != SANITIZER_EXIT:
        return None
    if m is None:
        return f"exit code {rc} (the sanitizers' exit code)"
    start = max(0, stderr.rfind("\n", 0, max(0, m.start() - 200)))
    return f"exit code {rc}, report:\n{stderr[start:start + 6000]}"


def check_sanitizer(rc, stderr, what):
    """Fails the test if the waybill run (rc, stderr) has a sanitizer report."""
    rep = sanitizer_report(rc, stderr)
    if rep is not None:
        fail(f"sanitizer report in {what}: {rep}")


def _read_log(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def check_all_waybill_logs():
    """Fails the test if the stderr of any waybill run of this test holds a
    sanitizer report (including runs killed or abandoned by the test): the
    logs of run_waybill and Proc, and every *.stderr file in the test's
    temp dirs (tests that start waybill themselves log there)."""
    paths = list(_waybill_logs)
    for d in list(_tmpdirs):
        for root, _, files in os.walk(d):
            paths += [os.path.join(root, f) for f in files if f.endswith(".stderr")]
    for path in sorted(set(paths)):
        text = _read_log(path)
        if SANITIZER_REPORT.search(text):
            check_sanitizer(None, text, f"waybill run logged in {path}")


# ---------------------------------------------------------------- threads and seeds

def _excepthook(args):
    if args.exc_type is SystemExit:
        return
    tb = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    _thread_errors.append((args.thread.name if args.thread else "?", tb))
    print(f"exception in thread {args.thread.name if args.thread else '?'}:\n{tb}", file=sys.stderr,
          flush=True)


threading.excepthook = _excepthook   # an uncaught exception in any thread fails the test (main())


class Thread:
    """A background thread whose exception fails the test: join() re-raises
    it (as TestFailure) and fails if the thread does not finish in time."""

    def __init__(self, fn, name="background", daemon=True):
        self.fn, self.name = fn, name
        self.error = None
        self.t = threading.Thread(target=self._run, name=name, daemon=daemon)
        self.t.start()

    def _run(self):
        try:
            self.fn()
        except BaseException as e:   # noqa: B902 — reported by join()
            self.error = (e, traceback.format_exc())

    def is_alive(self):
        return self.t.is_alive()

    def check(self):
        """Fails the test now if the thread has raised."""
        if self.error is not None:
            e, tb = self.error
            self.error = None
            fail(f"thread {self.name} failed: {type(e).__name__}: {e}\n{tb}")

    def join(self, timeout):
        self.t.join(timeout)
        if self.t.is_alive():
            fail(f"thread {self.name} did not finish within {timeout}s")
        self.check()


_seed = None


def seed():
    """The seed of this test's random choices: WB_TEST_SEED if set, else
    one from the clock; logged, and printed again if the test fails, so a
    failure can be replayed with WB_TEST_SEED=<seed>."""
    global _seed
    if _seed is None:
        env = os.environ.get("WB_TEST_SEED")
        _seed = int(env) if env else int(time.time() * 1000) % (1 << 31)
        log(f"random seed {_seed} (replay: WB_TEST_SEED={_seed})")
    return _seed


def seeded_random(salt=0):
    """A random.Random seeded with seed() + salt."""
    return random.Random(seed() + salt)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_tmpdir(prefix="wbtest-"):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    _tmpdirs.append(d)
    if not os.environ.get("WB_KEEP"):   # WB_KEEP=1 keeps temp dirs for diagnosis
        add_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    """A throwaway PostgreSQL 15 server owned by the `postgres` user in its own
    temp dir, port and socket dir. auth: 'trust' or 'scram' (then TCP to
    127.0.0.1 needs `password`; the unix socket stays trust for setup)."""

    def __init__(self, wal_level="logical", auth="trust", password="secret", settings=None):
        self.wal_level = wal_level
        self.auth = auth
        self.password = password
        self.settings = dict(settings or {})
        self.dir = make_tmpdir("wbtest-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.port = None
        self.started = False
        os.mkdir(self.sock)
        subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)

    def _as_pg(self, args, timeout=60, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + args, timeout=timeout,
                              capture_output=True, text=True, **kw)

    def start(self):
        t0 = time.time()
        r = self._as_pg([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], timeout=120)
        if r.returncode != 0:
            fail(f"initdb failed: {r.stdout}{r.stderr}")
        host_method = "trust" if self.auth == "trust" else "scram-sha-256"
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n")
            f.write("local replication all trust\n")
            f.write(f"host all all 127.0.0.1/32 {host_method}\n")
            f.write(f"host replication all 127.0.0.1/32 {host_method}\n")
        opts = {
            "wal_level": self.wal_level,
            "max_wal_senders": "10",
            "max_replication_slots": "10" if self.wal_level == "logical" else "0",
            "listen_addresses": "127.0.0.1",
            "fsync": "off",
            "unix_socket_directories": self.sock,
            "log_min_messages": "warning",
        }
        if self.auth != "trust":
            opts["password_encryption"] = "scram-sha-256"
        opts.update(self.settings)
        add_cleanup(self.stop)
        for attempt in range(5):
            self.port = free_port()
            optstr = " ".join(f"-c {k}={v}" for k, v in opts.items()) + f" -p {self.port}"
            r = self._as_pg([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                             "-o", optstr, "-w", "-t", "60", "start"], timeout=90)
            if r.returncode == 0:
                self.started = True
                break
            if "could not bind" not in self.server_log():
                fail(f"pg_ctl start failed: {r.stdout}{r.stderr}\n{self.server_log()[-2000:]}")
        else:
            fail("could not start PostgreSQL on a free port")
        if self.auth != "trust":
            self.psql(f"ALTER USER postgres PASSWORD '{self.password}'")
        log(f"postgres started: port {self.port}, socket {self.sock}, wal_level={self.wal_level}, "
            f"auth={self.auth} ({time.time() - t0:.1f}s)")
        return self

    def server_log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if not self.started:
            return
        self.started = False
        self._as_pg([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop"],
                    timeout=60)

    def dsn(self, tcp=False, password=None):
        host = "127.0.0.1" if tcp else self.sock
        s = f"host={host} port={self.port} dbname=postgres user=postgres"
        if password is not None:
            s += f" password={password}"
        return s

    def psql_args(self, db="postgres"):
        return [f"{PG_BIN}/psql", "-h", self.sock, "-p", str(self.port), "-U", "postgres", "-d", db,
                "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"]

    def psql(self, sql, timeout=60, check_ok=True):
        """Runs sql (may hold several statements); returns stdout lines."""
        r = subprocess.run(self.psql_args() + ["-f", "-"], input=sql, capture_output=True, text=True,
                           timeout=timeout, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        if check_ok and r.returncode != 0:
            fail(f"psql failed ({r.returncode}): {r.stderr.strip()}\nSQL: {short(sql, 500)}")
        return [l for l in r.stdout.split("\n") if l != ""]

    def value(self, sql):
        out = self.psql(sql)
        return out[0] if out else None

    def slot(self, name):
        """(confirmed_flush_lsn, restart_lsn) of the slot, or None if absent."""
        out = self.psql(f"SELECT coalesce(confirmed_flush_lsn::text, ''), coalesce(restart_lsn::text, '') "
                        f"FROM pg_replication_slots WHERE slot_name = '{name}'")
        if not out:
            return None
        c, r = out[0].split("|")
        return (c or None, r or None)

    def session(self):
        return Session(self)


class Session:
    """A long-lived psql connection (for interleaved transactions and fast
    workloads). run() sends SQL and waits, bounded, for it to finish."""

    def __init__(self, pg):
        self.p = subprocess.Popen(pg.psql_args(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.q = queue.Queue()
        self.n = 0
        threading.Thread(target=self._reader, daemon=True).start()
        add_cleanup(self.close)

    def _reader(self):
        for line in self.p.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def run(self, sql, timeout=30):
        self.n += 1
        marker = f"__wb_done_{self.n}__"
        sql = sql.rstrip()
        if not sql.endswith(";"):
            sql += ";"
        try:
            self.p.stdin.write(sql.rstrip() + "\n\\echo " + marker + "\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            fail(f"psql session died before: {short(sql)}")
        out = []
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                fail(f"psql session timed out on: {short(sql)}")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                fail(f"psql session exited on: {short(sql)}\noutput: {out}")
            if line == marker:
                break
            if line.startswith(("ERROR:", "psql:", "FATAL:")):
                fail(f"psql session error on: {short(sql)}\n{line}")
            if line:
                out.append(line)
        return out

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def wait_until(fn, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    while True:
        if fn():
            return
        if time.time() > deadline:
            fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- waybill

class Pipeline:
    """One waybill pipeline: its config file, checkpoint dir and output dir
    in a temp dir."""

    def __init__(self, pg, name="t1", tables=("public.*",), exclude=None, base=None, dsn=None,
                 checkpoint_dir=None, out=None, codec="zstandard", extra_top="", extra_source="",
                 extra_sink=""):
        self.pg = pg
        self.name = name
        self.base = base or make_tmpdir("wbtest-wb-")
        self.ckpt_dir = checkpoint_dir or os.path.join(self.base, "ckpt")
        self.out = out or os.path.join(self.base, "out")
        self.config = os.path.join(self.base, f"{name}.yaml")
        self.nrun = 0
        tables_y = ", ".join(json.dumps(t) for t in tables)
        text = (f"name: {name}\n"
                f"checkpoint_dir: {self.ckpt_dir}\n"
                f"checkpoint_interval: 1s\n"
                f"{extra_top}"
                f"source:\n"
                f"  type: postgres\n"
                f"  dsn: {json.dumps(dsn or pg.dsn())}\n"
                f"  tables: [{tables_y}]\n")
        if exclude:
            text += f"  exclude: [{', '.join(json.dumps(t) for t in exclude)}]\n"
        text += extra_source
        text += (f"sink:\n"
                 f"  type: avro-file\n"
                 f"  dir: {self.out}\n"
                 f"  codec: {codec}\n"
                 f"{extra_sink}")
        self.write_config(text)

    def write_config(self, text):
        self.config_text = text
        with open(self.config, "w") as f:
            f.write(text)

    @property
    def slot_name(self):
        return f"waybill_{self.name}"

    @property
    def checkpoint_path(self):
        return os.path.join(self.ckpt_dir, f"{self.name}.json")

    def checkpoint(self):
        """The checkpoint JSON, or None when there is none yet."""
        try:
            with open(self.checkpoint_path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except ValueError as e:
            fail(f"checkpoint file {self.checkpoint_path} is not valid JSON ({e}): {short(text)}")

    def _logfile(self, tag):
        self.nrun += 1
        return os.path.join(self.base, f"waybill-{tag}-{self.nrun}.stderr")

    def run(self, args, timeout=60, tag="cmd"):
        """Runs `waybill <args>` to completion; returns Result."""
        return run_waybill(args, timeout=timeout, logfile=self._logfile(tag))

    def run_idle(self, idle=2, timeout=120, expect_rc=0):
        """`waybill run -c CONFIG --stop-when-idle idle`; fails the test
        unless it exits with expect_rc within timeout."""
        r = self.run(["run", "-c", self.config, "--stop-when-idle", str(idle)], timeout=timeout, tag="run")
        if expect_rc is not None and r.rc != expect_rc:
            fail(f"waybill run exited {r.rc} (expected {expect_rc})\nconfig:\n{self.config_text}\n"
                 f"stderr:\n{r.stderr[-4000:]}")
        return r

    def start(self, args=None):
        """Starts `waybill run -c CONFIG` in the background; returns Proc."""
        return Proc([WAYBILL, "run", "-c", self.config] + list(args or []), self._logfile("bg"))

    def read(self, include_part=False):
        return read_output(self.out, include_part)

    def wait_slot_active(self, proc, timeout=30):
        def ready():
            if not proc.alive():
                fail(f"waybill exited ({proc.p.returncode}) before its slot became active; "
                     f"stderr:\n{proc.stderr()[-4000:]}")
            return self.pg.value(f"SELECT active FROM pg_replication_slots "
                                 f"WHERE slot_name = '{self.slot_name}'") == "t"
        wait_until(ready, timeout, f"slot {self.slot_name} active")

    def snapshot_table(self, table):
        """The checkpoint's snapshot progress of "schema.table", or None."""
        ck = self.checkpoint()
        return ((ck or {}).get("source") or {}).get("snapshot", {}).get("tables", {}).get(table)

    def wait_snapshot(self, proc, table, cond, timeout=120, interval=0.003):
        """Polls the snapshot progress of table until cond(progress) holds
        (progress may be None); fails if waybill exits first."""
        deadline = time.time() + timeout
        while True:
            if not proc.alive():
                fail(f"waybill exited {proc.p.returncode} early: {proc.stderr()[-3000:]}")
            t = self.snapshot_table(table)
            if cond(t):
                return t
            if time.time() > deadline:
                fail(f"no snapshot progress of {table} in the checkpoint")
            time.sleep(interval)

    def wait_checkpoint_past(self, lsn_int, proc, timeout=60):
        """Waits until the checkpoint position's LSN is > lsn_int."""
        def done():
            if not proc.alive():
                fail(f"waybill exited ({proc.p.returncode}) early; stderr:\n{proc.stderr()[-4000:]}")
            ck = self.checkpoint()
            return ck is not None and position(ck["position"], allow_end=True)[0] > lsn_int
        wait_until(done, timeout, f"checkpoint past {lsn_int >> 32:X}/{lsn_int & 0xffffffff:X}")


class Result:
    def __init__(self, rc, stdout, stderr, args):
        self.rc, self.stdout, self.stderr, self.args = rc, stdout, stderr, args

    def stderr_lines(self):
        return [l for l in self.stderr.split("\n") if l.strip() != ""]

    def __repr__(self):
        return f"waybill {' '.join(self.args)} → exit {self.rc}\nstdout: {short(self.stdout, 2000)}\nstderr: {short(self.stderr, 2000)}"


def require_waybill():
    if not (os.path.isfile(WAYBILL) and os.access(WAYBILL, os.X_OK)):
        fail(f"waybill binary not found at {WAYBILL} (set WAYBILL)")


def run_waybill(args, timeout=60, logfile=None, env=None):
    """Runs `waybill <args>` to completion; returns Result. Fails the test
    on a timeout or a sanitizer report, whatever exit code was expected."""
    require_waybill()
    logfile = logfile or os.path.join(make_tmpdir(), "waybill.stderr")
    _waybill_logs.append(logfile)
    with open(logfile, "w+") as errf:
        p = subprocess.Popen([WAYBILL] + list(args), stdout=subprocess.PIPE, stderr=errf, text=True,
                             env=waybill_env(env))
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            errf.seek(0)
            err = errf.read()
            check_sanitizer(None, err, f"waybill {' '.join(args)}")
            fail(f"waybill {' '.join(args)} did not finish within {timeout}s; stderr:\n{err[-4000:]}")
        errf.seek(0)
        err = errf.read()
    check_sanitizer(p.returncode, err, f"waybill {' '.join(args)}")
    return Result(p.returncode, out, err, list(args))


class Proc:
    """A background waybill process, killed at cleanup."""

    def __init__(self, argv, logfile, env=None):
        require_waybill()
        self.logfile = logfile
        _waybill_logs.append(logfile)
        self.errf = open(logfile, "w")
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.errf, env=waybill_env(env))
        add_cleanup(lambda: self.kill(check=False))

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        """True while it runs; fails the test if it ended with a sanitizer
        report."""
        if self.p.poll() is None:
            return True
        check_sanitizer(self.p.returncode, self.stderr(), f"waybill (pid {self.p.pid})")
        return False

    def kill(self, sig=signal.SIGKILL, check=True):
        """Sends sig (if still running) and waits; returns the exit code.
        A sanitizer report fails the test (check=False at cleanup, where
        main() has checked every log)."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.errf.close()
        if check:
            check_sanitizer(self.p.returncode, self.stderr(), f"waybill (pid {self.p.pid})")
        return self.p.returncode

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            fail(f"waybill (pid {self.p.pid}) did not exit within {timeout}s; stderr:\n{self.stderr()[-4000:]}")
        self.errf.close()
        check_sanitizer(rc, self.stderr(), f"waybill (pid {self.p.pid})")
        return rc

    def stderr(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()


# ---------------------------------------------------------------- Avro output

class AvroFile:
    def __init__(self, path, schema, records, codec):
        self.path, self.schema, self.records, self.codec = path, schema, records, codec

    @property
    def name(self):
        return os.path.basename(self.path)

    def row_schema(self):
        """The row record of the envelope's 'after' union, as JSON."""
        return row_schema_of(json.loads(str(self.schema)))

    def row_fields(self):
        return [c["name"] for c in self.row_schema()["fields"]]


def collect_names(schema, names):
    """Registers every named record so that references by name resolve."""
    if isinstance(schema, list):
        for s in schema:
            collect_names(s, names)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            names[schema["name"]] = schema
            if schema.get("namespace"):
                names[schema["namespace"] + "." + schema["name"]] = schema
            for f in schema["fields"]:
                collect_names(f["type"], names)
        elif schema.get("type") == "array":
            collect_names(schema["items"], names)
    return names


def row_schema_of(env):
    for f in env["fields"]:
        if f["name"] == "after":
            t = f["type"]
            if isinstance(t, list):
                t = [x for x in t if x != "null"][0]
            if isinstance(t, str):
                t = collect_names(env, {})[t]
            return t
    fail("envelope schema has no 'after' field")


def read_avro(path):
    with open(path, "rb") as f:
        try:
            r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
            records = list(r)
            schema = r.datum_reader.writers_schema
            codec = r.get_meta("avro.codec")
        except Exception as e:
            fail(f"python3-avro cannot read {path}: {type(e).__name__}: {e}")
    return AvroFile(path, schema, records, codec.decode() if codec else "null")


def read_output(out, include_part=False):
    """{topic: [AvroFile, ...]} for every topic dir under out, files sorted
    by name; .part files only when include_part."""
    result = {}
    if not os.path.isdir(out):
        return result
    for topic in sorted(os.listdir(out)):
        tdir = os.path.join(out, topic)
        if not os.path.isdir(tdir):
            continue
        files = []
        for name in sorted(os.listdir(tdir)):
            if name.endswith(".avro") or (include_part and name.endswith(".part")):
                files.append(read_avro(os.path.join(tdir, name)))
        result[topic] = files
    return result


def records(out, topic=None):
    """All records of one topic (or {topic: records}) in file order."""
    data = read_output(out)
    if topic is None:
        return {t: [r for f in fs for r in f.records] for t, fs in data.items()}
    return [r for f in data.get(topic, []) for r in f.records]


def replay(recs, key=lambda row: row["id"]):
    """Applies change events in order, as a consumer would: {key: row} of
    the table they describe (r/c/u set the after image, and an update that
    changes the key drops the old one; d drops; t empties)."""
    state = {}
    for r in recs:
        if r["op"] in ("r", "c", "u"):
            if r["before"] is not None:
                state.pop(key(r["before"]), None)
            state[key(r["after"])] = r["after"]
        elif r["op"] == "d":
            state.pop(key(r["before"]), None)
        elif r["op"] == "t":
            state.clear()
    return state


def part_files(out):
    return sorted(glob.glob(os.path.join(out, "**", "*.part"), recursive=True))


def all_files(d):
    if not os.path.isdir(d):
        return []
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


# ---------------------------------------------------------------- main

def main(fn):
    """Runs a test function: prints progress, exits 1 with the failure on
    the first mismatch, always cleans up."""
    name = os.path.basename(sys.argv[0])
    t0 = time.time()

    def failed(msg):
        if _seed is not None:
            print(f"  (random seed {_seed}: replay with WB_TEST_SEED={_seed})", flush=True)
        print(f"FAIL {name}: {msg}", flush=True)
        run_cleanups()
        sys.exit(1)

    try:
        fn()
        # Before the cleanups, which remove the temp dirs holding the logs;
        # a waybill still running is SIGKILLed by them, which reports nothing.
        check_all_waybill_logs()
        if _thread_errors:
            fail(f"{len(_thread_errors)} uncaught exception(s) in background threads, the first in "
                 f"{_thread_errors[0][0]}:\n{_thread_errors[0][1]}")
    except TestFailure as e:
        failed(str(e))
    except Exception:
        traceback.print_exc()
        failed("unexpected exception")
    run_cleanups()
    print(f"PASS {name} ({time.time() - t0:.1f}s)", flush=True)
    sys.exit(0)
