#!/usr/bin/env python3
"""Compare two margins.csv (or two units.csv) files (docs/formats.md "Batch output") row by row.

    compare.py REF_margins.csv PEER_margins.csv [--rel 1e-9] [--abs 1e-6]
    compare.py REF_units.csv PEER_units.csv

Rows must list the same accounts (and, in units.csv, base coins) in the same order. For every
numeric column (margins.csv: margin_balance, order_loss, total_im, total_mm, im_rate, mm_rate;
units.csv: max_loss, max_loss_price_move, the five contingencies, mm, im, hedge_spot_size) two
values agree when both are `inf`, or when

    |ref − peer| ≤ abs + rel · max(|ref|, |peer|)        (default rel 1e-9, abs 1e-6)

and the text columns (stage, error; base_coin, max_loss_iv_shock, governing_portfolio) must be
equal strings. In units.csv the worst scenario (max_loss_price_move, max_loss_iv_shock) may differ
only where rounding can have broken a tie differently (§11.6 picks the first minimum): where
max_loss is 0 (a tie of rounding residues), or where the two max_loss values are not bit-identical
(they must still agree within the tolerance) — e.g. a calendar spread of synthetic forwards, whose
P&L does not depend on the vol scenario at all. Such units are counted and printed. The two programs sum in different orders (BLAS or a
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

TEXT = {"account_id", "base_coin", "stage", "error", "max_loss_iv_shock", "governing_portfolio"}
WORST = {"max_loss_price_move", "max_loss_iv_shock"}   # units.csv: the worst scenario


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
    columns = list(ref[0].keys()) if ref else []
    if peer and list(peer[0].keys()) != columns:
        print(f"compare: the headers differ: {columns} vs {list(peer[0].keys())}", file=sys.stderr)
        return 1
    keys = [c for c in ("account_id", "base_coin") if c in columns]
    numeric = [c for c in columns if c not in TEXT]
    strings = [c for c in columns if c in TEXT and c not in keys]
    problems = []
    if len(ref) != len(peer):
        problems.append(f"row count differs: {len(ref)} vs {len(peer)}")
    stats = {c: {"abs": 0.0, "rel": 0.0, "abs_at": "", "rel_at": ""} for c in numeric}
    compared = skipped_worst = 0
    for line, (r, p) in enumerate(zip(ref, peer), start=2):
        rid = "/".join(r[k] for k in keys)
        if any(r[k] != p[k] for k in keys):
            problems.append(f"line {line}: {rid!r} vs {'/'.join(p[k] for k in keys)!r}")
            continue
        compared += 1
        # units.csv: the worst cell may differ where rounding can have broken a tie differently —
        # no loss on either side (a tie of rounding residues), or max_loss not bit-identical (its
        # value is still compared below, within the tolerance). Where both programs print the
        # same max_loss, the same first minimum (§11.6) must be reported.
        tie = "max_loss" in r and (number(r["max_loss"]) <= a.abs or number(p["max_loss"]) <= a.abs
                                   or r["max_loss"] != p["max_loss"])
        if tie and any(r[c] != p[c] for c in WORST):
            skipped_worst += 1
        for c in strings:
            if c in WORST and tie:
                continue
            if r.get(c, "") != p.get(c, ""):
                problems.append(f"{rid}: {c} {r.get(c, '')!r} vs {p.get(c, '')!r}")
        for c in numeric:
            if c in WORST and tie:
                continue
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

    print(f"compare: {compared} rows of {a.ref.split('/')[-1]}; tolerance |ref - peer| <= {a.abs:g} + {a.rel:g} * max(|ref|, |peer|)")
    print(f"  {'column':<25} {'max abs dev':>12} {'(row)':<18} {'max rel dev':>12} (row)")
    for c in numeric:
        s = stats[c]
        print(f"  {c:<25} {s['abs']:>12.3g} {s['abs_at']:<18} {s['rel']:>12.3g} {s['rel_at']}")
    if skipped_worst:
        print(f"  worst scenario differs where rounding broke a tie (max_loss 0, or equal within tolerance but not"
              f" bit-identical): {skipped_worst} units")
    if problems:
        print(f"compare: DISAGREE on {len(problems)} values", file=sys.stderr)
        for msg in problems[:20]:
            print("  " + msg, file=sys.stderr)
        return 1
    print("compare: agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
