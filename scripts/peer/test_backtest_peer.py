"""Hand-worked checks of scripts/peer/backtest_peer.py (docs/model.md §13), run by
scripts/test-backtest-peer.sh:  python3 -m pytest -q scripts/peer/test_backtest_peer.py

A tiny book, market, history and margins folder written here; every expected number is worked out
in the test from §13's formulas (the Black-76 price with math.erf, not the peer's scipy ndtr), not
copied from the peer's output.
"""
import csv
import json
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backtest_peer as bp  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PARAMS = os.path.join(ROOT, "data", "params", "pm-params.json")
YEAR = 365.0 * 86400.0

# Market: 2026-03-01T00:00Z; BTC index 50,000; USDT 0.9998.
MARKET = {
    "time": "2026-03-01T00:00:00Z",
    "indexPrices": {"BTC": 50000.0, "USDT": 0.9998, "USDC": 1.0},
    "instruments": [
        {"symbol": "BTCUSDT", "kind": "perpetual", "baseCoin": "BTC", "settleCoin": "USDT", "markPrice": 50010.0},
        {"symbol": "BTCUSD", "kind": "perpetual", "baseCoin": "BTC", "settleCoin": "BTC", "markPrice": 49990.0},
        # 12 hours left: past expiry after a 1-day horizon → intrinsic at the moved forward.
        {"symbol": "BTC-1MAR26-48000-C", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDC",
         "optionType": "Call", "strike": 48000, "expiry": "2026-03-01T12:00:00Z",
         "markPrice": 2150.0, "underlyingPrice": 50100.0, "markIv": 0.4},
        # Half a year left: Black-76 at T − 1/365.
        {"symbol": "BTC-1SEP26-50000-P", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT",
         "optionType": "Put", "strike": 50000, "expiry": "2026-09-01T00:00:00Z",
         "markPrice": 6000.0, "underlyingPrice": 50500.0, "markIv": 0.5},
        # A vol below minShockedIv (0.01): σ' = max(σ·v, 0.01) lifts it.
        {"symbol": "BTC-1SEP26-50600-C", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT",
         "optionType": "Call", "strike": 50600, "expiry": "2026-09-01T00:00:00Z",
         "markPrice": 100.0, "underlyingPrice": 50500.0, "markIv": 0.005},
    ],
}
# BTC closes: r = +10% (d = Jan 1), −10% (Jan 2), 0 (Jan 3); Jan 4 has no Jan 5 close, so S = 3 at
# h = 1. IV: Jan 1 → Jan 2 rises ×1.2; Jan 3 has no IV, so v = 1 on Jan 2 and Jan 3.
CLOSES = [("2026-01-01", 100.0), ("2026-01-02", 110.0), ("2026-01-03", 99.0), ("2026-01-04", 99.0)]
IVS = [("2026-01-01", 0.5), ("2026-01-02", 0.6)]
R = [0.1, -0.1, 0.0]
V = [1.2, 1.0, 1.0]
DATES = ["2026-01-01", "2026-01-02", "2026-01-03"]

ACCOUNTS = [  # id, spot hedging, balances, positions, total_mm, total_im, stage, unit mm, error
    ("PERP", "false", [("USDT", 1e6)], [("BTCUSDT", 2.0), ("BTCUSD", -1000.0)], 5000.0, 6000.0, "healthy", 5000.0, ""),
    ("EXPIRY", "false", [("USDC", 1e4)], [("BTC-1MAR26-48000-C", -1.0)], 3000.0, 3600.0, "healthy", 3000.0, ""),
    ("LIAB", "true", [("BTC", -1.0), ("USDT", 1e5)], [("BTCUSDT", 0.5)], 100.0, 120.0, "autoRepay", 100.0, ""),
    ("HEDGE", "true", [("BTC", 2.0)], [("BTCUSDT", -1.0)], 50.0, 60.0, "healthy", 50.0, ""),
    ("PUT", "false", [("USDT", 1e4)], [("BTC-1SEP26-50000-P", 1.0), ("BTC-1SEP26-50600-C", 10.0)],
     4000.0, 4800.0, "imBreach", 4000.0, ""),
    ("BAD", "false", [("USDT", 1.0)], [("NOPE", 1.0)], None, None, "", None, "positions.csv line 9: unknown symbol"),
]


def black76(F, K, T, sigma, call):
    """Black-76, zero rate, with the normal CDF from math.erf."""
    N = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
    sd = sigma * math.sqrt(T)
    d1 = (math.log(F / K) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    return F * N(d1) - K * N(d2) if call else K * N(-d2) - F * N(-d1)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    t = tmp_path_factory.mktemp("bt")
    book, hist, margins, out = t / "book", t / "hist", t / "margins", t / "out"
    for d in (book, hist, margins):
        d.mkdir()
    json.dump(MARKET, open(t / "market.json", "w"))
    write_csv(book / "accounts.csv", ["account_id", "spot_hedging"], [(a[0], a[1]) for a in ACCOUNTS])
    write_csv(book / "balances.csv", ["account_id", "coin", "wallet_balance"],
              [(a[0], c, q) for a in ACCOUNTS for c, q in a[2]])
    write_csv(book / "positions.csv", ["account_id", "symbol", "size"], [(a[0], s, q) for a in ACCOUNTS for s, q in a[3]])
    write_csv(margins / "margins.csv",
              ["account_id", "margin_balance", "order_loss", "total_im", "total_mm", "im_rate", "mm_rate", "stage", "error"],
              [(a[0], "" if a[8] else 1.0, "" if a[8] else 0.0, "" if a[8] else a[5], "" if a[8] else a[4],
                "" if a[8] else 0.1, "" if a[8] else 0.1, a[6], a[8]) for a in ACCOUNTS])
    write_csv(margins / "units.csv",
              ["account_id", "base_coin", "max_loss", "max_loss_price_move", "max_loss_iv_shock", "option_contingency",
               "option_vega_contingency", "usdt_usdc_contingency", "future_delta_contingency", "future_contingency",
               "mm", "im", "governing_portfolio", "hedge_spot_size"],
              [(a[0], "BTC", 0, -0.1, "down", 0, 0, 0, 0, 0, a[7], a[7] * 1.2, "positions", 0) for a in ACCOUNTS if not a[8]])
    write_csv(hist / "index-daily.csv", ["date", "coin", "close"], [(d, "BTC", c) for d, c in CLOSES])
    write_csv(hist / "iv-daily.csv", ["coin", "date", "iv"], [("BTC", d, v) for d, v in IVS])   # any column order
    bp.main(["--input", str(book), "--market", str(t / "market.json"), "--params", PARAMS, "--history", str(hist),
             "--margins", str(margins), "--out", str(out), "--horizon", "1", "--from", "2026-01-01", "--to", "2026-01-04"])
    read = lambda n: list(csv.DictReader(open(out / n)))
    return {"bt": {r["account_id"]: r for r in read("backtest.csv")},
            "units": {r["account_id"]: r for r in read("backtest-units.csv")},
            "scen": read("scenarios.csv"), "summary": json.load(open(out / "summary.json")),
            "paths": {"book": str(book), "market": str(t / "market.json"), "hist": str(hist),
                      "margins": str(margins), "out": str(out)}}


def losses():
    """Each backtested account's loss per scenario, from §13 by hand."""
    usdt = 0.9998
    out = {}
    out["PERP"] = [-(2.0 * 50010.0 * r * usdt + -1000.0 * r) for r in R]            # linear + inverse (r per USD)
    # Short call past expiry: intrinsic max(0, F(1+r) − K) at the moved forward; 55,110, 45,090, 50,100.
    out["EXPIRY"] = [-(-1.0 * (max(0.0, 50100.0 * (1 + r) - 48000.0) - 2150.0) * 1.0) for r in R]
    # Liability −1 BTC hedging +0.5 BTC of perpetual: h = max(−1, −0.5) = −0.5; its leg gains only.
    out["LIAB"] = [-(0.5 * 50010.0 * r * usdt + max(0.0, -0.5 * 50000.0 * r)) for r in R]
    # +2 BTC balance hedging −1 BTC of perpetual: h = min(2, 1) = 1, the leg's P&L both ways.
    out["HEDGE"] = [-(-1.0 * 50010.0 * r * usdt + 1.0 * 50000.0 * r) for r in R]
    T = 184 * 86400 / YEAR - 1.0 / 365.0                                               # Mar 1 → Sep 1 is 184 days
    put = [(black76(50500.0 * (1 + r), 50000.0, T, max(0.5 * v, 0.01), False) - 6000.0) * usdt for r, v in zip(R, V)]
    call = [(black76(50500.0 * (1 + r), 50600.0, T, max(0.005 * v, 0.01), True) - 100.0) * usdt for r, v in zip(R, V)]
    out["PUT"] = [-(p + 10.0 * c) for p, c in zip(put, call)]
    return out


def test_scenarios_and_window(run):
    rows = run["scen"]
    assert [r["date"] for r in rows] == DATES        # Jan 4 has no close at Jan 5
    for row, r, v in zip(rows, R, V):
        assert float(row["return_BTC"]) == pytest.approx(r, abs=1e-15)
        assert float(row["iv_ratio_BTC"]) == pytest.approx(v, rel=1e-15)
    s = run["summary"]
    assert s["scenarios"] == 3 and s["horizon"] == 1 and s["window"] == {"from": "2026-01-01", "to": "2026-01-03"}
    assert s["coinsWithIv"] == ["BTC"] and s["coinsWithoutIv"] == []
    assert s["accounts"] == 6 and s["errors"] == 1


def test_account_losses_breaches_and_worst(run):
    L = losses()
    mm = {a[0]: a[4] for a in ACCOUNTS}
    im = {a[0]: a[5] for a in ACCOUNTS}
    for acc, ls in L.items():
        row = run["bt"][acc]
        worst = max(ls)
        k = ls.index(worst)
        assert float(row["worst_loss"]) == pytest.approx(worst, rel=1e-9, abs=1e-9), acc
        assert row["worst_date"] == DATES[k], acc
        assert float(row["worst_shortfall"]) == pytest.approx(max(0.0, worst - mm[acc]), rel=1e-9, abs=1e-9), acc
        assert int(row["breaches_mm"]) == sum(x > mm[acc] for x in ls), acc
        assert int(row["breaches_im"]) == sum(x > im[acc] for x in ls), acc
        assert int(row["scenarios"]) == 3


def test_hand_numbers(run):
    """A few of the numbers above, written out in full."""
    bt = run["bt"]
    # PERP at r = −10%: 2·50,010·0.1·0.9998 − 1,000·0.1 = 9,899.9996 lost > 5,000 (MM) and > 6,000 (IM).
    assert float(bt["PERP"]["worst_loss"]) == pytest.approx(9899.9996, rel=1e-12)
    assert bt["PERP"]["worst_date"] == "2026-01-02"
    assert (bt["PERP"]["breaches_mm"], bt["PERP"]["breaches_im"]) == ("1", "1")
    # EXPIRY at r = +10%: −(55,110 − 48,000 − 2,150) = −4,960, a loss of 4,960 > 3,000.
    assert float(bt["EXPIRY"]["worst_loss"]) == pytest.approx(4960.0, rel=1e-12)
    # LIAB (−1 BTC liability, +0.5 BTC perpetual, h = −0.5): at r = −10% the perpetual loses
    # 0.5·50,010·0.1·0.9998 = 2,499.9999 and the leg gains 2,500 (a net gain of 0.0001); at r = +10%
    # the perpetual gains 2,499.9999 and the leg's loss of 2,500 is not counted (gains only). So its
    # worst loss is 0, on the flat day.
    assert float(bt["LIAB"]["worst_loss"]) == 0.0
    assert bt["LIAB"]["worst_date"] == "2026-01-03"
    assert bt["LIAB"]["breaches_mm"] == "0"
    assert float(run["units"]["LIAB"]["worst_loss"]) == 0.0
    # HEDGE (+2 BTC, −1 BTC perpetual, h = 1): at r = −10% the leg loses 5,000 and the short
    # perpetual gains 50,010·0.1·0.9998 = 4,999.9998: a loss of 0.0002, the worst day.
    assert float(bt["HEDGE"]["worst_loss"]) == pytest.approx(0.0002, abs=1e-9)
    assert bt["HEDGE"]["worst_date"] == "2026-01-02"


def test_error_account_listed_not_backtested(run):
    row = run["bt"]["BAD"]
    assert row["error"] == "positions.csv line 9: unknown symbol"
    assert all(row[c] == "" for c in row if c not in ("account_id", "error"))
    assert "BAD" not in run["units"]
    assert list(run["bt"]) == [a[0] for a in ACCOUNTS]   # margins.csv order


def test_scenario_sums(run):
    L = losses()
    mm = {a[0]: a[4] for a in ACCOUNTS}
    for k, row in enumerate(run["scen"]):
        assert float(row["book_loss"]) == pytest.approx(sum(ls[k] for ls in L.values()), rel=1e-12)
        assert float(row["shortfall"]) == pytest.approx(sum(max(0.0, ls[k] - mm[a]) for a, ls in L.items()), rel=1e-12)
        assert int(row["accounts_breached_mm"]) == sum(ls[k] > mm[a] for a, ls in L.items())


def test_statistics_of_one_account(run):
    """PERP: one breach of 3 (the middle day): Kupiec and Christoffersen by hand."""
    p = 1 - 0.99
    S, x = 3, 1
    lr = -2 * ((S - x) * math.log(1 - p) + x * math.log(p)) + 2 * ((S - x) * math.log(1 - x / S) + x * math.log(x / S))
    assert float(run["bt"]["PERP"]["kupiec_p"]) == pytest.approx(math.erfc(math.sqrt(lr / 2)), rel=1e-12)
    # Transitions 0→1, 1→0: n01 = n10 = 1; π01 = 1, π11 undefined (dropped), π = 1/2.
    lr_c = -2 * (1 * math.log(0.5) + 1 * math.log(0.5)) + 2 * (0.0)
    assert float(run["bt"]["PERP"]["christoffersen_p"]) == pytest.approx(math.erfc(math.sqrt(lr_c / 2)), rel=1e-12)
    # B(1) for Binomial(3, 0.01) = 0.99^3 + 3·0.01·0.99^2 = 0.999702 → yellow (≥ 0.95, < 0.9999).
    assert run["bt"]["PERP"]["zone"] == "yellow"


def test_basel_table():
    p = 1 - 0.99
    zones = [bp.ZONES[bp.zone_of(250, x, p)] for x in range(13)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 3


def test_kupiec_and_christoffersen_edges():
    p = 0.01
    # x = 0: LR = −2·S·ln(1 − p); x = S: LR = −2·S·ln p (the alternative's terms are 0).
    assert bp.kupiec_lr(250, 0, p) == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-14)
    assert bp.kupiec_lr(250, 250, p) == pytest.approx(-2 * 250 * math.log(0.01), rel=1e-14)
    # No transitions at all (S = 1) and no breach: LR = 0, p = 1.
    assert bp.christoffersen_lr(0, 0, 0, 0) == 0.0
    assert bp.christoffersen_lr(249, 0, 0, 0) == 0.0
    # Every day a breach: only n11; π = π11 = 1 → LR = 0.
    assert bp.christoffersen_lr(0, 0, 0, 249) == 0.0


def test_chunking_does_not_change_bytes(run, tmp_path):
    """Chunks of 1 unit give the same bytes as the default chunk (the per-scenario sums are exact)."""
    t = tmp_path
    args = ["--input", run["paths"]["book"], "--market", run["paths"]["market"], "--params", PARAMS,
            "--history", run["paths"]["hist"], "--margins", run["paths"]["margins"], "--horizon", "1",
            "--from", "2026-01-01", "--to", "2026-01-04"]
    bp.main(args + ["--out", str(t / "one"), "--chunk-units", "1"])
    for name in ("backtest.csv", "backtest-units.csv", "scenarios.csv", "summary.json"):
        assert open(t / "one" / name, "rb").read() == open(os.path.join(run["paths"]["out"], name), "rb").read(), name


def test_compare_backtest_catches_and_tolerates(run, tmp_path, capsys):
    """compare_backtest.py: a breach count off by one fails; a p-value of 1 against one 3e-9 below it
    passes (their LRs, 0 and ~1.4e-17, agree) while one 1e-5 below it fails; a loss moved by 1e-7
    relative fails."""
    import shutil
    import compare_backtest as cb
    out = run["paths"]["out"]

    def edited(name, column, account, value):
        d = tmp_path / f"{column}-{value}"
        shutil.copytree(out, d)
        rows = list(csv.reader(open(d / name)))
        col = rows[0].index(column)
        for row in rows[1:]:
            if row[0] == account:
                row[col] = value(row[col]) if callable(value) else value
        with open(d / name, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        return str(d)

    assert cb.main([out, out]) == 0
    assert cb.main([out, edited("backtest.csv", "breaches_mm", "PERP", "2")]) == 1
    assert cb.main([out, edited("backtest.csv", "worst_loss", "PERP", lambda v: repr(float(v) * (1 + 1e-7)))]) == 1
    assert run["bt"]["LIAB"]["christoffersen_p"] == "1.0"
    assert cb.main([out, edited("backtest.csv", "christoffersen_p", "LIAB", repr(1.0 - 3e-9))]) == 0
    assert cb.main([out, edited("backtest.csv", "christoffersen_p", "LIAB", repr(1.0 - 1e-5))]) == 1   # LR 1.6e-10
    capsys.readouterr()


def test_compare_backtest_knife_edge(run, tmp_path, capsys):
    """A worst loss equal to the margin to rounding (a long-option book losing exactly its premium):
    breach counts that differ there are tolerated and reported; the same edit elsewhere fails."""
    import shutil
    import compare_backtest as cb
    out = run["paths"]["out"]

    def copy(tag, edit):
        d = tmp_path / tag
        shutil.copytree(out, d)
        rows = list(csv.reader(open(d / "backtest.csv")))
        h = rows[0]
        for row in rows[1:]:
            if row[0] == "EXPIRY":
                edit(h, row)
        with open(d / "backtest.csv", "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        return d

    def at_margin(h, row):       # total_mm := worst_loss (to the last digit but one)
        row[h.index("total_mm")] = repr(float(row[h.index("worst_loss")]) * (1 - 1e-15))

    def breach_more(h, row):
        at_margin(h, row)
        row[h.index("breaches_mm")] = str(int(row[h.index("breaches_mm")]) + 1)

    a, b = copy("a", at_margin), copy("b", breach_more)
    assert cb.main([str(a), str(b)]) == 0
    assert "knife edges tolerated: 1 accounts" in capsys.readouterr().out
    # Not at the margin: the same count difference is a failure.
    c = copy("c", lambda h, row: row.__setitem__(h.index("breaches_mm"), str(int(row[h.index("breaches_mm")]) + 1)))
    assert cb.main([out, str(c)]) == 1
    capsys.readouterr()
