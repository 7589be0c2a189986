/// `pm merge` of backtest shards (docs/formats.md "Coverage backtest"): the folders written by
/// `pm backtest --shard I/N` joined into what one unsharded run writes, byte for byte.
///
/// `backtest.csv` rows follow `accounts.csv` (each id's shard is its FNV-1a hash modulo N), each
/// followed in `backtest-units.csv` by its units; rows of ids absent from `accounts.csv` come
/// after, in the order the manifests' `orphans` give. `scenarios.csv` keeps the shards' common
/// date, return and IV-ratio columns and adds their counts and exact sums (the manifests'
/// `totals`); `summary.json` is recomputed from the added totals.
///
/// Refused (nothing written), naming what: a folder whose manifest is not a backtest's; shards of
/// different inputs, versions, shard counts, scenarios, window, horizon or confidence; a shard
/// missing or given twice; another `accounts.csv`; an account missing, repeated or misplaced; an
/// output file changed after the run wrote it.
public enum BacktestMerge {
    /// Whether `directory/manifest.json` is a backtest's (`"command": "backtest"`).
    public static func isBacktest(directory: String) -> Bool {
        guard let bytes = try? InputFile.readArray(directory + "/manifest.json").bytes,
              let doc = try? JSON.parse(bytes) else { return false }
        return doc["command"] == .string("backtest")
    }

    /// What a merge wrote.
    public struct Outcome: Sendable {
        /// The merged manifest.
        public var manifest: Manifest
    }

    /// Merges the backtest shard folders `dirs` into `out` in the order of `accounts`.
    public static func merge(shards dirs: [String], accounts: String, out: String) throws -> Outcome {
        guard !dirs.isEmpty else { throw InputError("no shard output folder given") }
        var manifests: [Manifest] = [], docs: [JSON] = []
        for d in dirs {
            let path = d + "/manifest.json"
            let m = try Manifest.load(path: path)
            let bytes = try InputFile.readArray(path).bytes
            guard let doc = try? JSON.parse(bytes), doc["command"] == .string("backtest") else {
                throw InputError(file: path, field: "command", "is not the manifest of a pm backtest run")
            }
            manifests.append(m); docs.append(doc)
        }
        let n = manifests[0].shard?.count ?? 1
        var byIndex = [Int?](repeating: nil, count: n)
        for (k, m) in manifests.enumerated() {
            let path = dirs[k] + "/manifest.json"
            let s = m.shard ?? ShardSpec(index: 0, count: 1)
            guard s.count == n else {
                throw InputError(file: path, field: "shard", "is \(s) but \(dirs[0]) is a shard of \(n): shards of different splits")
            }
            if let other = byIndex[s.index] {
                throw InputError(file: dirs[k], "is shard \(s), which \(dirs[other]) already is: a shard given twice")
            }
            byIndex[s.index] = k
            if m.inputsKey != manifests[0].inputsKey {
                throw InputError(file: path, field: "inputs", "differ from \(dirs[0])'s: shards of different inputs")
            }
            if m.pm != manifests[0].pm { throw InputError(file: path, field: "pm", "differs from \(dirs[0])'s") }
            for key in ["scenarios", "window", "horizon", "confidence", "coins"] where docs[k][key] != docs[0][key] {
                throw InputError(file: path, field: key, "differs from \(dirs[0])'s: shards of different backtests")
            }
        }
        if let missing = byIndex.firstIndex(where: { $0 == nil }) {
            throw InputError("shard \(missing)/\(n) is missing")
        }
        let order = byIndex.map { $0! }
        let accountsFile = try CSVFile(path: accounts, required: ["account_id"])
        let digest = InputDigest(accountsFile.file.bytes)
        if let want = manifests[0].inputs.first(where: { $0.name == "accounts.csv" })?.digest, want != digest {
            throw InputError(file: accounts, "is not the accounts.csv the shards read (\(digest), the manifests say \(want))")
        }
        func recorded(_ k: Int, _ name: String) throws -> InputDigest {
            guard let d = manifests[k].outputs.first(where: { $0.name == name })?.digest else {
                throw InputError(file: dirs[k] + "/manifest.json", field: "outputs.\(name)", "is missing")
            }
            return d
        }
        func reader(_ k: Int, _ name: String, _ header: String) throws -> RecordReader {
            let r = try RecordReader(path: dirs[k] + "/" + name, header: Array(header.utf8))
            if r.fileSize != (try recorded(k, name)).size {
                throw InputError(file: r.path, "is not the size \(dirs[k])/manifest.json records: the shard was changed after pm backtest wrote it")
            }
            return r
        }
        let rows = try order.map { try reader($0, "backtest.csv", BacktestJob.accountsHeader) }
        let units = try order.map { try reader($0, "backtest-units.csv", BacktestJob.unitsHeader) }

        // Scenario columns, counts and sums.
        let scenarioCount = try count(docs[0], "scenarios", dirs[0])
        var totals = try Self.totals(docs[order[0]], file: dirs[order[0]] + "/manifest.json", scenarios: scenarioCount)
        for s in 1..<n { totals.add(try Self.totals(docs[order[s]], file: dirs[order[s]] + "/manifest.json", scenarios: scenarioCount)) }
        let first = dirs[order[0]] + "/scenarios.csv"
        let scenarioBytes = try InputFile.readArray(first)
        if InputDigest(scenarioBytes.digest) != (try recorded(order[0], "scenarios.csv")) {
            throw InputError(file: first, "does not match its manifest: the shard was changed after pm backtest wrote it")
        }
        let lines = String(decoding: scenarioBytes.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == scenarioCount + 2, lines.last == "" else {
            throw InputError(file: first, "does not have the \(scenarioCount) scenario rows its manifest records")
        }
        let header = lines[0].split(separator: ",").map(String.init)
        var days: [Int] = []
        var prefixes: [Substring] = []
        for q in 0..<scenarioCount {
            let line = lines[q + 1]
            var cut = line.endIndex
            for _ in 0..<4 { cut = line[..<cut].lastIndex(of: ",") ?? line.startIndex }
            prefixes.append(line[..<cut])
            guard case .success(let d) = History.day(String(line.prefix(10))) else {
                throw InputError(file: first, record: "line \(q + 2)", field: "date", "not a date")
            }
            days.append(d)
        }
        guard case .array(let coinList)? = docs[0]["coins"], case .object? = docs[0]["window"],
              case .string(let fromText)? = docs[0]["window"]?["from"], case .string(let toText)? = docs[0]["window"]?["to"],
              case .success(let from) = History.day(fromText), case .success(let to) = History.day(toText),
              case .number(let confidence)? = docs[0]["confidence"] else {
            throw InputError(file: dirs[0] + "/manifest.json", "lacks the backtest's coins, window or confidence")
        }
        let coins = coinList.compactMap { if case .string(let c) = $0 { return c } else { return nil } }
        let scenarios = BacktestScenarios(days: days, coins: coins, hasIv: coins.map { header.contains("iv_ratio_" + $0) },
                                          from: from, to: to, horizon: try count(docs[0], "horizon", dirs[0]))
        let output = BacktestOutput(scenarios: scenarios, dates: days.map { Array(History.dateText($0).utf8) })

        let files = try OutputFiles(directory: out, names: BacktestJob.outputNames)
        do {
            var a = ByteBuffer(capacity: 1 << 20), u = ByteBuffer(capacity: 1 << 20)
            a.append(BacktestJob.accountsHeader)
            u.append(BacktestJob.unitsHeader)
            var accountsRows = 0, errors = 0
            var failure: Error?
            let cId = accountsFile.column("account_id")!
            let b = accountsFile.file.bytes
            let range = b.count > accountsFile.dataStart ? accountsFile.dataStart..<b.count : 0..<0
            do { try accountsFile.forEachLine(in: range) { line, f in
                guard failure == nil else { return }
                do {
                    let id = UnsafeRawBufferPointer(start: f[cId].0, count: f[cId].1)
                    let s = ShardSpec.of(id, count: n)
                    let r = rows[s]
                    guard let row = try r.next(), r.firstFieldEquals(row, id) else {
                        throw InputError(file: r.path, "lacks account \(fieldEcho(f[cId])) (accounts.csv line \(line + 1)) in its place: an account missing, present twice or in the wrong shard")
                    }
                    r.copy(row, to: &a)
                    accountsRows += 1
                    if r.isErrorRow(row) { errors += 1 }
                    let ur = units[s]
                    while let unit = try ur.peek(), ur.firstFieldEquals(unit, id) {
                        ur.copy(unit, to: &u)
                        ur.consume()
                    }
                    if a.bytes.count >= 1 << 20 { try files.write(0, a.bytes); a.bytes.removeAll(keepingCapacity: true) }
                    if u.bytes.count >= 1 << 20 { try files.write(1, u.bytes); u.bytes.removeAll(keepingCapacity: true) }
                } catch { failure = error }
            } } catch let e as FieldCountError { throw e.inputError }
            if let failure { throw failure }
            var tail: [(key: Manifest.OrphanKey, row: [UInt8])] = []
            for (s, r) in rows.enumerated() {
                let keys = manifests[order[s]].orphans
                var k = 0
                while let row = try r.next() {
                    guard k < keys.count else {
                        throw InputError(file: r.path, record: "line \(r.recordLine)", "is a row beyond the accounts its manifest lists")
                    }
                    tail.append((keys[k], r.bytes(row)))
                    k += 1
                }
                if k != keys.count { throw InputError(file: r.path, "has \(k) rows after the accounts.csv ones, its manifest lists \(keys.count)") }
            }
            for (s, ur) in units.enumerated() where try ur.peek() != nil {
                throw InputError(file: ur.path, "has unit rows of an account with no backtest.csv row in their place (shard \(s)/\(n))")
            }
            for (_, row) in tail.indices.sorted(by: { (tail[$0].key, $0) < (tail[$1].key, $1) }).map({ tail[$0] }) {
                a.bytes.append(contentsOf: row)
                accountsRows += 1
                errors += 1
            }
            for (s, k) in order.enumerated() {
                for (r, name) in [(rows[s], "backtest.csv"), (units[s], "backtest-units.csv")] where r.digest != (try recorded(k, name)) {
                    throw InputError(file: r.path, "does not match \(dirs[k])/manifest.json: the shard was changed after pm backtest wrote it")
                }
            }
            guard accountsRows == totals.accounts, errors == totals.errors else {
                throw InputError(file: dirs[0], "the shards' rows (\(accountsRows) accounts, \(errors) errors) differ from their manifests' totals (\(totals.accounts), \(totals.errors))")
            }
            try files.write(0, a.bytes)
            try files.write(1, u.bytes)
            var sc = ByteBuffer(capacity: scenarioCount * 120)
            sc.append(output.scenariosHeader)
            for q in 0..<scenarioCount {
                sc.append(String(prefixes[q]))
                sc.byte(44); sc.append(String(totals.breachedMM[q]))
                sc.byte(44); sc.append(String(totals.breachedIM[q]))
                sc.byte(44); sc.number(Backtest.usd(totals.shortfall[q]))
                sc.byte(44); sc.number(Backtest.usd(totals.bookLoss[q]))
                sc.byte(10)
            }
            try files.write(2, sc.bytes)
            try files.write(3, output.summaryJSON(totals, confidence: confidence))
            let outputs = (0..<4).map { (name: BacktestJob.outputNames[$0], digest: files.digest($0)) }
            let m = Manifest(shard: nil, accounts: totals.accounts, errors: totals.errors, inputs: manifests[0].inputs,
                             outputs: outputs, orphans: tail.map(\.key).sorted(), pm: manifests[0].pm)
            try files.write(4, BacktestManifest.json(m, scenarios: scenarios, confidence: confidence, totals: totals))
            try files.commit()
            return Outcome(manifest: m)
        } catch {
            files.abandon()
            throw error
        }
    }

    /// The largest count a shard's manifest may hold (2⁴³): a million shards' sum still fits in an `Int`.
    static let maxCount = 8_796_093_022_208.0
    /// The largest |sum| in quanta a shard's manifest may hold (2¹⁰⁰): a million shards' sum fits in 128 bits.
    static let maxQuanta = Int128(1) << 100

    static func count(_ doc: JSON, _ key: String, _ dir: String) throws -> Int {
        try count(doc, key, file: dir + "/manifest.json")
    }

    static func count(_ doc: JSON?, _ key: String, file: String) throws -> Int {
        guard case .number(let v)? = doc?[key], v >= 0, v <= maxCount, v == v.rounded() else {
            throw InputError(file: file, field: key, "expected a count (0…2^43)")
        }
        return Int(v)
    }

    /// A shard's exact totals from its manifest.
    static func totals(_ doc: JSON, file: String, scenarios s: Int) throws -> BacktestTotals {
        guard let t = doc["totals"] else { throw InputError(file: file, field: "totals", "missing") }
        func ints(_ key: String, _ count: Int) throws -> [Int] {
            guard case .array(let a)? = t[key], a.count == count else {
                throw InputError(file: file, field: "totals.\(key)", "expected an array of \(count) counts")
            }
            return try a.map {
                guard case .number(let v) = $0, v >= 0, v <= maxCount, v == v.rounded() else {
                    throw InputError(file: file, field: "totals.\(key)", "expected counts")
                }
                return Int(v)
            }
        }
        func wide(_ key: String) throws -> [Int128] {
            guard case .array(let a)? = t[key], a.count == s else {
                throw InputError(file: file, field: "totals.\(key)", "expected an array of \(s) decimal strings")
            }
            return try a.map {
                guard case .string(let text) = $0, let v = Int128(text), v.magnitude <= maxQuanta.magnitude else {
                    throw InputError(file: file, field: "totals.\(key)", "expected decimal strings")
                }
                return v
            }
        }
        guard case .array(let coins)? = doc["coins"] else { throw InputError(file: file, field: "coins", "expected an array") }
        var r = BacktestTotals(coins: coins.count, scenarios: s)
        r.accounts = try count(doc, "accounts", file: file)
        r.errors = try count(doc, "errors", file: file)
        r.breaches = try count(t, "breaches", file: file)
        r.zones = try ints("zones", 3)
        r.stageAccounts = try ints("stageAccounts", Stage.allCases.count)
        r.stageBreaches = try ints("stageBreaches", Stage.allCases.count)
        r.coinUnits = try ints("coinUnits", coins.count)
        r.coinBreaches = try ints("coinBreaches", coins.count)
        r.breachedMM = try ints("breachedMM", s)
        r.breachedIM = try ints("breachedIM", s)
        r.shortfall = try wide("shortfall")
        r.bookLoss = try wide("bookLoss")
        return r
    }
}
