#!/usr/bin/env python3
"""pm_peer: the Portfolio Margin batch as a risk team would write it in Python (issue 9's peer).

    pm_peer.py --input DIR --market MARKET.json --params PARAMS.json --out DIR [--timings]

Reads the batch folder of docs/formats.md (accounts.csv, balances.csv, positions.csv, orders.csv) with
Polars, computes the model of docs/model.md §2-§8 and §11 (our readings: docs/readings.md) with NumPy
and SciPy, vectorized over all accounts, units and portfolios (no Python loop per account, unit or
row; the only Python loops run over base coins, a handful), and writes OUT/margins.csv and
OUT/units.csv with the columns of `pm batch`'s (docs/formats.md "Batch output").

It is a *peer* for speed and a cross-check of the numbers, not a second engine: it assumes valid
input (every id of the row files is in accounts.csv once, every symbol and coin is in the market,
numbers are finite and sane, no instrument is expired or invalid — what `pm generate` writes) and
stops with a message when a row does not map; it never writes per-account error rows. The formulas
and their order of operations follow Tests/PMTestSupport/PlainModel.swift and the engine
(Sources/PortfolioMargin/Engine), so the numbers agree with `pm batch` to rounding
(scripts/peer/compare.py).
"""
import argparse
import calendar
import json
import os
import re
import sys
import time

import numpy as np
import polars as pl
from scipy import sparse
from scipy.special import ndtr

SECONDS_PER_DAY = 86400.0
SECONDS_PER_YEAR = 365.0 * 86400.0
PARAM_KEYS = [
    "priceRange", "pricePoints", "ivUp", "ivDown", "vegaPowerShort", "vegaPowerLong", "minDTE",
    "minShockedIv", "decaySeconds", "imFactor", "shortOptionFactor", "vegaSpreadFactor",
    "stablecoinSpreadFactor", "deltaSpreadFactor", "basisFactor", "basisThreshold",
    "futuresRiskFactor", "spotHedgeEligible", "collateralValueRatio", "borrowMMRate", "borrowIMRate",
]
# docs/model.md §8 thresholds; docs/readings.md 4: the parameter file's optional `stages` object overrides.
STAGE_DEFAULTS = {"liquidationMMRate": 1.0, "autoRepayMMRate": 0.85, "imBreachIMRate": 1.0}
STAGE_NAMES = np.array(["healthy", "imBreach", "autoRepay", "liquidation"])
SHOCK_NAMES = np.array(["up", "unchanged", "down"])
PORTFOLIO_NAMES = np.array(["positions", "positions+buyOrders", "positions+sellOrders"])

_INSTANT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2}))?$")


def instant(text):
    """Seconds since the epoch of an ISO-8601 instant (docs/formats.md; docs/readings.md 22)."""
    m = _INSTANT.match(text)
    if not m:
        raise SystemExit(f"pm_peer: not an instant: {text!r}")
    y, mo, d, h, mi, s, frac, off = m.groups()
    secs = float(calendar.timegm((int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))))
    if frac:
        secs += float("0" + frac)
    if off and off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return secs


# ----------------------------------------------------------------------------------------------
# Parameters (docs/model.md §9, docs/formats.md "Parameters"; tiers: docs/model.md §8 "Collateral tiers")

def load_params(path):
    doc = json.load(open(path))
    coins = doc["coins"]
    default = {k: coins["default"][k] for k in PARAM_KEYS if k in coins["default"]}

    def resolve(coin):
        entry = dict(default)
        for k in PARAM_KEYS:
            if coin in coins and k in coins[coin]:
                entry[k] = coins[coin][k]
        # Collateral ratio: one number, or a list of tiers [{"upTo": q, "ratio": r}, ..., {"ratio": r}].
        cvr = entry["collateralValueRatio"]
        if isinstance(cvr, list):
            entry["tiers"] = [(float("inf") if t.get("upTo") is None else float(t["upTo"]), float(t["ratio"]))
                              for t in cvr]
            entry["collateralValueRatio"] = entry["tiers"][0][1]
        else:
            entry["tiers"] = None
        return entry

    stages = dict(STAGE_DEFAULTS)
    for k in STAGE_DEFAULTS:
        if k in doc.get("stages", {}):
            stages[k] = float(doc["stages"][k])
    return resolve, stages


def tier_value(amount, tiers):
    """Σ r_t · (min(B, q_t) − q_{t−1}) over the tiers the positive balance B reaches, in coins."""
    value = np.zeros_like(amount)
    lower = 0.0
    for up_to, ratio in tiers:
        inside = amount > lower
        value = np.where(inside, value + (np.minimum(amount, up_to) - lower) * ratio, value)
        lower = up_to
    return value


# ----------------------------------------------------------------------------------------------
# Black-76 with zero rate (docs/model.md §3, §5)

def black76(forward, strike, years, vol, is_call):
    sd = vol * np.sqrt(years)
    d1 = (np.log(forward / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    call = forward * ndtr(d1) - strike * ndtr(d2)
    put = strike * ndtr(-d2) - forward * ndtr(-d1)
    return np.where(is_call, call, put)


# ----------------------------------------------------------------------------------------------
# The market priced once (docs/model.md §2, §3, §5): per instrument arrays, per base coin risk arrays.

class Market:
    def __init__(self, path, resolve):
        doc = json.load(open(path))
        now = instant(doc["time"])
        self.index = {c: float(v) for c, v in doc["indexPrices"].items()}
        ins = doc["instruments"]
        n = len(ins)
        self.symbols = [i["symbol"] for i in ins]
        self.coins = sorted(self.index)                       # balance coin ids, alphabetical
        coin_id = {c: k for k, c in enumerate(self.coins)}
        self.base_coins = sorted({i["baseCoin"] for i in ins})  # unit slots, alphabetical (§11.17)
        slot_of = {c: k for k, c in enumerate(self.base_coins)}
        self.params = [resolve(c) for c in self.base_coins]
        self.coin_params = [resolve(c) for c in self.coins]

        kind = np.array([i["kind"] for i in ins])
        self.is_option = kind == "option"
        self.is_inverse = np.array([i["settleCoin"] == i["baseCoin"] for i in ins]) & ~self.is_option
        self.slot = np.array([slot_of[i["baseCoin"]] for i in ins], dtype=np.int64)
        self.mark = np.array([float(i["markPrice"]) for i in ins])
        self.base_index = np.array([self.index[i["baseCoin"]] for i in ins])
        # The settle coin's USD index (1 for inverse: their P&L is in USD contracts / base coin).
        self.settle_index = np.array([1.0 if inv else self.index[i["settleCoin"]]
                                      for i, inv in zip(ins, self.is_inverse)])
        # §5C settlement bucket: 0 USDT, 1 USDC, 2 inverse (USD).
        self.settlement = np.array([2 if inv else (0 if i["settleCoin"] == "USDT" else 1)
                                    for i, inv in zip(ins, self.is_inverse)], dtype=np.int64)
        self.is_call = np.array([i.get("optionType") == "Call" for i in ins])
        expiry = np.array([instant(i["expiry"]) if "expiry" in i and i["expiry"] is not None else np.nan
                           for i in ins])
        seconds = expiry - now
        # Maturity buckets (§5, §11.8): 0 is DTE 0 (perpetuals, spot leg); one per expiry instant.
        # Global ids are fine: a portfolio only ever holds one base coin's instruments.
        has_exp = ~np.isnan(expiry) & (kind != "perpetual")
        uniq_exp, inv = np.unique(expiry[has_exp], return_inverse=True)
        self.bucket = np.zeros(n, dtype=np.int64)
        self.bucket[has_exp] = inv + 1
        self.bucket_days = np.concatenate([[0.0], (uniq_exp - now) / SECONDS_PER_DAY])

        # Option arrays.
        opt = np.flatnonzero(self.is_option)
        F = np.array([float(ins[k]["underlyingPrice"]) for k in opt])
        K = np.array([float(ins[k]["strike"]) for k in opt])
        iv = np.array([float(ins[k]["markIv"]) for k in opt])
        secs = seconds[opt]
        T = secs / SECONDS_PER_YEAR
        # §5A, §11.7: short-option groups are (expiry instant, strike) across calls, puts, settle coins.
        self.group = np.full(n, -1, dtype=np.int64)
        if len(opt):
            pairs = np.stack([self.slot[opt].astype(float), expiry[opt], K], axis=1)
            _, ginv = np.unique(pairs, axis=0, return_inverse=True)
            self.group[opt] = ginv.ravel()
        self.group_count = int(self.group.max()) + 1 if len(opt) else 0

        # §5 Greeks at the current market: delta (coins per unit) and coin vega (vega / F).
        self.delta = np.where(self.is_inverse, 1.0 / self.mark, 1.0)
        self.coin_vega = np.zeros(n)
        if len(opt):
            sd = iv * np.sqrt(T)
            d1 = (np.log(F / K) + 0.5 * sd * sd) / sd
            nd1 = ndtr(d1)
            self.delta[opt] = np.where(self.is_call[opt], nd1, nd1 - 1.0)
            vega = F * (np.exp(-0.5 * d1 * d1) / np.sqrt(2.0 * np.pi)) * np.sqrt(T)
            self.coin_vega[opt] = vega / F

        # Risk arrays per base coin (§3): rows = the coin's instruments, columns = N moves × 3 vols.
        self.row = np.zeros(n, dtype=np.int64)
        self.risk = []
        self.moves = []
        for s, coin in enumerate(self.base_coins):
            p = self.params[s]
            npts = int(p["pricePoints"])
            r = float(p["priceRange"])
            moves = np.array([-r + k * 2 * r / (npts - 1) for k in range(npts)])  # §2, literally
            self.moves.append(moves)
            members = np.flatnonzero(self.slot == s)
            self.row[members] = np.arange(len(members))
            R = np.empty((len(members), npts, 3))
            lin = members[~self.is_option[members]]
            per_unit = np.where(self.is_inverse[lin], 1.0, self.mark[lin] * self.settle_index[lin])
            R[self.row[lin]] = (per_unit[:, None] * moves[None, :])[:, :, None]
            om = np.flatnonzero(self.is_option[opt] & (self.slot[opt] == s))  # positions in `opt`
            if len(om):
                days = secs[om] / SECONDS_PER_DAY
                power = np.where(days < 30, p["vegaPowerShort"], p["vegaPowerLong"])
                scale = (30.0 / np.maximum(days, p["minDTE"])) ** power
                sig = iv[om]
                vols = np.stack([sig * (1 + p["ivUp"] * scale), sig,
                                 np.maximum(sig * (1 - p["ivDown"] * scale), p["minShockedIv"])], axis=1)
                # Near expiry (§2): an option's own moves shrink linearly in its last decaySeconds.
                move_scale = np.where(secs[om] < p["decaySeconds"], secs[om] / p["decaySeconds"], 1.0)
                fwd = F[om, None] * (1 + moves[None, :] * move_scale[:, None])          # (n, N)
                price = black76(fwd[:, :, None], K[om, None, None], T[om, None, None], vols[:, None, :],
                                self.is_call[opt][om, None, None])
                R[self.row[opt[om]]] = (price - self.mark[opt[om], None, None]) * self.settle_index[opt[om], None, None]
            self.risk.append(R.reshape(len(members), npts * 3))
        self.coin_id_of_slot = np.array([coin_id[c] for c in self.base_coins], dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# Input (Polars)

def read_inputs(folder, market):
    """The four CSV files as NumPy arrays: ids, symbols and coins as indices (read straight into
    Polars Enums of accounts.csv's ids, the market's symbols and its coins; an unknown value stops
    the run, valid input assumed)."""
    ids = pl.read_csv(os.path.join(folder, "accounts.csv"),
                      schema_overrides={"account_id": pl.String, "spot_hedging": pl.String})
    account_ids = ids["account_id"]
    acc = pl.Enum(account_ids)
    sym = pl.Enum(market.symbols)
    coin = pl.Enum(market.coins)
    spot = (ids["spot_hedging"] == "true").to_numpy()

    def read(name, schema):
        path = os.path.join(folder, name)
        if name == "orders.csv" and (not os.path.exists(path) or os.path.getsize(path) == 0):
            return pl.DataFrame(schema=schema)   # an absent or empty orders.csv: no orders
        return pl.read_csv(path, schema_overrides=schema)

    def codes(series):
        return series.to_physical().cast(pl.Int64).to_numpy()

    bal = read("balances.csv", {"account_id": acc, "coin": coin, "wallet_balance": pl.Float64})
    pos = read("positions.csv", {"account_id": acc, "symbol": sym, "size": pl.Float64, "entry_price": pl.Float64})
    ords = read("orders.csv", {"account_id": acc, "symbol": sym, "side": pl.String, "qty": pl.Float64,
                               "price": pl.Float64})
    entry = (pos["entry_price"].fill_null(np.nan).to_numpy() if "entry_price" in pos.columns
             else np.full(pos.height, np.nan))
    return dict(
        account_ids=account_ids, spot=spot,
        b_acc=codes(bal["account_id"]), b_coin=codes(bal["coin"]), b_amt=bal["wallet_balance"].to_numpy(),
        p_acc=codes(pos["account_id"]), p_ins=codes(pos["symbol"]), p_size=pos["size"].to_numpy(), p_entry=entry,
        o_acc=codes(ords["account_id"]), o_ins=codes(ords["symbol"]),
        o_buy=(ords["side"] == "Buy").to_numpy(), o_qty=ords["qty"].to_numpy(), o_price=ords["price"].to_numpy(),
    )


# ----------------------------------------------------------------------------------------------
# The model, vectorized over the whole book

def margin(d, m, stages):
    n_acc = len(d["spot"])
    n_ins = len(m.symbols)
    n_slots = len(m.base_coins)
    n_coins = len(m.coins)
    b_acc, b_coin, b_amt = d["b_acc"], d["b_coin"], d["b_amt"]
    p_acc, p_ins, p_size, p_entry = d["p_acc"], d["p_ins"], d["p_size"], d["p_entry"]
    o_acc, o_ins, o_buy, o_qty, o_price = d["o_acc"], d["o_ins"], d["o_buy"], d["o_qty"], d["o_price"]

    # ---- §8 account totals, summed per account in file order (np.bincount adds in input order,
    # as the engine does: balance rows, then position rows).
    coin_usd = np.array([m.index[c] for c in m.coins])
    cvr = np.array([p["collateralValueRatio"] for p in m.coin_params])
    borrow_mm_rate = np.array([p["borrowMMRate"] for p in m.coin_params])
    borrow_im_rate = np.array([p["borrowIMRate"] for p in m.coin_params])
    usd = b_amt * coin_usd[b_coin]
    liability = b_amt < 0
    bal_value = np.where(liability, usd, usd * cvr[b_coin])
    for c, p in enumerate(m.coin_params):
        if p["tiers"] is not None:
            sel = (b_coin == c) & ~liability
            bal_value[sel] = tier_value(b_amt[sel], p["tiers"]) * coin_usd[c]
    mark = m.mark[p_ins]
    has_entry = ~np.isnan(p_entry)
    pos_value = np.where(
        m.is_option[p_ins], p_size * mark * m.settle_index[p_ins],
        np.where(~has_entry, 0.0,
                 np.where(m.is_inverse[p_ins], p_size * (1 / p_entry - 1 / mark) * m.base_index[p_ins],
                          p_size * (mark - p_entry) * m.settle_index[p_ins])))
    margin_balance = np.bincount(np.concatenate([b_acc, p_acc]), np.concatenate([bal_value, pos_value]),
                                 minlength=n_acc)
    omark = m.mark[o_ins]
    inv_gain = np.where(o_buy, o_qty * (1 / o_price - 1 / omark), o_qty * (1 / omark - 1 / o_price)) * m.base_index[o_ins]
    lin_gain = np.where(o_buy, (omark - o_price) * o_qty, (o_price - omark) * o_qty) * m.settle_index[o_ins]
    gain = np.where(m.is_inverse[o_ins], inv_gain, lin_gain)
    order_loss = np.bincount(o_acc, np.where(gain >= 0, 0.0, gain), minlength=n_acc)   # §11.10
    borrow_mm = np.bincount(b_acc, np.where(liability, -usd * borrow_mm_rate[b_coin], 0.0), minlength=n_acc)
    borrow_im = np.bincount(b_acc, np.where(liability, -usd * borrow_im_rate[b_coin], 0.0), minlength=n_acc)
    has_liability = np.bincount(b_acc, liability, minlength=n_acc) > 0

    # ---- §11.5 units: one per (account, base coin) with a position row or an order, numbered in
    # (account, coin) order (slots are alphabetical) through a dense flag array (no sort).
    p_unit_key = p_acc * n_slots + m.slot[p_ins]
    o_unit_key = o_acc * n_slots + m.slot[o_ins]
    flag = np.zeros(n_acc * n_slots, dtype=bool)
    flag[p_unit_key] = True
    flag[o_unit_key] = True
    unit_keys = np.flatnonzero(flag)
    unit_of_key = np.cumsum(flag) - 1
    p_unit, o_unit = unit_of_key[p_unit_key], unit_of_key[o_unit_key]
    n_units = len(unit_keys)
    u_acc = unit_keys // n_slots
    u_slot = unit_keys % n_slots

    # §7, §11.2: A (buy perpetual/future/call, sell put) and B (the rest); a side with no orders is
    # not evaluated.
    o_side_a = np.where(m.is_option[o_ins], o_buy == m.is_call[o_ins], o_buy)
    present = np.zeros((n_units, 3), dtype=bool)
    present[:, 0] = True
    present[o_unit[o_side_a], 1] = True
    present[o_unit[~o_side_a], 2] = True

    # Portfolios: every present (unit, p), numbered by coin, then unit, then p, so that each coin's
    # portfolios are one contiguous range (one sparse product per coin below).
    all_keys = np.flatnonzero(present.ravel())
    pf_keys = all_keys[np.argsort(u_slot[all_keys // 3], kind="stable")]
    n_pf = len(pf_keys)
    pf_of_key = np.full(n_units * 3, -1, dtype=np.int64)
    pf_of_key[pf_keys] = np.arange(n_pf)
    pf_unit = pf_keys // 3
    pf_slot = u_slot[pf_unit]
    slot_start = np.searchsorted(pf_slot, np.arange(n_slots + 1))

    # Holding rows (§7, §11.1): every position row in each present portfolio of its unit, each order
    # in its side's portfolio at its signed quantity (an order is a position of its quantity at mark).
    pf_parts, ins_parts, size_parts = [pf_of_key[p_unit * 3]], [p_ins], [p_size]
    for k in (1, 2):
        sel = present[p_unit, k]
        pf_parts.append(pf_of_key[p_unit[sel] * 3 + k]); ins_parts.append(p_ins[sel]); size_parts.append(p_size[sel])
    pf_parts.append(pf_of_key[o_unit * 3 + np.where(o_side_a, 1, 2)])
    ins_parts.append(o_ins)
    size_parts.append(np.where(o_buy, o_qty, -o_qty))
    r_pf = np.concatenate(pf_parts)
    r_ins = np.concatenate(ins_parts)
    r_q = np.concatenate(size_parts)
    del pf_parts, ins_parts, size_parts

    # Per-portfolio coin parameters.
    P = lambda key: np.array([p[key] for p in m.params], dtype=float)[pf_slot]
    index = np.array([m.index[c] for c in m.base_coins])[pf_slot]

    # The holdings matrix: portfolios × instruments, sparse; duplicates (rows of one symbol) are
    # summed when it is built, which is the netting per symbol of §11.1.
    H = sparse.csr_matrix((r_q, (r_pf, r_ins)), shape=(n_pf, n_ins))
    # Everything §5 and §6 sum linearly over holdings, in one sparse × dense product:
    # column 0 the coin delta; then coin vega per maturity bucket (§5B), coin delta per maturity
    # bucket (§5D1), coin delta per settlement bucket (§5C).
    nb = len(m.bucket_days)
    W = np.zeros((n_ins, 1 + 2 * nb + 3))
    rows = np.arange(n_ins)
    W[:, 0] = m.delta
    W[rows, 1 + m.bucket] = np.where(m.is_option, m.coin_vega, 0.0)
    W[rows, 1 + nb + m.bucket] = m.delta
    W[rows, 1 + 2 * nb + m.settlement] = m.delta
    X = np.asarray(H @ W)
    vega_b, delta_b, sd = X[:, 1:1 + nb], X[:, 1 + nb:1 + 2 * nb].copy(), X[:, 1 + 2 * nb:]

    # ---- §6 spot hedge leg, recomputed per portfolio (§11.3).
    D = X[:, 0]
    eligible = np.array([bool(p["spotHedgeEligible"]) for p in m.params])
    bal_by_coin = np.bincount(b_acc * n_coins + b_coin, b_amt, minlength=n_acc * n_coins)
    u_balance = np.where(d["spot"][u_acc] & eligible[u_slot],
                         bal_by_coin[u_acc * n_coins + m.coin_id_of_slot[u_slot]], 0.0)
    B = u_balance[pf_unit]
    h = np.where((B > 0) & (D < 0), np.minimum(B, -D), np.where((B < 0) & (D > 0), np.maximum(B, -D), 0.0))

    # ---- §3, §4 scenario P&L: holdings @ (instruments × scenarios, dense), one product per base
    # coin (its portfolios are one row range); then the spot leg and the max loss.
    max_loss = np.zeros(n_pf)
    worst_move = np.zeros(n_pf)
    worst_shock = np.zeros(n_pf, dtype=np.int64)
    for s in range(n_slots):
        a, b = slot_start[s], slot_start[s + 1]
        if a == b:
            continue
        members = np.flatnonzero(m.slot == s)
        R = np.zeros((n_ins, m.risk[s].shape[1]))
        R[members] = m.risk[s][m.row[members]]
        table = np.asarray(H[a:b] @ R).reshape(b - a, -1, 3)
        hs = h[a:b]
        leg = hs[:, None] * m.index[m.base_coins[s]] * m.moves[s][None, :]
        leg = np.where(hs[:, None] < 0, np.maximum(0.0, leg), leg)    # a liability's leg: gains only (§11.4)
        table += leg[:, :, None]
        flat = table.reshape(b - a, -1)
        worst = flat.argmin(axis=1)         # the first minimum: moves ascending, then up, unchanged, down (§11.6)
        max_loss[a:b] = np.maximum(0.0, -flat[np.arange(b - a), worst])
        worst_move[a:b] = m.moves[s][worst // 3]
        worst_shock[a:b] = worst % 3

    # ---- §5 contingencies.
    # A: net short per (expiry, strike) group: holdings @ (instruments × groups indicator), sparse.
    opt = np.flatnonzero(m.is_option)
    ind = sparse.csr_matrix((np.ones(len(opt)), (opt, m.group[opt])), shape=(n_ins, max(m.group_count, 1)))
    Gm = (H @ ind).tocsr()
    g_rows = np.repeat(np.arange(n_pf), np.diff(Gm.indptr))
    c_option = np.bincount(g_rows, np.maximum(0.0, -Gm.data), minlength=n_pf) * P("shortOptionFactor") * index

    def spread(values):
        """`|T_L − T_S| · min(L, S)` over the per-bucket amounts (§5B, §5D1); 0 unless both sides."""
        pos_v = np.where(values > 0, values, 0.0)
        neg_v = np.where(values < 0, -values, 0.0)
        long, short = pos_v.sum(1), neg_v.sum(1)
        long_days, short_days = pos_v @ m.bucket_days, neg_v @ m.bucket_days
        both = (long > 0) & (short > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.abs(long_days / long - short_days / short) * np.minimum(long, short)
        return np.where(both, out, 0.0)

    # B: coin vega per expiry bucket.
    c_vega = spread(vega_b) * P("vegaSpreadFactor") * index
    # C: net delta per settlement bucket.
    c_stable = (np.abs(sd).sum(1) - np.abs(sd.sum(1))) / 2 * P("stablecoinSpreadFactor") * index
    # D1: net delta per maturity bucket, the spot leg at full size in the DTE-0 bucket (§11.4).
    delta_b[:, 0] += h
    d1 = spread(delta_b) * index * P("deltaSpreadFactor")
    # Perpetuals and futures netted per (portfolio, symbol) in row order, as the engine nets: D2
    # reads the net size's sign (a net 0 must be exactly 0), E its magnitude.
    rl = np.flatnonzero(~m.is_option[r_ins])
    lkeys, linv = np.unique(r_pf[rl] * n_ins + r_ins[rl], return_inverse=True)
    lq = np.bincount(linv, r_q[rl])
    l_pf, l_ins = lkeys // n_ins, lkeys % n_ins
    l_delta = lq * m.delta[l_ins]
    # D2: basis of the perpetuals/futures whose net size is opposite to h (§11.9).
    h_l = h[l_pf]
    opposite = (h_l != 0) & (lq != 0) & ((lq > 0) != (h_l > 0))
    w = np.where(opposite, np.abs(l_delta), 0.0)
    bw = np.bincount(l_pf, w, minlength=n_pf)
    bwb = np.bincount(l_pf, w * (m.mark[l_ins] / m.base_index[l_ins] - 1), minlength=n_pf)
    with np.errstate(invalid="ignore", divide="ignore"):
        basis = np.where(bw > 0, bwb / bw, 0.0)
    d2 = np.where(h != 0, np.abs(h) * index * P("basisFactor") * np.maximum(0.0, np.abs(basis) - P("basisThreshold")), 0.0)
    c_delta = d1 + d2
    # E: Σ|δ| over perpetuals and futures (net per symbol).
    c_fut = np.bincount(l_pf, np.abs(l_delta), minlength=n_pf) * P("futuresRiskFactor") * index

    mm = max_loss + (c_option + c_vega + c_stable + c_delta + c_fut)

    # ---- §7 governing portfolio: the first maximum of C, A+C, B+C (§11.6).
    mm3 = np.full(n_units * 3, -np.inf)
    mm3[pf_keys] = mm
    mm3 = mm3.reshape(n_units, 3)
    gov = np.zeros(n_units, dtype=np.int64)
    best = mm3[:, 0].copy()
    for k in (1, 2):
        better = mm3[:, k] > best
        gov[better] = k
        best = np.where(better, mm3[:, k], best)
    unit_mm = best
    im_factor = np.array([p["imFactor"] for p in m.params])[u_slot]
    unit_im = unit_mm * im_factor

    # ---- §8 totals (borrowing first, then units in coin order, as the engine adds them), rates, stage.
    acc_range = np.arange(n_acc)
    total_mm = np.bincount(np.concatenate([acc_range, u_acc]), np.concatenate([borrow_mm, unit_mm]), minlength=n_acc)
    total_im = np.bincount(np.concatenate([acc_range, u_acc]), np.concatenate([borrow_im, unit_im]), minlength=n_acc)
    den = margin_balance + order_loss

    def rate(total):   # §11.12: 0 when the total is 0; +∞ on a non-positive denominator
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total == 0, 0.0, np.where(den > 0, total / den, np.inf))

    mm_rate, im_rate = rate(total_mm), rate(total_im)
    stage = np.where(mm_rate >= stages["liquidationMMRate"], 3,
                     np.where(has_liability & (mm_rate >= stages["autoRepayMMRate"]), 2,
                              np.where(im_rate >= stages["imBreachIMRate"], 1, 0)))
    # units.csv (docs/formats.md): the governing portfolio's figures, by account then base coin.
    g = pf_of_key[np.arange(n_units) * 3 + gov]
    units = dict(
        u_acc=u_acc, base_coin=np.array(m.base_coins)[u_slot], max_loss=max_loss[g], max_loss_price_move=worst_move[g],
        max_loss_iv_shock=SHOCK_NAMES[worst_shock[g]], option_contingency=c_option[g],
        option_vega_contingency=c_vega[g], usdt_usdc_contingency=c_stable[g], future_delta_contingency=c_delta[g],
        future_contingency=c_fut[g], mm=unit_mm, im=unit_im, governing_portfolio=PORTFOLIO_NAMES[gov],
        hedge_spot_size=h[g])
    return dict(margin_balance=margin_balance, order_loss=order_loss, total_im=total_im, total_mm=total_mm,
                im_rate=im_rate, mm_rate=mm_rate, stage=STAGE_NAMES[stage], units=units)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="batch folder (accounts.csv, balances.csv, positions.csv, orders.csv)")
    ap.add_argument("--market", required=True, help="market snapshot JSON")
    ap.add_argument("--params", required=True, help="parameter file JSON (e.g. data/params/pm-params.json)")
    ap.add_argument("--out", required=True, help="output folder (margins.csv is written there)")
    ap.add_argument("--timings", action="store_true", help="print the read / compute / write split to stderr")
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    resolve, stages = load_params(a.params)
    market = Market(a.market, resolve)
    t_price = time.perf_counter()
    data = read_inputs(a.input, market)
    t1 = time.perf_counter()
    r = margin(data, market, stages)
    t2 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    margins = pl.DataFrame({
        "account_id": data["account_ids"],
        "margin_balance": r["margin_balance"], "order_loss": r["order_loss"],
        "total_im": r["total_im"], "total_mm": r["total_mm"],
        "im_rate": r["im_rate"], "mm_rate": r["mm_rate"],
        "stage": r["stage"],
    }).with_columns(error=pl.lit(None, dtype=pl.String))
    u = r["units"]
    units = pl.DataFrame({"account_id": data["account_ids"].gather(u.pop("u_acc")), **u})
    # Each file written beside its final name and renamed into place (no half-written file).
    for name, df in (("margins.csv", margins), ("units.csv", units)):
        tmp = os.path.join(a.out, f".{name}.tmp")
        df.write_csv(tmp, null_value="")
        os.replace(tmp, os.path.join(a.out, name))
    t3 = time.perf_counter()
    if a.timings:
        print(f"pm_peer: {len(r['stage'])} accounts; read {t1 - t0:.3f} s (market priced {t_price - t0:.3f} s), "
              f"compute {t2 - t1:.3f} s, write {t3 - t2:.3f} s, total {t3 - t0:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
