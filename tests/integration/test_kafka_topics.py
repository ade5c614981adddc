# test_kafka_topics.py — brokers that do not create topics
# (auto.create.topics.enable=false, a real Apache Kafka): waybill creates
# <prefix>._schemas itself (compacted), and a data topic that does not
# exist stops it with exit 1 and one line naming the topic and the command
# that creates it; nothing of the change is lost: once the topic is created
# the next run delivers it, exactly once.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL)
    k = kt.Kafka(auto_create=False)
    p = kt.kafka_pipeline(pg, k, name="nt")
    p.run_idle(1)
    wl = kt.Workload(pg)
    wl.run(30)

    r = p.run(["run", "-c", p.config, "--stop-when-idle", "2"], timeout=120)
    topic = "nt.public.items"
    lines = [l for l in r.stderr_lines() if f"topic {topic} does not exist" in l]
    check(r.rc == 1 and len(lines) == 1, "a missing topic stops waybill: exit 1, one line", repr(r))
    for part in ("auto.create.topics.enable is off",
                 f"kafka-topics.sh --bootstrap-server {k.bootstrap} --create --topic {topic}"):
        check(part in lines[0], f"the line says {part!r}", lines[0])
    names = set(kt.partition_counts(k.bootstrap))
    check(topic not in names, "the data topic was not created", str(sorted(names)))
    check("nt._schemas" in names, "nt._schemas was created by waybill itself", str(sorted(names)))

    # what the message says, then the same run delivers everything
    k.create_topic(topic, 4)
    p.run_idle(2)
    schemas = kt.load_schemas(k.bootstrap, "nt")
    kt.verify(kt.data_messages(k.bootstrap, "nt"), schemas, wl, kt.partition_counts(k.bootstrap),
              topic, exactly_once=True)


main(test)
