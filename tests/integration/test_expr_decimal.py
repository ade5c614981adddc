# test_expr_decimal.py — differential test of the expression language's
# decimal arithmetic against Python's decimal module: thousands of seeded
# random cases of + - * / %, comparisons, decimal(x, p, s, mode) casts and
# round(x, s, mode), on decimal(p,s) and int columns and on literals, run
# through ${WB_BUILD_DIR}/waybill-expr. The result type (precision and
# scale), the value's text and every failure (overflow past the result's
# precision, division by zero) must match exactly.
#
# Also decimal(text, p, s[, mode]) from random number texts (exponents,
# signs, blanks, malformed ones) and int64 + - * % with overflow.
#
# The expected results follow the documented rules (mappings/EXPRESSIONS.md):
# + and - give scale max(s1, s2) and max(p1-s1, p2-s2) + scale + 1 digits;
# * gives s1 + s2 and p1 + p2 digits; / gives max(s1, s2) + 6 (at most 38)
# fraction digits rounded half-even and p1 - s1 + s2 + scale digits; % gives
# max(s1, s2) and min(p1-s1, p2-s2) + scale digits; precision is capped at
# 38, where a larger result is an overflow. An int is decimal(19,0).
#
# WB_SEED picks another seed; WB_CASES the number of cases.
import decimal
import os
import random
import subprocess
import sys

SEED = int(os.environ.get("WB_SEED", "20240301"))
CASES = int(os.environ.get("WB_CASES", "8000"))
BUILD = os.environ.get("WB_BUILD_DIR", "build")
TOOL = os.path.join(BUILD, "waybill-expr")

CTX = decimal.Context(prec=300, Emax=999999, Emin=-999999)
decimal.setcontext(CTX)
D = decimal.Decimal

MODES = {
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_up": decimal.ROUND_HALF_UP,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "floor": decimal.ROUND_FLOOR,
    "ceiling": decimal.ROUND_CEILING,
}

rng = random.Random(SEED)


def fmt(unscaled, s):
    """Text of unscaled / 10^s, written independently of the C code."""
    neg = unscaled < 0
    digits = str(abs(unscaled)).rjust(s + 1, "0")
    text = digits if s == 0 else digits[:-s] + "." + digits[-s:]
    return ("-" if neg else "") + text


def unscaled_of(value, s):
    q = value.scaleb(s)
    assert q == q.to_integral_value(), (value, s)
    return int(q)


def rand_type():
    r = rng.random()
    if r < 0.15:
        p = 38
    elif r < 0.3:
        p = rng.randint(30, 38)
    else:
        p = rng.randint(1, 20)
    r = rng.random()
    if r < 0.2:
        s = 0
    elif r < 0.3:
        s = p
    else:
        s = rng.randint(0, p)
    return p, s


def rand_unscaled(p):
    r = rng.random()
    if r < 0.05:
        v = 0
    elif r < 0.12:
        v = 10**p - 1
    elif r < 0.2:
        v = 10 ** rng.randint(0, p - 1)
    elif r < 0.3:
        v = rng.randint(1, 9) * 10 ** rng.randint(0, p - 1)
        v = min(v, 10**p - 1)
    else:
        v = rng.randint(0, 10 ** rng.randint(1, p) - 1)
    return -v if rng.random() < 0.4 else v


def rand_int():
    r = rng.random()
    if r < 0.05:
        return rng.choice([0, 1, -1, 2**63 - 1, -(2**63)])
    if r < 0.5:
        return rng.randint(-1000, 1000)
    return rng.randint(-(10 ** rng.randint(1, 18)), 10 ** rng.randint(1, 18))


class Operand:
    """An operand: a decimal(p,s) column, an int column or a literal."""

    def __init__(self, name):
        r = rng.random()
        self.name = name
        if r < 0.12:
            self.kind = "int"
            self.p, self.s = 19, 0
            self.value = D(rand_int())
            self.text = str(int(self.value))
            self.ref = "after." + name
            self.column = name + ":int"
        elif r < 0.25:
            # a literal: its type comes from its digits
            p = rng.randint(1, 12)
            s = rng.randint(0, min(p, 6))
            u = abs(rand_unscaled(p))
            text = fmt(u, s)
            intpart = text.split(".")[0].lstrip("0")
            self.kind = "lit"
            self.p = max(len(intpart) + s, 1)
            self.s = s
            self.value = D(text)
            self.ref = text
            self.column = None
            self.text = None
            if "." not in text:
                # an integer literal is an int of its digits
                self.kind = "intlit"
                self.p = max(len(intpart), 1)
            if rng.random() < 0.3 and u != 0:
                self.value = -self.value
                self.ref = "-" + text
        else:
            self.kind = "dec"
            self.p, self.s = rand_type()
            u = rand_unscaled(self.p)
            self.value = D(u).scaleb(-self.s)
            self.text = fmt(u, self.s)
            self.ref = "after." + name
            self.column = "%s:decimal(%d,%d)" % (name, self.p, self.s)


def result(value, p, s):
    u = unscaled_of(value, s)
    if abs(u) >= 10**p:
        return "fail\toverflow"
    return "ok\tdecimal(%d,%d)\t%s" % (p, s, fmt(u, s))


def arith_case(op):
    a, b = Operand("a"), Operand("b")
    cols = [o for o in (a, b) if o.column]
    if a.kind in ("int", "intlit") and b.kind in ("int", "intlit") and op != "/":
        return None  # int arithmetic is int64, tested in test_expr.c
    if a.kind in ("lit", "intlit") and b.kind in ("lit", "intlit"):
        return None
    pa, sa, pb, sb = a.p, a.s, b.p, b.s
    ia, ib = pa - sa, pb - sb
    x, y = a.value, b.value
    if op in "+-":
        s = max(sa, sb)
        p = min(max(ia, ib) + s + 1, 38)
        want = result(x + y if op == "+" else x - y, p, s)
    elif op == "*":
        s = sa + sb
        if s > 38:
            want = "error"
        else:
            p = min(pa + pb, 38)
            want = result(x * y, p, s)
    elif op == "/":
        if rng.random() < 0.3 and a.kind != "intlit":
            # x / 128 or x / 640 has one more fraction digit than the
            # quotient keeps, and it is 5 when x is odd: a tie
            d = rng.choice([128, -128, 640, -640])
            b.kind, b.p, b.s, b.value = "intlit", 3, 0, D(d)
            b.ref, b.column, b.text = "(%d)" % d, None, None
            cols = [o for o in (a, b) if o.column]
            pb, sb, ib, y = 3, 0, 3, b.value
        s = min(max(sa, sb) + 6, 38)
        p = max(min(ia + sb + s, 38), 1)
        if y == 0:
            want = "fail\tdivision by zero"
        else:
            q = (x / y).quantize(D(1).scaleb(-s), rounding=decimal.ROUND_HALF_EVEN)
            want = result(q, p, s)
    else:
        s = max(sa, sb)
        p = max(min(min(ia, ib) + s, 38), 1)
        if y == 0:
            want = "fail\tdivision by zero"
        else:
            want = result(x % y, p, s)
    return cols, "%s %s %s" % (a.ref, op, b.ref), want


def compare_case():
    a, b = Operand("a"), Operand("b")
    if a.kind in ("lit", "intlit") and b.kind in ("lit", "intlit"):
        return None
    if a.kind in ("int", "intlit") and b.kind in ("int", "intlit"):
        return None
    op = rng.choice(["=", "!=", "<", "<=", ">", ">="])
    if rng.random() < 0.3 and b.kind == "dec" and a.kind == "dec":
        # the same value at another scale
        b.value = a.value
        b.p = min(a.p + 3, 38)
        b.s = min(a.s + 3, b.p)
        if (b.p - b.s) < (a.p - a.s):
            b.p, b.s = a.p, a.s
        b.text = fmt(unscaled_of(b.value, b.s), b.s)
        b.column = "b:decimal(%d,%d)" % (b.p, b.s)
    x, y = a.value, b.value
    r = {
        "=": x == y,
        "!=": x != y,
        "<": x < y,
        "<=": x <= y,
        ">": x > y,
        ">=": x >= y,
    }[op]
    cols = [o for o in (a, b) if o.column]
    return cols, "%s %s %s" % (a.ref, op, b.ref), "ok\tbool\t" + ("true" if r else "false")


def cast_case():
    a = Operand("a")
    while a.kind != "dec":
        a = Operand("a")
    mode = rng.choice(list(MODES))
    P = rng.randint(1, 38)
    S = rng.randint(0, P)
    if rng.random() < 0.5:
        # near the operand's type, where rounding and overflow happen
        S = max(0, min(a.s + rng.randint(-4, 2), 38))
        P = max(S, min(38, a.p - a.s + S + rng.randint(-2, 1)))
        P = max(P, 1)
    q = a.value.quantize(D(1).scaleb(-S), rounding=MODES[mode])
    return [a], "decimal(%s, %d, %d, '%s')" % (a.ref, P, S, mode), result(q, P, S)


def round_case():
    a = Operand("a")
    while a.kind != "dec":
        a = Operand("a")
    mode = rng.choice(list(MODES))
    S = rng.randint(0, min(a.s + 1, 38))
    if S >= a.s:
        return [a], "round(%s, %d, '%s')" % (a.ref, S, mode), result(a.value, a.p, a.s)
    p = min(a.p - a.s + S + 1, 38)
    q = a.value.quantize(D(1).scaleb(-S), rounding=MODES[mode])
    return [a], "round(%s, %d, '%s')" % (a.ref, S, mode), result(q, p, S)


class TextOperand:
    """A string column holding a number's text."""

    def __init__(self, text):
        self.text = text
        self.ref = "after.t"
        self.column = "t:string"


def text_case():
    """decimal(text, p, s, mode): the text with an exponent, a sign, blanks."""
    p = rng.randint(1, 38)
    u = rand_unscaled(p)
    s = rng.randint(0, p)
    text = fmt(u, s)
    r = rng.random()
    if r < 0.2:
        text = "%se%d" % (text, rng.randint(-40, 40))
    elif r < 0.3:
        text = "+" + text if not text.startswith("-") else text
    elif r < 0.4:
        text = " " + text + "  "
    elif r < 0.45:
        text = text.replace("0.", ".", 1) if text.startswith("0.") else text + "."
    elif r < 0.5:
        text = rng.choice(["abc", "1.2.3", "-", "1e", "e5", "--1", "1 2", "NaN", "Infinity"])
    P = rng.randint(1, 38)
    S = rng.randint(0, P)
    mode = rng.choice(list(MODES) + [None])
    expr = "decimal(after.t, %d, %d%s)" % (P, S, ", '%s'" % mode if mode else "")
    try:
        v = D(text)
        if not v.is_finite():
            raise decimal.InvalidOperation
    except decimal.InvalidOperation:
        return [TextOperand(text)], expr, "fail\t'%s' is not a number" % text
    q = v.quantize(D(1).scaleb(-S), rounding=MODES[mode or "down"])
    if mode is None and q != v:
        want = "fail\t'%s' has more fraction digits than the scale (name a rounding mode)" % text
    elif abs(unscaled_of(q, S)) >= 10**P:
        want = "fail\t'%s' does not fit (overflow)" % text
    else:
        want = "ok\tdecimal(%d,%d)\t%s" % (P, S, fmt(unscaled_of(q, S), S))
    return [TextOperand(text)], expr, want


INT64 = (-(2**63), 2**63 - 1)


def int_case():
    """int64 + - * % on int columns: exact or an overflow, never wrapped."""
    a, b = rand_int(), rand_int()
    op = rng.choice(["+", "-", "*", "%"])
    if op == "%":
        if b == 0:
            want = "fail\tdivision by zero"
        else:
            r = abs(a) % abs(b)
            want = "ok\tint\t%d" % (-r if a < 0 else r)
    else:
        r = a + b if op == "+" else a - b if op == "-" else a * b
        want = "ok\tint\t%d" % r if INT64[0] <= r <= INT64[1] else "fail\toverflow"

    class IntOperand:
        def __init__(self, name, v):
            self.text = str(v)
            self.column = name + ":int"

    return [IntOperand("a", a), IntOperand("b", b)], "after.a %s after.b" % op, want


def main():
    cases = []
    while len(cases) < CASES:
        r = rng.random()
        if r < 0.5:
            c = arith_case(rng.choice(["+", "-", "*", "/", "/", "%"]))
        elif r < 0.6:
            c = compare_case()
        elif r < 0.72:
            c = cast_case()
        elif r < 0.8:
            c = round_case()
        elif r < 0.92:
            c = text_case()
        else:
            c = int_case()
        if c is not None:
            cases.append(c)
    lines = []
    for cols, expr, _ in cases:
        spec = ";".join(o.column for o in cols) if cols else "-"
        vals = [o.text for o in cols]
        lines.append("\t".join([spec, expr] + vals))
    out = subprocess.run(
        [TOOL],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    if len(out) != len(cases):
        print("expected %d result lines, got %d" % (len(cases), len(out)))
        return 1
    bad = 0
    kinds = {}
    for (cols, expr, want), line, got in zip(cases, lines, out):
        kind = got.split("\t")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        ok = got.startswith("error\t") if want == "error" else got == want
        if not ok:
            bad += 1
            if bad <= 20:
                print("MISMATCH: %s\n  want: %s\n  got:  %s" % (line, want, got))
    print(
        "%d cases (seed %d): %d mismatches; results %s"
        % (len(cases), SEED, bad, ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    )
    # the generator must reach every outcome
    for k in ("ok", "fail"):
        if kinds.get(k, 0) < 50:
            print("too few '%s' results: the generator does not reach them" % k)
            return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
