# test_snapshot_textkey.py — kill -9 in the middle of the COPY of a table
# whose text primary key holds what COPY's text format escapes (tab,
# newline, backslash) and non-ASCII: the durable chunk key in the checkpoint
# is the decoded text, the restart resumes after it with the keyset query
# (rows read = rows after that key, exactly), and every key is delivered.
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "tk"


def test():
    pg = Postgres().start()
    pg.psql(r"""
        CREATE TABLE tk (k text PRIMARY KEY, v int NOT NULL);
        INSERT INTO tk SELECT lpad(i::text, 7, '0') || E'\t\\ é\n' || (i % 3), i FROM generate_series(1, 300000) i;
        ANALYZE tk;
    """)
    p = Pipeline(pg, name=NAME, tables=["public.tk"], extra_source="  snapshot: {mode: initial, chunk_size: 1000}\n")
    p.write_config(p.config_text.replace("checkpoint_interval: 1s", "checkpoint_interval: 50ms"))
    proc = p.start()
    p.wait_snapshot(proc, "public.tk", lambda t: t and (t["done"] or (t["key"] and t["rows"] > 5000)))
    proc.kill(signal.SIGKILL)
    t = p.checkpoint()["source"]["snapshot"]["tables"]["public.tk"]
    if t["done"]:
        fail("the snapshot finished before the kill (machine too fast for 300k rows?)")
    key = t["key"][0]
    log(f"durable key {key!r}, rows {t['rows']}")
    check(key.endswith("\t\\ é\n" + str(int(key[:7]) % 3)), "key is the decoded text", key)
    wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'") == "f", 30, "slot released")
    expect = int(pg.value(f"SELECT count(*) FROM tk WHERE k > $q${key}$q$"))
    r = p.run_idle(2, timeout=300)
    reads = [int(x) for x in re.findall(r"snapshot rows read by this process: (\d+)", r.stderr)]
    check_eq(reads, [expect], "the restart read exactly the rows after the durable key (keyset, key bound as text)")
    recs = records(p.out, f"{NAME}.public.tk")
    keys = [x["after"]["k"] for x in recs]
    want = sorted(bytes.fromhex(h).decode() for h in pg.psql("SELECT encode(convert_to(k,'UTF8'),'hex') FROM tk"))
    check_eq(sorted(set(keys)), want, "every key delivered, byte-exact")
    check(len(keys) - len(set(keys)) < 1000, f"{len(keys) - len(set(keys))} rows emitted twice, fewer than one chunk")


main(test)
