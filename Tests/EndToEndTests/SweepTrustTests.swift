import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Hostile inputs to `pm sweep`, `pm whatif`, the table views and the output folders: a correct
/// result or a one-line error, never a trap, an abort or memory corruption.
struct SweepTrustTests {
    static let fixtureMarket = TestSupport.path("Fuzz/fixtures/market-small.json")
    static let fixtureBatch = TestSupport.path("Fuzz/fixtures/batch")
    static let sampleMarket = TestSupport.path("data/sample/market.json")
    static let example = TestSupport.path("data/examples/basis-trade.json")

    /// Runs the real `pm` in `cwd`.
    static func pm(_ args: [String], cwd: String) throws -> CLI.Output {
        try CLI.run(args, cwd: URL(fileURLWithPath: cwd))
    }

    static func oneLine(_ s: String) -> Bool { s.split(separator: "\n").count == 1 }

    // MARK: Output folders

    @Test func splitPathTakesTheLastComponentWithoutFoundation() {
        #expect(OutputFiles.splitPath("o") == ("", "o"))
        #expect(OutputFiles.splitPath("./o") == (".", "o"))
        #expect(OutputFiles.splitPath("a/b") == ("a", "b"))
        #expect(OutputFiles.splitPath("a//b") == ("a", "b"))
        #expect(OutputFiles.splitPath("/o") == ("/", "o"))
        #expect(OutputFiles.splitPath("/") == ("/", ""))
        #expect(OutputFiles.splitPath("a/..") == ("a", ".."))
        #expect(OutputFiles.splitPath("x\ny/z") == ("x\ny", "z"))
    }

    /// A one-character relative `--out` that did not exist died with SIGILL in Foundation's
    /// `deletingLastPathComponent`; every shape below is either written or refused in one line.
    @Test func sweepWritesOrRefusesEveryOutputPathShape() throws {
        let dir = try TrustTempDir()
        let cwd = dir.url.path
        let args = ["sweep", "--input", Self.fixtureBatch, "--market", Self.fixtureMarket, "--shock", "ETH=0.1", "--out"]
        let long = String(repeating: "L", count: 300)
        for (out, folder) in [("o", "o"), ("./p", "p"), ("q/", "q"), ("a/b", "a/b"), ("r//", "r"), ("x\ny", "x\ny"),
                              (cwd + "/abs", "abs")] {
            let r = try Self.pm(args + [out], cwd: cwd)
            #expect(r.status == 0, "\(out): \(r.status) \(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: cwd + "/" + folder + "/sweep.csv"), "\(out)")
            #expect(FileManager.default.fileExists(atPath: cwd + "/" + folder + "/top.csv"), "\(out)")
        }
        let before = try FileManager.default.contentsOfDirectory(atPath: cwd).sorted()
        for out in ["/", ".", "..", "o/..", "./.", long] {
            let r = try Self.pm(args + [out], cwd: cwd + "/o")
            #expect(r.status == 1, "\(out): \(r.status) \(r.stderr)")
            #expect(Self.oneLine(r.stderr), "\(out): \(r.stderr)")
        }
        // Nothing was swapped away or left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: cwd).sorted() == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cwd + "/o").sorted() == ["sweep.csv", "top.csv"])
    }

    @Test func batchWritesAOneCharacterRelativeFolder() throws {
        let dir = try TrustTempDir()
        let r = try Self.pm(["batch", "--input", Self.fixtureBatch, "--market", Self.fixtureMarket, "--out", "m"], cwd: dir.url.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("m/margins.csv")))
    }

    // MARK: Sweeps whose settings make held instruments unusable

    static func fixture() throws -> (BatchInput, PricedMarket) {
        let base = PricedMarket(market: try MarketSnapshot.load(path: fixtureMarket), parameters: TestSupport.shippedParams)
        return (try BatchInput.load(directory: fixtureBatch, priced: base, threads: 2), base)
    }

    /// The accounts of the fixture book that hold an instrument `market` cannot margin (priced on
    /// its own: an invalid field or a non-finite risk array) or a balance of a coin without a usable
    /// index: from the files and `market` alone, not the sweep.
    static func accountsTouching(_ market: MarketSnapshot) throws -> Set<String> {
        let priced = PricedMarket(market: market, parameters: TestSupport.shippedParams)
        var out = Set<String>()
        for (file, column) in [("positions.csv", 1), ("orders.csv", 1), ("balances.csv", 1)] {
            let text = try String(contentsOfFile: fixtureBatch + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let bad = file == "balances.csv" ? market.index(of: f[column]) == nil
                                                 : priced.problem[market.indexOf(f[column])!] != nil
                if bad { out.insert(f[0]) }
            }
        }
        return out
    }

    /// `--shock BTC=-0.999999` moved strikes out of range and `1e308` made BTC's index infinite: the
    /// combination's market had other valid instruments (rows, groups) than the book was built on,
    /// and the contingency pass wrote at group −1 (glibc "free(): invalid pointer") or
    /// `Book.repriced` failed its precondition. Now those accounts are the combination's errors,
    /// the others are computed as in the base, on both evaluation paths.
    @Test(arguments: [true, false])
    func aShockThatBreaksHeldInstrumentsMakesTheirAccountsErrors(together: Bool) throws {
        let (input, base) = try Self.fixture()
        let shock = SweepSetting(kind: .shock(coin: "BTC"), values: [-0.999999, 1e308, 0])
        let results = try Sweep.run(input, base: base, settings: [shock], top: 3, aggregateTogether: together)
        let baseFigures = BatchRunner.accountFigures(input, priced: base)
        let ids = input.accountIds
        #expect(results.count == 4)
        #expect(results[0].errors == 0)
        for (k, move) in [(1, -0.999999), (2, 1e308)] {
            let moved = try Sweep.shocked(base.market, moves: ["BTC": move], ivScale: 1)
            let broken = try Self.accountsTouching(moved)
            #expect(!broken.isEmpty && broken.count < ids.count, "move \(move): \(broken)")
            let c = results[k]
            #expect(c.errors == broken.count, "move \(move)")
            #expect(c.stages.reduce(0, +) + c.errors == ids.count)
            #expect(c.totalMM.isFinite && c.totalIM.isFinite)
            if move == 1e308 {
                // BTC alone moved: the accounts without BTC keep their base figures exactly.
                let kept = ids.indices.filter { !broken.contains(ids[$0]) }
                #expect(c.totalMM == kept.reduce(0.0) { $0 + baseFigures.mm[$1] })
                #expect(c.totalIM == kept.reduce(0.0) { $0 + baseFigures.im[$1] })
            }
        }
        // A zero move is the base.
        #expect(results[3].totalMM == results[0].totalMM && results[3].errors == 0)
    }

    @Test func anIvScaleBeyondTheVolBoundMakesOptionHoldersErrors() throws {
        let (input, base) = try Self.fixture()
        let together = try Sweep.run(input, base: base, settings: [SweepSetting(kind: .ivScale, values: [20, 1])], top: 2)
        let reference = try Sweep.run(input, base: base, settings: [SweepSetting(kind: .ivScale, values: [20, 1])], top: 2,
                                      aggregateTogether: false)
        let scaled = try Sweep.shocked(base.market, moves: [:], ivScale: 20)
        let broken = try Self.accountsTouching(scaled)
        #expect(!broken.isEmpty)
        #expect(together[1].errors == broken.count)
        #expect(reference.map(\.errors) == together.map(\.errors))
        #expect(reference.map(\.totalMM) == together.map(\.totalMM))
        #expect(together[2].totalMM == together[0].totalMM)
    }

    /// A market priced on another's layout keeps its rows and coin ids, so a book can be repriced to it.
    @Test func aMarketOnTheBaseLayoutKeepsItsLayout() throws {
        let (_, base) = try Self.fixture()
        let moved = try Sweep.shocked(base.market, moves: ["BTC": 1e308], ivScale: 1)
        #expect(!PricedMarket(market: moved, parameters: base.parameters).hasLayout(of: base))
        let onLayout = PricedMarket(market: moved, parameters: base.parameters, onLayoutOf: base)
        #expect(onLayout.hasLayout(of: base))
        let btc = try #require(onLayout.coinIdByName["BTC"])
        #expect(onLayout.coinUSD[Int(btc)].isNaN)
        let perp = try #require(moved.indexOf("BTCUSDT"))
        #expect(onLayout.delta[perp].isNaN && onLayout.mark[perp].isNaN)
    }

    @Test func sweepExitsThreeWhenACombinationHasErrors() throws {
        let dir = try TrustTempDir()
        let r = try Self.pm(["sweep", "--input", Self.fixtureBatch, "--market", Self.fixtureMarket,
                             "--shock", "BTC=-0.999999,1e308,0.1", "--iv-scale", "1,20", "--out", "o"], cwd: dir.url.path)
        #expect(r.status == 3, "\(r.stderr)")
        let csv = try String(contentsOfFile: dir.path("o/sweep.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.count == 7)
        #expect(rows[0].last == "0")                     // the base
        #expect(rows.contains { Int($0.last!)! > 0 })    // some combination counts errors
        for row in rows { #expect(row[3...8].allSatisfy { Double($0)?.isFinite == true }) }
    }

    // MARK: Setting grammar

    @Test func aSettingGivenTwiceIsRefused() throws {
        func message(_ set: [String], _ shock: [String], _ iv: [String]) -> String? {
            do { _ = try SweepSetting.parseAll(set: set, shock: shock, ivScale: iv); return nil } catch { return "\(error)" }
        }
        #expect(message(["BTC.priceRange=0.1", "BTC.priceRange=0.2"], [], [])?.contains("--set BTC.priceRange given twice") == true)
        #expect(message([], ["BTC=0.1", "BTC=-0.1"], [])?.contains("--shock BTC given twice") == true)
        #expect(message([], [], ["1", "2"])?.contains("--iv-scale given twice") == true)
        #expect(message(["BTC.priceRange=0.1", "default.priceRange=0.2", "ETH.priceRange=0.1"], ["BTC=0.1", "ETH=0.1"], ["2"]) == nil)
        #expect(message(["BTC.priceRange=0.1,,0.2"], [], []) != nil)
        let many = (0..<200).map { "\(Double($0 + 1) / 1000)" }.joined(separator: ",")   // 200 distinct moves
        #expect(message([], ["BTC=" + many, "ETH=" + many], [])?.contains("combinations") == true)
        let (input, base) = try Self.fixture()
        let twice = [SweepSetting(kind: .ivScale, values: [1]), SweepSetting(kind: .ivScale, values: [2])]
        #expect(throws: InputError.self) { try Sweep.run(input, base: base, settings: twice, top: 1) }
    }

    @Test func sweepRefusesRepeatedAndOutOfBoundsSettingsEndToEnd() throws {
        let dir = try TrustTempDir()
        let head = ["sweep", "--input", Self.fixtureBatch, "--market", Self.fixtureMarket, "--out", "o"]
        let cases: [([String], String)] = [
            (["--set", "BTC.priceRange=0.1", "--set", "BTC.priceRange=0.2"], "--set BTC.priceRange given twice"),
            (["--shock", "BTC=0.1", "--shock", "BTC=0.2"], "--shock BTC given twice"),
            (["--iv-scale", "1", "--iv-scale", "2"], "--iv-scale given twice"),
            (["--set", "BTC.pricePoints=4"], "odd whole number from 3 to 101"),
            (["--set", "BTC.priceRange=1.5"], "must be in (0, 1)"),
            (["--set", "BTC.shortOptionFactor=-1"], "finite number ≥ 0"),
            (["--shock", "BTC=-1"], "greater than -1"),
            (["--iv-scale", "0"], "positive"),
        ]
        for (args, expected) in cases {
            let r = try Self.pm(head + args, cwd: dir.url.path)
            #expect(r.status == 1, "\(args)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(Self.oneLine(r.stderr), "\(args)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("o")))
    }

    // MARK: Tables

    @Test func everyTableNumberFormatterIsTotal() {
        #expect(Table.money(1234.5) == "1,234.50")
        #expect(Table.money(-0.004) == "0.00")
        #expect(Table.money(1e19) == "10,000,000,000,000,000,000.00")
        #expect(Table.money(-9.3e16) == "-93,000,000,000,000,000.00")
        #expect(Table.money(999_999_999_999_999.9) == "999,999,999,999,999.88")   // the double is …999.875
        #expect(Table.money(12_345_678_901_234.56) == "12,345,678,901,234.56")
        #expect(Table.money(1e300) == NumberFormat.text(1e300))
        #expect(Table.money(-Double.greatestFiniteMagnitude).hasPrefix("-"))
        #expect(Table.money(.nan) == NumberFormat.text(.nan) && Table.money(-.infinity) == NumberFormat.text(-.infinity))
        #expect(Table.percent(1e20) == NumberFormat.text(1e22) + "%")
        #expect(Table.percent(Double.greatestFiniteMagnitude).hasSuffix("%"))
        #expect(Table.percent(0.8520) == "85.20%")
    }

    @Test func marginAndWhatIfTablesPrintHugeFigures() throws {
        let dir = try TrustTempDir()
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
            .replacingOccurrences(of: "\"walletBalance\": 20000", with: "\"walletBalance\": 1e19")
        let account = dir.write("big.json", text)
        let m = try Self.pm(["margin", account, "--market", Self.sampleMarket, "--format", "table"], cwd: dir.url.path)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stdout.contains("9,998,000,000,000,866,304.00"))   // 1e19 USDT at its index, less the BTC short
        let w = try Self.pm(["whatif", account, "--market", Self.sampleMarket, "--add", "BTCUSDT:1e300", "--format", "table"],
                            cwd: dir.url.path)
        #expect(w.status == 0, "\(w.stderr)")
        // Columns stay apart however wide a figure is.
        let im = try #require(w.stdout.split(separator: "\n").first { $0.contains("total IM") })
        #expect(im.split(separator: " ").count == 5, "\(im)")
    }

    // MARK: --add grammar

    @Test func oddAddTextsAreOneLineErrorsNamingTheArgument() throws {
        let dir = try TrustTempDir()
        for text in [":", "X:", ":5", "BTCUSDT:nan", "BTCUSDT:1e400", "BTCUSDT:5@", "BTCUSDT:5@-1", "BTCUSDT:0", "NOPE:1",
                     "BTCUSDT:5@1e308", "BTCUSDT:1@2@3", "BTCUSDT\n:1", "ZZZ-26JUN26-95000-C-USDC:1", "BTCUSDT:1e305"] {
            let r = try Self.pm(["whatif", Self.example, "--market", Self.sampleMarket, "--add", text], cwd: dir.url.path)
            #expect(r.status == 1, "\(text): \(r.status)")
            #expect(r.stdout.isEmpty)
            #expect(Self.oneLine(r.stderr), "\(text): \(r.stderr)")
            #expect(r.stderr.contains("--add \(InputError.echo(text))"), "\(text): \(r.stderr)")
        }
    }

    @Test func anOverflowingTradeIsBlamedNotTheBalance() throws {
        let account = try Account.load(path: Self.example).accounts[0].get()
        let priced = PricedMarket(market: try MarketSnapshot.load(path: Self.sampleMarket), parameters: TestSupport.shippedParams)
        let option = try #require(priced.market.instruments.first { $0.kind == .option && priced.market.instrumentProblems[$0.symbol] == nil })
        for text in ["BTCUSDT:5@1e308", "\(option.symbol):5@1e308", "\(option.symbol):-1e307@100"] {
            let trade = try Trade(parsing: text)
            guard case let .failure(e) = WhatIf.run(account, trades: [trade], asOrders: false, priced: priced) else {
                Issue.record("\(text) accepted"); continue
            }
            #expect(e.description.hasPrefix("--add \"\(text)\": "), "\(e)")
            #expect(!e.description.contains("walletBalance"), "\(e)")
        }
        #expect(try Trade(parsing: "BTCUSDT:5") == Trade(symbol: "BTCUSDT", size: 5))
    }
}

/// The sweep table's top lines sign each change once: a fall printed as "+-30.62".
@Suite struct SweepTableSignTests {
    @Test func aFallIsPrintedWithOneMinus() throws {
        var c = SweepCombination(index: 1, values: [0.1])
        c.top = [(account: 0, mmBase: 100, mm: 69.38), (account: 1, mmBase: 10, mm: 12.5)]
        let text = SweepOutput.table([c], settings: [try SweepSetting.parseSet("BTC.priceRange=0.1")], accountIds: ["A", "B"])
        #expect(text.contains("A -30.62"), "\(text)")
        #expect(text.contains("B +2.50"), "\(text)")
        #expect(!text.contains("+-"), "\(text)")
    }
}
