# mytest.py — MariaDB for waybill's integration tests: a throwaway
# mariadbd (Debian's MariaDB 10.11) in a temp dir on loopback, the mariadb
# command-line client as the independent view of the tables, and pipelines
# with a mysql source. Builds on wbtest.py.
import json
import os
import shutil
import signal
import subprocess
import time

import wbtest
from wbtest import add_cleanup, fail, free_port, log, make_tmpdir, short

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"


class MariaDB:
    """A throwaway MariaDB server: its own datadir, port and socket, binary
    log on (ROW, FULL metadata by default), run as root (--user=root).
    settings: extra server options {name: value}."""

    def __init__(self, settings=None, server_id=1, name="mdb"):
        self.settings = dict(settings or {})
        self.server_id = server_id
        self.dir = make_tmpdir(f"wbtest-{name}-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.port = None
        self.proc = None

    def _opts(self):
        opts = {
            "datadir": self.data,
            "socket": self.sock,
            "port": str(self.port),
            "bind-address": "127.0.0.1",
            "user": "root",
            "pid-file": os.path.join(self.dir, "mysqld.pid"),
            "log-error": os.path.join(self.dir, "server.log"),
            "server-id": str(self.server_id),
            "log-bin": os.path.join(self.data, "mysql-bin"),
            "binlog-format": "ROW",
            "binlog-row-metadata": "FULL",
            "innodb-buffer-pool-size": "64M",
            "innodb-log-file-size": "48M",
            "innodb-flush-log-at-trx-commit": "2",
            "sync-binlog": "0",
            "skip-name-resolve": None,
            "character-set-server": "utf8mb4",
            "collation-server": "utf8mb4_general_ci",
            "max-allowed-packet": "256M",
        }
        opts.update(self.settings)
        args = []
        for k, v in opts.items():
            if v is False:
                continue
            args.append(f"--{k}" if v is None else f"--{k}={v}")
        return args

    def restart(self, sig=signal.SIGTERM):
        """Stops the server (SIGTERM: clean; SIGKILL: a crash) and starts it
        again on the same port."""
        port = self.port
        self.stop(sig)
        self.start(port=port)

    def start(self, port=None):
        t0 = time.time()
        if not os.path.isdir(self.data):
            r = subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={self.data}", "--user=root",
                                "--auth-root-authentication-method=normal", "--skip-test-db"],
                               capture_output=True, text=True, timeout=180)
            if r.returncode != 0:
                fail(f"mariadb-install-db failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        if port is None:
            add_cleanup(self.stop)
        for attempt in range(5 if port is None else 60):
            self.port = port or free_port()
            self.proc = subprocess.Popen([MARIADBD, "--no-defaults"] + self._opts(),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 60
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                r = subprocess.run([CLIENT, "--no-defaults", "-S", self.sock, "-uroot", "-e", "SELECT 1"],
                                   capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    if port is None:
                        # root over TCP from loopback, as waybill connects
                        self.sql("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; "
                                 "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;")
                    log(f"mariadb started: port {self.port} ({time.time() - t0:.1f}s)")
                    return self
                time.sleep(0.2)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if "Address already in use" not in self.server_log()[-2000:]:
                fail(f"mariadbd did not start:\n{self.server_log()[-3000:]}")
            time.sleep(0.5)
        fail("could not start MariaDB on a free port")

    def server_log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def sql(self, sql, db=None, timeout=120, check_ok=True):
        """Runs sql through the mariadb client; returns rows as lists of
        strings (tab-separated batch output, NULL as None)."""
        args = [CLIENT, "--no-defaults", "-S", self.sock, "-uroot", "--batch", "--skip-column-names",
                "--raw", "--default-character-set=utf8mb4"]
        if db:
            args.append(db)
        r = subprocess.run(args, input=sql, capture_output=True, text=True, timeout=timeout)
        if check_ok and r.returncode != 0:
            fail(f"mariadb client failed ({r.returncode}): {r.stderr.strip()}\nSQL: {short(sql, 500)}")
        rows = []
        for line in r.stdout.split("\n"):
            if line == "":
                continue
            rows.append([None if v == "NULL" else v for v in line.split("\t")])
        return rows

    def value(self, sql, db=None):
        rows = self.sql(sql, db)
        return rows[0][0] if rows else None


    def replicate_from(self, primary):
        """Makes this server a GTID replica of primary and waits until it
        runs."""
        self.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                 f"MASTER_USER='root', MASTER_USE_GTID=slave_pos; START SLAVE;")
        wbtest.wait_until(lambda: self.slave_running(), 30, "replication running")

    def slave_running(self):
        rows = self.sql("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                        "WHERE VARIABLE_NAME = 'SLAVE_RUNNING'")
        return rows and rows[0][0] == "ON"

    def wait_caught_up_with(self, primary, timeout=60):
        """Waits until this replica has applied everything primary wrote."""
        pos = primary.value("SELECT @@gtid_binlog_pos")
        r = self.value(f"SELECT MASTER_GTID_WAIT('{pos}', {timeout})")
        wbtest.check_eq(r, "0", f"replica caught up with {pos}")


class MyPipeline(wbtest.Pipeline):
    """A pipeline with a mysql source on db (tables: database.table globs)."""

    def __init__(self, db, name="m1", tables=("app.*",), user="root", password=None,
                 snapshot="never", extra_source="", tcp=True, **kw):
        self.db = db
        super().__init__(None, name=name, tables=tables, dsn="unused", **kw)
        lines = ["source:", "  type: mysql"]
        if tcp:
            lines += ["  host: 127.0.0.1", f"  port: {db.port}"]
        else:
            lines += [f"  socket: {db.sock}"]
        lines.append(f"  user: {user}")
        if password is not None:
            lines.append(f"  password: {json.dumps(password)}")
        lines.append(f"  tables: [{', '.join(json.dumps(t) for t in tables)}]")
        lines.append(f"  snapshot: {snapshot}")
        text = self.config_text
        a = text.index("source:\n")
        b = text.index("sink:\n")
        self.write_config(text[:a] + "\n".join(lines) + "\n" + extra_source + text[b:])


class Session:
    """A long-lived mariadb client fed statements on stdin (a load that
    does not pay a process per statement). Errors end the client: check
    alive() and close()'s result."""

    def __init__(self, db, database="app"):
        self.db = db
        args = [CLIENT, "--no-defaults", "-S", db.sock, "-uroot", "--batch", "--skip-column-names",
                "--unbuffered", "--default-character-set=utf8mb4", database]
        self.errpath = os.path.join(db.dir, f"session-{time.time_ns()}.err")
        self.errf = open(self.errpath, "w")
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.errf,
                                  text=True)
        add_cleanup(self.kill)

    def send(self, sql):
        self.p.stdin.write(sql if sql.endswith("\n") else sql + "\n")
        self.p.stdin.flush()

    def close(self, timeout=120):
        """Ends the input and waits; returns the client's exit code."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.p.wait(timeout=timeout)
        self.errf.close()
        return rc

    def error(self):
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def dump_threads(db):
    """Ids of the server's binlog dump threads."""
    rows = db.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
    return [int(r[0]) for r in rows]
