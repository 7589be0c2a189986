// Targets for the trader's decisions (docs/model.md §14): `pm whatif --max-size`'s arguments
// (TradeArguments → MaxSize.run) and `pm hedge`'s (TradeArguments → HedgeSuggestion.run).
#if canImport(Glibc)
import Glibc
#endif

/// The input's lines (at most 8) after byte 0, as option values.
private func lines(_ data: UnsafeBufferPointer<UInt8>) -> [String] {
    String(decoding: UnsafeBufferPointer(rebasing: data[1...]), as: UTF8.self)
        .split(separator: "\n", omittingEmptySubsequences: false).prefix(8).map(String.init)
}

/// A refusal: an `InputError` (or an account's error wrapping one), one line, naming one of `options`.
private func refusal(_ e: Error, _ target: String, _ options: [String]) {
    let d: String
    if let ie = e as? InputError { d = ie.description } else if let ae = e as? AccountError { d = ae.description } else {
        Fuzz.fail("\(target): threw \(type(of: e)), not an InputError: \(e)")
    }
    if d.utf8.contains(10) || d.utf8.contains(13) || d.utf8.contains(0) { Fuzz.fail("\(target): not one line: \(d.debugDescription)") }
    guard options.contains(where: { d.hasPrefix($0) || d.contains(": " + $0) }) else {
        Fuzz.fail("\(target): the error names none of \(options): \(d.debugDescription)")
    }
}

/// `pm whatif --max-size`: byte 0 picks the example account (data/examples); lines are SYMBOL,
/// side, limit, step, max (a missing or empty line: the option is not given). → `TradeArguments`
/// → `MaxSize.run` on Fuzz/fixtures/market-small.json, searching at most 2,000 grid points.
/// Holds: a refusal is one line naming `--max-size`, `--side`, `--limit`, `--step` or `--max`;
/// an accepted `--step`/`--max` is decimal text (no hex) and the step is in [10^-8, 10^6]; an answer is a whole number of steps within the cap, `capped` exactly when it is the cap, and
/// the full engine keeps the limit at it and (uncapped) breaks it one step further.
enum MaxSizeArgsTarget {
    static let options = ["--max-size", "--side", "--limit", "--step", "--max"]

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard data.count >= 1 else { return }
        let accounts = Fuzz.exampleAccounts
        let account = accounts[Int(data[0]) % accounts.count]
        let l = lines(data)
        func arg(_ k: Int) -> String? { k < l.count && !l[k].isEmpty ? l[k] : nil }
        let priced = Fuzz.priced
        let side: Side, limit: MarginLimit, grid: (step: Double?, max: Double?)
        let symbol = arg(0) ?? "BTCUSDT"
        do {
            let instrument = try TradeArguments.symbol(symbol, priced: priced)
            side = try arg(1).map(TradeArguments.side) ?? .buy
            limit = try arg(2).map(TradeArguments.limit) ?? .im
            grid = try TradeArguments.grid(step: arg(3), max: arg(4), defaultStep: MaxSize.defaultStep(instrument))
        } catch { refusal(error, "maxsize arguments", options); return }
        // An accepted number is decimal text (never hex) and a step is within its bounds.
        for (k, value) in [(3, grid.step), (4, grid.max)] {
            if let text = arg(k), value != nil, text.contains(where: { "xXpP".contains($0) }) {
                Fuzz.fail("maxsize: \(options[k]) \(text.debugDescription) accepted, not a decimal number")
            }
        }
        if let s = grid.step, !(s >= TradeArguments.minStep && s <= TradeArguments.maxStep) {
            Fuzz.fail("maxsize: --step \(s) accepted outside [\(TradeArguments.minStep), \(TradeArguments.maxStep)]")
        }
        let inst = priced.market.instrument(symbol)!
        let step = grid.step ?? MaxSize.defaultStep(inst)
        let cap = grid.max ?? 2000 * step
        guard cap / step <= 2000 else { return }   // keeps an execution short; the bound itself is checked above
        switch MaxSize.run(account, symbol: symbol, side: side, limit: limit, step: grid.step, max: cap, priced: priced, file: "account.json") {
        case let .failure(e): refusal(e, "maxsize run", options + ["account"])
        case let .success(a):
            Fuzz.checkResult(a.before, "maxsize before")
            Fuzz.checkResult(a.atMax, "maxsize atMax")
            let n = (a.maxSize / a.step).rounded()
            if !(a.maxSize >= 0 && a.maxSize <= a.cap * (1 + 1e-12) && abs(n * a.step - a.maxSize) <= 1e-9 * max(1, a.maxSize)) {
                Fuzz.fail("maxsize: \(a.maxSize) is not a grid size within the cap \(a.cap)")
            }
            if a.capped && a.maxSize != a.cap { Fuzz.fail("maxsize: capped at \(a.maxSize), not at the cap \(a.cap)") }
            func keeps(_ r: MarginResult?) -> Bool {
                guard let r else { return false }
                switch limit {
                case .im: return r.imRate <= 1
                case .mm: return r.mmRate < 1
                case .stage: return r.stage == a.before.stage
                }
            }
            let initiallyKept = keeps(a.before)
            if a.maxSize > 0 && !keeps(a.atMax) { Fuzz.fail("maxsize: the limit is broken at the answer \(a.maxSize)") }
            if initiallyKept && !a.capped {
                let next = WhatIf.apply([Trade(symbol: symbol, size: side.sign * TradeArguments.gridSize(n + 1, step: a.step))], to: account, market: priced.market, asOrders: false)
                if keeps(try? MarginEngine.margin(next, priced: priced).get()) {
                    Fuzz.fail("maxsize: the limit still holds one step past the answer \(a.maxSize)")
                }
            }
            _ = MaxSize.table(a)
            _ = MaxSize.json(a).render()
        }
    }
}

/// `pm hedge`: byte 0 picks the example account; lines are `--coin`, `--kinds`, `--top` (a missing
/// or empty line: not given). → `TradeArguments` → `HedgeSuggestion.run` on market-small.json.
/// Holds: a refusal is one line naming `--coin`, `--kinds` or `--top`; the candidates are at
/// most `top`, ranked by IM removed, each of a kind asked for, with a positive finite size on its
/// step grid, IM after below IM before (the full engine's at that size), and the outputs render.
enum HedgeArgsTarget {
    static let options = ["--coin", "--kinds", "--top"]

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard data.count >= 1 else { return }
        let accounts = Fuzz.exampleAccounts
        let account = accounts[Int(data[0]) % accounts.count]
        let l = lines(data)
        func arg(_ k: Int) -> String? { k < l.count && !l[k].isEmpty ? l[k] : nil }
        let priced = Fuzz.priced
        let coin: String?, kinds: Set<HedgeKind>, top: Int
        do {
            coin = try arg(0).map { try TradeArguments.coin($0, priced: priced) }
            kinds = try arg(1).map(TradeArguments.kinds) ?? Set(HedgeKind.allCases)
            top = try arg(2).map(TradeArguments.top) ?? 10
        } catch { refusal(error, "hedgeargs arguments", options); return }
        switch HedgeSuggestion.run(account, coin: coin, kinds: kinds, top: top, priced: priced, file: "account.json") {
        case let .failure(e): refusal(e, "hedgeargs run", options + ["account"])
        case let .success(r):
            Fuzz.checkResult(r.before, "hedgeargs before")
            if r.candidates.count > top { Fuzz.fail("hedgeargs: \(r.candidates.count) candidates for --top \(top)") }
            for (a, b) in zip(r.candidates, r.candidates.dropFirst()) where a.imRemoved < b.imRemoved {
                Fuzz.fail("hedgeargs: not ranked: \(a.symbol) \(a.imRemoved) before \(b.symbol) \(b.imRemoved)")
            }
            for c in r.candidates {
                if !(c.size > 0 && c.size.isFinite && c.imAfter < c.imBefore && c.imRemoved > 0 && c.notional > 0 && c.cost.isFinite) {
                    Fuzz.fail("hedgeargs: \(c)")
                }
                if let inst = priced.market.instrument(c.symbol) {
                    let kind: HedgeKind = inst.kind == .option ? .option : (inst.kind == .perpetual ? .perpetual : .future)
                    if !kinds.contains(kind) { Fuzz.fail("hedgeargs: \(c.symbol) is a \(kind), not asked for") }
                    let after = WhatIf.apply([Trade(symbol: c.symbol, size: c.side.sign * c.size)], to: account, market: priced.market, asOrders: false)
                    guard let im = try? MarginEngine.margin(after, priced: priced).get().totalIM, im == c.imAfter else {
                        Fuzz.fail("hedgeargs: \(c.symbol) IM after is not the full engine's")
                    }
                } else if !(kinds.contains(.spot) && c.symbol == r.coin) {
                    Fuzz.fail("hedgeargs: \(c.symbol) is neither an instrument nor the spot coin")
                }
            }
            _ = HedgeSuggestion.table(r)
            _ = HedgeSuggestion.csv(r)
            _ = HedgeSuggestion.json(r).render()
        }
    }
}
