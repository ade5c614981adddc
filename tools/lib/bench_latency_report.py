# tools/lib/bench_latency_report.py — the figures of `tools/bench pg
# --latency` (tools/lib/bench_latency.sh): p50/p99/max of waybill's own
# histogram between two scrapes (interpolated as Prometheus'
# histogram_quantile does) and of the external consumer's per-record
# latencies.
#
#   bench_latency_report.py WORK ROWS RATE DURATION SINK_DESCRIPTION SINK_KIND
import json
import re
import sys

work, rows, rate, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
desc, kind = sys.argv[5], sys.argv[6]
ack = "acknowledged by the broker" if kind == "kafka" else "block fsynced"
got = "received" if kind == "kafka" else "block read"
INF = float("inf")


def buckets(path):
    b = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'waybill_delivery_latency_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
            if m:
                b[INF if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
    return b


b0, b1 = buckets(f"{work}/before.prom"), buckets(f"{work}/after.prom")
cum = [(le, b1[le] - b0.get(le, 0)) for le in sorted(b1)]
total = cum[-1][1] if cum else 0


def quantile(q):
    """histogram_quantile: linear within the bucket the rank falls in."""
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in cum:
        if c >= rank:
            if le == INF:
                return prev_le
            frac = (rank - prev_c) / (c - prev_c) if c > prev_c else 0
            return prev_le + (le - prev_le) * frac
        prev_le, prev_c = le, c
    return float("nan")


top = next((le for le, c in cum if c >= total), float("nan"))
with open(f"{work}/consumer.json") as f:
    lat = sorted(json.load(f)["latencies_ms"])


def pct(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")


with open(f"{work}/pgbench.log") as f:
    pg = f.read()
tps = re.search(r"tps = ([0-9.]+)", pg)
lag = re.search(r"schedule lag: avg ([0-9.]+)", pg)
print()
print(f"PostgreSQL 15 → waybill → {desc}, one-row inserts, pgbench -R {rate}/s for {duration} s")
print(f"  pgbench: {tps.group(1) if tps else '?'} tps, schedule lag {lag.group(1) if lag else '?'} ms; "
      f"{rows} rows committed in the window")
print(f"  {'':56s} {'p50':>9s} {'p99':>9s} {'max':>9s} {'changes':>8s}")
print(f"  {'waybill histogram (commit → ' + ack + ')':56s} {quantile(0.5) * 1000:7.1f}ms "
      f"{quantile(0.99) * 1000:7.1f}ms {'<=' + format(top * 1000, '.0f') + 'ms':>9s} {int(total):8d}")
print(f"  {'external consumer (commit → ' + got + ')':56s} {pct(0.5):7.1f}ms {pct(0.99):7.1f}ms "
      f"{(lat[-1] if lat else float('nan')):7.1f}ms {len(lat):8d}")
print("  (source.ts_ms has millisecond resolution; the histogram's max is its bucket's bound)")
p99 = max(quantile(0.99) * 1000, pct(0.99))
print(f"  target p99 <= 50 ms: {'met' if p99 <= 50 else 'MISSED'} (worse of the two: {p99:.1f} ms)")
