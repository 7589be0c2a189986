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

Knife edges: an account (unit) whose worst loss equals its total MM or IM (unit MM) within the
tolerance — e.g. long options whose every bad scenario loses exactly the premium, which is also the
margin — has `L > MM` decided by the last bit of two sums taken in different orders. For such rows
the breach counts and what derives from them (coverage, p-values, zone) may differ; scenarios.csv's
accounts_breached_* may then move by at most the knife-edge accounts' breaches (Σ over scenarios of
|Δ| ≤ Σ (x_A + x_B)), and summary.json's zones, breachRate, coverages and worstDates' counts by what
those rows changed. A different worst_date is accepted where the two worst losses are not
bit-identical (a tie broken by rounding; worst_loss itself is still compared). Both are counted and
printed, never silent.

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
KNIFE_FIELDS = {"breaches_mm", "breaches_im", "breaches", "coverage_mm", "coverage", "kupiec_p",
                "christoffersen_p", "zone"}
FILES = ["backtest.csv", "backtest-units.csv", "scenarios.csv"]
SUMMARY_EXACT = {"from", "to", "scenarios", "horizon", "accounts", "errors", "green", "yellow", "red",
                 "date", "accountsBreached", "coinsWithIv", "coinsWithoutIv"}


class Report:
    def __init__(self, limit):
        self.limit, self.count, self.checked = limit, 0, 0
        self.dev = {}   # (file, column) → [max |Δ|, max relative Δ, where]
        # Knife edges tolerated (see the module doc): rows, breach-count budgets, zone changes.
        self.knife_rows = {"backtest.csv": 0, "backtest-units.csv": 0}
        self.budget = {"breaches_mm": 0, "breaches_im": 0, "breaches": 0}
        self.zone_changes = 0
        self.ties = 0
        self.summary_shape = None   # (backtested accounts, S) from A's summary.json
        self.flips = {"breaches_mm": 0, "breaches_im": 0}   # Σ (x_A + x_B) over knife-edge accounts
        self.spent = {"accounts_breached_mm": 0, "accounts_breached_im": 0}

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


def knife_edge(name, x, y, rel, abs_):
    """A row whose worst loss equals its margin to rounding (on either side): whether L > MM is then
    decided by rounding, so its breach counts and what derives from them may differ."""
    if name == "backtest.csv":
        margins = ("total_mm", "total_im")
    elif name == "backtest-units.csv":
        margins = ("mm",)
    else:
        return False
    for row in (x, y):
        loss = number(row.get("worst_loss", "")) if row.get("worst_loss") else None
        for m in margins:
            v = number(row.get(m, "")) if row.get(m) else None
            if loss is not None and v is not None and close(loss, v, rel, abs_):
                return True
    return False


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
        knife = knife_edge(name, dict(zip(header, x)), dict(zip(header, y)), rel, abs_)
        knife_hit = False
        for col, u, w in zip(header, x, y):
            rep.checked += 1
            if col not in EXACT and u and w and number(u) is not None and number(w) is not None:
                rep.track((name, col), float(u), float(w), f"line {line}")
            if name == "scenarios.csv" and col in rep.spent and u != w and number(u) is not None and number(w) is not None:
                rep.spent[col] += abs(int(float(u)) - int(float(w)))    # checked against the budget at the end
                continue
            why = compare_field(col, u, w, rel, abs_)
            if why and col == "worst_date" and x[header.index("worst_loss")] != y[header.index("worst_loss")]:
                rep.ties += 1            # a tie of worst losses broken by rounding (the losses are compared)
                continue
            if why and knife and col in KNIFE_FIELDS:
                knife_hit = True
                if col in rep.budget:
                    rep.budget[col] += abs(int(u) - int(w))
                if col in rep.flips:
                    rep.flips[col] += int(u) + int(w)
                if col == "zone" and name == "backtest.csv":
                    rep.zone_changes += 1
                continue
            if why:
                key = x[0] + ("/" + x[1] if name == "backtest-units.csv" else "")
                rep.diff(f"{name}:{line} {col} [{key}]", u, w, why)
        if knife_hit:
            rep.knife_rows[name] += 1
            if rep.knife_rows[name] <= 5:
                key = x[0] + ("/" + x[1] if name == "backtest-units.csv" else "")
                print(f"knife edge {name}:{line} [{key}]: worst loss {x[header.index('worst_loss')]} vs "
                      f"{y[header.index('worst_loss')]} at the margin; breach counts differ by rounding")


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
    where = path[:-1]
    # What knife-edge accounts (compare_csv) may move: zone counts, breach rate, coverages, counts.
    slack = 0.0
    if num(a) and num(b) and rep.summary_shape:
        accounts, S = rep.summary_shape
        if where.startswith("zones."):
            slack = rep.zone_changes
        elif where == "breachRate":
            slack = rep.budget["breaches_mm"] / max(1, accounts * S)
        elif where.startswith("coverageByStage."):
            slack = rep.budget["breaches_mm"] / max(1, S)
        elif where.startswith("coverageByCoin."):
            slack = rep.budget["breaches"] / max(1, S)
        elif where.endswith(".accountsBreached"):
            slack = rep.flips["breaches_mm"]
    if slack and abs(a - b) <= slack * (1 + 1e-12) + abs_:
        return
    if key in SUMMARY_EXACT or not (num(a) and num(b)):
        if a != b:
            rep.diff(f"summary.json {where}", a, b)
    elif not close(float(a), float(b), rel, abs_):
        rep.diff(f"summary.json {where}", a, b, f"|Δ| = {abs(a - b):.3g}")


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
            sa, sb = json.load(open(pa)), json.load(open(pb))
            try:
                rep.summary_shape = (int(sa["accounts"]) - int(sa["errors"]), int(sa["scenarios"]))
            except (KeyError, TypeError, ValueError):
                rep.summary_shape = None
            compare_json("", sa, sb, rep, o.rel, o.abs_)
        else:
            compare_csv(name, pa, pb, rep, o.rel, o.abs_)
        if name == "scenarios.csv":
            for col, kind in (("accounts_breached_mm", "breaches_mm"), ("accounts_breached_im", "breaches_im")):
                if rep.spent[col] > rep.flips[kind]:
                    rep.diff(f"scenarios.csv {col}", rep.spent[col], rep.flips[kind],
                             "Σ|Δ| over scenarios exceeds what the knife-edge accounts can flip")
        print(f"compare_backtest: {name}: {rep.count - before} differences")
    if rep.ties:
        print(f"compare_backtest: {rep.ties} worst_date differences where the worst losses are not bit-identical "
              f"(a tie broken by rounding; the losses agree within the tolerance)")
    if sum(rep.knife_rows.values()):
        print(f"compare_backtest: knife edges tolerated: {rep.knife_rows['backtest.csv']} accounts and "
              f"{rep.knife_rows['backtest-units.csv']} units whose worst loss equals their margin to rounding "
              f"(breach counts differ by {rep.budget['breaches_mm']} MM, {rep.budget['breaches_im']} IM, "
              f"{rep.budget['breaches']} unit; scenarios.csv counts moved by {rep.spent['accounts_breached_mm']} MM, "
              f"{rep.spent['accounts_breached_im']} IM)")
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
