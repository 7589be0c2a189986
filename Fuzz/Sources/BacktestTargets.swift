#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `history`: byte 0 bit 0 set: the rest splits at its first NUL into `index-daily.csv` and
/// `iv-daily.csv`; clear: the rest is `index-daily.csv` alone. → `History.load` → the scenarios of
/// every coin it has at h = 1 and h = 3.
enum HistoryTarget {
    static let folder: String = {
        let d = Fuzz.work + "/history"
        mkdir(d, 0o755)
        return d
    }()

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let withIv = (data.first ?? 0) & 1 == 1
        let rest = Array(data.dropFirst())
        let cut = withIv ? (rest.firstIndex(of: 0) ?? rest.count) : rest.count
        let indexPath = folder + "/" + History.indexFile, ivPath = folder + "/" + History.ivFile
        Fuzz.write(indexPath, Array(rest[0..<cut]))
        unlink(ivPath)
        if withIv { Fuzz.write(ivPath, cut < rest.count ? Array(rest[(cut + 1)...]) : []) }
        let h: History
        do { h = try History.load(directory: folder) } catch {
            Fuzz.checkMessage(error, "history")
            guard let e = error as? InputError, e.file == indexPath || e.file == ivPath else {
                Fuzz.fail("history: \(error) does not name a history file")
            }
            return
        }
        if h.coins != h.coins.sorted() || h.ivCoins != h.ivCoins.sorted() { Fuzz.fail("history: coins not sorted") }
        for (coin, days) in h.closes { for (_, v) in days where !(v.isFinite && v > 0) { Fuzz.fail("history: \(coin) close \(v)") } }
        for (coin, days) in h.ivs { for (_, v) in days where !(v.isFinite && v > 0) { Fuzz.fail("history: \(coin) iv \(v)") } }
        if h.digests.count != (withIv ? 2 : 1) { Fuzz.fail("history: \(h.digests.count) digests") }
        for horizon in [1, 3] {
            var o = BacktestOptions()
            o.horizon = horizon
            do {
                let s = try BacktestScenarios(history: h, coins: h.coins, options: o)
                if s.count == 0 || s.days != s.days.sorted() { Fuzz.fail("history: scenario dates") }
                for d in s.days {
                    for c in h.coins where h.close(c, day: d) == nil || h.close(c, day: d + horizon) == nil {
                        Fuzz.fail("history: scenario \(d) lacks a close of \(c)")
                    }
                }
                // −1 exactly when the later close is below the earlier one's ulp (1e308 then 1e-300).
                for r in s.returns where !(r >= -1 && r.isFinite) { Fuzz.fail("history: return \(r)") }
                for v in s.ivRatios where !(v > 0) { Fuzz.fail("history: IV ratio \(v)") }
            } catch {
                Fuzz.checkMessage(error, "history")
                // The window's error, or a return / IV ratio that overflows (closes 1e-320 then 100).
                guard let e = error as? InputError,
                      e.field == "window" || (["close", "iv"].contains(e.field) && e.message.contains("not a finite number")) else {
                    Fuzz.fail("history: \(error) is not the window's error nor an overflowing ratio")
                }
            }
        }
    }
}

/// `backtestargs`: byte 0's bits 0–3 say which of `--horizon`, `--from`, `--to`, `--confidence`
/// are given; the rest, split at line ends, gives their texts in that order →
/// `BacktestOptions.parse` → the scenarios of a fixed BTC history (2024-01-01…2024-03-31).
enum BacktestArgsTarget {
    static let history: History = {
        var closes: [Int: Double] = [:], ivs: [Int: Double] = [:]
        let start = ISO8601.daysFromCivil(2024, 1, 1)
        for k in 0..<91 {
            closes[start + k] = 40_000 + 500 * Double(k % 7) - 300 * Double(k % 5)
            if k % 4 != 0 { ivs[start + k] = 0.5 + 0.01 * Double(k % 9) }
        }
        return History(coins: ["BTC"], ivCoins: ["BTC"], closes: ["BTC": closes], ivs: ["BTC": ivs], digests: [])
    }()

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let mask = data.first ?? 0
        let lines = String(decoding: data.dropFirst(), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var texts: [String?] = [nil, nil, nil, nil]
        var next = 0
        for k in 0..<4 where mask & (1 << k) != 0 {
            texts[k] = next < lines.count ? lines[next] : ""
            next += 1
        }
        let o: BacktestOptions
        do { o = try BacktestOptions.parse(horizon: texts[0], from: texts[1], to: texts[2], confidence: texts[3]) } catch {
            Fuzz.checkMessage(error, "backtestargs")
            guard let e = error as? InputError, ["--horizon", "--from", "--to", "--confidence"].contains(e.record) else {
                Fuzz.fail("backtestargs: \(error) does not name its option")
            }
            return
        }
        if !BacktestOptions.horizons.contains(o.horizon) { Fuzz.fail("backtestargs: horizon \(o.horizon)") }
        if !(o.confidence > 0 && o.confidence < 1) { Fuzz.fail("backtestargs: confidence \(o.confidence)") }
        if let f = o.from, let t = o.to, f > t { Fuzz.fail("backtestargs: from after to") }
        for (k, d) in [(1, o.from), (2, o.to)] {
            if let d, History.dateText(d) != texts[k]!.trimmingCharacters(in: .whitespaces) {
                Fuzz.fail("backtestargs: \(texts[k]!.debugDescription) read as \(History.dateText(d))")
            }
        }
        do {
            let s = try BacktestScenarios(history: history, coins: ["BTC"], options: o)
            for d in s.days {
                if let f = o.from, d < f { Fuzz.fail("backtestargs: scenario before --from") }
                if let t = o.to, d > t { Fuzz.fail("backtestargs: scenario after --to") }
                if history.close("BTC", day: d + o.horizon) == nil { Fuzz.fail("backtestargs: no close at d + h") }
            }
            for r in s.returns where !r.isFinite { Fuzz.fail("backtestargs: return \(r)") }
            let p = 1 - o.confidence
            for x in [0, 1, s.count / 2, s.count] {
                let k = BacktestStatistics.kupiecP(breaches: x, scenarios: s.count, p: p)
                if !(k >= 0 && k <= 1) { Fuzz.fail("backtestargs: Kupiec p \(k)") }
                let b = BacktestStatistics.binomialCDF(x, trials: s.count, p: p)
                if !(b >= 0 && b <= 1) { Fuzz.fail("backtestargs: binomial CDF \(b)") }
            }
        } catch {
            Fuzz.checkMessage(error, "backtestargs")
            guard let e = error as? InputError, e.field == "window" else { Fuzz.fail("backtestargs: \(error) is not the window's error") }
        }
    }
}
