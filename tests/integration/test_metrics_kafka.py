# test_metrics_kafka.py — the metrics of the Kafka sink on a real broker:
# exact per-table delivered counts and a filled latency histogram once the
# brokers acknowledged (transactions committed), and a sink outage (the
# only broker killed): /readyz 503 "sink outage" while /healthz stays 200
# (the sink thread turns while it waits), waybill_sink_connected 0, then
# ready again with one outage counted and its duration.
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
import metricstest as mt  # noqa: E402
from metricstest import get  # noqa: E402


PROC = []


def value(port, name, **labels):
    st, body = get(port, "/metrics")
    if st != 200:
        fail(f"GET /metrics: {st} {body}; waybill alive: {PROC[0].alive()}; stderr:\n{PROC[0].stderr()[-4000:]}")
    return mt.value(mt.parse(body), name, **labels)


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE items (id int PRIMARY KEY, v text);")
    k = kt.Kafka()
    port = free_port()
    p = kt.kafka_pipeline(pg, k, name="mk", extra_top=f"metrics: {{listen: \"127.0.0.1:{port}\"}}\n")
    proc = p.start()
    PROC.append(proc)
    p.wait_slot_active(proc)
    wait_until(lambda: get(port, "/readyz")[0] == 200 or not proc.alive(), 60, "/readyz 200")
    check(proc.alive(), "waybill runs", proc.stderr()[-3000:])

    pg.psql("INSERT INTO items SELECT g, 'a' FROM generate_series(1, 40) g;")
    for i in range(41, 51):
        pg.psql(f"INSERT INTO items VALUES ({i}, 'b')")
    pg.psql("UPDATE items SET v = 'c' WHERE id <= 5;")
    wait_until(lambda: value(port, "waybill_events_delivered_total", table="public.items", op="c") == 50.0
               and value(port, "waybill_events_delivered_total", table="public.items", op="u") == 5.0,
               60, "55 changes acknowledged by the broker")
    check_eq(value(port, "waybill_events_read_total", table="public.items"), 55.0, "read")
    check_eq(value(port, "waybill_delivery_latency_seconds_count"), 55.0, "latency histogram count")
    check_eq(value(port, "waybill_delivery_errors_total"), 0.0, "no delivery errors")
    check_eq(value(port, "waybill_sink_connected"), 1.0, "sink connected")

    log("the only broker killed: a sink outage")
    k.kill(1)
    t0 = time.time()
    pg.psql("INSERT INTO items VALUES (100, 'during')")
    wait_until(lambda: get(port, "/readyz")[0] == 503 or not proc.alive(), 90, "/readyz 503")
    check(proc.alive(), "alive during the outage", proc.stderr()[-3000:])
    check_eq(get(port, "/readyz"), (503, "sink outage\n"), "/readyz says why")
    check_eq(value(port, "waybill_sink_connected"), 0.0, "sink disconnected")
    check_eq(value(port, "waybill_sink_outages_total"), 1.0, "one sink outage")
    check_eq(value(port, "waybill_source_connected"), 1.0, "the source stays connected")
    # (not longer: past transaction.timeout.ms, 60 s, the delivery fails
    # for good and waybill stops, exit 1)
    time.sleep(15)
    check_eq(get(port, "/healthz"), (200, "ok\n"), "healthy during the outage")
    hb = value(port, "waybill_thread_heartbeat_age_seconds", thread="sink")
    check(hb < 2, f"the sink thread turns while it waits for the broker (heartbeat {hb} s old)")
    check(value(port, "waybill_checkpoint_age_seconds") > 10, "the checkpoint falls behind during the outage")
    k.restart(1)
    wait_until(lambda: get(port, "/readyz")[0] == 200 or not proc.alive(), 120, "/readyz 200 after the outage")
    down = time.time() - t0
    check_eq(value(port, "waybill_sink_outages_total"), 1.0, "still one outage")
    o = value(port, "waybill_sink_outage_seconds_total")
    check(10 < o <= down + 1, f"outage seconds {o} within the {down:.1f} s the broker was down")
    wait_until(lambda: value(port, "waybill_events_delivered_total", table="public.items", op="c") == 51.0,
               90, "the change made during the outage acknowledged")
    check_eq(value(port, "waybill_delivery_latency_seconds_count"), 56.0, "latency count after the outage")
    slow = value(port, "waybill_delivery_latency_seconds_bucket", le="10")
    check_eq(slow, 55.0, "the change that waited for the broker is above 10 s, the others below")
    check_eq(proc.kill(signal.SIGTERM), 0, "SIGTERM: exit 0")
    check(re.search(r"capturing public\.\* from postgres into kafka 127\.0\.0\.1:\d+, resuming", proc.stderr())
          is not None, "start line names the brokers", proc.stderr()[:2000])


main(test)
