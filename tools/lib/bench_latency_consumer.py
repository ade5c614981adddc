# tools/lib/bench_latency_consumer.py — an external consumer for
# `tools/bench pg --latency`: tails the avro-file sink's series (the .part
# file being written, then its .avro name once complete), reads every whole
# block as soon as it is in the file, and records, per record, the time it
# read the block minus the commit time the event carries (source.ts_ms).
# Independent of waybill's code: the Object Container File layout is parsed
# here, blocks are decompressed with python3-zstandard and records decoded
# with python3-avro.
#
#   bench_latency_consumer.py OUT_DIR STOP_FILE RESULT_FILE WINDOW_FILE
#
# Runs until STOP_FILE exists, then writes RESULT_FILE: JSON
# {"count": n, "latencies_ms": [...]}, one per record committed at or after
# the time (Unix ms) in WINDOW_FILE. While it runs it only reads and splits
# blocks and notes when it read each; decoding (slow in python3-avro) waits
# until the end, so the consumer keeps up with the files.
import glob
import io
import json
import os
import sys
import time

import avro.io
import avro.schema
import zstandard

out_dir, stop_file, result_file, window_file = sys.argv[1:5]


def read_long(buf, pos):
    """Zigzag varint at buf[pos:]; (value, next pos) or None if cut."""
    shift = acc = 0
    while True:
        if pos >= len(buf):
            return None
        b = buf[pos]
        pos += 1
        acc |= (b & 0x7F) << shift
        if not b & 0x80:
            return (acc >> 1) ^ -(acc & 1), pos
        shift += 7


class Tail:
    """One file of a series, read block by block as it grows."""

    def __init__(self, base):
        self.base = base          # path without .part / .avro
        self.buf = b""
        self.pos = None           # None: header not read yet
        self.reader = None
        self.codec = None
        self.sync = None

    def path(self):
        for p in (self.base + ".part", self.base):
            if os.path.exists(p):
                return p
        return None

    def poll(self, sink):
        p = self.path()
        if p is None:
            return
        try:
            with open(p, "rb") as f:
                f.seek(len(self.buf))
                more = f.read()
        except FileNotFoundError:
            return
        if not more:
            return
        now_ms = time.time() * 1000.0
        self.buf += more
        if self.pos is None and not self.header():
            return
        while True:
            r = read_long(self.buf, self.pos)
            if r is None:
                return
            count, p1 = r
            r = read_long(self.buf, p1)
            if r is None:
                return
            size, p2 = r
            if len(self.buf) < p2 + size + 16:
                return
            data = self.buf[p2:p2 + size]
            if self.buf[p2 + size:p2 + size + 16] != self.sync:
                raise SystemExit(f"{self.base}: sync marker mismatch at {p2 + size}")
            self.pos = p2 + size + 16
            sink.append((now_ms, self, count, data))

    def decode(self, count, data):
        """The commit times (source.ts_ms) of a block's records."""
        if self.codec == "zstandard":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        elif self.codec == "deflate":
            import zlib
            data = zlib.decompress(data, -15)
        dec = avro.io.BinaryDecoder(io.BytesIO(data))
        for _ in range(count):
            rec = self.reader.read(dec)
            yield (rec.get("source") or {}).get("ts_ms")

    def header(self):
        b = self.buf
        if len(b) < 4:
            return False
        if b[:4] != b"Obj\x01":
            raise SystemExit(f"{self.base}: not an Avro container file")
        pos, meta = 4, {}
        while True:
            r = read_long(b, pos)
            if r is None:
                return False
            n, pos = r
            if n == 0:
                break
            if n < 0:
                r = read_long(b, pos)
                if r is None:
                    return False
                _, pos = r
                n = -n
            for _ in range(n):
                kv = []
                for _ in range(2):
                    r = read_long(b, pos)
                    if r is None or len(b) < r[1] + r[0]:
                        return False
                    kv.append(b[r[1]:r[1] + r[0]])
                    pos = r[1] + r[0]
                meta[kv[0].decode()] = kv[1]
        if len(b) < pos + 16:
            return False
        self.sync = b[pos:pos + 16]
        self.pos = pos + 16
        self.codec = meta.get("avro.codec", b"null").decode()
        self.reader = avro.io.DatumReader(avro.schema.parse(meta["avro.schema"].decode()))
        return True


tails = {}
blocks = []  # (read at, tail, count, data)
while not os.path.exists(stop_file):
    for f in glob.glob(os.path.join(out_dir, "*", "*.avro*")):
        if f.endswith(".orphan"):
            continue
        base = f[:-5] if f.endswith(".part") else f
        if base not in tails:
            tails[base] = Tail(base)
    for t in sorted(tails.values(), key=lambda t: t.base):
        t.poll(blocks)
    time.sleep(0.002)
for t in sorted(tails.values(), key=lambda t: t.base):
    t.poll(blocks)
with open(window_file) as f:
    since = int(f.read())
lat = []
for read_ms, t, count, data in blocks:
    for ts in t.decode(count, data):
        if ts and ts >= since:
            lat.append(read_ms - ts)
with open(result_file, "w") as f:
    json.dump({"count": len(lat), "latencies_ms": lat}, f)
