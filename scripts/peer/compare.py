#!/usr/bin/env python3
"""Compare two margins.csv files (FORMATS.md "Batch output") account by account.

    compare.py REF_margins.csv PEER_margins.csv [--rel 1e-9] [--abs 1e-6]

Rows must list the same account ids in the same order. For every numeric column (margin_balance,
order_loss, total_im, total_mm, im_rate, mm_rate) two values agree when both are `inf`, or when

    |ref − peer| ≤ abs + rel · max(|ref|, |peer|)        (default rel 1e-9, abs 1e-6)

and `stage` and `error` must be equal strings. The two programs sum in different orders (BLAS or a
gather against a sparse product, Black-76 with different exp/log/erf code), so they agree to
rounding, not to the bit: 1e-9 relative leaves ~10^6 ulps of room for that, while any change to the
model (a parameter moved by 1e-6, a wrong sign, a missed contingency) moves a margin by far more.
The absolute term (1e-6 USD, or 1e-6 of a rate) covers figures that are 0 in one program and a
rounding residue in the other (a hedged book's max loss, a zero order loss).

Prints the maximum absolute and relative deviation per column (and the account where it occurs);
exits 1 when any account disagrees (listing the first 20), 0 otherwise.
"""
import argparse
import csv
import math
import sys

NUMERIC = ["margin_balance", "order_loss", "total_im", "total_mm", "im_rate", "mm_rate"]
STRINGS = ["stage", "error"]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def number(text):
    return math.nan if text == "" else float(text)   # float() reads "inf"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compare two margins.csv files within a tolerance.")
    ap.add_argument("ref")
    ap.add_argument("peer")
    ap.add_argument("--rel", type=float, default=1e-9, help="relative tolerance (default 1e-9)")
    ap.add_argument("--abs", type=float, default=1e-6, help="absolute tolerance (default 1e-6)")
    a = ap.parse_args(argv)

    ref, peer = read(a.ref), read(a.peer)
    problems = []
    if len(ref) != len(peer):
        problems.append(f"row count differs: {len(ref)} vs {len(peer)}")
    stats = {c: {"abs": 0.0, "rel": 0.0, "abs_at": "", "rel_at": ""} for c in NUMERIC}
    compared = 0
    for line, (r, p) in enumerate(zip(ref, peer), start=2):
        rid = r["account_id"]
        if rid != p["account_id"]:
            problems.append(f"line {line}: account {rid!r} vs {p['account_id']!r}")
            continue
        compared += 1
        for c in STRINGS:
            if r.get(c, "") != p.get(c, ""):
                problems.append(f"{rid}: {c} {r.get(c, '')!r} vs {p.get(c, '')!r}")
        for c in NUMERIC:
            x, y = number(r[c]), number(p[c])
            if math.isnan(x) or math.isnan(y):
                if not (math.isnan(x) and math.isnan(y)):
                    problems.append(f"{rid}: {c} {r[c]!r} vs {p[c]!r}")
                continue
            if math.isinf(x) or math.isinf(y):
                if x != y:
                    problems.append(f"{rid}: {c} {x!r} vs {y!r}")
                continue
            diff = abs(x - y)
            scale = max(abs(x), abs(y))
            rel = diff / scale if scale > 0 else 0.0
            s = stats[c]
            if diff > s["abs"]:
                s["abs"], s["abs_at"] = diff, rid
            if rel > s["rel"]:
                s["rel"], s["rel_at"] = rel, rid
            if diff > a.abs + a.rel * scale:
                problems.append(f"{rid}: {c} {x!r} vs {y!r} (abs {diff:.3g}, rel {rel:.3g})")

    print(f"compare: {compared} accounts; tolerance |ref - peer| <= {a.abs:g} + {a.rel:g} * max(|ref|, |peer|)")
    print(f"  {'column':<15} {'max abs dev':>12} {'(account)':<14} {'max rel dev':>12} (account)")
    for c in NUMERIC:
        s = stats[c]
        print(f"  {c:<15} {s['abs']:>12.3g} {s['abs_at']:<14} {s['rel']:>12.3g} {s['rel_at']}")
    if problems:
        print(f"compare: DISAGREE on {len(problems)} values", file=sys.stderr)
        for msg in problems[:20]:
            print("  " + msg, file=sys.stderr)
        return 1
    print("compare: agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
