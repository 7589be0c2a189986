/// The text of the backtest's outputs (docs/formats.md "Coverage backtest"): numbers in shortest
/// round-trip form (as margins.csv), dates `YYYY-MM-DD`, an error account's row with empty
/// numeric fields and its reason in `error`.
struct BacktestOutput: Sendable {
    let scenarios: BacktestScenarios
    /// The date text of each scenario.
    let dates: [[UInt8]]

    /// Appends the rows of `r`'s accounts and units.
    func append(_ r: BacktestResult, accounts a: inout ByteBuffer, units u: inout ByteBuffer) {
        let s = r.scenarioCount
        for k in 0..<r.accountIds.count {
            a.field(r.accountIds[k])
            if let e = r.error[k] {
                for _ in 0..<13 { a.byte(44) }
                a.field(e)
                a.byte(10)
                continue
            }
            a.byte(44); a.number(r.totalMM[k])
            a.byte(44); a.number(r.totalIM[k])
            a.byte(44); a.append(String(s))
            a.byte(44); a.append(String(r.breachesMM[k]))
            a.byte(44); a.append(String(r.breachesIM[k]))
            a.byte(44); a.number(1 - Double(r.breachesMM[k]) / Double(s))
            a.byte(44); a.number(r.worstLoss[k])
            a.byte(44); a.bytes.append(contentsOf: dates[r.worstScenario[k]])
            a.byte(44); a.number(r.worstShortfall(k))
            a.byte(44); a.number(r.kupiecP[k])
            a.byte(44); a.number(r.christoffersenP[k])
            a.byte(44); a.append(r.zone[k]!.rawValue)
            a.byte(44); a.byte(10)
            for v in r.unitStart[k]..<r.unitStart[k + 1] {
                u.field(r.accountIds[k])
                u.byte(44); u.append(scenarios.coins[r.unitCoin[v]])
                u.byte(44); u.number(r.unitMM[v])
                u.byte(44); u.append(String(r.unitBreaches[v]))
                u.byte(44); u.number(1 - Double(r.unitBreaches[v]) / Double(s))
                u.byte(44); u.number(r.unitWorstLoss[v])
                u.byte(44); u.bytes.append(contentsOf: dates[r.unitWorstScenario[v]])
                u.byte(44); u.number(r.unitKupiecP[v])
                u.byte(44); u.number(r.unitChristoffersenP[v])
                u.byte(44); u.append(r.unitZone[v].rawValue)
                u.byte(10)
            }
        }
    }

    /// `scenarios.csv`'s header.
    var scenariosHeader: String {
        var cols = ["date"] + scenarios.coins.map { "return_" + $0 }
        cols += scenarios.coins.indices.filter { scenarios.hasIv[$0] }.map { "iv_ratio_" + scenarios.coins[$0] }
        cols += ["accounts_breached_mm", "accounts_breached_im", "shortfall", "book_loss"]
        return cols.joined(separator: ",") + "\n"
    }

    /// The scenario columns of row q (date, returns, IV ratios), without the totals.
    func scenarioPrefix(_ q: Int, into b: inout ByteBuffer) {
        let s = scenarios.count
        b.bytes.append(contentsOf: dates[q])
        for c in scenarios.coins.indices { b.byte(44); b.number(scenarios.returns[c * s + q]) }
        for c in scenarios.coins.indices where scenarios.hasIv[c] { b.byte(44); b.number(scenarios.ivRatios[c * s + q]) }
    }

    /// `scenarios.csv`.
    func scenariosCSV(_ t: BacktestTotals) -> [UInt8] {
        var b = ByteBuffer(capacity: scenarios.count * 120)
        b.append(scenariosHeader)
        for q in 0..<scenarios.count {
            scenarioPrefix(q, into: &b)
            b.byte(44); b.append(String(t.breachedMM[q]))
            b.byte(44); b.append(String(t.breachedIM[q]))
            b.byte(44); b.number(Backtest.usd(t.shortfall[q]))
            b.byte(44); b.number(Backtest.usd(t.bookLoss[q]))
            b.byte(10)
        }
        return b.bytes
    }

    /// `summary.json`: everything from the integer totals, so a merge recomputes the same bytes.
    func summaryJSON(_ t: BacktestTotals, confidence: Double) -> [UInt8] {
        let s = scenarios.count
        func num(_ v: Double) -> String { NumberFormat.text(v) }
        func coverage(_ units: Int, _ breaches: Int) -> String {
            units == 0 ? "null" : num(1 - Double(breaches) / (Double(units) * Double(s)))
        }
        var j = "{\n"
        j += "  \"scenarios\": \(s),\n"
        j += "  \"window\": {\"from\": \"\(History.dateText(scenarios.from))\", \"to\": \"\(History.dateText(scenarios.to))\"},\n"
        j += "  \"horizon\": \(scenarios.horizon),\n"
        j += "  \"confidence\": \(num(confidence)),\n"
        let withIv = scenarios.coins.indices.filter { scenarios.hasIv[$0] }.map { Manifest.quote(scenarios.coins[$0]) }
        let withoutIv = scenarios.coins.indices.filter { !scenarios.hasIv[$0] }.map { Manifest.quote(scenarios.coins[$0]) }
        j += "  \"coinsWithIv\": [\(withIv.joined(separator: ", "))],\n"
        j += "  \"coinsWithoutIv\": [\(withoutIv.joined(separator: ", "))],\n"
        j += "  \"accounts\": \(t.accounts),\n"
        j += "  \"errors\": \(t.errors),\n"
        j += "  \"breachRate\": \(t.backtested == 0 ? "null" : num(Double(t.breaches) / (Double(t.backtested) * Double(s)))),\n"
        let zones = BacktestStatistics.Zone.allCases.enumerated().map { "\"\($1.rawValue)\": \(t.zones[$0])" }
        j += "  \"zones\": {\(zones.joined(separator: ", "))},\n"
        let stages = Stage.allCases.enumerated().map { "\"\($1.rawValue)\": \(coverage(t.stageAccounts[$0], t.stageBreaches[$0]))" }
        j += "  \"coverageByStage\": {\(stages.joined(separator: ", "))},\n"
        let coins = scenarios.coins.enumerated().map { "\(Manifest.quote($1)): \(coverage(t.coinUnits[$0], t.coinBreaches[$0]))" }
        j += "  \"coverageByCoin\": {\(coins.joined(separator: ", "))},\n"
        let worst = Self.worstDates(t)
        let items = worst.map {
            "\n    {\"date\": \"\(History.dateText(scenarios.days[$0]))\", \"shortfall\": \(num(Backtest.usd(t.shortfall[$0]))), \"accountsBreached\": \(t.breachedMM[$0])}"
        }
        j += "  \"worstDates\": [\(items.joined(separator: ","))\(items.isEmpty ? "" : "\n  ")]\n"
        j += "}\n"
        return Array(j.utf8)
    }

    static func worstDates(_ t: BacktestTotals) -> [Int] { t.worstScenarios() }
}

/// The backtest's `manifest.json`: a batch manifest (shard, accounts, errors, input and output
/// digests, version, instant) with `"command": "backtest"`, the scenario count, window, horizon,
/// confidence and the exact totals a merge adds (`totals`, 128-bit sums as decimal strings).
enum BacktestManifest {
    static func json(_ m: Manifest, scenarios: BacktestScenarios, confidence: Double, totals t: BacktestTotals) -> [UInt8] {
        var base = String(decoding: m.json, as: UTF8.self)
        while base.last == "\n" || base.last == "}" { base.removeLast() }
        func ints(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ",") + "]" }
        func wide(_ a: [Int128]) -> String { "[" + a.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
        var s = base + ",\n"
        s += "  \"command\": \"backtest\",\n"
        s += "  \"scenarios\": \(scenarios.count),\n"
        s += "  \"window\": {\"from\": \"\(History.dateText(scenarios.from))\", \"to\": \"\(History.dateText(scenarios.to))\"},\n"
        s += "  \"horizon\": \(scenarios.horizon),\n"
        s += "  \"confidence\": \(NumberFormat.text(confidence)),\n"
        s += "  \"coins\": [\(scenarios.coins.map { Manifest.quote($0) }.joined(separator: ", "))],\n"
        s += "  \"totals\": {\n"
        s += "    \"breaches\": \(t.breaches),\n"
        s += "    \"zones\": \(ints(t.zones)),\n"
        s += "    \"stageAccounts\": \(ints(t.stageAccounts)),\n"
        s += "    \"stageBreaches\": \(ints(t.stageBreaches)),\n"
        s += "    \"coinUnits\": \(ints(t.coinUnits)),\n"
        s += "    \"coinBreaches\": \(ints(t.coinBreaches)),\n"
        s += "    \"breachedMM\": \(ints(t.breachedMM)),\n"
        s += "    \"breachedIM\": \(ints(t.breachedIM)),\n"
        s += "    \"shortfall\": \(wide(t.shortfall)),\n"
        s += "    \"bookLoss\": \(wide(t.bookLoss))\n"
        s += "  }\n}\n"
        return Array(s.utf8)
    }
}
