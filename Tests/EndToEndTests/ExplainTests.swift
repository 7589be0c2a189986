import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm explain` (docs/model.md §14 "Explain"): the split of each account's MM change into market,
/// parameters and positions, checked against `pm batch` run on each day (the figures) and against
/// what each kind of day must give (a market-only day has no parameters or positions term, …).
@Suite struct ExplainTests {
    static let market = TestSupport.path("Fuzz/fixtures/market-small.json")
    static let batch = TestSupport.path("Fuzz/fixtures/batch")
    static let params = TestSupport.path("data/params/pm-params.json")
    static let example = TestSupport.path("data/examples/explain")

    // MARK: Helpers

    /// A folder of the tests, removed with the value.
    final class Folder {
        let path = TestTemp.dir("explain")
        deinit { TestTemp.remove(path) }
        func sub(_ name: String) -> String { path + "/" + name }
        @discardableResult func write(_ name: String, _ text: String) throws -> String {
            let p = sub(name)
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: p))
            return p
        }
    }

    /// `market-small.json` with the BTC index, marks and forwards times `factor` (the other coins as they are).
    static func movedMarket(_ factor: Double, into folder: Folder, name: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: market))
        var doc = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var index = doc["indexPrices"] as! [String: Any]
        index["BTC"] = (index["BTC"] as! Double) * factor
        doc["indexPrices"] = index
        doc["instruments"] = (doc["instruments"] as! [[String: Any]]).map { i in
            var i = i
            guard i["baseCoin"] as? String == "BTC" else { return i }
            for k in ["markPrice", "underlyingPrice"] { if let v = i[k] as? Double { i[k] = v * factor } }
            return i
        }
        let out = try JSONSerialization.data(withJSONObject: doc)
        return try folder.write(name, String(decoding: out, as: UTF8.self))
    }

    /// The shipped parameters with BTC's `priceRange` set to `range`.
    static func paramsWithBTCRange(_ range: Double, into folder: Folder, name: String) throws -> String {
        let text = try String(contentsOfFile: params, encoding: .utf8)
        guard let r = text.range(of: "\"priceRange\": 0.1,") else { throw InputError("no BTC priceRange in the shipped params") }
        return try folder.write(name, text.replacingCharacters(in: r, with: "\"priceRange\": \(range),"))
    }

    /// `pm batch`'s margins.csv of one day, by account id: (total_mm, total_im, stage) as text.
    static func batchFigures(_ input: String, market: String, params: String, folder: Folder) throws -> [String: (mm: String, im: String, stage: String)] {
        let out = folder.sub("batch-\(UUID().uuidString)")
        _ = try BatchJob(input: input, market: market, parameters: .file(params), output: out).run()
        var figures: [String: (mm: String, im: String, stage: String)] = [:]
        for line in try String(contentsOfFile: out + "/margins.csv", encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            figures[f[0]] = (f[4], f[3], f[7])
        }
        return figures
    }

    /// Runs an explanation and returns explain.csv and explain-units.csv as rows of fields by column name.
    static func explain(before: (String, String, String), after: (String, String, String), folder: Folder,
                        threads: Int = 2, blockSize: Int = BatchRunner.defaultBlockSize, out: String? = nil,
                        reuse: Bool = true)
        throws -> (report: ExplainReport, accounts: [[String: String]], units: [[String: String]], bytes: [UInt8]) {
        let o = out ?? folder.sub("explain-\(UUID().uuidString)")
        var job = ExplainJob(before: .init(input: before.0, market: before.1, parameters: .file(before.2)),
                             after: .init(input: after.0, market: after.1, parameters: .file(after.2)), output: o)
        job.threads = threads
        job.blockSize = blockSize
        job.reuseIdenticalAfterBook = reuse
        let report = try job.run()
        func rows(_ file: String) throws -> ([[String: String]], [UInt8]) {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: o + "/" + file)))
            let records = Self.parseCSV(String(decoding: bytes, as: UTF8.self))
            let header = records.first ?? []
            let out = records.dropFirst().map { r in Dictionary(uniqueKeysWithValues: zip(header, r)) }
            return (out, bytes)
        }
        let (a, ab) = try rows("explain.csv")
        let (u, ub) = try rows("explain-units.csv")
        return (report, a, u, ab + [0] + ub)
    }

    /// RFC 4180 records (quoted fields with doubled quotes, LF line ends), for the tests' reading.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = "", quoted = false, atStart = true
        var chars = Array(text), k = 0
        while k < chars.count {
            let c = chars[k]
            if quoted {
                if c == "\"" { if k + 1 < chars.count && chars[k + 1] == "\"" { field.append("\""); k += 1 } else { quoted = false } }
                else { field.append(c) }
            } else if c == "\"" && atStart { quoted = true }
            else if c == "," { record.append(field); field = ""; atStart = true; k += 1; continue }
            else if c == "\n" { record.append(field); records.append(record); record = []; field = ""; atStart = true; k += 1; continue }
            else { field.append(c) }
            atStart = false
            k += 1
        }
        chars = []
        return records
    }

    /// An exact decimal sum, independent of `ExactDecimal`: each text becomes an integer count of
    /// 10^-scale (digits as a little-endian array), added with carries.
    static func exactSum(_ texts: [String], minus: [String] = []) -> String {
        func parse(_ t: String) -> (negative: Bool, digits: [Int], scale: Int) {
            var s = Substring(t), negative = false
            if s.hasPrefix("-") { negative = true; s = s.dropFirst() }
            var exp = 0
            if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) { exp = Int(s[s.index(after: e)...])!; s = s[..<e] }
            var digits = "", scale = 0
            if let dot = s.firstIndex(of: ".") { digits = String(s[..<dot]) + String(s[s.index(after: dot)...]); scale = s.distance(from: s.index(after: dot), to: s.endIndex) }
            else { digits = String(s) }
            scale -= exp
            var d = digits.reversed().map { Int(String($0))! }
            if scale < 0 { d = [Int](repeating: 0, count: -scale) + d; scale = 0 }
            return (negative, d, scale)
        }
        let all = texts.map { (parse($0), 1) } + minus.map { (parse($0), -1) }
        let scale = all.map(\.0.scale).max() ?? 0
        // Room for every digit and for the integer digit of a value below 1 (scale + 1).
        let width = max(scale + 1, all.map { $0.0.digits.count + scale - $0.0.scale }.max() ?? 0) + 4
        var acc = [Int](repeating: 0, count: width)
        for (p, sign) in all {
            let shift = scale - p.scale
            for (k, d) in p.digits.enumerated() { acc[k + shift] += (p.negative ? -1 : 1) * sign * d }
        }
        // Normalise to a sign and digits 0…9.
        var carry = 0
        for k in 0..<width { let v = acc[k] + carry; carry = Int((Double(v) / 10).rounded(.down)); acc[k] = v - 10 * carry }
        var negative = false
        if carry < 0 {   // negative total: take the ten's complement
            negative = true
            var borrow = 0
            for k in 0..<width { var v = -acc[k] - borrow; borrow = 0; if v < 0 { v += 10; borrow = 1 }; acc[k] = v }
        }
        while acc.count > scale + 1 && acc.last == 0 { acc.removeLast() }
        let intPart = acc[scale...].reversed().map(String.init).joined()
        var frac = acc[..<scale].reversed().map(String.init).joined()
        while frac.hasSuffix("0") { frac.removeLast() }
        let text = intPart + (frac.isEmpty ? "" : "." + frac)
        return (negative && text.contains(where: { $0 != "0" && $0 != "." }) ? "-" : "") + text
    }

    /// `exactSum` of one text: its canonical form, to compare two decimals written differently.
    static func canonical(_ t: String) -> String { exactSum([t]) }

    // MARK: Kinds of days

    @Test func aMarketOnlyDayIsAllMarket() throws {
        let folder = Folder()
        let m1 = try Self.movedMarket(0.92, into: folder, name: "m1.json")
        let r = try Self.explain(before: (Self.batch, Self.market, Self.params), after: (Self.batch, m1, Self.params), folder: folder)
        let before = try Self.batchFigures(Self.batch, market: Self.market, params: Self.params, folder: folder)
        let after = try Self.batchFigures(Self.batch, market: m1, params: Self.params, folder: folder)
        var moved = 0
        for row in r.accounts where row["error"]!.isEmpty {
            let id = row["account_id"]!
            #expect(row["status"] == "both")
            #expect(row["mm_before"] == before[id]!.mm && row["mm_after"] == after[id]!.mm, "\(id)")
            #expect(row["im_before"] == before[id]!.im && row["im_after"] == after[id]!.im, "\(id)")
            #expect(row["parameters"] == "0.0" && row["positions"] == "0.0", "\(id): \(row)")
            #expect(row["im_parameters"] == "0.0" && row["im_positions"] == "0.0", "\(id): \(row)")
            #expect(Self.canonical(row["market"]!) == Self.exactSum([after[id]!.mm], minus: [before[id]!.mm]), "\(id)")
            if row["market"] != "0.0" { moved += 1 }
        }
        #expect(moved >= 2, "the BTC move must change some MM")
    }

    @Test func aParameterOnlyChangeIsAllParameters() throws {
        let folder = Folder()
        let p1 = try Self.paramsWithBTCRange(0.15, into: folder, name: "p1.json")
        let r = try Self.explain(before: (Self.batch, Self.market, Self.params), after: (Self.batch, Self.market, p1), folder: folder)
        let before = try Self.batchFigures(Self.batch, market: Self.market, params: Self.params, folder: folder)
        let after = try Self.batchFigures(Self.batch, market: Self.market, params: p1, folder: folder)
        var changed = 0
        for row in r.accounts where row["error"]!.isEmpty {
            let id = row["account_id"]!
            #expect(row["market"] == "0.0" && row["positions"] == "0.0", "\(id): \(row)")
            #expect(row["im_market"] == "0.0" && row["im_positions"] == "0.0", "\(id): \(row)")
            #expect(Self.canonical(row["parameters"]!) == Self.exactSum([after[id]!.mm], minus: [before[id]!.mm]), "\(id)")
            if row["parameters"] != "0.0" { changed += 1 }
        }
        #expect(changed >= 2, "a wider BTC range must change some MM")
    }

    @Test func aPositionOnlyChangeIsAllPositions() throws {
        let folder = Folder()
        let after = folder.sub("after")
        try FileManager.default.copyItem(atPath: Self.batch, toPath: after)
        let positions = try String(contentsOfFile: Self.batch + "/positions.csv", encoding: .utf8)
        try folder.write("after/positions.csv", positions.replacingOccurrences(of: "A-1,BTCUSDT,0.3,", with: "A-1,BTCUSDT,1.7,"))
        let r = try Self.explain(before: (Self.batch, Self.market, Self.params), after: (after, Self.market, Self.params), folder: folder)
        let b = try Self.batchFigures(Self.batch, market: Self.market, params: Self.params, folder: folder)
        let a = try Self.batchFigures(after, market: Self.market, params: Self.params, folder: folder)
        for row in r.accounts where row["error"]!.isEmpty {
            let id = row["account_id"]!
            #expect(row["market"] == "0.0" && row["parameters"] == "0.0", "\(id): \(row)")
            #expect(Self.canonical(row["positions"]!) == Self.exactSum([a[id]!.mm], minus: [b[id]!.mm]), "\(id)")
        }
        let a1 = try #require(r.accounts.first { $0["account_id"] == "A-1" })
        #expect(a1["positions"] != "0.0", "A-1's larger perpetual must change its MM")
    }

    @Test func theSameFolderMarketAndParametersGiveZeros() throws {
        let folder = Folder()
        let r = try Self.explain(before: (Self.batch, Self.market, Self.params), after: (Self.batch, Self.market, Self.params), folder: folder)
        #expect(!r.accounts.isEmpty)
        for row in r.accounts where row["error"]!.isEmpty {
            for k in ["mm_change", "market", "parameters", "positions", "im_change", "im_market", "im_parameters", "im_positions"] {
                #expect(row[k] == "0.0", "\(row["account_id"]!): \(k) = \(row[k]!)")
            }
            #expect(row["mm_before"] == row["mm_after"] && row["stage_before"] == row["stage_after"])
        }
        #expect(r.report.stageMoveCount == 0)
    }

    // MARK: Exact sums

    /// Random books, markets and parameters: in every row (accounts and units) the three printed
    /// terms add up to the printed change exactly, and the change is after − before exactly
    /// (decimal arithmetic of the texts, independent of the code's).
    @Test func theThreeTermsAddUpToTheChangeExactlyOnRandomBooks() throws {
        let symbols = ["BTCUSDT", "BTCUSDC", "BTCUSD", "ETHUSDT", "BTCUSDC-25DEC26", "BTC-27NOV26-91000-C-USDC",
                       "BTC-25DEC26-80000-P-USDC", "BTC-25DEC26-105000-C-USDC", "ETH-25DEC26-2800-P-USDC", "SOL-25DEC26-130-P-USDC"]
        var rng = SplitMix(seed: 20261207)
        var checked = 0, units = 0
        for round in 0..<3 {
            let folder = Folder()
            func book(_ name: String) throws -> String {
                var accounts = "account_id,spot_hedging\n", balances = "account_id,coin,wallet_balance\n"
                var positions = "account_id,symbol,size,entry_price\n"
                for a in 0..<60 where rng.chance(0.85) {
                    let id = "R-\(a)"
                    accounts += "\(id),\(rng.chance(0.5))\n"
                    balances += "\(id),USDC,\(Int(rng.uniform(1_000, 400_000)))\n"
                    for _ in 0..<rng.int(0, 4) {
                        let sym = rng.pick(symbols)
                        let size = (rng.uniform(-5, 5) * 1000).rounded() / 1000
                        positions += "\(id),\(sym),\(sym == "BTCUSD" ? (size * 1000).rounded() : size),\n"
                    }
                }
                try folder.write(name + "/accounts.csv", accounts)
                try folder.write(name + "/balances.csv", balances)
                try folder.write(name + "/positions.csv", positions)
                return folder.sub(name)
            }
            let b0 = try book("b0"), b1 = try book("b1")
            let m1 = try Self.movedMarket(rng.uniform(0.85, 1.15), into: folder, name: "m1.json")
            let p1 = try Self.paramsWithBTCRange([0.08, 0.12, 0.15][round], into: folder, name: "p1.json")
            let r = try Self.explain(before: (b0, Self.market, Self.params), after: (b1, m1, p1), folder: folder)
            for row in r.accounts + r.units {
                for q in ["", "im_"] {
                    let terms = [row[q.isEmpty ? "market" : "im_market"]!, row[q.isEmpty ? "parameters" : "im_parameters"]!,
                                 row[q.isEmpty ? "positions" : "im_positions"]!]
                    let change = row[q + "mm_change"] ?? row["im_change"]!
                    let changeText = q.isEmpty ? row["mm_change"]! : row["im_change"]!
                    _ = change
                    guard !terms.contains(""), !changeText.isEmpty else { continue }
                    #expect(Self.exactSum(terms) == Self.canonical(changeText), "\(row)")
                    let before = row[q.isEmpty ? "mm_before" : "im_before"]!, after = row[q.isEmpty ? "mm_after" : "im_after"]!
                    #expect(Self.exactSum([after], minus: [before]) == Self.canonical(changeText), "\(row)")
                    checked += 1
                }
            }
            units += r.units.count
            // Some rows must actually split into more than one non-zero term.
            #expect(r.accounts.contains { $0["market"] != "0.0" && $0["positions"] != "0.0" && $0["market"] != "" && $0["positions"] != "" })
        }
        #expect(checked > 200 && units > 50, "\(checked) sums, \(units) unit rows")
    }

    @Test func decimalsPrintAsTheOutputsPrintDoubles() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<20_000 {
            let v = [rng.uniform(-1e6, 1e6), rng.uniform(0, 1) * 1e-12, rng.uniform(1e15, 1e18),
                     Double(bitPattern: rng.next() & 0x7fef_ffff_ffff_ffff), (rng.uniform(0, 1e6) * 100).rounded() / 100][rng.int(0, 4)]
            #expect(ExactDecimal(v).text == NumberFormat.text(v), "\(v)")
        }
        // Where doubles are not exact, the decimals are: 0.3 − 0.1 is 0.2 (not 0.19999999999999998).
        #expect((ExactDecimal(0.3) - ExactDecimal(0.1)).text == "0.2")
        #expect((ExactDecimal(1e20) - ExactDecimal(1e-10)).text == "9.99999999999999999999999999999e+19")
        #expect((ExactDecimal(5) - ExactDecimal(7.25)).text == "-2.25")
        // The allocation-free path gives the general path's text, on close and on far exponents.
        for _ in 0..<20_000 {
            func draw() -> Double {
                [rng.uniform(-1e6, 1e6), rng.uniform(0, 1) * 1e-12, (rng.uniform(0, 1e6) * 100).rounded() / 100, 0,
                 rng.uniform(1e15, 1e18), Double(Int(rng.uniform(-1e6, 1e6)))][rng.int(0, 5)]
            }
            let a = draw(), b = draw()
            #expect(ExactDecimal.differenceText(a, b) == (ExactDecimal(b) - ExactDecimal(a)).text, "\(b) − \(a)")
            #expect(Self.canonical(ExactDecimal.differenceText(a, b)) == Self.exactSum([NumberFormat.text(b)], minus: [NumberFormat.text(a)]), "\(b) − \(a)")
        }
        #expect(ExactDecimal.differenceText(nil, 1) == "" && ExactDecimal.differenceText(1, nil) == "")
        // Around 2^53, where the outputs switch to the exponent form.
        for v in [9007199254740992.0, 9007199254740990.0, 9.0e15, 1e16, 0.0001, 0.00009999] { #expect(ExactDecimal(v).text == NumberFormat.text(v), "\(v)") }
        #expect(ExactDecimal(text: "9007199254740991.5")!.text == "9007199254740991.5")
        #expect(ExactDecimal(text: "9007199254740992.5")!.text == "9.0071992547409925e+15")
    }

    /// docs/formats.md names the columns the code writes.
    @Test func theDocumentedColumnsAreTheOnesWritten() throws {
        let docs = try String(contentsOfFile: TestSupport.path("docs/formats.md"), encoding: .utf8)
        for (file, header) in [("explain.csv", ExplainJob.accountsHeader), ("explain-units.csv", ExplainJob.unitsHeader)] {
            #expect(docs.contains("| `\(file)` | `\(header.dropLast())` |"), "\(file)")
        }
    }

    // MARK: New, gone, stages, order, errors

    @Test func newAndGoneAccountsAreListedWithTheOtherSideEmpty() throws {
        let folder = Folder()
        let e = Self.example
        let r = try Self.explain(before: (e + "/before", TestSupport.path("data/sample/market.json"), Self.params),
                                 after: (e + "/after", e + "/market-after.json", e + "/params-after.json"), folder: folder)
        // The after day's accounts.csv order, then the gone ones in the before day's order.
        #expect(r.accounts.map { $0["account_id"]! } == ["A-1", "A-2", "A-4", "B-5", "C-6", "A-3"])
        #expect(r.accounts.map { $0["status"]! } == ["both", "both", "both", "both", "new", "gone"])
        let new = r.accounts[4], gone = r.accounts[5]
        for k in ["mm_before", "im_before", "stage_before", "mm_change", "market", "parameters", "positions"] { #expect(new[k] == "", "\(k)") }
        for k in ["mm_after", "im_after", "stage_after", "mm_change", "market", "parameters", "positions"] { #expect(gone[k] == "", "\(k)") }
        #expect(new["mm_after"] != "" && gone["mm_before"] != "")
        #expect(r.report.new == 1 && r.report.gone == 1 && r.report.both == 4)
        // The units of the new and gone accounts carry their status.
        #expect(r.units.filter { $0["account_id"] == "C-6" }.allSatisfy { $0["status"] == "new" && $0["mm_before"] == "" })
        #expect(r.units.filter { $0["account_id"] == "A-3" }.map { $0["base_coin"]! } == ["ETH"])
    }

    @Test func aStageMoveIsReported() throws {
        let folder = Folder()
        // Short BTC puts on a thin balance: healthy at the snapshot, past liquidation after BTC −25%.
        try folder.write("b/accounts.csv", "account_id,spot_hedging\nS-1,false\nS-2,false\n")
        try folder.write("b/balances.csv", "account_id,coin,wallet_balance\nS-1,USDC,60000\nS-2,USDC,1000000\n")
        try folder.write("b/positions.csv", "account_id,symbol,size,entry_price\nS-1,BTC-25DEC26-84000-P-USDC,-4,\nS-2,BTCUSDT,0.1,\n")
        let m1 = try Self.movedMarket(0.75, into: folder, name: "m1.json")
        let r = try Self.explain(before: (folder.sub("b"), Self.market, Self.params), after: (folder.sub("b"), m1, Self.params), folder: folder)
        let before = try Self.batchFigures(folder.sub("b"), market: Self.market, params: Self.params, folder: folder)
        let after = try Self.batchFigures(folder.sub("b"), market: m1, params: Self.params, folder: folder)
        #expect(before["S-1"]!.stage != after["S-1"]!.stage, "the fixture must move S-1's stage")
        let s1 = try #require(r.accounts.first { $0["account_id"] == "S-1" })
        #expect(s1["stage_before"] == before["S-1"]!.stage && s1["stage_after"] == after["S-1"]!.stage)
        #expect(r.report.stageMoveCount == 1)
        #expect(r.report.stageMoves.map(\.accountId) == ["S-1"])
        #expect(r.report.largest.first?.accountId == "S-1")
    }

    @Test func outputsAreTheSameBytesAtAnyThreadsAndBlockSize() throws {
        let folder = Folder()
        let e = Self.example
        let before = (e + "/before", TestSupport.path("data/sample/market.json"), Self.params)
        let after = (e + "/after", e + "/market-after.json", e + "/params-after.json")
        let one = try Self.explain(before: before, after: after, folder: folder, threads: 1)
        let two = try Self.explain(before: before, after: after, folder: folder, threads: 2, blockSize: 1)
        let three = try Self.explain(before: before, after: after, folder: folder, threads: 3, blockSize: 2)
        #expect(one.bytes == two.bytes && one.bytes == three.bytes)
        #expect(one.report.largest == two.report.largest)
    }

    // MARK: An after folder with the before folder's bytes

    /// Copies the files of `source` into a new folder of `folder` (`edit` may change their texts).
    static func copyBook(_ source: String, into folder: Folder, name: String,
                         edit: (String, String) -> String? = { _, text in text }) throws -> String {
        for file in try FileManager.default.contentsOfDirectory(atPath: source) {
            let text = try String(contentsOfFile: source + "/" + file, encoding: .utf8)
            if let edited = edit(file, text) { try folder.write(name + "/" + file, edited) }
        }
        return folder.sub(name)
    }

    /// Explains `before` → `after` (the example's after market and parameters) with the after book
    /// taken from the before one where allowed and read again in any case: the same bytes, rows and
    /// manifest inputs; `reused` says which the rule took.
    static func sameEitherWay(before: String, after: String, afterMarket: String? = nil, reused: Bool,
                              folder: Folder, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let e = Self.example
        let b = (before, TestSupport.path("data/sample/market.json"), Self.params)
        let a = (after, afterMarket ?? e + "/market-after.json", e + "/params-after.json")
        for threads in [1, 2] {
            let fast = try Self.explain(before: b, after: a, folder: folder, threads: threads, blockSize: 3)
            let slow = try Self.explain(before: b, after: a, folder: folder, threads: threads, blockSize: 3, reuse: false)
            #expect(fast.report.afterBookReused == reused, sourceLocation: sourceLocation)
            #expect(!slow.report.afterBookReused, sourceLocation: sourceLocation)
            #expect(!fast.accounts.isEmpty && fast.bytes == slow.bytes, sourceLocation: sourceLocation)
            #expect(fast.report.inputs.map(\.name) == slow.report.inputs.map(\.name)
                    && fast.report.inputs.map(\.digest) == slow.report.inputs.map(\.digest), sourceLocation: sourceLocation)
            #expect(fast.report.largest == slow.report.largest && fast.report.stageMoves == slow.report.stageMoves
                    && fast.report.errors == slow.report.errors && fast.report.units == slow.report.units, sourceLocation: sourceLocation)
        }
    }

    @Test func anAfterFolderWithTheBeforeBytesIsNotReadAgainAndChangesNothing() throws {
        let folder = Folder()
        let before = Self.example + "/before"
        // The same folder, and a byte copy of it elsewhere.
        try Self.sameEitherWay(before: before, after: before, reused: true, folder: folder)
        try Self.sameEitherWay(before: before, after: Self.copyBook(before, into: folder, name: "copy"), reused: true, folder: folder)
        // orders.csv absent before, empty after: both count as no orders (docs/formats.md).
        let noOrders = try Self.copyBook(before, into: folder, name: "no-orders") { file, text in file == "orders.csv" ? nil : text }
        let emptyOrders = try Self.copyBook(before, into: folder, name: "empty-orders") { file, text in file == "orders.csv" ? "" : text }
        try Self.sameEitherWay(before: noOrders, after: emptyOrders, reused: true, folder: folder)
    }

    @Test func anAfterFolderWithOtherBytesOrABookWithErrorsIsReadAgain() throws {
        let folder = Folder()
        let before = Self.example + "/before"
        // Other positions (the example's after day).
        try Self.sameEitherWay(before: before, after: Self.example + "/after", reused: false, folder: folder)
        // One digit of one size changed: the same file sizes, other bytes.
        let edited = try Self.copyBook(before, into: folder, name: "edited") { file, text in
            guard file == "positions.csv", let r = text.range(of: ",-2,") else { return text }
            return text.replacingCharacters(in: r, with: ",-3,")
        }
        #expect(try String(contentsOfFile: edited + "/positions.csv", encoding: .utf8).utf8.count
                == String(contentsOfFile: before + "/positions.csv", encoding: .utf8).utf8.count)
        #expect(try String(contentsOfFile: edited + "/positions.csv", encoding: .utf8)
                != String(contentsOfFile: before + "/positions.csv", encoding: .utf8))
        try Self.sameEitherWay(before: before, after: edited, reused: false, folder: folder)
        // orders.csv present after only.
        let noOrders = try Self.copyBook(before, into: folder, name: "no-orders") { file, text in file == "orders.csv" ? nil : text }
        try Self.sameEitherWay(before: noOrders, after: before, reused: false, folder: folder)
        // A book with an error account (a bad size), the same folder both days.
        let bad = try Self.copyBook(before, into: folder, name: "bad") { file, text in
            file == "positions.csv" ? text.replacingOccurrences(of: ",-2,", with: ",x,") : text
        }
        try Self.sameEitherWay(before: bad, after: bad, reused: false, folder: folder)
        // A book with a row the after market cannot take: read again, its error kept.
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.example + "/market-after.json"))
        var doc = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let held = try String(contentsOfFile: before + "/positions.csv", encoding: .utf8).split(separator: "\n")
            .dropFirst().map { String($0.split(separator: ",")[1]) }
        let dropped = try #require(held.first { $0.contains("-C-") || $0.contains("-P-") })
        doc["instruments"] = (doc["instruments"] as! [[String: Any]]).filter { $0["symbol"] as? String != dropped }
        let m1 = try folder.write("m1.json", String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        try Self.sameEitherWay(before: before, after: before, afterMarket: m1, reused: false, folder: folder)
    }

    /// The before book's three pricings with the second book built from the moved input and with
    /// the first book repriced: the same figures, bit for bit, where ``ExplainJob/keepsBook(_:_:)``
    /// allows the latter; and it does not where the after market lacks an instrument.
    @Test func theSecondBookIsTheFirstRepricedOnlyWhenTheAfterMarketKeepsIt() throws {
        let folder = Folder()
        let e = Self.example
        let p0 = try ParameterSource.file(Self.params).loadWithDigest().parameters
        let m0 = try MarketSnapshot.loadWithDigest(path: TestSupport.path("data/sample/market.json")).snapshot
        let m1 = try MarketSnapshot.loadWithDigest(path: e + "/market-after.json").snapshot
        let priced00 = PricedMarket(market: m0, parameters: p0), priced10 = PricedMarket(market: m1, parameters: p0)
        #expect(ExplainJob.keepsBook(priced00, priced10))
        let input0 = try BatchInput.load(directory: e + "/before", priced: priced00, threads: 2)
        let relaid10 = input0.relaid(from: priced00, to: priced10, targetName: "m1")
        func runs(_ reprice: Bool) -> (RunFigures, RunFigures, RunFigures) {
            ExplainJob.runBefore(input0, relaid10, nil, priced00, priced10, priced10, repriceBefore: reprice,
                                 threads: 2, blockSize: 2, options: EngineOptions())
        }
        func same(_ a: RunFigures, _ b: RunFigures) -> Bool {
            a.mm.map(\.bitPattern) == b.mm.map(\.bitPattern) && a.im.map(\.bitPattern) == b.im.map(\.bitPattern)
                && a.stage == b.stage && a.failed == b.failed && a.unitStart == b.unitStart && a.unitSlot == b.unitSlot
                && a.unitMM.map(\.bitPattern) == b.unitMM.map(\.bitPattern) && a.unitIM.map(\.bitPattern) == b.unitIM.map(\.bitPattern)
                && a.coinNames == b.coinNames
        }
        let (built, repriced) = (runs(false), runs(true))
        #expect(!built.1.mm.isEmpty && same(built.0, repriced.0) && same(built.1, repriced.1) && same(built.2, repriced.2))
        #expect(!same(built.0, built.1), "the after market moves some figure")
        // Without an instrument the before market lists: other ids, another book.
        var doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: e + "/market-after.json"))) as! [String: Any]
        doc["instruments"] = Array((doc["instruments"] as! [[String: Any]]).dropFirst())
        let dropped = try folder.write("m1-dropped.json", String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        let m1d = try MarketSnapshot.loadWithDigest(path: dropped).snapshot
        #expect(!ExplainJob.keepsBook(priced00, PricedMarket(market: m1d, parameters: p0)))
        #expect(ExplainJob.keepsBook(priced10, priced10))
    }

    @Test func theJoinOfTheSameIdsIsEachAccountWithItself() {
        let ids = ["b", "a", "b", "c", "a"]
        #expect(ExplainJob.join(before: ids, after: ids).map { [$0.before, $0.after] } == (0..<5).map { [Int32($0), Int32($0)] })
        // Not the same list: the k-th occurrence with the k-th, the gone after.
        #expect(ExplainJob.join(before: ids, after: ["a", "b", "a"]).map { [$0.before, $0.after] }
                == [[1, 0], [0, 1], [4, 2], [2, -1], [3, -1]])
    }

    @Test func anInstrumentTheAfterMarketLacksIsAnErrorOfThatAccountOnly() throws {
        let folder = Folder()
        // The after market without one BTC option that A-2 holds.
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.market))
        var doc = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        doc["instruments"] = (doc["instruments"] as! [[String: Any]]).filter { $0["symbol"] as? String != "BTC-25DEC26-80000-P-USDC" }
        let m1 = try folder.write("m1.json", String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        let r = try Self.explain(before: (Self.batch, Self.market, Self.params), after: (Self.batch, m1, Self.params), folder: folder)
        let a2 = try #require(r.accounts.first { $0["account_id"] == "A-2" })
        #expect(a2["mm_before"] != "" && a2["market"] == "" && a2["mm_after"] == "")
        #expect(a2["error"]!.contains("BTC-25DEC26-80000-P-USDC") && a2["error"]!.contains("positions.csv"), "\(a2["error"]!)")
        let a1 = try #require(r.accounts.first { $0["account_id"] == "A-1" })
        #expect(a1["error"] == "" && a1["market"] != "")
        #expect(r.report.errors >= 1)
    }

    // MARK: The command

    static func pm(_ args: [String], cwd: String) throws -> CLI.Output { try CLI.run(args, cwd: URL(fileURLWithPath: cwd)) }

    static func args(before: String = batch, after: String = batch, out: String) -> [String] {
        ["explain", "--before", before, "--before-market", market, "--before-params", params,
         "--after", after, "--after-market", market, "--after-params", params, "--out", out]
    }

    @Test func theCommandWritesAOneLetterFolderAndPrintsTheTable() throws {
        let folder = Folder()
        let r = try Self.pm(Self.args(out: "o"), cwd: folder.path)
        // The fixture has an orphan account (B-5's order... an id only in the row files): exit 3.
        #expect(r.status == 0 || r.status == 3, "\(r.stderr)")
        for f in ["explain.csv", "explain-units.csv", "manifest.json"] { #expect(FileManager.default.fileExists(atPath: folder.sub("o/" + f)), "\(f)") }
        #expect(r.stdout.contains("Largest MM changes") && r.stdout.contains("Stage moves: 0"))
        #expect(r.stderr.hasPrefix("pm explain: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        let manifest = try String(contentsOfFile: folder.sub("o/manifest.json"), encoding: .utf8)
        for k in ["before/accounts.csv", "before/positions.csv", "before/market", "before/params", "after/orders.csv", "after/market", "after/params",
                  "explain.csv", "explain-units.csv"] {
            #expect(manifest.contains("\"\(k)\""), "\(k)")
        }
    }

    @Test func hostileArgumentsAreRefusedInOneLine() throws {
        let folder = Folder()
        let cwd = folder.path
        func refused(_ args: [String], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try Self.pm(args, cwd: cwd)
            #expect(r.status == 1, "\(args): \(r.status) \(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
            for w in words { #expect(r.stderr.contains(w), "\(w) not in \(r.stderr)", sourceLocation: sourceLocation) }
            #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: cwd + "/x/explain.csv"), sourceLocation: sourceLocation)
        }
        // Missing folders, on either day.
        try refused(Self.args(before: cwd + "/nowhere", out: "x"), ["nowhere", "accounts.csv"])
        try refused(Self.args(after: cwd + "/gone", out: "x"), ["gone", "accounts.csv"])
        // A day's file broken: the message names the file, the line and the field.
        let broken = folder.sub("broken")
        try FileManager.default.copyItem(atPath: Self.batch, toPath: broken)
        try folder.write("broken/positions.csv", "account_id,symbol,size,entry_price\nA-1,BTCUSDT,0.3\n")
        try refused(Self.args(after: broken, out: "x"), ["broken/positions.csv", "line 2"])
        try folder.write("broken/positions.csv", "")
        try refused(Self.args(after: broken, out: "x"), ["broken/positions.csv"])
        // Repeated and empty options, out-of-range numbers.
        try refused(Self.args(out: "x") + ["--before", Self.batch], ["--before given twice"])
        try refused(Self.args(out: "x") + ["--after-market", Self.market], ["--after-market given twice"])
        try refused(Self.args(out: "x") + ["--threads", "0"], ["--threads must be between 1 and 256"])
        try refused(Self.args(out: "x") + ["--top", "0"], ["--top must be at least 1"])
        try refused(Self.args(out: ""), ["--out must not be empty"])
        try refused(Array(Self.args(out: "x").dropLast(2)), ["--out"])
        // A file where the output folder belongs.
        try folder.write("afile", "x")
        let r = try Self.pm(Self.args(out: "afile"), cwd: cwd)
        #expect(r.status == 1 && r.stderr.contains("afile"), "\(r.stderr)")
        #expect(try String(contentsOfFile: folder.sub("afile"), encoding: .utf8) == "x")
        // A market that is not JSON.
        let m = try folder.write("bad.json", "{\"time\": ")
        let bad = try Self.pm(["explain", "--before", Self.batch, "--before-market", m, "--after", Self.batch, "--after-market", Self.market,
                               "--before-params", Self.params, "--after-params", Self.params, "--out", "x"], cwd: cwd)
        #expect(bad.status == 1 && bad.stderr.contains("bad.json"), "\(bad.stderr)")
    }
}
