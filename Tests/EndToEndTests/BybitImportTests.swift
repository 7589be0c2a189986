import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Builds saved V5 responses in Bybit's shapes (numbers as strings, ms timestamps).
enum BybitFixture {
    static let time = 1774319290506.0   // 2026-03-24T02:28:10.506Z

    static func response(_ result: String, time t: Double = time, code: Int = 0) -> [UInt8] {
        Array(#"{"retCode": \#(code), "retMsg": "\#(code == 0 ? "OK" : "params error")", "result": \#(result), "retExtInfo": {}, "time": \#(Int64(t))}"#.utf8)
    }

    static let example = TestSupport.path("data/examples/bybit")
    static let exampleFiles = ["tickers-option.json", "tickers-linear.json", "instruments-option-page1.json",
                               "instruments-option-page2.json", "instruments-linear.json", "positions-option.json",
                               "positions-linear.json", "wallet-balance.json", "open-orders.json", "account-info.json"]
        .map { "\(example)/\($0)" }

    /// Inverse perpetual and future, a legacy USDC option and a USDC perpetual, without instruments-info.
    static let inverseTickers = response(#"""
        {"category": "inverse", "list": [
          {"symbol": "BTCUSD", "markPrice": "70490.5", "indexPrice": "70500.1", "deliveryTime": "0"},
          {"symbol": "BTCUSDZ26", "markPrice": "72010", "indexPrice": "70500.1", "deliveryTime": "1798704000000"}]}
        """#)
    static let legacyTickers = response(#"""
        {"category": "option", "list": [
          {"symbol": "BTC-25DEC26-18000-C", "markPrice": "52600.5", "markIv": "0.6", "underlyingPrice": "71900", "indexPrice": "70500.56"},
          {"symbol": "ETH-3APR26-3000-P-USDT", "markPrice": "40.1", "markIv": "0.55", "underlyingPrice": "3520", "indexPrice": "3512.4"}]}
        """#)
    static let usdcLinearTickers = response(#"""
        {"category": "linear", "list": [
          {"symbol": "BTCPERP", "markPrice": "70530", "indexPrice": "70500.56", "deliveryTime": "0"},
          {"symbol": "BTC-26JUN26", "markPrice": "71200", "indexPrice": "70500.56", "deliveryTime": "1782460800000"},
          {"symbol": "ETHUSDT", "markPrice": "3513.1", "indexPrice": "3512.4", "deliveryTime": "0"}]}
        """#)
    static let spotTickers = response(#"""
        {"category": "spot", "list": [
          {"symbol": "USDCUSDT", "lastPrice": "1.0001", "usdIndexPrice": "0.99995"},
          {"symbol": "SOLUSDT", "lastPrice": "180.2", "usdIndexPrice": "180.15"}]}
        """#)
    static let inversePositions = response(#"""
        {"category": "inverse", "list": [
          {"symbol": "BTCUSD", "side": "Sell", "size": "5000", "avgPrice": "71000", "markPrice": "70490.5"},
          {"symbol": "BTCUSDZ26", "side": "", "size": "0", "avgPrice": "0", "markPrice": "72010"}]}
        """#)
    static let optionPositions = response(#"""
        {"category": "option", "nextPageCursor": "", "list": [
          {"symbol": "BTC-25DEC26-18000-C", "side": "Sell", "size": "0.5", "avgPrice": "52000", "markPrice": "52600.5"}]}
        """#)
    static let orders = response(#"""
        {"category": "linear", "nextPageCursor": "", "list": [
          {"orderId": "a1", "symbol": "BTCPERP", "side": "Buy", "qty": "2", "leavesQty": "1.5", "price": "69000", "orderStatus": "PartiallyFilled"},
          {"orderId": "a2", "symbol": "ETHUSDT", "side": "Sell", "qty": "3", "leavesQty": "3", "price": "3600", "orderStatus": "New"},
          {"orderId": "a3", "symbol": "ETHUSDT", "side": "Sell", "qty": "3", "leavesQty": "3", "price": "3700", "orderStatus": "Untriggered"},
          {"orderId": "a4", "symbol": "BTCPERP", "side": "Buy", "qty": "1", "leavesQty": "0", "price": "69000", "orderStatus": "New"}]}
        """#)
    static let wallet = response(#"""
        {"list": [{"accountType": "UNIFIED", "totalEquity": "1", "coin": [
          {"coin": "USDC", "walletBalance": "100000", "equity": "100000"},
          {"coin": "SOL", "walletBalance": "12.5"},
          {"coin": "BTC", "walletBalance": "-0.25", "borrowAmount": "0.25"},
          {"coin": "ETH", "walletBalance": "0"}]}]}
        """#)
    static let info = response(#"{"marginMode": "PORTFOLIO_MARGIN", "spotHedgingStatus": "ON", "unifiedMarginStatus": 6}"#)

    static var mixed: [(path: String, bytes: [UInt8])] {
        [("inverse-tickers.json", inverseTickers), ("option-tickers.json", legacyTickers), ("linear-tickers.json", usdcLinearTickers),
         ("spot-tickers.json", spotTickers), ("inverse-positions.json", inversePositions), ("option-positions.json", optionPositions),
         ("orders.json", orders), ("wallet.json", wallet), ("info.json", info)]
    }
}

struct BybitSymbolTests {
    @Test func optionsLinearAndInverse() {
        let usdt = BybitSymbol.parse("BTC-27MAR26-70000-P-USDT", category: "option")!
        #expect(usdt.kind == .option && usdt.baseCoin == "BTC" && usdt.settleCoin == "USDT" && usdt.strike == 70000 && usdt.optionType == .put)
        #expect(usdt.expiry == ISO8601.seconds("2026-03-27T08:00:00Z"))
        let legacy = BybitSymbol.parse("BTC-30DEC22-18000-C", category: "option")!
        #expect(legacy.settleCoin == "USDC" && legacy.optionType == .call && legacy.expiry == ISO8601.seconds("2022-12-30T08:00:00Z"))
        #expect(BybitSymbol.parse("ETH-3JAN23-1250-P", category: "option")?.expiry == ISO8601.seconds("2023-01-03T08:00:00Z"))
        #expect(BybitSymbol.parse("BTC-30FEB26-1-C", category: "option") == nil)   // no such date
        #expect(BybitSymbol.parse("BTCUSDT", category: "linear") == BybitSymbol(kind: .perpetual, baseCoin: "BTC", settleCoin: "USDT"))
        #expect(BybitSymbol.parse("BTCPERP", category: "linear")?.settleCoin == "USDC")
        #expect(BybitSymbol.parse("BTCUSDC", category: "linear")?.settleCoin == "USDC")
        let fut = BybitSymbol.parse("BTCUSDT-26DEC25", category: "linear")!
        #expect(fut.kind == .future && fut.settleCoin == "USDT" && fut.expiry == ISO8601.seconds("2025-12-26T08:00:00Z"))
        #expect(BybitSymbol.parse("BTC-26DEC25", category: "linear")?.settleCoin == "USDC")
        #expect(BybitSymbol.parse("BTCUSD", category: "inverse") == BybitSymbol(kind: .perpetual, baseCoin: "BTC", settleCoin: "BTC"))
        #expect(BybitSymbol.parse("ETHUSDZ25", category: "inverse")?.kind == .future)
        #expect(BybitSymbol.parse("BTCUSDQQQ", category: "inverse") == nil)
        #expect(BybitSymbol.dateRepresentation(ISO8601.seconds("2026-09-25T08:00:00Z")!) == "25SEP26")
        #expect(BybitSymbol.dateRepresentation(ISO8601.seconds("2026-04-03T08:00:00Z")!) == "3APR26")
    }
}

struct BybitImportTests {
    func instrument(_ market: JSON, _ symbol: String) -> JSON? {
        guard case let .array(items)? = market["instruments"] else { return nil }
        return items.first { $0["symbol"] == .string(symbol) }
    }

    @Test func theExampleAccountFromEveryEndpointIncludingPages() throws {
        let out = try BybitImport.run(paths: BybitFixture.exampleFiles, accountId: "bybit-example")
        let m = out.market, a = out.account
        #expect(m["time"] == .string("2026-03-24T02:28:10.506Z"))
        #expect(m["indexPrices"]?["BTC"] == .number(70500.56))
        #expect(m["indexPrices"]?["USDT"] == .number(1))
        let call = instrument(m, "BTC-25SEP26-80000-C-USDT")!
        #expect(call["kind"] == .string("option") && call["settleCoin"] == .string("USDT") && call["optionType"] == .string("Call"))
        #expect(call["strike"] == .number(80000) && call["expiry"] == .string("2026-09-25T08:00:00Z"))
        #expect(call["markPrice"] == .number(2608.56395729) && call["markIv"] == .number(0.27748572) && call["underlyingPrice"] == .number(71377.39))
        // The second instruments-info page gives the put its type.
        #expect(instrument(m, "BTC-25SEP26-60000-P-USDT")?["optionType"] == .string("Put"))
        #expect(instrument(m, "BTCUSDT")?["kind"] == .string("perpetual"))
        #expect(a["id"] == .string("bybit-example") && a["spotHedging"] == .bool(false))
        guard case let .array(pos)? = a["positions"] else { Issue.record("no positions"); return }
        // The empty-side ETHUSDT entry is no position.
        #expect(pos.count == 2)
        // In the order of the files given: the option page first.
        #expect(pos[1]["symbol"] == .string("BTCUSDT") && pos[1]["size"] == .number(0.038) && pos[1]["entryPrice"] == .number(255827.58652631))
        #expect(pos[0]["symbol"] == .string("BTC-25SEP26-80000-C-USDT") && pos[0]["size"] == .number(0.02) && pos[0]["entryPrice"] == nil)
        #expect(a["balances"] == .array([.object([("coin", .string("USDT")), ("walletBalance", .number(45391.74423708))])]))
        #expect(a["orders"] == .array([]))
        // The written files are what the margin loaders read.
        let snapshot = try MarketSnapshot.parse(m)
        #expect(snapshot.instrumentProblems.isEmpty)
    }

    @Test func inverseLegacyUSDCSpotIndicesOrdersAndHedging() throws {
        let out = try BybitImport.run(BybitFixture.mixed, accountId: "A-7")
        let m = out.market, a = out.account
        let inv = instrument(m, "BTCUSD")!
        #expect(inv["kind"] == .string("perpetual") && inv["settleCoin"] == .string("BTC"))
        let invFut = instrument(m, "BTCUSDZ26")!
        #expect(invFut["kind"] == .string("future") && invFut["settleCoin"] == .string("BTC") && invFut["expiry"] == .string("2026-12-31T08:00:00Z"))
        let legacy = instrument(m, "BTC-25DEC26-18000-C")!
        #expect(legacy["settleCoin"] == .string("USDC") && legacy["strike"] == .number(18000) && legacy["expiry"] == .string("2026-12-25T08:00:00Z"))
        #expect(instrument(m, "ETH-3APR26-3000-P-USDT")?["expiry"] == .string("2026-04-03T08:00:00Z"))
        #expect(instrument(m, "BTCPERP")?["settleCoin"] == .string("USDC"))
        let usdcFut = instrument(m, "BTC-26JUN26")!
        #expect(usdcFut["kind"] == .string("future") && usdcFut["settleCoin"] == .string("USDC") && usdcFut["expiry"] == .string("2026-06-26T08:00:00Z"))
        // Index prices: options' indexPrice for the base coin, spot usdIndexPrice, stablecoins 1 by default.
        #expect(m["indexPrices"]?["BTC"] == .number(70500.56))
        #expect(m["indexPrices"]?["ETH"] == .number(3512.4))
        #expect(m["indexPrices"]?["USDC"] == .number(0.99995))
        #expect(m["indexPrices"]?["SOL"] == .number(180.15))
        #expect(m["indexPrices"]?["USDT"] == .number(1))
        #expect(a["spotHedging"] == .bool(true))
        guard case let .array(pos)? = a["positions"], case let .array(ords)? = a["orders"], case let .array(bals)? = a["balances"] else {
            Issue.record("lists missing"); return
        }
        // Inverse size in USD contracts, signed by side; the empty side is skipped; options carry no entry price.
        #expect(pos.count == 2)
        #expect(pos[0]["symbol"] == .string("BTCUSD") && pos[0]["size"] == .number(-5000) && pos[0]["entryPrice"] == .number(71000))
        #expect(pos[1]["size"] == .number(-0.5) && pos[1]["entryPrice"] == nil)
        // Orders: leavesQty of the active ones (Untriggered and fully filled left out).
        #expect(ords.count == 2)
        #expect(ords[0]["qty"] == .number(1.5) && ords[0]["side"] == .string("Buy") && ords[0]["price"] == .number(69000))
        #expect(ords[1]["symbol"] == .string("ETHUSDT") && ords[1]["side"] == .string("Sell") && ords[1]["qty"] == .number(3))
        // Balances: walletBalance per coin, a liability negative, a zero one skipped (an empty one is an error: Trust3BybitTests).
        #expect(bals.map { $0["coin"]! } == [.string("USDC"), .string("SOL"), .string("BTC")])
        #expect(bals[2]["walletBalance"] == .number(-0.25))
        // --index wins over everything.
        let over = try BybitImport.run(BybitFixture.mixed, accountId: "A-7", indexOverrides: ["USDT": 0.9998, "BTC": 70000])
        #expect(over.market["indexPrices"]?["USDT"] == .number(0.9998) && over.market["indexPrices"]?["BTC"] == .number(70000))
    }

    func importError(_ files: [(path: String, bytes: [UInt8])]) -> String {
        do { _ = try BybitImport.run(files, accountId: "x"); return "no error" } catch { return "\(error)" }
    }

    @Test func everyProblemIsOneLineNamingFileAndIndex() {
        let base = BybitFixture.mixed
        // retCode ≠ 0
        var e = importError(base + [("bad.json", BybitFixture.response("{}", code: 10001))])
        #expect(e.hasPrefix("bad.json: retCode: the request failed: retCode 10001"), "\(e)")
        // unrecognised
        e = importError(base + [("odd.json", BybitFixture.response(#"{"list": [{"foo": "1"}]}"#))])
        #expect(e.hasPrefix("odd.json: result.list[0]: unrecognised response"), "\(e)")
        e = importError(base + [("plain.json", Array(#"{"id": "A"}"#.utf8))])
        #expect(e.hasPrefix("plain.json: retCode: missing"), "\(e)")
        // a position without market data
        e = importError(base + [("pos2.json", BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "BTCPERP", "side": "Buy", "size": "1"}, {"symbol": "XRPUSDT", "side": "Buy", "size": "10"}]}"#))])
        #expect(e.hasPrefix("pos2.json: result.list[1]: symbol: no market data for \"XRPUSDT\""), "\(e)")
        // an order without market data
        e = importError(base + [("ord2.json", BybitFixture.response(#"{"category": "option", "list": [{"orderId": "z", "symbol": "BTC-25DEC26-99000-C", "side": "Buy", "qty": "1", "leavesQty": "1", "price": "5", "orderStatus": "New"}]}"#))])
        #expect(e.hasPrefix("ord2.json: result.list[0]: symbol: no market data for \"BTC-25DEC26-99000-C\""), "\(e)")
        // a ticker outside the grammar without instruments-info: left out, an error only when held
        let odd = ("odd-tickers.json", BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "BTC_WEIRD", "markPrice": "1", "indexPrice": "70500"}]}"#))
        #expect(importError(base + [odd]) == "no error")
        e = importError(base + [odd, ("p4.json", BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "BTC_WEIRD", "side": "Buy", "size": "1"}]}"#))])
        #expect(e.hasPrefix("p4.json: result.list[0]: symbol: no market data: odd-tickers.json: result.list[0]: symbol: \"BTC_WEIRD\" does not follow"), "\(e)")
        // a number that is not a number
        e = importError(base + [("t2.json", BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "SOLUSDT", "markPrice": "NaN", "indexPrice": "180"}]}"#))])
        #expect(e.hasPrefix("t2.json: result.list[0]: markPrice: expected a decimal number, got \"NaN\""), "\(e)")
        e = importError(base + [("w2.json", BybitFixture.response(#"{"list": [{"accountType": "UNIFIED", "coin": [{"coin": "USDT", "walletBalance": "1e"}]}]}"#))])
        #expect(e.hasPrefix("w2.json: result.list[0].coin[0]: walletBalance: expected a decimal number"), "\(e)")
        // snapshots of different times
        e = importError(base + [("late.json", BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "SOLUSDT", "markPrice": "180", "indexPrice": "180"}]}"#, time: BybitFixture.time + 3_600_000))])
        #expect(e.hasPrefix("late.json: time: snapshots of different times"), "\(e)")
        // a bad side
        e = importError(base + [("p3.json", BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "BTCPERP", "side": "Long", "size": "1"}]}"#))])
        #expect(e.hasPrefix("p3.json: result.list[0]: side: expected Buy or Sell"), "\(e)")
        // no tickers at all
        e = importError([("info.json", BybitFixture.info)])
        #expect(e.contains("no market tickers"), "\(e)")
        // a duplicate ticker across pages
        e = importError(base + [("again.json", BybitFixture.inverseTickers)])
        #expect(e.hasPrefix("again.json: result.list[0]: symbol: duplicate ticker \"BTCUSD\""), "\(e)")
        #expect(!e.contains("\n"))
    }

    @Test func cliWritesBothFilesOrNothing() throws {
        let base = TestTemp.dir("bybit-import")
        defer { TestTemp.remove(base) }
        let dir = base + "/out"   // the command makes it
        let ok = try CLI.run(["bybit", "import"] + BybitFixture.exampleFiles + ["--out", dir, "--id", "E-1"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let market = try MarketSnapshot.load(path: "\(dir)/market.json")
        #expect(market.instrument("BTCUSDT")?.markPrice == 255827.58652631)
        let account = try Account.load(path: "\(dir)/account.json")
        #expect(try account.accounts[0].get().id == "E-1")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["account.json", "market.json"])

        let bad = base + "/bybit-bad.json"
        try Data(BybitFixture.response("{}", code: 10003)).write(to: URL(fileURLWithPath: bad))
        let dir2 = dir + "-2"
        let fail = try CLI.run(["bybit", "import"] + BybitFixture.exampleFiles + [bad, "--out", dir2])
        #expect(fail.status == 1)
        #expect(fail.stderr.contains("\(bad): retCode: the request failed: retCode 10003"), "\(fail.stderr)")
        #expect(fail.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir2))
    }
}
