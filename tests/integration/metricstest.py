# metricstest.py — reading waybill's Prometheus endpoint in the tests: GET
# a path, parse a text-format scrape, sum the samples of a metric whose
# labels include the given ones.
import re
import urllib.error
import urllib.request

import wbtest


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; status None when
    nothing listens (yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError as e:
        return None, str(e)


def parse(text):
    """{(name, frozenset(labels)): value} of a text-format scrape."""
    out = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            wbtest.fail(f"scrape line does not parse: {line!r}")
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    """The sum of name's samples whose labels include labels; None if none."""
    want = set(labels.items())
    vals = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    return sum(vals) if vals else None


def scrape(port):
    """(body, samples) of GET /metrics, which must answer 200."""
    st, body = get(port, "/metrics")
    wbtest.check_eq(st, 200, "GET /metrics status")
    return body, parse(body)
