# kafkatest.py — helpers for the Kafka sink's integration tests: start a
# real Apache Kafka (tools/kafka, one cluster per test in the test's temp
# dir) or drive waybill-mock-kafka (injected request errors, the demo),
# configure a kafka pipeline, and read topics back with
# python3-confluent-kafka + python3-avro (consumers that are not ours).
import io
import json
import os
import signal
import struct
import subprocess
import threading
import time

import avro.io
import avro.schema
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition, OFFSET_BEGINNING

import wbtest
from wbtest import add_cleanup, fail, log

BUILD_DIR = os.environ.get("WB_BUILD_DIR") or os.path.join(wbtest.SOURCE_DIR, "build")
MOCK = os.path.join(BUILD_DIR, "waybill-mock-kafka")
TOOLS_KAFKA = os.path.join(wbtest.SOURCE_DIR, "tools", "kafka")


class Kafka:
    """A real Apache Kafka cluster (KRaft, on loopback) started with
    tools/kafka in a temp dir of this test, stopped at cleanup, and by
    tools/kafka's watchdog if this process dies first. brokers: 1, or 3
    (replication factor 3, min.insync.replicas 2). auto_create: the
    brokers' auto.create.topics.enable. Same interface as MockKafka for
    what the tests need (bootstrap), plus kill/restart of one broker and
    topic creation."""

    def __init__(self, brokers=1, auto_create=True, properties=()):
        if not os.access(TOOLS_KAFKA, os.X_OK):
            fail(f"{TOOLS_KAFKA} not found")
        self.brokers = brokers
        self.dir = wbtest.make_tmpdir("wbtest-kafka-")
        args = [TOOLS_KAFKA, "start", "--brokers", str(brokers), "--dir", self.dir,
                "--owner", str(os.getpid())]
        if not auto_create:
            args.append("--no-auto-create")
        for p in properties:
            args += ["--property", p]
        t0 = time.time()
        # registered first: a start that fails half-way is stopped too
        add_cleanup(self.stop)
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=900)
        if r.returncode != 0:
            logs = ""
            for i in range(1, brokers + 1):
                logs += f"\n--- broker {i}:\n" + _tail(os.path.join(self.dir, f"broker-{i}.log"))
            fail(f"tools/kafka start failed (exit {r.returncode}): {r.stderr.strip()[-3000:]}{logs}")
        self.bootstrap = r.stdout.strip().split("\n")[-1]
        if not self.bootstrap.startswith("127.0.0.1:"):
            fail(f"tools/kafka start printed {self.bootstrap!r}, expected 127.0.0.1:PORT,...")
        log(f"kafka: {brokers} broker(s) at {self.bootstrap} ({time.time() - t0:.1f} s to start)")

    def _tool(self, *args, timeout=120):
        r = subprocess.run([TOOLS_KAFKA] + list(args) + ["--dir", self.dir], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if r.returncode != 0:
            fail(f"tools/kafka {' '.join(args)} failed (exit {r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def kill(self, broker=1):
        """SIGKILL of one broker (1..N); returns once it is gone."""
        self._tool("kill", str(broker))
        log(f"kafka: broker {broker} killed")

    def restart(self, broker=1):
        """Starts a killed broker again; returns once it answers."""
        t0 = time.time()
        self._tool("restart", str(broker))
        log(f"kafka: broker {broker} restarted ({time.time() - t0:.1f} s)")

    def broker_address(self, broker):
        return self.bootstrap.split(",")[broker - 1]

    def stop(self):
        if os.path.exists(os.path.join(self.dir, "bootstrap")):
            subprocess.run([TOOLS_KAFKA, "stop", "--dir", self.dir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)

    def create_topic(self, name, partitions, config=None, replication=-1):
        """Creates a topic (the brokers' replication factor unless given)."""
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        f = a.create_topics([NewTopic(name, partitions, replication, config=config or {})],
                            operation_timeout=30)
        f[name].result(timeout=60)
        wait_topic(self.bootstrap, name, partitions)

    def add_partitions(self, name, total):
        from confluent_kafka.admin import AdminClient, NewPartitions
        a = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        a.create_partitions([NewPartitions(name, total)], operation_timeout=30)[name].result(timeout=60)
        wait_topic(self.bootstrap, name, total)

    def leader(self, topic, partition):
        """The broker number (node id) leading topic's partition."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "wbtest-md", "log_level": 3})
        try:
            md = c.list_topics(topic, timeout=20)
            return md.topics[topic].partitions[partition].leader
        finally:
            c.close()


def wait_topic(bootstrap, name, partitions, timeout=30):
    """Until the metadata shows topic name with that many partitions, each
    with a leader."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wbtest-md", "log_level": 3})
    try:
        deadline = time.time() + timeout
        while True:
            md = c.list_topics(name, timeout=10)
            t = md.topics.get(name)
            if t is not None and t.error is None and len(t.partitions) == partitions and \
                    all(p.leader >= 0 for p in t.partitions.values()):
                return
            if time.time() > deadline:
                fail(f"topic {name} not ready with {partitions} partitions within {timeout} s")
            time.sleep(0.2)
    finally:
        c.close()


def _tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return "(no log)"


class MockKafka:
    """waybill-mock-kafka in the background; command() sends a fault
    command on its stdin and returns its one-line answer."""

    def __init__(self, brokers=1, args=()):
        if not os.access(MOCK, os.X_OK):
            fail(f"waybill-mock-kafka not found at {MOCK} (set WB_BUILD_DIR)")
        self.p = subprocess.Popen([MOCK, "--brokers", str(brokers)] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        add_cleanup(self.stop)
        self.bootstrap = self.p.stdout.readline().strip()
        if not self.bootstrap.startswith("127.0.0.1:"):
            fail(f"waybill-mock-kafka printed {self.bootstrap!r}, expected 127.0.0.1:PORT")
        self.lock = threading.Lock()
        log(f"mock kafka: {brokers} broker(s) at {self.bootstrap}")

    def command(self, cmd):
        with self.lock:
            self.p.stdin.write(cmd + "\n")
            self.p.stdin.flush()
            return self.p.stdout.readline().strip()

    def must(self, cmd):
        r = self.command(cmd)
        if r != "ok":
            fail(f"mock command {cmd!r} answered {r!r}")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def kafka_pipeline(pg, kafka, name="k1", extra_sink="", **kw):
    """A wbtest.Pipeline whose sink is kafka at the brokers of kafka (a
    Kafka or a MockKafka)."""
    p = wbtest.Pipeline(pg, name=name, **kw)
    text = p.config_text.split("sink:\n")[0]
    text += ("sink:\n"
             "  type: kafka\n"
             f"  brokers: [\"{kafka.bootstrap}\"]\n"
             f"{extra_sink}")
    p.write_config(text)
    return p


class Message:
    def __init__(self, m):
        self.topic = m.topic()
        self.partition = m.partition()
        self.offset = m.offset()
        self.key = m.key()
        self.value = m.value()
        self.headers = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}

    def __repr__(self):
        return (f"<{self.topic}[{self.partition}]@{self.offset} key={self.key!r} "
                f"value={len(self.value) if self.value is not None else None}B {self.headers}>")


def consume(bootstrap, topics=None, prefix=None, timeout=60, isolation="read_committed"):
    """Every message of the given topics (or of every topic starting with
    prefix), read from the beginning to the current end of each partition,
    in offset order per partition. isolation: the consumer's
    isolation.level (read_committed: what committed transactions hold)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wbtest-reader",
                  "enable.partition.eof": True, "enable.auto.commit": False,
                  "isolation.level": isolation,
                  "auto.offset.reset": "earliest", "log_level": 3})
    try:
        md = c.list_topics(timeout=20)
        names = [t for t in md.topics if (topics is not None and t in topics) or
                 (prefix is not None and t.startswith(prefix))]
        tps = []
        for t in names:
            for p in md.topics[t].partitions:
                tps.append(TopicPartition(t, p, OFFSET_BEGINNING))
        msgs = []
        if not tps:
            return msgs
        pending = set()
        for tp in tps:
            lo, hi = _watermarks(c, tp)
            if hi > lo:
                pending.add((tp.topic, tp.partition))
        c.assign(tps)
        deadline = time.time() + timeout
        while pending:
            if time.time() > deadline:
                fail(f"consumer timed out; partitions not at their end: {sorted(pending)}")
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard((m.topic(), m.partition()))
                    continue
                fail(f"consumer error: {m.error()}")
            msgs.append(Message(m))
        return msgs
    finally:
        c.close()


def _watermarks(c, tp, timeout=30):
    """(low, high) of a partition, waiting while it has no leader yet (a
    topic just created or given more partitions, a broker just killed)."""
    deadline = time.time() + timeout
    while True:
        try:
            return c.get_watermark_offsets(tp, timeout=10)
        except KafkaException as e:
            if time.time() > deadline or e.args[0].code() not in (
                    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT):
                raise
            time.sleep(0.2)


class Schemas(dict):
    """<prefix>._schemas read back: {fingerprint: schema} (the last schema
    published with that fingerprint), and by_id {identity: schema}, the
    exact schema a message names in its waybill.schema_id or
    waybill.key_schema_id header (schemas that differ only in logicalType,
    precision or scale share a fingerprint, never an identity)."""

    def __init__(self):
        super().__init__()
        self.by_id = {}


def load_schemas(bootstrap, prefix):
    """Schemas of <prefix>._schemas: key = 16 hex digits of the identity,
    header waybill.fingerprint = 16 hex digits of the fingerprint."""
    out = Schemas()
    for m in consume(bootstrap, topics=[f"{prefix}._schemas"]):
        ident = int(m.key.decode(), 16)
        sc = avro.schema.parse(m.value.decode())
        out.by_id[ident] = sc
        out[int(m.headers.get("waybill.fingerprint", m.key.decode()), 16)] = sc
    return out


def decode_single_object(data, schemas, schema_id=None):
    """Avro single-object encoding → datum. The writer schema is the one of
    identity schema_id (hex text of a waybill.schema_id header) when given,
    else the one found by the framing's fingerprint."""
    if data[:2] != b"\xc3\x01" or len(data) < 10:
        fail(f"not Avro single-object encoding: {data[:12]!r}")
    fp = struct.unpack("<Q", data[2:10])[0]
    if schema_id is not None:
        ident = int(schema_id, 16)
        if ident not in schemas.by_id:
            fail(f"schema {schema_id} not found in _schemas ({len(schemas.by_id)} schemas)")
        sc = schemas.by_id[ident]
    else:
        if fp not in schemas:
            fail(f"fingerprint {fp:016x} not found in _schemas ({len(schemas)} schemas)")
        sc = schemas[fp]
    return avro.io.DatumReader(sc).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))


def unframed(data):
    """The Avro binary of a framed key or value, without its framing (10
    bytes of single-object encoding, 5 of Confluent's)."""
    return data[10:] if data[:2] == b"\xc3\x01" else data[5:]


def decode_confluent(data, schemas_by_id):
    if data[:1] != b"\x00" or len(data) < 5:
        fail(f"not Confluent framing: {data[:8]!r}")
    sid = struct.unpack(">I", data[1:5])[0]
    if sid not in schemas_by_id:
        fail(f"schema id {sid} unknown to the registry")
    return avro.io.DatumReader(schemas_by_id[sid]).read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))


def data_messages(bootstrap, prefix):
    """Messages of every data topic (not _schemas) of the prefix."""
    return [m for m in consume(bootstrap, prefix=prefix + ".") if not m.topic.endswith("._schemas")]


def vmrss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def murmur2(data):
    """Kafka's (Java client's) murmur2 hash of a key."""
    m, r = 0x5bd1e995, 24
    length = len(data)
    h = (0x9747b28c ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = struct.unpack_from("<I", data, i)[0]
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = data[length - rest:]
    if rest == 3:
        h ^= tail[2] << 16
    if rest >= 2:
        h ^= tail[1] << 8
    if rest >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key, npart):
    return (murmur2(key) & 0x7FFFFFFF) % npart


ITEMS_DDL = "CREATE TABLE items (id int PRIMARY KEY, name text, qty numeric(10,2));"


class Workload:
    """A deterministic stream of transactions on `items` whose expected
    events (per key, in order) are known: step i inserts id i, every 3rd
    step updates id i-1, every 5th deletes id i-2."""

    def __init__(self, pg):
        self.pg = pg
        self.rows = {}
        self.expected = {}   # id → [(op, after)] with ('tomb', None) after deletes
        self.n = 0
        self.session = None
        self.thread = None
        self.stop_flag = threading.Event()

    def step_sql(self):
        self.n += 1
        i = self.n
        sql = []
        row = {"id": i, "name": f"n{i}", "qty": f"{i % 1000}.{i % 100:02d}"}
        sql.append(f"INSERT INTO items VALUES ({i}, 'n{i}', {row['qty']});")
        self.rows[i] = row
        self.expected.setdefault(i, []).append(("c", dict(row)))
        if i % 3 == 0 and (i - 1) in self.rows:
            r = self.rows[i - 1]
            r["name"] = f"u{i}"
            sql.append(f"UPDATE items SET name = 'u{i}' WHERE id = {i - 1};")
            self.expected[i - 1].append(("u", dict(r)))
        if i % 5 == 0 and (i - 2) in self.rows:
            del self.rows[i - 2]
            sql.append(f"DELETE FROM items WHERE id = {i - 2};")
            self.expected[i - 2].append(("d", None))
            self.expected[i - 2].append(("tomb", None))
        return "BEGIN;\n" + "\n".join(sql) + "\nCOMMIT;"

    def run(self, steps, per_txn=1):
        s = self.session or self.pg.session()
        self.session = s
        for _ in range(steps):
            s.run(self.step_sql())

    def start(self, pause=0.002):
        """Runs steps in the background until stop(). An exception in the
        thread fails the test at stop() (or verify())."""
        self.session = self.session or self.pg.session()

        def loop():
            while not self.stop_flag.is_set():
                self.session.run(self.step_sql())
                time.sleep(pause)
        self.thread = wbtest.Thread(loop, name="workload")

    def stop(self, timeout=60):
        """Stops the background steps; fails the test if the thread raised
        or did not finish within timeout."""
        self.stop_flag.set()
        t, self.thread = self.thread, None
        if t:
            t.join(timeout)
        self.stop_flag.clear()


def verify(msgs, schemas, wl, partitions, topic, exactly_once=True, tombstones=True, table="items",
           decode=None):
    """Checks the messages of the items topic against the workload: every
    change once (exactly_once) or at least once with identical duplicates,
    in order per key, exact values, headers, tombstones, partition by key.
    Returns the number of duplicates. decode(bytes) → datum; default: Avro
    single-object encoding with the schemas of _schemas."""
    import decimal
    if wl.thread is not None:
        fail("verify() while the workload thread still runs: call wl.stop() first")
    decode_arg = decode
    decode = decode or (lambda data: decode_single_object(data, schemas))
    got = {}
    seen = {}
    dups = 0
    for m in msgs:
        if m.topic != topic:
            continue
        # waybill.position and waybill.op on every message; event_id and
        # table only when the sink's `headers:` asks for them
        for h in ("waybill.position", "waybill.op"):
            if h not in m.headers:
                fail(f"message without header {h}: {m}")
        if "waybill.table" in m.headers and m.headers["waybill.table"] != f"public.{table}":
            fail(f"waybill.table header {m.headers['waybill.table']!r}")
        key = decode(m.key) if decode_arg else decode_single_object(
            m.key, schemas, m.headers.get("waybill.key_schema_id"))
        kid = key["id"]
        eid = m.headers["waybill.position"]
        tomb = m.value is None
        ident = (eid, tomb)
        if ident in seen:
            if exactly_once:
                fail(f"duplicate message for event {eid} (tombstone={tomb}): {m} and {seen[ident]}")
            # the same change: only ts_ms (when waybill processed it) may differ
            if seen[ident].key != m.key or (m.value is None) != (seen[ident].value is None) or (
                    m.value is not None and
                    _without_ts(decode(m.value)) !=
                    _without_ts(decode(seen[ident].value))):
                fail(f"duplicate of {eid} differs from the first copy")
            dups += 1
            continue
        seen[ident] = m
        if tomb:
            if not tombstones:
                fail(f"tombstone although tombstones: false: {m}")
            got.setdefault(kid, []).append(("tomb", None))
            continue
        v = decode(m.value) if decode_arg else decode_single_object(
            m.value, schemas, m.headers.get("waybill.schema_id"))
        if v["source"]["position"] != m.headers["waybill.position"] \
                or v["op"] != m.headers["waybill.op"] \
                or v["source"]["table"] != table \
                or not v["event_id"].endswith(":" + m.headers["waybill.position"]) \
                or m.headers.get("waybill.event_id", v["event_id"]) != v["event_id"]:
            fail(f"headers do not match the envelope: {m.headers} vs {v['event_id']} {v['source']['position']}")
        after = v["after"]
        if after is not None:
            after = dict(after)
            after["qty"] = str(after["qty"]) if isinstance(after["qty"], decimal.Decimal) else after["qty"]
        got.setdefault(kid, []).append((v["op"], after))
    # partition = murmur2 of the key's Avro binary without the framing
    for m in msgs:
        if m.key is not None and m.topic == topic:
            exp = java_partition(unframed(m.key), partitions[m.topic])
            if m.partition != exp:
                fail(f"key {m.key!r} in partition {m.partition}, murmur2 says {exp} of {partitions[m.topic]}")
    expected = {}
    for k, evs in wl.expected.items():
        expected[k] = [e for e in evs if tombstones or e[0] != "tomb"]
    if set(got) != set(expected):
        missing = sorted(set(expected) - set(got))[:10]
        if missing:
            _explain_missing(msgs, topic, schemas, missing[0], wl)
        extra = sorted(set(got) - set(expected))[:10]
        fail(f"keys differ: missing {missing}, unexpected {extra}")
    for k in expected:
        if got[k] != expected[k]:
            fail(f"key {k}: expected {expected[k]}, got {got[k]}")
    n = sum(len(v) for v in expected.values())
    log(f"  ok: {n} messages for {len(expected)} keys, in order per key, exact values "
        f"({dups} identical duplicates)")
    return dups


def partition_counts(bootstrap):
    """{topic: number of partitions}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wbtest-md", "log_level": 3})
    try:
        md = c.list_topics(timeout=20)
        return {t: len(md.topics[t].partitions) for t in md.topics}
    finally:
        c.close()


def _without_ts(env):
    env = dict(env)
    env.pop("ts_ms", None)
    return env


def _explain_missing(msgs, topic, schemas, kid, wl):
    """Logs the neighbourhood of a missing key: where its messages should
    have been, to tell a gap in a partition from an event never written."""
    log(f"  key {kid} expected {wl.expected.get(kid)}")
    mine = [m for m in msgs if m.topic == topic]
    near = []
    for m in mine:
        k = decode_single_object(m.key, schemas)["id"]
        if abs(k - kid) <= 3:
            near.append((m.partition, m.offset, k, m.headers.get("waybill.position"),
                         m.headers.get("waybill.op"), m.value is None))
    for n in sorted(near):
        log(f"    p{n[0]}@{n[1]} id={n[2]} pos={n[3]} op={n[4]} tomb={n[5]}")
    sample = next(m for m in mine if m.key is not None)
    z = (kid << 1) ^ (kid >> 63)
    var = b""
    while True:
        b = z & 0x7f
        z >>= 7
        var += bytes([b | (0x80 if z else 0)])
        if not z:
            break
    part = java_partition(var, max(m.partition for m in mine) + 1)
    offs = sorted(m.offset for m in mine if m.partition == part)
    gaps = [(a, b) for a, b in zip(offs, offs[1:]) if b != a + 1]
    log(f"  key {kid} belongs in partition {part}: {len(offs)} messages read, offsets "
        f"{offs[:1]}..{offs[-1:]}, gaps {gaps[:10]}")
