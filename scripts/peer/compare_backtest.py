#!/usr/bin/env python3
"""Compare two coverage-backtest output folders (docs/formats.md "Coverage backtest") field by field.

    compare_backtest.py A B [--rel 1e-9] [--abs 1e-9] [--max-report 20]

A and B each hold backtest.csv, backtest-units.csv, scenarios.csv and summary.json (from
`pm backtest` or scripts/peer/backtest_peer.py). The files must have the same header and the same
number of rows. Per field:

- exact (as text): ids, coins, dates, zones, errors, and every count (scenarios, breaches,
  accounts breached) — a breach counted differently is a disagreement, however small the loss
  difference behind it; an empty field must be empty on both sides;
- every other number: |a − b| ≤ abs + rel · max(|a|, |b|) (default 1e-9 and 1e-9);
- p-values (kupiec_p, christoffersen_p) pass that test, or agree as likelihood ratios: p is
  erfc(sqrt(LR/2)), whose slope is infinite at LR = 0, so an LR of 1e-17 (rounding of a sum that
  is 0 in exact arithmetic) on one side and 0 on the other moves p by ~3e-9 near 1. Such p-values
  are accepted when their LRs (χ²₁ inverse survival) agree within 1e-12 + rel (the LR is what the
  two programs compute; the p-value only maps it).

summary.json: the same keys (extra keys on either side are listed, not failed), counts and
strings exact, numbers with the tolerance, lists position by position.

Prints the first differences (file, line, column, both values) and a per-file summary;
exit 0 when everything agrees, 1 otherwise.
"""
import argparse
import csv
import json
import math
import os
import sys

from scipy.stats import chi2

EXACT = {"account_id", "base_coin", "date", "worst_date", "zone", "error", "scenarios", "breaches_mm",
         "breaches_im", "breaches", "accounts_breached_mm", "accounts_breached_im"}
PVALUES = {"kupiec_p", "christoffersen_p"}
# The LRs are differences of two sums of count·ln(prob) terms (|sum| up to ~10^4 for S ≈ 2,000), so
# two correct programs summing in different orders may leave residues of ~1e-14…1e-12 where the
# exact LR is 0; p then moves by up to sqrt(2·LR/π) (≤ 8e-7 at 1e-12).
LR_ABS = 1e-12
FILES = ["backtest.csv", "backtest-units.csv", "scenarios.csv"]
SUMMARY_EXACT = {"from", "to", "scenarios", "horizon", "accounts", "errors", "green", "yellow", "red",
                 "date", "accountsBreached", "coinsWithIv", "coinsWithoutIv"}


class Report:
    def __init__(self, limit):
        self.limit, self.count, self.checked = limit, 0, 0
        self.dev = {}   # (file, column) → [max |Δ|, max relative Δ, where]

    def track(self, key, a, b, where):
        if not (math.isfinite(a) and math.isfinite(b)) or a == b:
            return
        d = abs(a - b)
        rel = d / max(abs(a), abs(b))
        cur = self.dev.setdefault(key, [0.0, 0.0, ""])
        if d > cur[0]:
            cur[0] = d
        if rel > cur[1]:
            cur[1], cur[2] = rel, where

    def diff(self, where, a, b, why=""):
        self.count += 1
        if self.count <= self.limit:
            print(f"DIFF {where}: {a!r} vs {b!r}{' (' + why + ')' if why else ''}")


def close(a, b, rel, abs_):
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return a == b
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def compare_field(col, a, b, rel, abs_):
    """None when the two fields agree, else a reason."""
    if col in EXACT or a == "" or b == "":
        return None if a == b else "differs"
    x, y = number(a), number(b)
    if x is None or y is None:
        return None if a == b else "not a number"
    if close(x, y, rel, abs_):
        return None
    if col in PVALUES and 0 <= x <= 1 and 0 <= y <= 1:
        lx, ly = float(chi2.isf(x, 1)), float(chi2.isf(y, 1))
        if close(lx, ly, rel, LR_ABS):
            return None
        return f"LR {lx!r} vs {ly!r}"
    return f"|Δ| = {abs(x - y):.3g}"


def compare_csv(name, pa, pb, rep, rel, abs_):
    with open(pa, newline="") as f:
        ra = list(csv.reader(f))
    with open(pb, newline="") as f:
        rb = list(csv.reader(f))
    if not ra or not rb or ra[0] != rb[0]:
        rep.diff(f"{name}:1 header", ra[0] if ra else None, rb[0] if rb else None)
        return
    header = ra[0]
    if len(ra) != len(rb):
        rep.diff(f"{name} rows", len(ra) - 1, len(rb) - 1, "row counts differ")
    for line, (x, y) in enumerate(zip(ra[1:], rb[1:]), start=2):
        if len(x) != len(header) or len(y) != len(header):
            rep.diff(f"{name}:{line}", len(x), len(y), "field count")
            continue
        for col, u, w in zip(header, x, y):
            rep.checked += 1
            if col not in EXACT and u and w and number(u) is not None and number(w) is not None:
                rep.track((name, col), float(u), float(w), f"line {line}")
            why = compare_field(col, u, w, rel, abs_)
            if why:
                key = x[0] + ("/" + x[1] if name == "backtest-units.csv" else "")
                rep.diff(f"{name}:{line} {col} [{key}]", u, w, why)


def compare_json(path, a, b, rep, rel, abs_, key=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                print(f"note: summary.json key {path}{k} only in {'B' if k not in a else 'A'}")
                continue
            compare_json(f"{path}{k}.", a[k], b[k], rep, rel, abs_, k)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            rep.diff(f"summary.json {path[:-1]}", len(a), len(b), "list lengths differ")
        if key in SUMMARY_EXACT:
            if a != b:
                rep.diff(f"summary.json {path[:-1]}", a, b)
            return
        for k, (x, y) in enumerate(zip(a, b)):
            compare_json(f"{path}{k}.", x, y, rep, rel, abs_, key)
        return
    rep.checked += 1
    num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if key in SUMMARY_EXACT or not (num(a) and num(b)):
        if a != b:
            rep.diff(f"summary.json {path[:-1]}", a, b)
    elif not close(float(a), float(b), rel, abs_):
        rep.diff(f"summary.json {path[:-1]}", a, b, f"|Δ| = {abs(a - b):.3g}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rel", type=float, default=1e-9)
    ap.add_argument("--abs", dest="abs_", type=float, default=1e-9)
    ap.add_argument("--max-report", type=int, default=20)
    o = ap.parse_args(argv)
    rep = Report(o.max_report)
    for name in FILES + ["summary.json"]:
        pa, pb = os.path.join(o.a, name), os.path.join(o.b, name)
        for p in (pa, pb):
            if not os.path.isfile(p):
                print(f"compare_backtest: missing {p}", file=sys.stderr)
                return 1
        before = rep.count
        if name == "summary.json":
            compare_json("", json.load(open(pa)), json.load(open(pb)), rep, o.rel, o.abs_)
        else:
            compare_csv(name, pa, pb, rep, o.rel, o.abs_)
        print(f"compare_backtest: {name}: {rep.count - before} differences")
    for (name, col), (d, rel, where) in sorted(rep.dev.items()):
        print(f"  largest deviation {name} {col}: |Δ| {d:.3g}, relative {rel:.3g} ({where})")
    if rep.count:
        print(f"compare_backtest: FAIL: {rep.count} differences in {rep.checked} fields "
              f"(rel {o.rel:g}, abs {o.abs_:g}); first {min(rep.count, o.max_report)} above")
        return 1
    print(f"compare_backtest: OK: {rep.checked} fields agree (rel {o.rel:g}, abs {o.abs_:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
