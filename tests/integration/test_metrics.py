# test_metrics.py — the Prometheus endpoint during a known workload (exact
# per-table counts read and delivered, the latency histogram filled,
# `promtool check metrics` accepts the scrape), /healthz and /readyz
# (unready while the PostgreSQL server is stopped, ready again after),
# the outage counters, every metric the dashboard and the alert rules name
# present in a live scrape, `promtool check rules` and `promtool test rules`,
# and the log lines for people: start, snapshot, status line, SIGHUP,
# outage, table added, shape changed, table dropped.
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from metricstest import get, scrape, value  # noqa: E402

NAME = "mx"
MAPPING = """
mapping: mx_balance
source: public.stock
ops: [c, u]
event: InventoryBalance
correlation_id: "after.sku"
fields:
  sku: "after.sku"
  location: "map(after.wh, {'A': 'WH-A', 'B': 'WH-B'}, default: dlq)"
  on_hand: "after.qty"
  reserved: "after.qty - after.qty"
  available: "after.qty"
"""
SRC = os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OPS = os.path.join(SRC, "docs", "ops")


def promtool_check(body):
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
    check(r.returncode == 0, "promtool check metrics accepts the scrape", r.stdout + r.stderr)


def stop_pg(pg):
    """Stops the server, keeping its options (postmaster.opts) for start_pg."""
    with open(os.path.join(pg.data, "postmaster.opts")) as f:
        pg.saved_opts = shlex.split(f.read())[1:]
    r = pg._as_pg([f"{PG_BIN}/pg_ctl", "-D", pg.data, "-m", "fast", "-w", "-t", "60", "stop"], timeout=90)
    check(r.returncode == 0, "pg_ctl stop", r.stdout + r.stderr)


def start_pg(pg):
    args = [a for a in pg.saved_opts]
    if "-D" in args:
        i = args.index("-D")
        del args[i:i + 2]
    r = pg._as_pg([f"{PG_BIN}/pg_ctl", "-D", pg.data, "-l", os.path.join(pg.dir, "server.log"),
                   "-o", " ".join(shlex.quote(a) for a in args), "-w", "-t", "60", "start"], timeout=90)
    check(r.returncode == 0, "pg_ctl start", r.stdout + r.stderr)


def referenced_metrics():
    """Every waybill_* / process_* name the dashboard and the rules use."""
    names = set()
    with open(os.path.join(OPS, "waybill-dashboard.json")) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
    with open(os.path.join(OPS, "waybill-alerts.yml")) as f:
        exprs.append(f.read())
    for e in exprs:
        names |= set(re.findall(r'\b((?:waybill|process)_[a-z0-9_]+)', e))
    return names


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE items (id int PRIMARY KEY, v text);"
            "CREATE TABLE other (id int PRIMARY KEY, v text);"
            "CREATE TABLE stock (sku text PRIMARY KEY, wh text, qty numeric(12,3));"
            "INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 50) g;"
            "ANALYZE items;")
    port = free_port()
    base = make_tmpdir("wbtest-wb-")
    mfile = os.path.join(base, "balance-mapping.yaml")
    with open(mfile, "w") as f:
        f.write(MAPPING)
    p = Pipeline(pg, name=NAME, base=base,
                 extra_top=f"metrics: {{listen: \"127.0.0.1:{port}\"}}\n"
                           f"status_log_interval: 2s\nmappings: [{json.dumps(mfile)}]\n")

    log("status before the first run: no checkpoint, no lag")
    r = p.run(["status", "-c", p.config, "--json"])
    check_eq(r.rc, 0, "status exits 0 before the first run")
    st = json.loads(r.stdout)
    check_eq(st["checkpoint"], None, "no checkpoint before the first run")
    check_eq(st["source"]["lag_bytes"], None, "no lag before the first run (not the whole WAL)")
    check_eq(st["source"]["reachable"], True, "source reachable")

    proc = p.start()
    wait_until(lambda: get(port, "/readyz")[0] == 200 or not proc.alive(), 60, "/readyz 200")
    check(proc.alive(), "waybill runs", proc.stderr()[-3000:])
    st, body = get(port, "/healthz")
    check_eq((st, body), (200, "ok\n"), "/healthz")
    check_eq(get(port, "/nope")[0], 404, "unknown path 404")

    log("known workload: 100 inserts (one transaction) + 20 single ones, 30 updates, 10 deletes, 5 inserts into other")
    pg.psql("INSERT INTO items SELECT g, 'bulk ' || g FROM generate_series(101, 200) g;")
    for i in range(201, 221):
        pg.psql(f"INSERT INTO items VALUES ({i}, 'one {i}')")
    pg.psql("UPDATE items SET v = 'upd' WHERE id BETWEEN 1 AND 30;")
    pg.psql("DELETE FROM items WHERE id BETWEEN 41 AND 50;")
    pg.psql("INSERT INTO other SELECT g, 'o' FROM generate_series(1, 5) g;")
    pg.psql("INSERT INTO stock VALUES ('s1', 'A', 1), ('s2', 'B', 2), ('s3', 'Z', 3), ('s4', 'A', 4);"
            "INSERT INTO stock VALUES ('s5', 'Z', 5); UPDATE stock SET qty = 9 WHERE sku = 's1';")
    want = {("public.items", "r"): 50, ("public.items", "c"): 120, ("public.items", "u"): 30,
            ("public.items", "d"): 10, ("public.other", "c"): 5, ("public.stock", "c"): 5,
            ("public.stock", "u"): 1}

    def delivered_all():
        _, s = scrape(port)
        return all(value(s, "waybill_events_delivered_total", table=t, op=o) == n for (t, o), n in want.items())
    wait_until(delivered_all, 60, "every change delivered")
    time.sleep(6)  # past the first discovery round: the slot's retained WAL is read
    ck_before = p.checkpoint()
    body, s = scrape(port)
    ck_after = p.checkpoint()
    for (t, o), n in want.items():
        check_eq(value(s, "waybill_events_read_total", pipeline=NAME, table=t, op=o), float(n), f"read {t} {o}")
        check_eq(value(s, "waybill_events_delivered_total", pipeline=NAME, table=t, op=o), float(n),
                 f"delivered {t} {o}")
    check_eq(value(s, "waybill_events_read_total", op="t"), None, "no truncates counted")
    # the histogram: every streamed change once (snapshot rows are not)
    check_eq(value(s, "waybill_delivery_latency_seconds_count"), 171.0, "latency histogram count")
    check_eq(value(s, "waybill_delivery_latency_seconds_bucket", le="+Inf"), 171.0, "+Inf bucket")
    check_eq(value(s, "waybill_mapped_events_total", mapping="mx_balance"), 4.0, "mapped events")
    check_eq(value(s, "waybill_dead_letters_total", mapping="mx_balance"), 2.0, "dead letters")
    buckets = sorted((float(dict(ls)["le"]), v) for (n, ls), v in s.items()
                     if n == "waybill_delivery_latency_seconds_bucket" and dict(ls)["le"] != "+Inf")
    check_eq([b for b, _ in buckets], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
                                             30.0, 60.0],
             "bucket bounds")
    check(all(buckets[i][1] <= buckets[i + 1][1] for i in range(len(buckets) - 1)), "buckets are cumulative")
    check(buckets[-1][1] == 171.0, "every change within 60 s", str(buckets))
    sm = value(s, "waybill_delivery_latency_seconds_sum")
    check(0 < sm < 171 * 5, f"latency sum plausible ({sm})")
    check_eq(value(s, "waybill_snapshot_rows_estimated", table="public.items"), 50.0, "snapshot estimate")
    check_eq(value(s, "waybill_lag_seconds"), 0.0, "nothing waits: lag 0")
    check_eq(value(s, "waybill_checkpoint_age_seconds"), 0.0, "checkpoint covers everything")
    check(value(s, "waybill_checkpoints_total") >= 1, "checkpoints counted")
    server = int(pg.value("SELECT pg_current_wal_lsn() - '0/0'"))
    check(0 < value(s, "waybill_server_position") <= server, "server position")
    # (an idle slot's keepalive may bring a checkpoint between the reads)
    check(value(s, "waybill_checkpoint_position") in (float(lsn(ck_before["flush_lsn"])),
                                                      float(lsn(ck_after["flush_lsn"]))),
          "checkpoint position = the checkpoint file's flush_lsn",
          f'{value(s, "waybill_checkpoint_position")} vs {ck_before["flush_lsn"]}, {ck_after["flush_lsn"]}')
    check(value(s, "waybill_source_slot_retained_wal_bytes") is not None, "slot retained WAL present")
    check_eq(value(s, "waybill_snapshot_rows", table="public.items"), 50.0, "snapshot rows done")
    check_eq(value(s, "waybill_source_connected"), 1.0, "source connected")
    check_eq(value(s, "waybill_ready"), 1.0, "waybill_ready")
    check(value(s, "process_resident_memory_bytes") > 1e6, "RSS")
    check(value(s, "process_cpu_seconds_total") > 0, "CPU")
    check_eq(value(s, "waybill_info", source="postgres", sink="avro-file"), 1.0, "waybill_info")
    promtool_check(body)

    log("every metric the dashboard and the alert rules name exists in the scrape")
    present = {n for (n, _) in s}
    missing = sorted(n for n in referenced_metrics() if n not in present)
    check_eq(missing, [], "metrics referenced by docs/ops but missing from /metrics")
    r = subprocess.run(["promtool", "check", "rules", os.path.join(OPS, "waybill-alerts.yml")],
                       capture_output=True, text=True)
    check(r.returncode == 0, "promtool check rules", r.stdout + r.stderr)
    r = subprocess.run(["promtool", "test", "rules", "waybill-alerts.test.yml"], cwd=os.path.join(OPS, "tests"),
                       capture_output=True, text=True)
    check(r.returncode == 0, "promtool test rules (lag, stalled checkpoint, outage fire)", r.stdout + r.stderr)

    log("state changes: a new table, a changed shape, a dropped table")
    pg.psql("CREATE TABLE late (id int PRIMARY KEY); INSERT INTO late VALUES (1), (2);")
    pg.psql("ALTER TABLE items ADD COLUMN extra int; INSERT INTO items VALUES (500, 'x', 1);")
    pg.psql("DROP TABLE other;")
    wait_until(lambda: "is gone" in proc.stderr() and "changed shape" in proc.stderr()
               and "new table public.late" in proc.stderr(), 60, "table logs")

    log("SIGHUP: a status line, the process lives on")
    proc.p.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: status line follows" in proc.stderr(), 10, "SIGHUP logged")
    check(proc.alive(), "alive after SIGHUP")

    log("source outage: stop the server; /readyz turns 503, then 200 again after the restart")
    t_down = time.time()
    stop_pg(pg)
    wait_until(lambda: get(port, "/readyz")[0] == 503, 30, "/readyz 503 during the outage")
    st, why = get(port, "/readyz")
    check_eq(why, "source not connected\n", "/readyz says why")
    check_eq(get(port, "/healthz")[0], 200, "healthy (threads turn) during the outage")
    _, s = scrape(port)
    check_eq(value(s, "waybill_source_connected"), 0.0, "source disconnected")
    check_eq(value(s, "waybill_source_outages_total"), 1.0, "one outage")
    check_eq(value(s, "waybill_ready"), 0.0, "waybill_ready 0")

    log("status while the database is down: the local checkpoint, and says so")
    r = p.run(["status", "-c", p.config, "--json"])
    check_eq(r.rc, 1, "status exits 1 when the source is unreachable")
    st = json.loads(r.stdout)
    check_eq(st["checkpoint"]["position"], p.checkpoint()["position"], "local checkpoint shown")
    check_eq(st["source"]["reachable"], False, "source.reachable false")
    check("cannot be reached" in r.stderr, "stderr says the source cannot be reached", r.stderr)
    r = p.run(["status", "-c", p.config, "--table"])
    check_eq(r.rc, 1, "status --table exits 1 too")
    check(re.search(r"^checkpoint\.position +\S+", r.stdout, re.M) is not None, "table has checkpoint.position",
          r.stdout)
    check(re.search(r"^source\.reachable +false$", r.stdout, re.M) is not None, "table says unreachable", r.stdout)

    time.sleep(2)
    start_pg(pg)
    wait_until(lambda: get(port, "/readyz")[0] == 200, 90, "/readyz 200 after the outage")
    down = time.time() - t_down
    _, s = scrape(port)
    check_eq(value(s, "waybill_source_connected"), 1.0, "source connected again")
    check_eq(value(s, "waybill_source_outages_total"), 1.0, "still one outage")
    check(value(s, "waybill_source_reconnects_total") >= 1, "a reconnect")
    o = value(s, "waybill_source_outage_seconds_total")
    check(1.5 < o <= down + 1, f"outage seconds {o} within the time the server was down ({down:.1f} s)")
    pg.psql("INSERT INTO items VALUES (600, 'after', 2);")
    wait_until(lambda: value(scrape(port)[1], "waybill_events_delivered_total", table="public.items", op="c") == 122,
               60, "the change after the outage delivered")

    check_eq(proc.kill(signal.SIGTERM), 0, "SIGTERM: exit 0")
    err = proc.stderr()
    for what, pat in [
        ("start line", r"info pipeline: mx: capturing public\.\* from postgres into avro-file .*, resuming without a "
                       r"checkpoint \(first start\), metrics on http://127\.0\.0\.1:\d+"),
        ("snapshot started", r"info postgres: snapshot of 3 table\(s\) at "),
        ("snapshot done", r"info snapshot: snapshot of public\.items finished: 50 rows|snapshot of public\.items "
                          r"finished: 50 rows"),
        ("status line", r"info pipeline: streaming: \d+ events/s delivered, \d+/s read over \d+ s \(\d+ delivered "
                        r"in all\), lag [\d.]+ s, \d+ bytes behind the server, read up to [0-9A-F]+/[0-9A-F]+:\d+, "
                        r"checkpoint [0-9A-F]+/[0-9A-F]+:"),
        ("SIGHUP status", r"info pipeline: status: "),
        ("outage start", r"warn pipeline: source connection lost \("),
        ("outage end", r"info pipeline: source connection back after [\d.]+ s \(\d+ attempts\)"),
        ("table added", r"info postgres: new table public\.late: captured from now on"),
        ("shape changed", r"info postgres: table public\.items changed shape: 2 → 3 columns"),
        ("table dropped", r"info postgres: table public\.other \(oid \d+\) is gone"),
    ]:
        check(re.search(pat, err) is not None, f"log line: {what}", err[-6000:])
    check_eq(len(re.findall(r"source connection lost", err)), 1, "the outage is logged once when it starts")
    check_eq(len(re.findall(r"changed shape", err)), 1, "the shape change is logged once")

    log("log_format: json: every line JSON, the fatal one included")
    q = Pipeline(pg, name="mj", tables=("public.items",), extra_top="log_format: json\nstatus_log_interval: 1s\n")
    r = q.run(["run", "-c", q.config, "--stop-when-idle", "3"], timeout=120, tag="run")
    check_eq(r.rc, 0, "json run exits 0")
    lines = r.stderr_lines()
    check(len(lines) >= 4, "json run logged", r.stderr)
    for line in lines:
        try:
            o = json.loads(line)
        except ValueError:
            fail(f"not a JSON log line: {line!r}")
        check(set(o) >= {"ts", "level", "component", "message"}, f"JSON line fields: {line}")
    msgs = [(json.loads(l)["level"], json.loads(l)["component"], json.loads(l)["message"]) for l in lines]
    for what, level, comp, pat in [
            ("start line", "info", "pipeline", r"^mj: capturing public\.items from postgres into avro-file "),
            ("snapshot started", "info", "postgres", r"^snapshot of 1 table\(s\) at "),
            ("snapshot of the table done", "info", "postgres", r"^snapshot of public\.items finished: \d+ rows$"),
            ("status line", "info", "pipeline", r"^streaming: \d+ events/s delivered"),
            ("stop line", "info", "pipeline", r"^stopped at ")]:
        check(any(lv == level and c == comp and re.search(pat, m) for lv, c, m in msgs), f"JSON log line: {what}",
              r.stderr[-3000:])
    bad = Pipeline(pg, name="mjbad", dsn=pg.dsn() + " dbname=nosuchdb", extra_top="log_format: json\n")
    r = bad.run(["run", "-c", bad.config], timeout=60, tag="run")
    check_eq(r.rc, 1, "a run against a missing database exits 1")
    lines = r.stderr_lines()
    check(len(lines) >= 1, "the failure is logged", r.stderr)
    for line in lines:
        try:
            o = json.loads(line)
        except ValueError:
            fail(f"not a JSON log line: {line!r}")
    last = json.loads(lines[-1])
    check_eq((last["level"], last["component"]), ("error", "waybill"), "the fatal line is JSON")
    check("nosuchdb" in last["message"], "the fatal line names the database", last["message"])


main(test)
