// Targets for the what-if commands' argument grammars and what they run: `pm sweep`'s settings
// (WhatIf/SweepGrammar.swift → Sweep.run) and `pm whatif`'s `--add` (Trade → WhatIf.run).
#if canImport(Glibc)
import Glibc
#endif

/// The input's lines as command-line arguments: `OPTION VALUE` (split at the first space), as
/// many as there are lines. Invalid UTF-8 is decoded with replacement characters, as a shell
/// argument would reach ArgumentParser.
private func argumentLines(_ data: UnsafeBufferPointer<UInt8>) -> [(option: String, value: String)] {
    let text = String(decoding: data, as: UTF8.self)
    return text.split(separator: "\n", omittingEmptySubsequences: false).prefix(8).map { line in
        guard let space = line.firstIndex(of: " ") else { return (String(line), "") }
        return (String(line[..<space]), String(line[line.index(after: space)...]))
    }
}

/// `pm sweep`: each line `--set COIN.param=v1,...`, `--shock COIN=m1,...` or `--iv-scale s1,...`
/// (other lines are ignored) → `SweepSetting.parseAll` → if it parses into at most 6
/// combinations, `Sweep.run` on the fixture book (Fuzz/fixtures/batch, market-small.json). Holds:
/// - a refusal is an `InputError`, one line, naming the option (`--set`, `--shock`, `--iv-scale`)
///   or the combination bound;
/// - a sweep has one combination per value combination plus the base; each has finite totals, its
///   stage counts and errors sum to the account count, and at least the base's errors;
/// - a combination whose every value is the base value has the base's figures, bit for bit;
/// - evaluated together or one market at a time (`aggregateTogether: false`), the same figures.
enum SweepTarget {
    static let input: BatchInput = {
        do { return try BatchInput.load(directory: Fuzz.root + "/Fuzz/fixtures/batch", priced: Fuzz.priced, threads: 1) } catch {
            Fuzz.fail("sweep: fixture book: \(error)")
        }
    }()

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        var set: [String] = [], shock: [String] = [], iv: [String] = []
        for (option, value) in argumentLines(data) {
            switch option {
            case "--set": set.append(value)
            case "--shock": shock.append(value)
            case "--iv-scale": iv.append(value)
            default: break
            }
        }
        let settings: [SweepSetting]
        do { settings = try SweepSetting.parseAll(set: set, shock: shock, ivScale: iv) } catch {
            refusal(error, "sweep grammar")
            return
        }
        let combos = Sweep.combinations(settings)
        guard settings.isEmpty || combos.count <= 6 else { return }
        let together: [SweepCombination], reference: [SweepCombination]
        do {
            together = try Sweep.run(input, base: Fuzz.priced, settings: settings, top: 2, threads: 1)
            reference = try Sweep.run(input, base: Fuzz.priced, settings: settings, top: 2, threads: 1, aggregateTogether: false)
        } catch {
            refusal(error, "sweep run")
            return
        }
        let expected = settings.isEmpty ? 1 : combos.count + 1
        guard together.count == expected, reference.count == expected else {
            Fuzz.fail("sweep: \(together.count) / \(reference.count) combinations, expected \(expected)")
        }
        let baseValues = settings.map { Sweep.baseValue($0, parameters: Fuzz.priced.parameters) }
        for (c, r) in zip(together, reference) {
            let what = "sweep: combination \(c.index) \(c.values)"
            if !c.totalMM.isFinite || !c.totalIM.isFinite { Fuzz.fail("\(what): totals \(c.totalMM) / \(c.totalIM)") }
            if c.stages.reduce(0, +) + c.errors != input.accountCount {
                Fuzz.fail("\(what): stages \(c.stages) + errors \(c.errors) ≠ \(input.accountCount) accounts")
            }
            if c.errors < together[0].errors { Fuzz.fail("\(what): fewer errors than the base") }
            if c.totalMM.bitPattern != r.totalMM.bitPattern || c.totalIM.bitPattern != r.totalIM.bitPattern
                || c.stages != r.stages || c.errors != r.errors {
                Fuzz.fail("\(what): together \(c.totalMM) \(c.stages) \(c.errors) vs one market at a time \(r.totalMM) \(r.stages) \(r.errors)")
            }
            if c.index > 0, zip(c.values, baseValues).allSatisfy({ $0.bitPattern == $1.bitPattern }),
               c.totalMM.bitPattern != together[0].totalMM.bitPattern || c.stages != together[0].stages || c.errors != together[0].errors {
                Fuzz.fail("\(what): the base's values give other figures than the base")
            }
        }
    }

    static func refusal(_ e: Error, _ target: String) {
        guard let ie = e as? InputError else { Fuzz.fail("\(target): threw \(type(of: e)), not an InputError: \(e)") }
        let d = ie.description
        if d.utf8.contains(10) || d.utf8.contains(13) || d.utf8.contains(0) { Fuzz.fail("\(target): not one line: \(d.debugDescription)") }
        guard ["--set", "--shock", "--iv-scale", "combinations"].contains(where: { d.contains($0) }) else {
            Fuzz.fail("\(target): the error names no argument: \(d.debugDescription)")
        }
    }
}

/// `pm whatif`: byte 0 picks the example account (data/examples) and `--as-orders` (bit 0x80); each
/// further line is one `--add` text → `Trade(parsing:)` → `WhatIf.pricedMarket(trades:)` →
/// `WhatIf.run` on Fuzz/fixtures/market-small.json, then the table view. Holds: a refusal is one
/// line naming an `--add` argument (the account alone margins, so any failure is the trades');
/// a success has finite before and after figures, and the table renders.
enum WhatIfTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard data.count >= 1 else { return }
        let accounts = Fuzz.exampleAccounts
        let account = accounts[Int(data[0] & 0x7f) % accounts.count]
        let asOrders = data[0] & 0x80 != 0
        let lines = String(decoding: UnsafeBufferPointer(rebasing: data[1...]), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).prefix(4).map(String.init)
        var trades: [Trade] = []
        do {
            for text in lines { trades.append(try Trade(parsing: text)) }
        } catch { refusal(error, "whatif grammar"); return }
        let priced: PricedMarket
        do { priced = try WhatIf.pricedMarket(Fuzz.priced, trades: trades) } catch { refusal(error, "whatif market"); return }
        switch WhatIf.run(account, trades: trades, asOrders: asOrders, priced: priced, file: "account.json") {
        case let .failure(e): refusal(e, "whatif run")
        case let .success((before, after)):
            Fuzz.checkResult(before, "whatif before")
            Fuzz.checkResult(after, "whatif after")
            _ = WhatIf.table(before: before, after: after)
            _ = after.table()
        }
    }

    static func refusal(_ e: Error, _ target: String) {
        let d: String
        if let ie = e as? InputError { d = ie.description } else if let ae = e as? AccountError { d = ae.description } else {
            Fuzz.fail("\(target): threw \(type(of: e)), not an InputError: \(e)")
        }
        if d.utf8.contains(10) || d.utf8.contains(13) || d.utf8.contains(0) { Fuzz.fail("\(target): not one line: \(d.debugDescription)") }
        guard d.hasPrefix("--add ") else { Fuzz.fail("\(target): the error does not name the --add argument: \(d.debugDescription)") }
    }
}
