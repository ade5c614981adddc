# test_pg_large_value.py — a large text value is held once, not copied
# several times: the PostgreSQL stream is read on the socket itself into a
# buffer of the message's size, the value points into it, the encoder hands
# it to the sink in parts, and the avro-file sink writes it as a block of
# its own, compressed as a stream. Two large rows in a row are read one at
# a time (the second waits for the first to be written).
#
# Checked: every event exactly, the large values by md5 and length
# (python3-avro reads the files back), for the zstandard, deflate and null
# codecs; and each run's peak RSS (VmHWM) against the target
# of 64 MiB + 1.5 x the value (not under ASan, whose shadow memory and
# quarantine are in the RSS). A value of ~0.9 MB goes through the Kafka
# sink (the mock) and is read back exactly.
#
# WB_LARGE_MB sets the value's size in MB (default 64; 200 is the size of
# the measurement).
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

MB = int(os.environ.get("WB_LARGE_MB", "64"))
VALUE_BYTES = MB * 1000000 // 32 * 32   # md5 texts of 32 characters
MIB = 1024 * 1024
CODECS = ("zstandard", "deflate", "null")


def vm_hwm_kib(pid):
    """The process's peak RSS so far (VmHWM), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_measured(p):
    """`waybill run -c CONFIG --stop-when-idle 2` to its end; its peak RSS
    in KiB: VmHWM, read every 20 ms until it exits (it stops after 2 s
    idle, long after its peak). Not wait4's ru_maxrss, which also counts
    the pages of this Python process forked before the exec."""
    errpath = os.path.join(p.base, "measured.stderr")
    peak = 0
    with open(errpath, "w") as errf:
        proc = subprocess.Popen([WAYBILL, "run", "-c", p.config, "--stop-when-idle", "2"],
                                stdout=subprocess.DEVNULL, stderr=errf, env=waybill_env())
        deadline = time.time() + 300
        while proc.poll() is None:
            hwm = vm_hwm_kib(proc.pid)
            if hwm is not None and proc.poll() is None:
                peak = max(peak, hwm)
            if time.time() > deadline:
                proc.kill()
                proc.wait()
                fail(f"{p.name}: waybill run did not finish within 300 s")
            time.sleep(0.02)
    rc = proc.returncode
    with open(errpath, errors="replace") as f:
        err = f.read()
    check_sanitizer(rc, err, f"{p.name}: waybill run")
    if rc != 0:
        fail(f"{p.name}: waybill run exited {rc}: {err[-3000:]}")
    return peak


def digest(v):
    """A large text as (length, md5), a small one as itself."""
    if isinstance(v, str) and len(v) > 1000:
        return (len(v), hashlib.md5(v.encode()).hexdigest())
    return v


def events(recs):
    return [(r["op"], r["after"]["id"], r["after"]["n"], digest(r["after"]["v"]),
             list(r["unchanged"])) for r in recs]


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, v text);"
            "CREATE TABLE mid (id int PRIMARY KEY, v text)")
    pipes = [(c, Pipeline(pg, name=f"lv_{c}", tables=("public.big",), codec=c)) for c in CODECS]
    for _, p in pipes:
        p.run_idle(1)
    kafka = kt.Kafka()
    kp = kt.kafka_pipeline(pg, kafka, name="lvk", tables=("public.mid",))
    kp.run_idle(1)

    n = VALUE_BYTES // 32
    log(f"two values of {VALUE_BYTES} bytes, one after the other")
    t0 = time.time()
    pg.psql("INSERT INTO big VALUES (1, 0, 'small before');"
            "BEGIN;"
            f"INSERT INTO big SELECT 2, 0, string_agg(md5(i::text), '') FROM generate_series(1, {n}) i;"
            "INSERT INTO big VALUES (3, 0, 'small after');"
            "COMMIT;", timeout=300)
    first = pg.value("SELECT length(v) || ' ' || md5(v) FROM big WHERE id = 2").split()
    pg.psql(f"UPDATE big SET v = (SELECT string_agg(md5((i * 7)::text), '') "
            f"FROM generate_series(1, {n}) i) WHERE id = 2;"
            "UPDATE big SET n = 1 WHERE id = 2", timeout=300)
    second = pg.value("SELECT length(v) || ' ' || md5(v) FROM big WHERE id = 2").split()
    log(f"  written in {time.time() - t0:.1f}s")
    check_eq(int(first[0]), VALUE_BYTES, "the first value's length")
    want = [("c", 1, 0, "small before", []),
            ("c", 2, 0, (VALUE_BYTES, first[1]), []),
            ("c", 3, 0, "small after", []),
            ("u", 2, 0, (VALUE_BYTES, second[1]), []),
            ("u", 2, 1, None, ["v"])]   # the unchanged TOASTed value is not sent

    limit_kib = (64 * MIB + 3 * VALUE_BYTES // 2) // 1024
    for codec, p in pipes:
        log(f"{p.name}: run")
        t0 = time.time()
        peak = run_measured(p)
        log(f"  {time.time() - t0:.1f}s, peak RSS {peak} KiB ({peak / 1024:.1f} MiB)")
        if sanitized():
            log(f"  peak RSS not held to {limit_kib // 1024} MiB: an ASan build "
                "(the plain build's run checks it)")
        else:
            check(peak <= limit_kib, f"{p.name}: peak RSS {peak / 1024:.1f} MiB <= "
                  f"{limit_kib / 1024:.1f} MiB (64 MiB + 1.5 x the value)")
        files = p.read()[f"{p.name}.public.big"]
        check_eq([f.codec for f in files], [codec] * len(files), f"{p.name}: the files' codec")
        recs = [r for f in files for r in f.records]
        check_eq(events(recs), want, f"{p.name}: every event exactly once, the large values exact")
        check_eq(recs[1]["source"]["txid"], recs[2]["source"]["txid"],
                 f"{p.name}: the large row and the next one in one transaction")
        check_eq(part_files(p.out), [], f"{p.name}: no .part file left")

    # The Kafka sink: a value past the stream reader's buffer (read into a
    # buffer of its own) and past the encoder's hole size (framed from
    # parts), under librdkafka's default message.max.bytes.
    pg.psql("INSERT INTO mid SELECT 1, string_agg(md5(i::text), '') FROM generate_series(1, 28000) i;"
            "INSERT INTO mid VALUES (2, 'small')")
    mid = pg.value("SELECT length(v) || ' ' || md5(v) FROM mid WHERE id = 1").split()
    kp.run_idle(2)
    schemas = kt.load_schemas(kafka.bootstrap, "lvk")
    got = []
    for m in kt.consume(kafka.bootstrap, topics=["lvk.public.mid"]):
        v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
        got.append((v["op"], v["after"]["id"], digest(v["after"]["v"])))
    check_eq(sorted(got, key=str), sorted([("c", 1, (int(mid[0]), mid[1])), ("c", 2, "small")], key=str),
             "kafka: the ~0.9 MB value and a small one, exact")


if __name__ == "__main__":
    main(test)
