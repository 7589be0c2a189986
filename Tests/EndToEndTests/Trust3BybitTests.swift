import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// A hostile review of `pm bybit import` and `pm bybit reconcile`, end to end through `pm`: an
/// import never writes an account `pm margin` then refuses; an empty number is never "none" unless
/// documented; a coin listed twice, a forked page chain or a repeated `--index` is refused.
struct Trust3BybitTests {
    /// The shipped example responses copied into a fresh folder, `edits` applied (file name →
    /// (text, replacement), each text occurring exactly once). Returns the folder and the file paths.
    func example(_ name: String, _ edits: [(file: String, from: String, to: String)] = []) throws -> (dir: String, files: [String]) {
        let dir = TestTemp.dir(name)
        var files: [String] = []
        for src in BybitFixture.exampleFiles {
            let file = (src as NSString).lastPathComponent
            var text = try String(contentsOfFile: src, encoding: .utf8)
            for e in edits where e.file == file {
                #expect(text.components(separatedBy: e.from).count == 2, "\(e.from) in \(file)")
                text = text.replacingOccurrences(of: e.from, with: e.to)
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
            files.append(dir + "/" + file)
        }
        return (dir, files)
    }

    /// `pm bybit import` of the edited example: exit status, stderr, and whether it wrote anything.
    func importEdited(_ name: String, _ edits: [(file: String, from: String, to: String)], extra: [String] = []) throws -> (status: Int32, stderr: String, wrote: Bool, dir: String) {
        let (dir, files) = try example(name, edits)
        let out = try CLI.run(["bybit", "import"] + files + ["--out", dir + "/out"] + extra)
        return (out.status, out.stderr, FileManager.default.fileExists(atPath: dir + "/out/account.json"), dir)
    }

    // MARK: - 1. A held instrument `pm margin` would refuse stops the import

    @Test func cliImportRefusesAHeldInstrumentMarginWouldRefuse() throws {
        let linearMark = #""markPrice": "255827.58652631""#
        let optionIv = #""markIv": "0.27748572""#
        let delivery = #""deliveryTime": "1790323200000""#
        let cases: [(file: String, from: String, to: String, prefix: String)] = [
            ("tickers-linear.json", linearMark, #""markPrice": "0""#, "tickers-linear.json: result.list[0]: markPrice: expected a finite positive price"),
            ("tickers-linear.json", linearMark, #""markPrice": "-5""#, "tickers-linear.json: result.list[0]: markPrice: expected a finite positive price"),
            ("tickers-option.json", optionIv, #""markIv": "0""#, "tickers-option.json: result.list[0]: markIv: expected a finite positive volatility"),
            ("tickers-option.json", optionIv, #""markIv": "100""#, "tickers-option.json: result.list[0]: markIv: must be at most 10"),
            ("instruments-option-page1.json", delivery, #""deliveryTime": "1000""#,
             "instruments-option-page1.json: result.list[0]: deliveryTime: expired at 1970-01-01T00:00:01Z"),
        ]
        for c in cases {
            let r = try importEdited("bybit-held-bad", [(c.file, c.from, c.to)])
            defer { TestTemp.remove(r.dir) }
            #expect(r.status == 1, "\(c.to): \(r.stderr)")
            #expect(r.stderr.contains(r.dir + "/" + c.prefix), "\(c.to): \(r.stderr)")
            #expect(r.stderr.contains("is held by " + r.dir + "/positions-"), "\(c.to): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(!r.wrote)
        }
    }

    @Test func cliImportWritesAnUnheldBadInstrumentLazilyAndMarginStillRuns() throws {
        // BTC-25SEP26-60000-P-USDT is in the tickers but no position or order holds it.
        let r = try importEdited("bybit-unheld-bad", [("tickers-option.json", #""markIv": "0.33""#, #""markIv": "100""#)])
        defer { TestTemp.remove(r.dir) }
        #expect(r.status == 0, "\(r.stderr)")
        let market = try MarketSnapshot.load(path: r.dir + "/out/market.json")
        #expect(market.instrument("BTC-25SEP26-60000-P-USDT")?.markIv == 100)
        #expect(market.instrumentProblems["BTC-25SEP26-60000-P-USDT"]?.field == "markIv")
        let margin = try CLI.run(["margin", r.dir + "/out/account.json", "--market", r.dir + "/out/market.json", "--format", "json"])
        #expect(margin.status == 0, "\(margin.stderr)")
    }

    // MARK: - 2. An empty number is an error unless documented

    @Test func cliImportRefusesAnEmptyWalletBalanceAndOtherEmptyNumbers() throws {
        let cases: [(file: String, from: String, to: String, prefix: String)] = [
            ("wallet-balance.json", #""walletBalance": "45391.74423708""#, #""walletBalance": """#,
             "wallet-balance.json: result.list[0].coin[0]: walletBalance: missing or empty"),
            ("positions-linear.json", #""size": "0.038""#, #""size": """#, "positions-linear.json: result.list[0]: size: missing or empty"),
            ("positions-linear.json", #""avgPrice": "255827.58652631""#, #""avgPrice": """#, "positions-linear.json: result.list[0]: avgPrice: empty"),
        ]
        for c in cases {
            let r = try importEdited("bybit-empty", [(c.file, c.from, c.to)])
            defer { TestTemp.remove(r.dir) }
            #expect(r.status == 1, "\(c.to): \(r.stderr)")
            #expect(r.stderr.contains(r.dir + "/" + c.prefix), "\(c.to): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(!r.wrote)
        }
    }

    @Test func anEmptyLeavesQtyIsAnErrorNotTheOrderQty() {
        let order = BybitFixture.response(#"""
            {"category": "linear", "nextPageCursor": "", "list": [
              {"symbol": "BTCUSDT", "orderId": "o1", "side": "Buy", "orderType": "Limit", "price": "70000", "qty": "2", "leavesQty": "", "orderStatus": "New"}]}
            """#)
        let e: String
        do { _ = try BybitImport.run(BybitTrustTests.base + [("orders.json", order)], accountId: "x"); e = "no error" } catch { e = "\(error)" }
        #expect(e.hasPrefix("orders.json: result.list[0]: leavesQty: empty"), "\(e)")
    }

    @Test func anEmptyPositionIdxIsAnErrorNotZero() {
        let hedge = BybitFixture.response(#"""
            {"category": "linear", "nextPageCursor": "", "list": [
              {"symbol": "BTCUSDT", "side": "Buy", "size": "0.038", "avgPrice": "70000", "positionIdx": ""}]}
            """#)
        let e: String
        do { _ = try BybitImport.run([("tickers.json", BybitTrustTests.linearTickers), ("positions.json", hedge)], accountId: "x"); e = "no error" } catch { e = "\(error)" }
        #expect(e.hasPrefix("positions.json: result.list[0]: positionIdx: empty"), "\(e)")
    }

    // MARK: - 3. Reconcile

    @Test func cliReconcileRefusesACoinListedTwiceAndPrintsIntegerCounts() throws {
        let ex = BybitFixture.example
        var theirs = try PublishedExample.ours()
        guard case var .object(top) = theirs, let ri = top.firstIndex(where: { $0.0 == "result" }),
              case var .object(result) = top[ri].1, let ui = result.firstIndex(where: { $0.0 == "assetPnlRange" }),
              case let .array(units) = result[ui].1, units.count == 1 else { Issue.record("shape"); return }
        result[ui].1 = .array(units + units)
        top[ri].1 = .object(result)
        theirs = .object(top)
        let dir = TestTemp.dir("reconcile-dup")
        defer { TestTemp.remove(dir) }
        let path = dir + "/dup.json"
        try Data(BybitFormat.render(theirs).utf8).write(to: URL(fileURLWithPath: path))
        let out = try CLI.run(["bybit", "reconcile", path, "--account", ex + "/account.json", "--market", ex + "/market.json", "--format", "json"])
        #expect(out.status == 1, "\(out.stdout)")
        #expect(out.stderr.contains(path + ": result.assetPnlRange[1]: baseCoin: coin \"BTC\" listed twice (also result.assetPnlRange[0])"), "\(out.stderr)")
        #expect(out.stdout.isEmpty)

        let ok = try CLI.run(["bybit", "reconcile", ex + "/portfolio-margin-published.json", "--account", ex + "/account.json",
                              "--market", ex + "/market.json", "--format", "json"])
        #expect(ok.status == 0 || ok.status == 3, "\(ok.stderr)")
        let doc = try JSON.parse(ok.stdout)
        guard case let .number(matched)? = doc["matched"], case let .number(differing)? = doc["differing"] else { Issue.record("counts"); return }
        #expect(ok.stdout.contains("\"matched\": \(Int(matched)),\n"), "\(ok.stdout.suffix(200))")
        #expect(ok.stdout.contains("\"differing\": \(Int(differing)),\n"), "\(ok.stdout.suffix(200))")
        #expect(!ok.stdout.contains("\"matched\": \(Int(matched)).0"))
        guard case let .array(fields)? = doc["fields"] else { Issue.record("fields"); return }
        #expect(Double(fields.count) == matched + differing && fields.count > 0)
    }

    // MARK: - 4. Pages and --index

    @Test func cliImportRefusesTwoPagesWithTheSameCursor() throws {
        let (dir, files) = try example("bybit-fork")
        defer { TestTemp.remove(dir) }
        // A second "page 1": a different instrument, the same cursor as page 1.
        let fork = dir + "/p2.json"
        let page1 = try String(contentsOfFile: dir + "/instruments-option-page1.json", encoding: .utf8)
        try Data(page1.replacingOccurrences(of: "BTC-25SEP26-80000-C-USDT", with: "BTC-25SEP26-90000-C-USDT").utf8).write(to: URL(fileURLWithPath: fork))
        let out = try CLI.run(["bybit", "import"] + files + [fork, "--out", dir + "/out"])
        #expect(out.status == 1, "\(out.stderr)")
        #expect(out.stderr.contains(fork + ": result: nextPageCursor: two instruments-info (category option) pages carry the same cursor \"0%2C1\" (also \(dir)/instruments-option-page1.json)"), "\(out.stderr)")
        #expect(out.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    @Test func cliImportRefusesARepeatedOrMalformedIndexCoin() throws {
        for (args, message) in [(["--index", "USDT=0.9", "--index", "USDT=0.8"], "--index: coin \"USDT\" given twice"),
                                (["--index", "<x>=5"], "--index: expected a coin of 1–20 upper-case letters or digits"),
                                (["--index", "btc=5"], "--index: expected a coin of 1–20 upper-case letters or digits"),
                                (["--index", "=5"], "--index: expected a coin of 1–20 upper-case letters or digits"),
                                (["--index", String(repeating: "A", count: 21) + "=5"], "--index: expected a coin of 1–20")] {
            let r = try importEdited("bybit-index", [], extra: args)
            defer { TestTemp.remove(r.dir) }
            #expect(r.status == 1, "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(!r.wrote)
        }
        // One override per coin, 20 characters, is fine and used.
        let r = try importEdited("bybit-index", [], extra: ["--index", "USDT=0.9", "--index", "ABCDEFGHIJ0123456789=2"])
        defer { TestTemp.remove(r.dir) }
        #expect(r.status == 0, "\(r.stderr)")
        let market = try MarketSnapshot.load(path: r.dir + "/out/market.json")
        #expect(market.indexPrices["USDT"] == 0.9 && market.indexPrices["ABCDEFGHIJ0123456789"] == 2)
    }
}
