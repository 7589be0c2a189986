import CKernels
import Foundation
import PortfolioMargin

/// A realistic, deterministic market snapshot (docs/formats.md `market.json`); seed 1 is the shipped
/// `data/sample/market.json`. (It began as a port of a Python script, since retired: this is the only generator.)
///
/// Contents: BTC, ETH and SOL option chains (USDC-settled on every expiry, USDT-settled twins on
/// the BTC and ETH December and March expiries) with a volatility smile over six expiries (a daily,
/// two weeklies, a monthly and two quarterlies); linear USDT and USDC perpetuals and inverse (coin-settled)
/// perpetuals; linear USDC and inverse dated futures; index prices of the base coins and of the
/// stablecoins USDT and USDC.
///
/// How the numbers are made:
/// - forward of an expiry `F = index · exp(b(T) · T)`, `b(T)` a contango that rises with maturity,
///   rounded to the coin's price precision; it is every option's `underlyingPrice` of that expiry and
///   the `markPrice` of the dated futures of that expiry;
/// - strikes: a ladder around F, finer near the money, wider for longer expiries;
/// - implied vol `σ(K) = atm(T) + (1 + 1.5T)(skew · z + curv · z²)`, `z = ln(K/F) / (atm(T)√T)`
///   clipped to [−4, 4], rounded to 8 decimals;
/// - `markPrice`: Black-76 (`pm_black76_greeks`, zero rate) at that rounded vol, ACT/365 time,
///   rounded to 8 decimals (more for small prices, keeping 12 significant digits);
/// - perpetual marks: index × (1 + a few basis points).
///
/// Seed 1 reproduces the shipped snapshot byte for byte; any other seed moves the BTC, ETH and SOL
/// index levels by up to ±1% (every forward, strike ladder and mark follows).
public enum SyntheticMarket {
    /// The snapshot instant.
    public static let time = "2026-11-24T02:28:10.506Z"

    /// The JSON text of the snapshot for `seed` (newline-terminated, one instrument per line).
    public static func make(seed: UInt64) -> String {
        var index = baseIndex
        if seed != 1 {
            var rng = SynthSplitMix64(seed: seed)
            for (n, (coin, level)) in index.enumerated() where coins[coin] != nil {
                let u = rng.nextUnit()  // [0, 1)
                let dp = coins[coin]!.dp
                index[n].1 = synthPyRound(level * (1 + 0.02 * (u - 0.5)), dp)
            }
        }
        let builder = Builder(index: Dictionary(uniqueKeysWithValues: index.map { ($0.0, $0.1) }))
        var lines: [String] = []
        lines.reserveCapacity(1000)
        lines += builder.perpetualEntries()
        lines += builder.futureEntries()
        for coin in ["BTC", "ETH", "SOL"] { lines += builder.optionEntries(coin) }
        var text = "{\n"
        text += "  \"time\": \"\(time)\",\n"
        text += "  \"indexPrices\": {" + index.map { "\"\($0.0)\": \($0.1.description)" }.joined(separator: ", ") + "},\n"
        text += "  \"instruments\": [\n"
        text += lines.map { "    " + $0 }.joined(separator: ",\n")
        text += "\n  ]\n}\n"
        return text
    }

    // MARK: - The script's tables

    static let baseIndex: [(String, Double)] = [("BTC", 91250.37), ("ETH", 3050.82), ("SOL", 142.615), ("USDT", 0.9998), ("USDC", 1.0)]

    /// Option expiry dates (08:00 UTC): daily, weekly, weekly, monthly, quarterly, quarterly.
    static let expiries = ["2026-11-25", "2026-11-27", "2026-12-04", "2026-12-25", "2027-03-26", "2027-06-25"]

    /// A strike-spacing tier: strikes with |ln(K/F)| ≤ `band` are listed on multiples of `step`.
    struct Tier { let band: Double; let step: Int }

    /// Per base coin: price decimals, basis and ATM-vol term structures (short, long, tau years),
    /// smile coefficients, per-expiry ladder half-widths in log-moneyness, spacing tiers per expiry
    /// group (≤ 7 days, ≤ 45 days, longer) and the expiries that also list USDT-settled twins.
    struct CoinSpec {
        let dp: Int
        let basis: (Double, Double, Double)
        let atm: (Double, Double, Double)
        let skew: Double
        let curv: Double
        let half: [Double]
        let short: [Tier], mid: [Tier], long: [Tier]
        let usdt: Set<String>
    }

    static let coins: [String: CoinSpec] = [
        "BTC": CoinSpec(dp: 2, basis: (0.050, 0.070, 0.25), atm: (0.45, 0.55, 0.30), skew: -0.020, curv: 0.0080,
                        half: [0.09, 0.13, 0.22, 0.36, 0.45, 0.50],
                        short: [Tier(band: 0.04, step: 1000), Tier(band: .infinity, step: 2000)],
                        mid: [Tier(band: 0.03, step: 1000), Tier(band: 0.10, step: 2000), Tier(band: .infinity, step: 5000)],
                        long: [Tier(band: 0.03, step: 1000), Tier(band: 0.10, step: 2000), Tier(band: 0.25, step: 5000), Tier(band: .infinity, step: 10000)],
                        usdt: ["2026-12-25", "2027-03-26"]),
        "ETH": CoinSpec(dp: 2, basis: (0.055, 0.075, 0.25), atm: (0.57, 0.68, 0.30), skew: -0.022, curv: 0.0090,
                        half: [0.09, 0.15, 0.25, 0.36, 0.45, 0.50],
                        short: [Tier(band: 0.03, step: 25), Tier(band: .infinity, step: 50)],
                        mid: [Tier(band: 0.02, step: 25), Tier(band: 0.08, step: 50), Tier(band: 0.20, step: 100), Tier(band: .infinity, step: 200)],
                        long: [Tier(band: 0.03, step: 50), Tier(band: 0.12, step: 100), Tier(band: .infinity, step: 250)],
                        usdt: ["2026-12-25", "2027-03-26"]),
        "SOL": CoinSpec(dp: 3, basis: (0.060, 0.085, 0.25), atm: (0.72, 0.88, 0.30), skew: -0.018, curv: 0.0100,
                        half: [0.10, 0.16, 0.25, 0.38, 0.48, 0.55],
                        short: [Tier(band: 0.03, step: 1), Tier(band: 0.10, step: 2), Tier(band: .infinity, step: 5)],
                        mid: [Tier(band: 0.02, step: 1), Tier(band: 0.08, step: 2), Tier(band: 0.20, step: 5), Tier(band: .infinity, step: 10)],
                        long: [Tier(band: 0.04, step: 2), Tier(band: 0.15, step: 5), Tier(band: .infinity, step: 10)],
                        usdt: []),
    ]

    /// Perpetuals: symbol, base, settle, mark offset from index in basis points (inverse ones settle in the base coin).
    static let perpetuals: [(String, String, String, Double)] = [
        ("BTCUSDT", "BTC", "USDT", +1.3), ("BTCUSDC", "BTC", "USDC", +0.9), ("BTCUSD", "BTC", "BTC", -0.6),
        ("ETHUSDT", "ETH", "USDT", +1.6), ("ETHUSDC", "ETH", "USDC", +1.1), ("ETHUSD", "ETH", "ETH", -0.4),
        ("SOLUSDT", "SOL", "USDT", +2.2),
    ]

    /// Dated futures: base, settle, expiry date (linear USDC-settled and inverse).
    static let futures: [(String, String, String)] = [
        ("BTC", "USDC", "2026-11-27"), ("BTC", "USDC", "2026-12-25"), ("BTC", "USDC", "2027-03-26"),
        ("ETH", "USDC", "2026-12-25"), ("ETH", "USDC", "2027-03-26"),
        ("BTC", "BTC", "2026-12-25"), ("BTC", "BTC", "2027-03-26"), ("ETH", "ETH", "2027-03-26"),
    ]

    static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    // MARK: - The computation

    /// The computations of the script for one set of index levels.
    struct Builder {
        let index: [String: Double]

        func perpetualEntries() -> [String] {
            perpetuals.map { sym, base, settle, bp in
                let mark = synthPyRound(index[base]! * (1 + bp * 1e-4), coins[base]!.dp)
                return "{\"symbol\": \"\(sym)\", \"kind\": \"perpetual\", \"baseCoin\": \"\(base)\", \"settleCoin\": \"\(settle)\", \"markPrice\": \(mark.description)}"
            }
        }

        func futureEntries() -> [String] {
            futures.map { base, settle, date in
                let quote = settle == base ? "USD" : settle
                return "{\"symbol\": \"\(base)\(quote)-\(dateCode(date))\", \"kind\": \"future\", \"baseCoin\": \"\(base)\", \"settleCoin\": \"\(settle)\", \"expiry\": \"\(date)T08:00:00Z\", \"markPrice\": \(forward(base, date).description)}"
            }
        }

        func optionEntries(_ coin: String) -> [String] {
            let c = coins[coin]!
            var out: [String] = []
            for date in expiries {
                let T = yearFraction(date)
                let F = forward(coin, date)
                let settles = ["USDC"] + (c.usdt.contains(date) ? ["USDT"] : [])
                for settle in settles {
                    for K in strikes(coin, F, date) {
                        let iv = synthPyRound(smile(c, F, Double(K), T), 8)
                        for isCall in [true, false] {
                            var price = 0.0, delta = 0.0, vega = 0.0
                            pm_black76_greeks(F, Double(K), T, iv, isCall ? 1 : 0, &price, &delta, &vega)
                            let mark = roundPrice(price)
                            out.append("{\"symbol\": \"\(coin)-\(dateCode(date))-\(K)-\(isCall ? "C" : "P")-\(settle)\", \"kind\": \"option\", \"baseCoin\": \"\(coin)\", \"settleCoin\": \"\(settle)\", \"optionType\": \"\(isCall ? "Call" : "Put")\", \"strike\": \(K), \"expiry\": \"\(date)T08:00:00Z\", \"markPrice\": \(mark.description), \"underlyingPrice\": \(F.description), \"markIv\": \(iv.description)}")
                        }
                    }
                }
            }
            return out
        }

        func forward(_ coin: String, _ date: String) -> Double {
            let c = coins[coin]!
            let T = yearFraction(date)
            return synthPyRound(index[coin]! * exp(term(c.basis, T) * T), c.dp)
        }

        func smile(_ c: CoinSpec, _ F: Double, _ K: Double, _ T: Double) -> Double {
            let atm = term(c.atm, T)
            var z = log(K / F) / (atm * T.squareRoot())
            z = max(-4.0, min(4.0, z))
            let g = 1.0 + 1.5 * T
            return atm + g * (c.skew * z + c.curv * z * z)
        }

        func strikes(_ coin: String, _ F: Double, _ date: String) -> [Int] {
            let c = coins[coin]!
            let half = c.half[expiries.firstIndex(of: date)!]
            let days = yearFraction(date) * 365
            let tiers = days <= 7 ? c.short : days <= 45 ? c.mid : c.long
            let unit = tiers.map(\.step).min()!
            let kmin = F * exp(-half), kmax = F * exp(half)
            var out: [Int] = []
            var k = unit * Int((kmin / Double(unit)).rounded(.up))
            while Double(k) <= kmax {
                let m = abs(log(Double(k) / F))
                let step = tiers.first { m <= $0.band }!.step
                if k % step == 0 { out.append(k) }
                k += unit
            }
            return out
        }
    }

    /// `long − (long − short) · exp(−T / tau)`.
    static func term(_ p: (Double, Double, Double), _ T: Double) -> Double {
        p.1 - (p.1 - p.0) * exp(-T / p.2)
    }

    /// Milliseconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS.mmmZ` (or of a date at 08:00 UTC).
    static func epochMillis(date: String, hour: Int = 8, minute: Int = 0, second: Int = 0, millis: Int = 0) -> Int {
        let parts = date.split(separator: "-").map { Int($0)! }
        let (y0, m, d) = (parts[0], parts[1], parts[2])
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis
    }

    /// The snapshot instant in milliseconds (`time` is 2026-11-24T02:28:10.506Z).
    static let nowMillis = epochMillis(date: "2026-11-24", hour: 2, minute: 28, second: 10, millis: 506)

    /// ACT/365 year fraction from the snapshot to the 08:00 UTC expiry of `date` (exact milliseconds,
    /// as Python's `timedelta.total_seconds()`).
    static func yearFraction(_ date: String) -> Double {
        let ms = epochMillis(date: date) - nowMillis
        return (Double(ms) / 1000.0) / Double(365 * 86400)
    }

    /// `2026-12-04` → `4DEC26` (exchange style: no leading zero on the day).
    static func dateCode(_ date: String) -> String {
        let p = date.split(separator: "-").map { Int($0)! }
        let yy = p[0] % 100
        return "\(p[2])\(months[p[1] - 1])\(yy < 10 ? "0" : "")\(yy)"
    }

    /// 8 decimals, or more when needed to keep 12 significant digits (small prices).
    static func roundPrice(_ x: Double) -> Double {
        if x == 0 { return 0 }
        return synthPyRound(x, max(8, 11 - Int(log10(abs(x)).rounded(.down))))
    }
}

/// Python's `round(x, n)`: the correctly rounded (half-even on the exact binary value) decimal with
/// `n` decimals, read back as a Double (C `printf` rounds exactly the same way).
func synthPyRound(_ x: Double, _ n: Int) -> Double {
    var buf = [CChar](repeating: 0, count: 400)
    let len = withVaList([Int32(n), x]) { vsnprintf(&buf, buf.count, "%.*f", $0) }
    precondition(len > 0 && len < buf.count)
    return Double(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })!
}
