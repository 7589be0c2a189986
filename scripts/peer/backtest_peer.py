#!/usr/bin/env python3
"""backtest_peer: the coverage backtest (docs/model.md §13) as a risk team would write it in Python.

    backtest_peer.py --input DIR --market M.json --params P.json --history H --margins BATCH_OUT
                     --out OUT [--horizon 1] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                     [--confidence 0.99] [--chunk-units 4096] [--timings]

An independent check of `pm backtest`, written from the model's text only. The margins come from a
`pm batch` output folder (BATCH_OUT/margins.csv: total_mm, total_im, stage, error per account;
BATCH_OUT/units.csv: the MM of each unit), so this program checks the backtest, not the margin
engine (scripts/peer/pm_peer.py checks that). It writes OUT/backtest.csv, OUT/backtest-units.csv,
OUT/scenarios.csv and OUT/summary.json with the columns and keys of docs/formats.md "Coverage
backtest" (scripts/peer/compare_backtest.py compares two such folders field by field).

How: the scenario set is built from the history (dates d in [from, to] where every book coin has a
close at d and d+h); every instrument is revalued under every scenario once (a dense instruments ×
scenarios table: Black-76 at T' = T − h/365, σ' = max(σ·v, minShockedIv), intrinsic when T' ≤ 0;
linear and inverse legs); the unit P&L is a scipy.sparse position matrix (units × instruments,
duplicates summed = net per symbol) times that table plus the spot hedge leg, in chunks of units
(whole accounts per chunk, so memory stays bounded at any book size); breaches, worst losses,
transition counts and the exact per-scenario sums are reduced inside each chunk. The statistics
(Kupiec, Christoffersen via scipy.stats.chi2.sf; the traffic light via scipy.stats.binom.cdf) are
computed once per distinct breach pattern (count, transitions), not per account.

Assumes what pm_peer.py assumes about the accounts it backtests (valid rows, as `pm generate`
writes); accounts that `pm batch` reported with an error are listed with their error and skipped.
The fine points it reads (and `pm backtest` must read the same way) are in scripts/peer/README.md.
"""
import argparse
import datetime
import json
import math
import os
import sys
import time
from fractions import Fraction

import numpy as np
import polars as pl
from scipy import sparse
from scipy.stats import binom, chi2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pm_peer import Market, black76, instant, load_params  # noqa: E402  (the margin peer's market code)

STAGES = ["healthy", "imBreach", "autoRepay", "liquidation"]
ZONES = np.array(["green", "yellow", "red"])
QUANTUM_BITS = 32          # per-scenario sums: each account's amount in units of 2^-32 USD, summed exactly
QUANTUM = float(1 << QUANTUM_BITS)


def fail(msg):
    print(f"backtest_peer: {msg}", file=sys.stderr)
    sys.exit(1)


def day_number(text, what):
    try:
        return datetime.date.fromisoformat(text).toordinal()
    except (TypeError, ValueError):
        fail(f"{what}: not a date YYYY-MM-DD: {text!r}")


def day_text(n):
    return datetime.date.fromordinal(int(n)).isoformat()


# ----------------------------------------------------------------------------------------------
# Statistics (§13): exact formulas, one call per distinct breach pattern.

def _xlogy_terms(pairs):
    """Σ count · ln(prob) over (count, prob) pairs, a term whose count is 0 dropped (0·ln 0 = 0)."""
    total = 0.0
    for count, prob in pairs:
        if count:
            total += count * math.log(prob)
    return total


def kupiec_lr(S, x, p):
    """Kupiec proportion-of-failures LR (≥ 0): −2·ln[(1−p)^(S−x)·p^x] + 2·ln[(1−x/S)^(S−x)·(x/S)^x]."""
    null = _xlogy_terms([(S - x, 1.0 - p), (x, p)])
    alt = _xlogy_terms([(S - x, 1.0 - x / S), (x, x / S)])
    return max(0.0, -2.0 * null + 2.0 * alt)


def christoffersen_lr(n00, n01, n10, n11):
    """Christoffersen independence LR (≥ 0); a π whose denominator is 0 drops its terms."""
    null_terms, alt_terms = [], []
    if n00 + n01 + n10 + n11 > 0:
        pi = (n01 + n11) / (n00 + n01 + n10 + n11)
        null_terms = [(n00 + n10, 1.0 - pi), (n01 + n11, pi)]
    if n00 + n01 > 0:
        pi01 = n01 / (n00 + n01)
        alt_terms += [(n00, 1.0 - pi01), (n01, pi01)]
    if n10 + n11 > 0:
        pi11 = n11 / (n10 + n11)
        alt_terms += [(n10, 1.0 - pi11), (n11, pi11)]
    return max(0.0, -2.0 * _xlogy_terms(null_terms) + 2.0 * _xlogy_terms(alt_terms))


def p_value(lr):
    """1 − F_χ²(1)(LR), SciPy's survival function."""
    return float(chi2.sf(lr, 1))


def zone_of(S, x, p):
    """Basel traffic light generalised: B(x) = P(Binomial(S, p) ≤ x); green < 0.95, yellow < 0.9999."""
    b = float(binom.cdf(x, S, p))
    return 0 if b < 0.95 else (1 if b < 0.9999 else 2)


def statistics(S, p, x, n01, n10, n11):
    """kupiec_p, christoffersen_p, zone (index) per row, computed once per distinct pattern."""
    x = np.asarray(x, dtype=np.int64)
    n01, n10, n11 = (np.asarray(a, dtype=np.int64) for a in (n01, n10, n11))
    n00 = (S - 1) - n01 - n10 - n11 if S > 1 else np.zeros_like(x)
    keys = np.stack([x, n00, n01, n10, n11], axis=1) if len(x) else np.zeros((0, 5), dtype=np.int64)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    kup = np.empty(len(uniq))
    chr_ = np.empty(len(uniq))
    zone = np.empty(len(uniq), dtype=np.int64)
    for k, (xx, a, b, c, d) in enumerate(uniq.tolist()):
        kup[k] = p_value(kupiec_lr(S, xx, p))
        chr_[k] = p_value(christoffersen_lr(a, b, c, d))
        zone[k] = zone_of(S, xx, p)
    return kup[inv], chr_[inv], zone[inv]


# ----------------------------------------------------------------------------------------------
# History and the scenario set

def read_history(folder):
    """{coin: {day: close}}, {coin: {day: iv}} from index-daily.csv and the optional iv-daily.csv."""
    def read(name, value):
        path = os.path.join(folder, name)
        df = pl.read_csv(path, schema_overrides={"date": pl.String, "coin": pl.String, value: pl.Float64})
        out = {}
        for date, coin, v in zip(df["date"].to_list(), df["coin"].to_list(), df[value].to_list()):
            if v is None or not math.isfinite(v) or v <= 0:
                fail(f"{path}: {value} not a positive finite number on {date} {coin}")
            d = day_number(date, path)
            per = out.setdefault(coin, {})
            if d in per:
                fail(f"{path}: duplicate ({date}, {coin})")
            per[d] = v
        return out

    closes = read("index-daily.csv", "close")
    iv_path = os.path.join(folder, "iv-daily.csv")
    ivs = read("iv-daily.csv", "iv") if os.path.exists(iv_path) and os.path.getsize(iv_path) > 0 else {}
    return closes, ivs


def scenario_set(closes, ivs, book_coins, h, first, last):
    """Dates, r (coins × S), v (coins × S), coins with IV history (§13 "Scenarios")."""
    for c in book_coins:
        if c not in closes:
            fail(f"history: book coin {c} has no close in index-daily.csv")
    if book_coins:
        usable = lambda d: all(d in closes[c] and d + h in closes[c] for c in book_coins)
    else:   # no book coin: any close at d and at d + h (readings: scripts/peer/README.md)
        any_day = set().union(*(set(v) for v in closes.values())) if closes else set()
        usable = lambda d: d in any_day and d + h in any_day
    dates = [d for d in range(first, last + 1) if usable(d)]
    if not dates:
        fail(f"history: no usable date in the window {day_text(first)} … {day_text(last)} "
             f"(every book coin needs closes at d and d+{h})")
    r = np.array([[closes[c][d + h] / closes[c][d] - 1.0 for d in dates] for c in book_coins]).reshape(len(book_coins), len(dates))
    with_iv = [c for c in book_coins if c in ivs]
    v = np.ones_like(r)
    for k, c in enumerate(book_coins):
        if c in ivs:
            iv = ivs[c]
            v[k] = [iv[d + h] / iv[d] if d in iv and d + h in iv else 1.0 for d in dates]
    return np.array(dates, dtype=np.int64), r, v, with_iv


# ----------------------------------------------------------------------------------------------
# Revaluation: every instrument under every scenario (§13 "Revaluation"), dense instruments × S.

def revaluation_table(m, resolve, market_doc, book_coins, r, v, h):
    n = len(m.symbols)
    S = r.shape[1]
    table = np.zeros((n, S))
    row_of_coin = {c: k for k, c in enumerate(book_coins)}
    now = instant(market_doc["time"])
    ins = market_doc["instruments"]
    base = [i["baseCoin"] for i in ins]
    in_book = np.array([b in row_of_coin for b in base])
    crow = np.array([row_of_coin.get(b, 0) for b in base], dtype=np.int64)
    lin = np.flatnonzero(in_book & ~m.is_option)
    per_unit = np.where(m.is_inverse[lin], 1.0, m.mark[lin] * m.settle_index[lin])
    table[lin] = per_unit[:, None] * r[crow[lin]]
    opt = np.flatnonzero(in_book & m.is_option)
    if len(opt):
        F = np.array([float(ins[k]["underlyingPrice"]) for k in opt])
        K = np.array([float(ins[k]["strike"]) for k in opt])
        sigma = np.array([float(ins[k]["markIv"]) for k in opt])
        floor = np.array([float(resolve(base[k])["minShockedIv"]) for k in opt])
        expiry = np.array([instant(ins[k]["expiry"]) for k in opt])
        T = (expiry - now) / (365.0 * 86400.0)
        T2 = T - h / 365.0
        live = T2 > 0
        Fm = F[:, None] * (1.0 + r[crow[opt]])                           # F' = F·(1 + r_c)
        sig = np.maximum(sigma[:, None] * v[crow[opt]], floor[:, None])  # σ' = max(σ·v_c, minShockedIv)
        call = m.is_call[opt][:, None]
        value = np.where(call, np.maximum(0.0, Fm - K[:, None]), np.maximum(0.0, K[:, None] - Fm))
        if live.any():
            with np.errstate(all="ignore"):
                value[live] = black76(Fm[live], K[live, None], T2[live, None], sig[live], call[live])
        table[opt] = (value - m.mark[opt, None]) * m.settle_index[opt, None]
    return table


# ----------------------------------------------------------------------------------------------
# Inputs: the margins of pm batch and the book's rows of the accounts it margined without error.

def read_margins(folder):
    s = pl.String
    mg = pl.read_csv(os.path.join(folder, "margins.csv"), infer_schema=False,
                     schema_overrides={"account_id": s, "error": s})
    un = pl.read_csv(os.path.join(folder, "units.csv"), infer_schema=False,
                     schema_overrides={"account_id": s, "base_coin": s})
    return mg, un


def read_rows(folder, ok_ids, m):
    """Balance and position rows of the backtested accounts: (acc index, coin, amount) and
    (acc index, instrument index, size); spot-hedging flags per backtested account."""
    idx = pl.DataFrame({"account_id": ok_ids, "acc": np.arange(len(ok_ids), dtype=np.int64)})
    def read(name, cols, numeric=None):
        schema = {c: pl.String for c in cols}
        if numeric:
            schema[numeric] = pl.Float64
        return pl.read_csv(os.path.join(folder, name), columns=list(schema), schema_overrides=schema)

    accounts = read("accounts.csv", ["account_id", "spot_hedging"])
    spot = np.zeros(len(ok_ids), dtype=bool)
    a = accounts.join(idx, on="account_id", how="inner")
    spot[a["acc"].to_numpy()] = (a["spot_hedging"] == "true").to_numpy()
    bal = read("balances.csv", ["account_id", "coin"], "wallet_balance").join(idx, on="account_id", how="inner",
                                                                             maintain_order="left")
    pos = read("positions.csv", ["account_id", "symbol"], "size").join(idx, on="account_id", how="inner",
                                                                        maintain_order="left")
    sym = pl.DataFrame({"symbol": m.symbols, "ins": np.arange(len(m.symbols), dtype=np.int64)})
    pos = pos.join(sym, on="symbol", how="left", maintain_order="left")
    if pos["ins"].null_count():
        bad = pos.filter(pl.col("ins").is_null())["symbol"][0]
        fail(f"positions.csv: symbol {bad!r} not in the market (an account pm batch margined without error)")
    coin_id = {c: k for k, c in enumerate(m.coins)}
    b_coin = np.array([coin_id.get(c, -1) for c in bal["coin"].to_list()], dtype=np.int64)
    return dict(
        spot=spot,
        b_acc=bal["acc"].to_numpy(), b_coin=b_coin, b_amt=bal["wallet_balance"].to_numpy(),
        p_acc=pos["acc"].to_numpy(), p_ins=pos["ins"].to_numpy(), p_size=pos["size"].to_numpy(),
    )


# ----------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--market", required=True)
    ap.add_argument("--params", required=True)
    ap.add_argument("--history", required=True)
    ap.add_argument("--margins", required=True, help="a pm batch output folder (margins.csv, units.csv)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--from", dest="first")
    ap.add_argument("--to", dest="last")
    ap.add_argument("--confidence", type=float, default=0.99)
    ap.add_argument("--chunk-units", type=int, default=4096, help="units per chunk (memory bound)")
    ap.add_argument("--timings", action="store_true")
    a = ap.parse_args(argv)
    h = a.horizon
    if not 1 <= h <= 365:
        fail("--horizon must be between 1 and 365")
    if not 0 < a.confidence < 1:
        fail("--confidence must be in (0, 1)")
    p = 1.0 - a.confidence
    t0 = time.perf_counter()

    resolve, _ = load_params(a.params)
    market_doc = json.load(open(a.market))
    with np.errstate(all="ignore"):
        m = Market(a.market, resolve)
    mg, un = read_margins(a.margins)
    err = mg["error"].fill_null("").to_numpy().astype(object)
    ok = err == ""
    ok_ids = mg["account_id"].filter(pl.Series(ok))
    n_ok = len(ok_ids)
    total_mm = mg["total_mm"].filter(pl.Series(ok)).cast(pl.Float64).to_numpy()
    total_im = mg["total_im"].filter(pl.Series(ok)).cast(pl.Float64).to_numpy()
    stage = mg["stage"].filter(pl.Series(ok)).to_numpy()

    # Units (units.csv order: by account, then base coin) of the backtested accounts.
    uidx = pl.DataFrame({"account_id": ok_ids, "acc": np.arange(n_ok, dtype=np.int64)})
    un = un.with_row_index("row").join(uidx, on="account_id", how="inner").sort("row")
    u_acc = un["acc"].to_numpy()
    u_coin = un["base_coin"].to_numpy().astype(object)
    u_mm = un["mm"].cast(pl.Float64).to_numpy()
    n_units = len(u_acc)
    if n_units and np.any(np.diff(u_acc) < 0):
        fail("units.csv: units are not in margins.csv account order")
    book_list, u_crow = np.unique(u_coin.astype(str), return_inverse=True) if n_units else (np.array([]), np.zeros(0, np.int64))
    book_coins = [str(c) for c in book_list]
    u_crow = u_crow.ravel().astype(np.int64)
    slot_of = {c: k for k, c in enumerate(m.base_coins)}
    for c in book_coins:
        if c not in slot_of:
            fail(f"units.csv: base coin {c} not in the market")
    u_slot = np.array([slot_of[c] for c in book_coins], dtype=np.int64)[u_crow]

    # History and scenarios.
    closes, ivs = read_history(a.history)
    all_days = sorted(set().union(*(set(v) for v in closes.values()))) if closes else []
    if not all_days:
        fail("history: index-daily.csv has no rows")
    first = day_number(a.first, "--from") if a.first else all_days[0]
    last = day_number(a.last, "--to") if a.last else all_days[-1]
    if first > last:
        fail("--from is after --to")
    dates, r, v, with_iv = scenario_set(closes, ivs, book_coins, h, first, last)
    S = len(dates)

    # The book's rows and the unit of each position row (§11.5: units come from units.csv).
    d = read_rows(a.input, ok_ids, m)
    n_slots = len(m.base_coins)
    unit_of_key = np.full(n_ok * n_slots, -1, dtype=np.int64)
    unit_of_key[u_acc * n_slots + u_slot] = np.arange(n_units)
    p_unit = unit_of_key[d["p_acc"] * n_slots + m.slot[d["p_ins"]]]
    if np.any(p_unit < 0):
        k = int(np.flatnonzero(p_unit < 0)[0])
        fail(f"positions.csv: {ok_ids[int(d['p_acc'][k])]} holds {m.symbols[d['p_ins'][k]]} but units.csv has no such unit")
    n_ins = len(m.symbols)
    H = sparse.csr_matrix((d["p_size"], (p_unit, d["p_ins"])), shape=(n_units, n_ins))
    H.sum_duplicates()

    # §6 spot hedge leg of portfolio C: h from the coin's balance B and C's delta D.
    D = H @ m.delta
    eligible = np.array([bool(resolve(c)["spotHedgeEligible"]) for c in m.base_coins])
    n_coins = len(m.coins)
    okb = d["b_coin"] >= 0
    bal_by = np.bincount(d["b_acc"][okb] * n_coins + d["b_coin"][okb], d["b_amt"][okb], minlength=n_ok * n_coins)
    coin_col = np.array([m.coins.index(c) if c in m.coins else 0 for c in m.base_coins], dtype=np.int64)
    B = np.where(d["spot"][u_acc] & eligible[u_slot], bal_by[u_acc * n_coins + coin_col[u_slot]], 0.0)
    hleg = np.where((B > 0) & (D < 0), np.minimum(B, -D), np.where((B < 0) & (D > 0), np.maximum(B, -D), 0.0))
    u_index = np.array([m.index[c] for c in m.base_coins])[u_slot]
    t_in = time.perf_counter()

    # Revaluation table (instruments × S) and the spot leg's per-coin rows.
    table = revaluation_table(m, resolve, market_doc, book_coins, r, v, h)
    t_table = time.perf_counter()

    # Per-account and per-unit accumulators.
    acc_x_mm = np.zeros(n_ok, np.int64); acc_x_im = np.zeros(n_ok, np.int64)
    acc_n = np.zeros((n_ok, 3), np.int64)                     # n01, n10, n11 of the MM sequence
    acc_worst = np.zeros(n_ok); acc_worst_day = np.zeros(n_ok, np.int64)
    u_x = np.zeros(n_units, np.int64); u_n = np.zeros((n_units, 3), np.int64)
    u_worst = np.zeros(n_units); u_worst_day = np.zeros(n_units, np.int64)
    sc_mm = np.zeros(S, np.int64); sc_im = np.zeros(S, np.int64)
    sums = {k: [np.zeros(S, np.int64), np.zeros(S, np.int64)] for k in ("shortfall", "book_loss")}

    def counts(x):
        """Breaches per row and the transition counts n01, n10, n11 (t = 2…S) of a breach matrix:
        n01 + n11 = the breaches after day 1, n10 + n11 = the breaches before day S."""
        n = np.count_nonzero(x, axis=1)
        if S < 2:
            return n, np.zeros((len(x), 3), np.int64)
        n11 = np.count_nonzero(x[:, 1:] & x[:, :-1], axis=1)
        return n, np.stack([n - x[:, 0] - n11, n - x[:, -1] - n11, n11], axis=1)

    def exact_add(key, cols, values):
        """Add amounts (each in its scenario column), each rounded to a multiple of 2^-32 USD
        (ties to even), exactly: q = hi·2^32 + lo with 0 ≤ lo < 2^32, the halves summed per column as
        integers (in doubles while every partial sum stays below 2^53, else in int64)."""
        q = np.rint(values * QUANTUM)
        hi = np.floor(q * (1.0 / QUANTUM))
        lo = q - hi * QUANTUM
        if q.size == 0:
            return
        if cols is None:                                   # values: rows × S
            small = (np.abs(hi).max() + 1.0) * len(q) < 2.0 ** 52
            col_sum = (lambda v: v.sum(0)) if small else (lambda v: v.astype(np.int64).sum(0))
            sums[key][0] += col_sum(hi).astype(np.int64)
            sums[key][1] += col_sum(lo).astype(np.int64)
        elif (np.abs(hi).max() + 1.0) * len(q) < 2.0 ** 52:
            sums[key][0] += np.bincount(cols, hi, minlength=S).astype(np.int64)
            sums[key][1] += np.bincount(cols, lo, minlength=S).astype(np.int64)
        else:
            for k in range(S):
                sel = cols == k
                sums[key][0][k] += hi[sel].astype(np.int64).sum()
                sums[key][1][k] += lo[sel].astype(np.int64).sum()

    # Chunks of whole accounts, at most chunk_units units (and accounts) each.
    units_before = np.searchsorted(u_acc, np.arange(n_ok + 1))     # units of account a: [ub[a], ub[a+1])
    a0 = 0
    while a0 < n_ok:
        a1 = int(np.searchsorted(units_before, units_before[a0] + a.chunk_units, side="right")) - 1
        a1 = min(max(a1, a0 + 1), a0 + a.chunk_units, n_ok)
        ua, ub = int(units_before[a0]), int(units_before[a1])
        P = np.asarray(H[ua:ub] @ table) if ub > ua else np.zeros((0, S))
        # Spot leg (units with h ≠ 0): h·index·r_c; a liability's leg (h < 0) only its gains.
        hu = np.flatnonzero(hleg[ua:ub])
        if len(hu):
            g = ua + hu
            leg = (hleg[g] * u_index[g])[:, None] * r[u_crow[g]]
            P[hu] += np.where(hleg[g, None] < 0, np.maximum(0.0, leg), leg)
        Lu = np.negative(P, out=P)
        xu = Lu > u_mm[ua:ub, None]
        u_x[ua:ub], u_n[ua:ub] = counts(xu)
        w = Lu.argmax(1) if S else np.zeros(ub - ua, np.int64)
        u_worst[ua:ub] = Lu[np.arange(ub - ua), w]
        u_worst_day[ua:ub] = dates[w]
        # Account losses: Σ over the account's units (accounts without units lose 0).
        agg = sparse.csr_matrix((np.ones(ub - ua), (u_acc[ua:ub] - a0, np.arange(ub - ua))), shape=(a1 - a0, ub - ua))
        La = np.asarray(agg @ Lu) if ub > ua else np.zeros((a1 - a0, S))
        mm_c, im_c = total_mm[a0:a1, None], total_im[a0:a1, None]
        xm, xi = La > mm_c, La > im_c
        acc_x_mm[a0:a1], acc_n[a0:a1] = counts(xm)
        acc_x_im[a0:a1] = np.count_nonzero(xi, axis=1)
        w = La.argmax(1)
        acc_worst[a0:a1] = La[np.arange(a1 - a0), w]
        acc_worst_day[a0:a1] = dates[w]
        sc_mm += np.count_nonzero(xm, axis=0); sc_im += np.count_nonzero(xi, axis=0)
        rows, cols = np.nonzero(xm)                       # shortfall: only the breaches are > 0
        exact_add("shortfall", cols, La[rows, cols] - total_mm[a0 + rows])
        exact_add("book_loss", None, La)
        a0 = a1
    t_pass = time.perf_counter()

    def exact_value(key):
        hi, lo = sums[key]
        return [float(Fraction((int(a_) << QUANTUM_BITS) + int(b_), 1 << QUANTUM_BITS)) for a_, b_ in zip(hi, lo)]

    shortfall, book_loss = exact_value("shortfall"), exact_value("book_loss")
    kup, chp, zone = statistics(S, p, acc_x_mm, acc_n[:, 0], acc_n[:, 1], acc_n[:, 2])
    ukup, uchp, uzone = statistics(S, p, u_x, u_n[:, 0], u_n[:, 1], u_n[:, 2])

    # ---- Outputs.
    os.makedirs(a.out, exist_ok=True)
    n_all = mg.height
    ok_rows = np.flatnonzero(ok)

    def full(values, dtype):
        col = np.full(n_all, None, dtype=object)
        col[ok_rows] = values.astype(object) if isinstance(values, np.ndarray) else values
        return pl.Series(col.tolist(), dtype=dtype)

    F64, I64, STR = pl.Float64, pl.Int64, pl.String
    bt = pl.DataFrame({
        "account_id": mg["account_id"],
        "total_mm": full(total_mm, F64), "total_im": full(total_im, F64),
        "scenarios": full(np.full(n_ok, S), I64),
        "breaches_mm": full(acc_x_mm, I64), "breaches_im": full(acc_x_im, I64),
        "coverage_mm": full(1.0 - acc_x_mm / S, F64),
        "worst_loss": full(acc_worst, F64),
        "worst_date": full(np.array([day_text(x) for x in acc_worst_day], dtype=object), STR),
        "worst_shortfall": full(np.maximum(0.0, acc_worst - total_mm), F64),
        "kupiec_p": full(kup, F64), "christoffersen_p": full(chp, F64),
        "zone": full(ZONES[zone].astype(object), STR),
        "error": pl.Series([e if e else None for e in err.tolist()], dtype=STR),
    })
    units = pl.DataFrame({
        "account_id": un["account_id"], "base_coin": un["base_coin"],
        "mm": pl.Series(u_mm, dtype=F64), "breaches": pl.Series(u_x, dtype=I64),
        "coverage": pl.Series(1.0 - u_x / S, dtype=F64),
        "worst_loss": pl.Series(u_worst, dtype=F64),
        "worst_date": pl.Series([day_text(x) for x in u_worst_day], dtype=STR),
        "kupiec_p": pl.Series(ukup, dtype=F64), "christoffersen_p": pl.Series(uchp, dtype=F64),
        "zone": pl.Series(ZONES[uzone].tolist(), dtype=STR),
    })
    cols = {"date": [day_text(x) for x in dates]}
    for k, c in enumerate(book_coins):
        cols[f"return_{c}"] = pl.Series(r[k], dtype=F64)
    for c in with_iv:
        cols[f"iv_ratio_{c}"] = pl.Series(v[book_coins.index(c)], dtype=F64)
    cols.update(accounts_breached_mm=pl.Series(sc_mm, dtype=I64), accounts_breached_im=pl.Series(sc_im, dtype=I64),
                shortfall=pl.Series(shortfall, dtype=F64), book_loss=pl.Series(book_loss, dtype=F64))
    scen = pl.DataFrame(cols)

    zone_counts = np.bincount(zone, minlength=3)
    by_stage = {}
    for st in STAGES:
        sel = stage == st
        if sel.any():
            by_stage[st] = 1.0 - int(acc_x_mm[sel].sum()) / (int(sel.sum()) * S)
    by_coin = {}
    for c in book_coins:
        sel = u_coin == c
        by_coin[c] = 1.0 - int(u_x[sel].sum()) / (int(sel.sum()) * S)
    order = sorted(range(S), key=lambda k: (-shortfall[k], dates[k]))[:10]
    summary = {
        # The window as tested: the first and the last scenario date (inside the asked [from, to]).
        "window": {"from": day_text(dates[0]), "to": day_text(dates[-1])},
        "scenarios": S, "horizon": h, "confidence": a.confidence,
        "coinsWithIv": with_iv, "coinsWithoutIv": [c for c in book_coins if c not in with_iv],
        # As pm batch counts: every row of backtest.csv, of which `errors` carry an error.
        "accounts": int(n_all), "errors": int(n_all - n_ok),
        "breachRate": (int(acc_x_mm.sum()) / (n_ok * S)) if n_ok else 0.0,
        "zones": {"green": int(zone_counts[0]), "yellow": int(zone_counts[1]), "red": int(zone_counts[2])},
        "coverageByStage": by_stage, "coverageByCoin": by_coin,
        "worstDates": [{"date": day_text(dates[k]), "shortfall": shortfall[k], "accountsBreached": int(sc_mm[k])}
                       for k in order],
    }
    for name, df in (("backtest.csv", bt), ("backtest-units.csv", units), ("scenarios.csv", scen)):
        tmp = os.path.join(a.out, f".{name}.tmp")
        df.write_csv(tmp, null_value="")
        os.replace(tmp, os.path.join(a.out, name))
    tmp = os.path.join(a.out, ".summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(a.out, "summary.json"))
    t_end = time.perf_counter()
    if a.timings:
        print(f"backtest_peer: {n_ok} accounts ({n_all - n_ok} errors), {n_units} units, {S} scenarios "
              f"{day_text(dates[0])}…{day_text(dates[-1])}, h={h}; read {t_in - t0:.2f} s, table {t_table - t_in:.2f} s, "
              f"pass {t_pass - t_table:.2f} s, write {t_end - t_pass:.2f} s, total {t_end - t0:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
