# test_cli_commands.py — the command line of issue 12: every command's
# --help (stdout, exit 0), -V, `check --offline` (no connection attempt),
# `cat -`, `cat --count`, `cat --from`, `cat --follow` on a growing .part
# file, `slot list` / `slot drop` (refused without a terminal and without
# --yes, declined and accepted on a terminal, refused while in use) and
# `run --endpos` (stops at the right change, exact events, then resumes).
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "cc"
TOPIC = f"{NAME}.public.cc_t"
SRC = os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COMMANDS = ("run", "check", "status", "snapshot", "schema", "cat", "slot", "mapping")


def test_help():
    log("COMMAND --help for every command, -V, help COMMAND")
    for cmd in COMMANDS:
        for args in ([cmd, "--help"], [cmd, "-h"], [cmd, "-c", "/nonexistent.yaml", "--help"], ["help", cmd]):
            r = run_waybill(args)
            check_eq(r.rc, 0, f"waybill {' '.join(args)} exits 0")
            check(r.stdout.startswith(f"usage: waybill {cmd}"), f"waybill {' '.join(args)} prints its usage "
                  "to stdout", repr(r))
            check_eq(r.stderr, "", f"waybill {' '.join(args)}: nothing on stderr")
    r = run_waybill(["cat", "--help"])
    for opt in ("--follow", "--count", "--from", "-"):
        check(opt in r.stdout, f"cat --help names {opt}", repr(r))
    r = run_waybill(["run", "--help"])
    check("--endpos" in r.stdout and "--stop-when-idle" in r.stdout, "run --help names its options", repr(r))
    for v in ("-V", "--version"):
        r = run_waybill([v])
        check_eq((r.rc, r.stdout), (0, "waybill 0.1.0\n"), f"waybill {v}")
    log("usage errors exit 2 with one line saying where to look")
    for args, what in ((["cat"], "cat needs at least one FILE.avro"),
                       (["cat", "--count", "x", "f"], "--count takes a number"),
                       (["cat", "--from", "nope", "f"], "--from nope is not a position"),
                       (["cat", "--follow", "a", "b"], "--follow takes exactly one file"),
                       (["cat", "--follow", "-"], "must be the only file, without --follow"),
                       (["slot"], "slot needs list or drop"),
                       (["slot", "list"], "list needs -c FILE"),
                       (["check", "-c", "x.yaml", "--endpos", "0/0"], "--endpos belongs to the run command"),
                       (["run", "-c", "x.yaml", "--offline"], "--offline belongs to the check command"),
                       (["run", "-c", "x.yaml", "--yes"], "--yes belongs to the drop command"),
                       (["run", "-c"], "option -c needs a value")):
        r = run_waybill(args)
        check_eq(r.rc, 2, f"waybill {' '.join(args)} exits 2")
        check(len(r.stderr_lines()) == 1 and what in r.stderr and "--help" in r.stderr,
              f"waybill {' '.join(args)}: one line '{what}' ending in where to look", repr(r))


def listener():
    """A TCP port that accepts connections and counts them."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.setblocking(False)
    add_cleanup(s.close)
    return s


def accepted(s):
    n = 0
    while True:
        try:
            c, _ = s.accept()
            c.close()
            n += 1
        except BlockingIOError:
            return n


def test_check_offline():
    log("check --offline: a good configuration, bad ones; never a connection")
    lis = listener()
    port = lis.getsockname()[1]
    base = make_tmpdir("wbtest-offline-")
    good_map = os.path.join(SRC, "mappings", "wms_inventory.yaml")
    bad_map = os.path.join(base, "bad_map.yaml")
    with open(good_map) as f:
        text = f.read()
    with open(bad_map, "w") as f:
        f.write(text.replace("event: InventoryMovement", "event: NoSuchEvent", 1))

    def conf(name, sink_type="avro-file", mappings=None, extra=""):
        path = os.path.join(base, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(f"name: {name}\ncheckpoint_dir: {base}/ckpt\nsource:\n  type: postgres\n"
                    f"  dsn: \"host=127.0.0.1 port={port} dbname=x user=x connect_timeout=2\"\n"
                    f"  tables: [public.stock_balance]\n{extra}"
                    f"sink:\n  type: {sink_type}\n  dir: {base}/out\n"
                    + (f"mappings: [{mappings}]\nemit: [raw, mapped]\n" if mappings else ""))
        return path

    good = conf("good", mappings=good_map)
    r = run_waybill(["check", "--offline", "-c", good])
    check_eq(r.rc, 0, "check --offline of a good configuration exits 0")
    n = sum(1 for l in text.split("\n") if l.startswith("mapping:"))
    check(f"ok mappings: {n} mapping(s) loaded" in r.stdout, f"{n} mappings loaded", repr(r))
    check(r.stdout.rstrip().endswith("no server contacted; `waybill check -c " + good + "` checks the servers)"),
          "last line says no server was contacted", repr(r))
    check_eq(r.stderr, "", "nothing on stderr")
    for path, what in ((conf("badsink", sink_type="carrier-pigeon"), "sink.type"),
                       (conf("badkey", extra="  no_such_key: 1\n"), "no_such_key"),
                       (conf("badmap", mappings=bad_map), "NoSuchEvent")):
        r = run_waybill(["check", "--offline", "-c", path])
        check_eq(r.rc, 2, f"check --offline of a bad configuration ({what}) exits 2")
        check(what in r.stdout + r.stderr, f"the output names {what}", repr(r))
    check_eq(accepted(lis), 0, "no connection attempt to the source's server")
    # the same good configuration online does try (the listener is no PG)
    r = run_waybill(["check", "-c", good], timeout=60)
    check_eq(r.rc, 1, "check (online) against a server that is no PostgreSQL exits 1")
    check(accepted(lis) >= 1, "check (online) connected: the listener works")
    log("a server that is down: exit 1, and the line says what to do")
    down = conf("down").replace("good", "down")
    with open(down) as f:
        text = f.read()
    with open(down, "w") as f:
        f.write(text.replace(f"port={port}", f"port={free_port()}"))
    for cmd in ("run", "status", "schema"):
        r = run_waybill([cmd, "-c", down], timeout=60)
        check_eq(r.rc, 1, f"{cmd} against a server that is down exits 1")
        check(len(r.stderr_lines()) == 1 and r.stderr.rstrip().endswith(
              f"is the server running and reachable? `waybill check -c {down}` tests the connection and the "
              "privileges"), f"{cmd}: one line ending in what to do", repr(r))


def cat(args, stdin=None):
    p = subprocess.run([WAYBILL, "cat"] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def lines_of(text):
    return [json.loads(l) for l in text.split("\n") if l.strip()]


def test_cat_endpos_slot(pg):
    pg.psql("CREATE TABLE cc_t (id int PRIMARY KEY, v text); CREATE TABLE cc_other (id int);")
    p = Pipeline(pg, name=NAME, tables=["public.cc_t"])
    p.run_idle(1)

    log("run --endpos LSN: stops after the transaction committed at or before it")
    pg.psql("BEGIN; INSERT INTO cc_t VALUES (1, 'a'), (2, 'b'), (3, 'c'); COMMIT;")
    l1 = pg.value("SELECT pg_current_wal_lsn()")
    pg.psql("BEGIN; INSERT INTO cc_t VALUES (4, 'd'), (5, 'e'); COMMIT;")
    l2 = pg.value("SELECT pg_current_wal_lsn()")
    pg.psql("INSERT INTO cc_other VALUES (1)")  # WAL past l2, nothing captured
    r = p.run(["run", "-c", p.config, "--endpos", l1], timeout=60, tag="endpos1")
    check_eq(r.rc, 0, f"run --endpos {l1} exits 0")
    check(f"everything up to --endpos {l1}:end is checkpointed" in r.stderr, "says it stopped at --endpos",
          r.stderr[-2000:])
    check_eq([x["after"]["id"] for x in records(p.out, TOPIC)], [1, 2, 3],
             "exactly the first transaction's 3 events delivered")
    ck = p.checkpoint()
    check(lsn(ck["flush_lsn"]) <= lsn(l1), f"checkpoint flush_lsn {ck['flush_lsn']} <= endpos {l1}")
    check_eq(lsn(pg.slot(p.slot_name)[0]), lsn(ck["flush_lsn"]), "slot confirmed at the checkpoint, not past it")
    r = p.run(["run", "-c", p.config, "--endpos", l2], timeout=60, tag="endpos2")
    check_eq(r.rc, 0, f"run --endpos {l2} (nothing captured after it: stops on the server's position) exits 0")
    check_eq([x["after"]["id"] for x in records(p.out, TOPIC)], [1, 2, 3, 4, 5],
             "the second transaction's 2 events follow, none repeated")
    r = p.run(["run", "-c", p.config, "--endpos", "zz"], tag="endpos3")
    check_eq(r.rc, 2, "run --endpos zz exits 2")
    check("--endpos zz is not a position" in r.stderr and "0/16B3748" in r.stderr, "says what an LSN looks like",
          repr(r))

    files = [f.path for f in p.read()[TOPIC]]
    full = []
    for f in files:
        rc, out, err = cat([f])
        check_eq(rc, 0, "cat exits 0")
        full += lines_of(out)
    check_eq([x["after"]["id"] for x in full], [1, 2, 3, 4, 5], "cat prints all 5 records")
    log("cat - reads standard input")
    with open(files[0], "rb") as f:
        data = f.read()
    rc, out, err = cat(["-"], stdin=data)
    check_eq(rc, 0, "cat - exits 0")
    rc2, out2, _ = cat([files[0]])
    check_eq(out, out2, "cat - prints what cat FILE prints")
    rc, out, err = cat(["-"], stdin=data[:len(data) // 2])
    check_eq(rc, 1, "cat - of a torn file exits 1")
    log("cat --count, --from")
    rc, out, err = cat(["--count", "2"] + files)
    check_eq((rc, [x["after"]["id"] for x in lines_of(out)]), (0, [1, 2]), "--count 2: the first two")
    rc, out, err = cat(["-n", "0"] + files)
    check_eq((rc, out), (0, ""), "--count 0: nothing")
    third = full[2]["source"]["position"]
    rc, out, err = cat(["--from", third] + files)
    check_eq((rc, [x["after"]["id"] for x in lines_of(out)]), (0, [3, 4, 5]), f"--from {third}")
    rc, out, err = cat(["--from", third, "--count", "1"] + files)
    check_eq((rc, [x["after"]["id"] for x in lines_of(out)]), (0, [3]), f"--from {third} --count 1")
    second_txn = full[3]["source"]["position"].split(":")[0]
    rc, out, err = cat(["--from", second_txn] + files)
    check_eq((rc, [x["after"]["id"] for x in lines_of(out)]), (0, [4, 5]), f"--from {second_txn} (an LSN)")
    rc, out, err = cat(["--from", "000042:1234"] + files)
    check_eq(rc, 1, "--from a MySQL position over PostgreSQL events exits 1")
    check("is not a mysql position" in err, "says the positions differ", err)

    test_follow(pg, p)
    test_slot(pg, p)


def test_follow(pg, p):
    log("cat --follow tails the .part file being written, and ends when it is completed")
    proc = p.start()
    p.wait_slot_active(proc)
    pg.psql("INSERT INTO cc_t VALUES (6, 'f')")
    wait_until(lambda: part_files(p.out), 30, "a .part file")
    part = part_files(p.out)[0]
    fol = subprocess.Popen([WAYBILL, "cat", "--follow", part], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    add_cleanup(lambda: fol.poll() is None and fol.kill())
    got = []
    buf = b""

    def read_some(timeout):
        nonlocal buf
        r, _, _ = select.select([fol.stdout], [], [], timeout)
        if r:
            chunk = os.read(fol.stdout.fileno(), 65536)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                got.append(json.loads(line))
            return len(chunk) > 0
        return True

    def have(n):
        read_some(0.2)
        if fol.poll() is not None and len(got) < n:
            fail(f"cat --follow exited {fol.returncode} early: {fol.stderr.read().decode()}")
        return len(got) >= n
    wait_until(lambda: have(1), 30, "the first followed record")
    for i in range(7, 10):
        pg.psql(f"INSERT INTO cc_t VALUES ({i}, 'x')")
        wait_until(lambda: have(i - 5), 30, f"followed record {i}")
    check_eq([x["after"]["id"] for x in got], [6, 7, 8, 9], "cat --follow printed each row as it was written")
    check(fol.poll() is None, "cat --follow still runs while the file is open")
    check_eq(proc.kill(signal.SIGTERM), 0, "waybill stops cleanly (completes the file)")
    try:
        rc = fol.wait(timeout=30)
    except subprocess.TimeoutExpired:
        fail("cat --follow did not end after the file was completed")
    rest = fol.stdout.read()
    for line in rest.split(b"\n"):
        if line.strip():
            got.append(json.loads(line))
    check_eq(rc, 0, "cat --follow exits 0 once the file is completed")
    check_eq([x["after"]["id"] for x in got], [6, 7, 8, 9], "and printed nothing twice")


def pty_run(args, answer):
    """Runs waybill with a terminal as stdin; writes answer to it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([WAYBILL] + args, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    time.sleep(0.5)
    os.write(master, answer.encode())
    out, err = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, out.decode(), err.decode()


def test_slot(pg, p):
    log("slot list")
    pg.psql("SELECT pg_create_logical_replication_slot('cc_spare', 'pgoutput')")
    r = p.run(["slot", "list", "-c", p.config])
    check_eq(r.rc, 0, "slot list exits 0")
    rows = [l for l in r.stdout.split("\n") if l.startswith(("*", " ")) and "SLOT" not in l]
    names = [l[2:].split()[0] for l in rows]
    check_eq(names, ["cc_spare", p.slot_name], "slot list lists both slots in name order")
    mine = [l for l in rows if l.startswith("*")]
    check(len(mine) == 1 and p.slot_name in mine[0] and "pgoutput" in mine[0] and " no " in mine[0],
          "the pipeline's slot marked *, pgoutput, not active", r.stdout)
    check(r.stdout.rstrip().endswith(f"2 slot(s); * = this pipeline's ({p.slot_name})"), "summary line", r.stdout)

    log("slot drop: refused without a terminal and without --yes")
    pp = subprocess.run([WAYBILL, "slot", "drop", "-c", p.config], stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=60)
    check_eq(pp.returncode, 2, "slot drop without a terminal and without --yes exits 2")
    check("add --yes" in pp.stderr, "says to add --yes", pp.stderr)
    check(pg.slot(p.slot_name) is not None, "the slot is still there")
    log("slot drop on a terminal: n keeps it")
    rc, out, err = pty_run(["slot", "drop", "-c", p.config], "n\n")
    check_eq(rc, 1, "declined drop exits 1")
    check(f"drop replication slot {p.slot_name}?" in err and "not dropped" in err, "asked, and says not dropped",
          err)
    check(pg.slot(p.slot_name) is not None, "the slot is still there")
    log("slot drop --yes while the pipeline streams: refused")
    proc = p.start()
    p.wait_slot_active(proc)
    r = p.run(["slot", "drop", "-c", p.config, "--yes"])
    check_eq(r.rc, 1, "dropping an active slot exits 1")
    check("is in use" in r.stderr and "stop that pipeline first" in r.stderr, "says to stop it first", repr(r))
    check_eq(proc.kill(signal.SIGTERM), 0, "pipeline stops")
    log("slot drop on a terminal: y drops --slot cc_spare; --yes drops the pipeline's")
    rc, out, err = pty_run(["slot", "drop", "-c", p.config, "--slot", "cc_spare"], "y\n")
    check_eq(rc, 0, f"confirmed drop exits 0 ({err})")
    check(pg.slot("cc_spare") is None, "cc_spare dropped")
    r = p.run(["slot", "drop", "-c", p.config, "--yes"])
    check_eq(r.rc, 0, "slot drop --yes exits 0")
    check(f"dropped replication slot {p.slot_name}" in r.stdout and "--resnapshot" in r.stdout,
          "says dropped and what the next run needs", repr(r))
    check(pg.slot(p.slot_name) is None, "the pipeline's slot is gone")
    r = p.run(["slot", "drop", "-c", p.config, "--yes"])
    check_eq(r.rc, 1, "dropping a missing slot exits 1")
    check("does not exist" in r.stderr and "slot list" in r.stderr, "says so and how to list", repr(r))
    log("slot on a MySQL configuration: no slots, exit 2")
    my = os.path.join(p.base, "my.yaml")
    with open(my, "w") as f:
        f.write(f"name: ccmy\ncheckpoint_dir: {p.base}/myckpt\nsource:\n  type: mysql\n  host: 127.0.0.1\n"
                f"  port: 1\n  user: x\n  server_id: 7\n  tables: [erp.*]\nsink:\n  type: avro-file\n"
                f"  dir: {p.base}/myout\n")
    r = p.run(["slot", "list", "-c", my])
    check_eq(r.rc, 2, "slot list on MySQL exits 2")
    check("has no replication slots" in r.stderr, "says so", repr(r))


def test():
    test_help()
    test_check_offline()
    pg = Postgres().start()
    test_cat_endpos_slot(pg)


main(test)
