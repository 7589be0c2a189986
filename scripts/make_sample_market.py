#!/usr/bin/env python3
"""Writes data/sample/market.json: a realistic, fixed market snapshot (FORMATS.md market format).

Standard library only and fully deterministic (no randomness): running it twice gives identical bytes.

    python3 scripts/make_sample_market.py [OUTPUT]      (default: data/sample/market.json)

How the numbers are made:
  * Forward of an expiry:  F = index * exp(b(T) * T), b(T) a small annualised contango that rises
    with maturity; rounded to the coin's price precision. The same F is every option's
    `underlyingPrice` for that expiry and the `markPrice` of the dated futures of that expiry.
  * Strikes: a ladder around F, finer near the money (see COINS[...]["tiers"]), wider for longer expiries.
  * Implied vol:  sigma(K) = atm(T) + (1 + 1.5 T) * (skew * z + curv * z^2),  z = ln(K/F) / (atm(T) * sqrt(T)),
    z clipped to [-4, 4]; atm(T) has a term structure. Rounded to 8 decimals.
  * markPrice:  Black-76 with zero rate, F = underlyingPrice, T = (expiry - time) s / (365 * 86400),
    sigma = markIv (the rounded one), in the settle currency; rounded to 8 decimals (more where
    needed to keep 12 significant digits), so it reprices from markIv to ~5e-12 relative.
  * Perpetual marks: index * (1 + a few basis points).
"""
import datetime as dt
import json
import math
import os
import sys

TIME = "2026-11-24T02:28:10.506Z"

INDEX = {"BTC": 91250.37, "ETH": 3050.82, "SOL": 142.615, "USDT": 0.9998, "USDC": 1.0}

# Option expiries (08:00 UTC). Kinds are only for documentation.
EXPIRIES = [
    ("2026-11-25", "daily"),
    ("2026-11-27", "weekly"),
    ("2026-12-04", "weekly"),
    ("2026-12-25", "monthly"),
    ("2027-03-26", "quarterly"),
    ("2027-06-25", "quarterly"),
]

# Per base coin:
#   dp       decimals of forwards / perp marks
#   basis    (short, long, tau years): b(T) = long - (long - short) * exp(-T / tau)
#   atm      (short, long, tau years): atm(T) = long - (long - short) * exp(-T / tau)
#   skew, curv   smile coefficients in z units (negative skew: OTM puts richer than OTM calls)
#   half     per expiry (same order as EXPIRIES): half-width of the strike ladder in log-moneyness,
#            strikes in [F*exp(-half), F*exp(+half)]
#   tiers    per expiry group ("short" <= 7 days, "mid" <= 45 days, "long"): [(max |ln(K/F)|, spacing), ...];
#            a strike is listed when it is a multiple of the spacing of its moneyness tier
#   usdt     expiries that also list USDT-settled twins
INF = float("inf")
COINS = {
    "BTC": {
        "dp": 2, "basis": (0.050, 0.070, 0.25), "atm": (0.45, 0.55, 0.30),
        "skew": -0.020, "curv": 0.0080,
        "half": [0.09, 0.13, 0.22, 0.36, 0.45, 0.50],
        "tiers": {"short": [(0.04, 1000), (INF, 2000)],
                  "mid": [(0.03, 1000), (0.10, 2000), (INF, 5000)],
                  "long": [(0.03, 1000), (0.10, 2000), (0.25, 5000), (INF, 10000)]},
        "usdt": {"2026-12-25", "2027-03-26"},
    },
    "ETH": {
        "dp": 2, "basis": (0.055, 0.075, 0.25), "atm": (0.57, 0.68, 0.30),
        "skew": -0.022, "curv": 0.0090,
        "half": [0.09, 0.15, 0.25, 0.36, 0.45, 0.50],
        "tiers": {"short": [(0.03, 25), (INF, 50)],
                  "mid": [(0.02, 25), (0.08, 50), (0.20, 100), (INF, 200)],
                  "long": [(0.03, 50), (0.12, 100), (INF, 250)]},
        "usdt": {"2026-12-25", "2027-03-26"},
    },
    "SOL": {
        "dp": 3, "basis": (0.060, 0.085, 0.25), "atm": (0.72, 0.88, 0.30),
        "skew": -0.018, "curv": 0.0100,
        "half": [0.10, 0.16, 0.25, 0.38, 0.48, 0.55],
        "tiers": {"short": [(0.03, 1), (0.10, 2), (INF, 5)],
                  "mid": [(0.02, 1), (0.08, 2), (0.20, 5), (INF, 10)],
                  "long": [(0.04, 2), (0.15, 5), (INF, 10)]},
        "usdt": set(),
    },
}

# Perpetuals: (symbol, base, settle, offset from index in basis points); inverse ones settle in their base coin
PERPETUALS = [
    ("BTCUSDT", "BTC", "USDT", +1.3),
    ("BTCUSDC", "BTC", "USDC", +0.9),
    ("BTCUSD", "BTC", "BTC", -0.6),
    ("ETHUSDT", "ETH", "USDT", +1.6),
    ("ETHUSDC", "ETH", "USDC", +1.1),
    ("ETHUSD", "ETH", "ETH", -0.4),
    ("SOLUSDT", "SOL", "USDT", +2.2),
]

# Dated futures: (base, settle, expiry date); linear USDC-settled and inverse.
FUTURES = [
    ("BTC", "USDC", "2026-11-27"),
    ("BTC", "USDC", "2026-12-25"),
    ("BTC", "USDC", "2027-03-26"),
    ("ETH", "USDC", "2026-12-25"),
    ("ETH", "USDC", "2027-03-26"),
    ("BTC", "BTC", "2026-12-25"),
    ("BTC", "BTC", "2027-03-26"),
    ("ETH", "ETH", "2027-03-26"),
]

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def parse_instant(s):
    return dt.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z")


NOW = parse_instant(TIME)


def expiry_instant(date):
    return date + "T08:00:00Z"


def year_frac(date):
    secs = (parse_instant(expiry_instant(date)) - NOW).total_seconds()
    return secs / (365 * 86400)


def date_code(date):
    """2026-12-04 -> 4DEC26 (exchange style: no leading zero on the day)."""
    y, m, d = (int(x) for x in date.split("-"))
    return f"{d}{MONTHS[m - 1]}{y % 100:02d}"


def ncdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black76(F, K, T, sigma, is_call):
    sd = sigma * math.sqrt(T)
    d1 = (math.log(F / K) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    if is_call:
        return F * ncdf(d1) - K * ncdf(d2)
    return K * ncdf(-d2) - F * ncdf(-d1)


def round_price(x):
    """8 decimals, or more when needed to keep 12 significant digits (small prices)."""
    if x == 0:
        return 0.0
    return round(x, max(8, 11 - int(math.floor(math.log10(abs(x))))))


def term(params, T):
    short, long_, tau = params
    return long_ - (long_ - short) * math.exp(-T / tau)


def forward(coin, date):
    c = COINS[coin]
    T = year_frac(date)
    return round(INDEX[coin] * math.exp(term(c["basis"], T) * T), c["dp"])


def smile(coin, F, K, T):
    c = COINS[coin]
    atm = term(c["atm"], T)
    z = math.log(K / F) / (atm * math.sqrt(T))
    z = max(-4.0, min(4.0, z))
    g = 1.0 + 1.5 * T  # longer expiries carry more vol points of skew per standard deviation
    return atm + g * (c["skew"] * z + c["curv"] * z * z)


def strikes(coin, F, date):
    c = COINS[coin]
    half = c["half"][[d for d, _ in EXPIRIES].index(date)]
    days = year_frac(date) * 365
    tiers = c["tiers"]["short" if days <= 7 else "mid" if days <= 45 else "long"]
    unit = min(step for _, step in tiers)
    kmin, kmax = F * math.exp(-half), F * math.exp(half)
    out = []
    k = unit * math.ceil(kmin / unit)
    while k <= kmax:
        m = abs(math.log(k / F))
        step = next(step for band, step in tiers if m <= band)
        if k % step == 0:
            out.append(k)
        k += unit
    return out


def option_entries(coin):
    out = []
    for date, _kind in EXPIRIES:
        T = year_frac(date)
        F = forward(coin, date)
        settles = ["USDC"] + (["USDT"] if date in COINS[coin]["usdt"] else [])
        for settle in settles:
            for K in strikes(coin, F, date):
                iv = round(smile(coin, F, K, T), 8)
                for opt, is_call in (("C", True), ("P", False)):
                    price = round_price(black76(F, K, T, iv, is_call))
                    out.append({
                        "symbol": f"{coin}-{date_code(date)}-{K}-{opt}-{settle}",
                        "kind": "option", "baseCoin": coin, "settleCoin": settle,
                        "optionType": "Call" if is_call else "Put", "strike": K,
                        "expiry": expiry_instant(date),
                        "markPrice": price, "underlyingPrice": F, "markIv": iv,
                    })
    return out


def perpetual_entries():
    out = []
    for sym, base, settle, bp in PERPETUALS:
        out.append({"symbol": sym, "kind": "perpetual", "baseCoin": base, "settleCoin": settle,
                    "markPrice": round(INDEX[base] * (1 + bp * 1e-4), COINS[base]["dp"])})
    return out


def future_entries():
    out = []
    for base, settle, date in FUTURES:
        quote = "USD" if settle == base else settle
        out.append({"symbol": f"{base}{quote}-{date_code(date)}", "kind": "future", "baseCoin": base,
                    "settleCoin": settle, "expiry": expiry_instant(date), "markPrice": forward(base, date)})
    return out


def render(doc):
    lines = ["{",
             f'  "time": {json.dumps(doc["time"])},',
             f'  "indexPrices": {json.dumps(doc["indexPrices"])},',
             '  "instruments": [']
    body = [f"    {json.dumps(i, separators=(', ', ': '))}" for i in doc["instruments"]]
    lines.append(",\n".join(body))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "data", "sample", "market.json")
    instruments = perpetual_entries() + future_entries()
    for coin in ("BTC", "ETH", "SOL"):
        instruments += option_entries(coin)
    symbols = [i["symbol"] for i in instruments]
    assert len(symbols) == len(set(symbols)), "duplicate symbol"
    doc = {"time": TIME, "indexPrices": INDEX, "instruments": instruments}
    text = render(doc)
    json.loads(text)  # must be valid JSON
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    print(f"wrote {path}: {len(instruments)} instruments", file=sys.stderr)


if __name__ == "__main__":
    main()
