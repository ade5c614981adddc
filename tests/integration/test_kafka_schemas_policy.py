# test_kafka_schemas_policy.py — <prefix>._schemas must be compacted: without
# a registry waybill creates it with cleanup.policy=compact (CreateTopics)
# and, when it exists, reads its policy (DescribeConfigs) and refuses
# anything but "compact" with one line naming the policy and the fix.
#
# librdkafka's mock cluster has neither admin API, so this test speaks the
# Kafka protocol itself: a small broker on loopback that answers ApiVersions,
# Metadata (v1), CreateTopics (v4), DescribeConfigs (v0) and InitProducerId
# (v0) as a real broker does, records the CreateTopics request it got, and never answers anything
# else: a refused run stops before it produces, an accepted one is killed
# once it asks for the offsets of _schemas (ListOffsets), past the check.
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

API_VERSIONS, METADATA, CREATE_TOPICS, DESCRIBE_CONFIGS, INIT_PRODUCER_ID = 18, 3, 19, 32, 22
TOPIC_ALREADY_EXISTS = 36


def kstr(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


class FakeBroker:
    """One broker (node 1, also the controller). schemas_policy: None when
    <prefix>._schemas does not exist yet, else its cleanup.policy."""

    def __init__(self, topic, schemas_policy):
        self.topic = topic
        self.policy = schemas_policy
        self.created = []     # raw CreateTopics request bodies
        self.described = 0
        self.keys = []        # api keys of every request, in order
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.stopped = False
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()
        add_cleanup(self.stop)

    def stop(self):
        self.stopped = True
        for c in [self.sock] + self.conns:
            try:
                c.close()
            except OSError:
                pass

    def accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        try:
            while True:
                while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                n = struct.unpack(">i", buf[:4])[0]
                req, buf = buf[4:4 + n], buf[4 + n:]
                key, ver, corr = struct.unpack(">hhi", req[:8])
                self.keys.append(key)
                body = self.answer(key, ver, req)
                if body is not None:
                    out = struct.pack(">i", corr) + body
                    c.sendall(struct.pack(">i", len(out)) + out)
        except OSError:
            return

    def answer(self, key, ver, req):
        if key == API_VERSIONS:
            apis = [(API_VERSIONS, 0, 3), (METADATA, 1, 1), (CREATE_TOPICS, 4, 4),
                    (DESCRIBE_CONFIGS, 0, 0), (INIT_PRODUCER_ID, 0, 0), (0, 3, 3), (2, 1, 1)]
            if ver >= 3:   # flexible body (the response header stays v0)
                b = struct.pack(">h", 0) + uvarint(len(apis) + 1)
                for a in apis:
                    b += struct.pack(">hhh", *a) + b"\x00"
                return b + struct.pack(">i", 0) + b"\x00"
            b = struct.pack(">hi", 0, len(apis))
            for a in apis:
                b += struct.pack(">hhh", *a)
            return b
        if key == METADATA:   # v1: brokers, controller, topics
            b = struct.pack(">i", 1) + struct.pack(">i", 1) + kstr("127.0.0.1") + \
                struct.pack(">i", self.port) + kstr(None)
            b += struct.pack(">i", 1)   # controller: node 1
            if self.policy is None:
                return b + struct.pack(">i", 0)
            b += struct.pack(">i", 1) + struct.pack(">h", 0) + kstr(self.topic) + b"\x00"
            b += struct.pack(">i", 1) + struct.pack(">hii", 0, 0, 1) + \
                struct.pack(">ii", 1, 1) + struct.pack(">ii", 1, 1)
            return b
        if key == CREATE_TOPICS:   # v4: throttle, [name, error, message]
            self.created.append(req)
            if self.policy is None:
                err, msg = 0, None
                self.policy = "compact"   # it exists from now on
            else:
                err, msg = TOPIC_ALREADY_EXISTS, f"Topic '{self.topic}' already exists."
            return struct.pack(">ii", 0, 1) + kstr(self.topic) + struct.pack(">h", err) + kstr(msg)
        if key == DESCRIBE_CONFIGS:   # v0
            self.described += 1
            b = struct.pack(">i", 0) + struct.pack(">i", 1)
            b += struct.pack(">h", 0) + kstr(None) + b"\x02" + kstr(self.topic)
            b += struct.pack(">i", 2)
            b += kstr("retention.ms") + kstr("604800000") + b"\x00\x01\x00"
            b += kstr("cleanup.policy") + kstr(self.policy) + b"\x00\x00\x00"
            return b
        if key == INIT_PRODUCER_ID:   # v0: throttle, error, producer id, epoch
            # answered: the idempotent producer asks first, and with one
            # request in flight per connection an unanswered one would
            # hold back CreateTopics behind it
            return struct.pack(">ihqh", 0, 0, 1, 0)
        return None   # anything else: no answer


LIST_OFFSETS = 2


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);")
    mock = kt.MockKafka()
    # the scripted broker has no transactions (InitProducerId)
    p = kt.kafka_pipeline(pg, mock, name="sp", extra_sink="  transactions: false\n")
    p.run_idle(1)   # the slot, from a run against the mock
    current = [mock.bootstrap]

    def point_at(policy):
        fb = FakeBroker("sp._schemas", policy)
        p.write_config(p.config_text.replace(current[0], fb.bootstrap))
        current[0] = fb.bootstrap
        return fb

    for policy in ("delete", "compact,delete"):
        fb = point_at(policy)
        r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=120)
        lines = [l for l in r.stderr_lines() if "sp._schemas has cleanup.policy=" in l]
        check(r.rc == 2 and len(lines) == 1,
              f"existing _schemas with cleanup.policy={policy} refused (exit 2)", repr(r))
        for part in (f"cleanup.policy={policy}:", "--add-config cleanup.policy=compact",
                     "schema registry"):
            check(part in lines[0], f"the message says {part!r}", lines[0])
        check_eq((len(fb.created), fb.described), (1, 1), "one CreateTopics, one DescribeConfigs")
        check(LIST_OFFSETS not in fb.keys, "nothing read or produced after the refusal")

    def accepted(policy):
        """Runs waybill until it asks for the offsets of _schemas; its stderr."""
        fb = point_at(policy)
        proc = p.start()
        wait_until(lambda: LIST_OFFSETS in fb.keys or not proc.alive(), 60,
                   "waybill past the _schemas check")
        check(LIST_OFFSETS in fb.keys, "waybill goes on to read _schemas", proc.stderr()[-3000:])
        proc.kill()
        return fb, proc.stderr()

    fb, err = accepted(None)
    check("created sp._schemas with cleanup.policy=compact" in err,
          "a missing _schemas is created compacted", err[-3000:])
    check_eq((len(fb.created), fb.described), (1, 0), "one CreateTopics, no DescribeConfigs")
    for part in (b"sp._schemas", b"cleanup.policy", b"compact"):
        check(part in fb.created[0], f"the CreateTopics request holds {part!r}", repr(fb.created[0]))

    fb, err = accepted("compact")
    check("cleanup.policy" not in err, "an existing compacted _schemas is accepted without a word",
          err[-3000:])
    check_eq((len(fb.created), fb.described), (1, 1), "its policy was read")


main(test)
