# test_pg_values_kafka.py — primary keys with no Avro form, through the
# Kafka sink: a timestamptz key 'infinity' and '-infinity' (and a numeric(6,2)
# key 'NaN') each get their own Kafka key, holding the server's text in the
# key field's string branch, so the rows never share a key (log compaction
# would drop one of them); updates and the delete's tombstone go to the same
# key. Read with python3-confluent-kafka + python3-avro.
#
# Before: both keys were the extreme longs (+-infinity as INT64_MAX/MIN,
# which python3-avro cannot decode), the NaN key a type error.
import datetime
import decimal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

UTC = datetime.timezone.utc


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE tk (k timestamptz PRIMARY KEY, v int);"
            "CREATE TABLE nk (k numeric(6,2) PRIMARY KEY, v int);")
    kafka = kt.Kafka()
    p = kt.kafka_pipeline(pg, kafka, name="vk")
    p.run_idle(1)

    pg.psql("INSERT INTO tk VALUES ('infinity', 1), ('-infinity', 2), ('2024-01-01 00:00:00+00', 3);"
            "INSERT INTO nk VALUES ('NaN', 1), (1.5, 2);"
            "UPDATE tk SET v = 10 WHERE k = 'infinity';"
            "DELETE FROM tk WHERE k = '-infinity';"
            "UPDATE nk SET v = 20 WHERE k = 'NaN';")
    p.run_idle(2)

    schemas = kt.load_schemas(kafka.bootstrap, "vk")

    def decoded(topic):
        out = []
        for m in kt.consume(kafka.bootstrap, topics=[topic]):
            key = kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])
            val = None
            if m.value is not None:
                val = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
            out.append((m.partition, m.offset, dict(key), val))
        return sorted(out, key=lambda x: (x[0], x[1]))

    tk = decoded("vk.public.tk")
    got = [(k["k"], v["op"] if v else None, v["after"]["v"] if v and v["after"] else None,
            list(v["unrepresentable"]) if v else None) for _, _, k, v in tk]
    want_by_key = {
        "infinity": [("infinity", "c", 1, ["k"]), ("infinity", "u", 10, ["k"])],
        "-infinity": [("-infinity", "c", 2, ["k"]), ("-infinity", "d", None, ["k"]), ("-infinity", None, None, None)],
        datetime.datetime(2024, 1, 1, tzinfo=UTC): [(datetime.datetime(2024, 1, 1, tzinfo=UTC), "c", 3, [])],
    }
    for key, want in want_by_key.items():
        check_eq([g for g in got if g[0] == key], want, f"tk: messages under key {key!r}")
    check_eq(len(got), 6, "tk: six messages (3 inserts, an update, a delete and its tombstone)")
    # the delete names the before image's unrepresentable key column
    dele = [v for _, _, k, v in tk if v and v["op"] == "d"][0]
    check_eq(list(dele["unrepresentable"]), ["k"], "tk delete: k listed (before image)")
    check_eq(dict(dele["unrepresentable_text"]["before"]), {"k": "-infinity"}, "tk delete: k's text")

    key_schema = [str(schemas.by_id[int(m.headers["waybill.key_schema_id"], 16)])
                  for m in kt.consume(kafka.bootstrap, topics=["vk.public.tk"])][0]
    fields = json.loads(key_schema)["fields"]
    check_eq([(f["name"], f["type"]) for f in fields],
             [("k", [{"type": "long", "logicalType": "timestamp-micros"}, "string"])],
             "tk key schema: timestamp or the server's text")

    nk = decoded("vk.public.nk")
    got = [(k["k"], v["op"], v["after"]["k"], v["after"]["v"], dict(v["unrepresentable_text"].get("after", {})))
           for _, _, k, v in nk]
    check_eq(sorted(got, key=str),
             sorted([("NaN", "c", None, 1, {"k": "NaN"}), ("NaN", "u", None, 20, {"k": "NaN"}),
                     (decimal.Decimal("1.50"), "c", decimal.Decimal("1.50"), 2, {})], key=str),
             "nk: NaN key kept as text, 1.50 as a decimal")


main(test)
