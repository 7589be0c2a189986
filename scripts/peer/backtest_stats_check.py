#!/usr/bin/env python3
"""The backtest statistics (docs/model.md §13) on a table of edge cases, computed with SciPy, as JSON.

    backtest_stats_check.py [--out FILE]

For Swift tests to compare with: Kupiec and Christoffersen p-values (scipy.stats.chi2.sf of the
likelihood ratios), the binomial CDF B(x) = P(Binomial(S, p) ≤ x) (scipy.stats.binom.cdf) and the
traffic-light zone (green B < 0.95, yellow B < 0.9999, else red), with p = 1 − confidence.
The likelihood ratios use backtest_peer.py's functions (0·ln 0 = 0, terms of a π with a zero
denominator dropped, LR clamped at 0); the p-values, CDF and zones are SciPy's.

Cases: x = 0 and x = S (several S), no transitions (one breach on the last day, S = 1, an
all-breach sequence), clustered and alternating breach sequences, S = 250 at p = 0.01 for
x = 0…12 (the Basel table), and S ≈ 2,000 (the shipped history) around the zone boundaries.
Each case gives S, confidence, x, the transition counts n00 n01 n10 n11 and the outputs.
"""
import argparse
import json
import os
import sys

from scipy.stats import binom, chi2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backtest_peer import christoffersen_lr, kupiec_lr  # noqa: E402

COMMAND = "python3 scripts/peer/backtest_stats_check.py --out Tests/Fixtures/backtest-stats-scipy.json"


def transitions(seq):
    n = {"n00": 0, "n01": 0, "n10": 0, "n11": 0}
    for a, b in zip(seq, seq[1:]):
        n[f"n{a}{b}"] += 1
    return n


def case(name, S, confidence, x, n):
    p = 1.0 - confidence
    lr_k = kupiec_lr(S, x, p)
    lr_c = christoffersen_lr(n["n00"], n["n01"], n["n10"], n["n11"])
    b = float(binom.cdf(x, S, p))
    return {"name": name, "S": S, "confidence": confidence, "x": x, **n,
            "kupiecLR": lr_k, "kupiecP": float(chi2.sf(lr_k, 1)),
            "christoffersenLR": lr_c, "christoffersenP": float(chi2.sf(lr_c, 1)),
            "binomCdf": b, "zone": "green" if b < 0.95 else ("yellow" if b < 0.9999 else "red")}


def from_sequence(name, seq, confidence=0.99):
    return case(name, len(seq), confidence, sum(seq), transitions(seq))


def cases():
    out = []
    for S in (1, 2, 10, 250, 1973):
        out.append(from_sequence(f"x = 0, S = {S}", [0] * S))
        out.append(from_sequence(f"x = S, S = {S}", [1] * S))
    out.append(from_sequence("one breach on the last day (no 1→0 or 1→1 transition), S = 250", [0] * 249 + [1]))
    out.append(from_sequence("one breach on the first day (no 0→1 transition), S = 250", [1] + [0] * 249))
    out.append(from_sequence("two clustered breaches, S = 250", [0] * 100 + [1, 1] + [0] * 148))
    out.append(from_sequence("alternating, S = 20", [0, 1] * 10))
    out.append(from_sequence("five isolated breaches, S = 250", ([0] * 49 + [1]) * 5))
    out.append(from_sequence("three breaches in a row mid-window, S = 100, confidence 0.95", [0] * 50 + [1] * 3 + [0] * 47, 0.95))
    for x in range(13):   # the Basel table: green 0–4, yellow 5–9, red ≥ 10
        seq = ([1] + [0] * 19) * x + [0] * (250 - 20 * x)
        out.append(from_sequence(f"Basel S = 250, p = 0.01, x = {x} (isolated)", seq))
    for x in (20, 28, 29, 30, 37, 38, 39, 40, 41):   # near the zone boundaries at S = 1973
        seq = ([1] + [0] * 48) * x + [0] * (1973 - 49 * x)
        out.append(from_sequence(f"S = 1973, x = {x} (isolated)", seq))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the JSON here (default: stdout)")
    a = ap.parse_args(argv)
    import scipy
    doc = {
        "comment": f"Made by: {COMMAND} (scipy {scipy.__version__}). p = 1 - confidence; LRs as docs/model.md §13 "
                   "(0·ln 0 = 0, terms of a π with a zero denominator dropped, LR clamped at 0); "
                   "p-values scipy.stats.chi2.sf(LR, 1); binomCdf scipy.stats.binom.cdf(x, S, p); "
                   "zone green if binomCdf < 0.95, yellow if < 0.9999, else red.",
        "cases": cases(),
    }
    text = json.dumps(doc, indent=1) + "\n"
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
