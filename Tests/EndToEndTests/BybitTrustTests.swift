import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Hostile inputs to `pm bybit import` and `pm bybit reconcile`: every one a clear one-line error
/// naming file and field (exit 1), or a correct result; outputs whole or not at all.
struct BybitTrustTests {
    typealias Files = [(path: String, bytes: [UInt8])]

    func importError(_ files: Files, id: String = "x") -> String {
        do { _ = try BybitImport.run(files, accountId: id); return "no error" } catch { return "\(error)" }
    }

    static let linearTickers = BybitFixture.response(#"""
        {"category": "linear", "list": [
          {"symbol": "BTCUSDT", "markPrice": "70530", "indexPrice": "70500.56", "deliveryTime": "0"},
          {"symbol": "ETHUSDT", "markPrice": "3513.1", "indexPrice": "3512.4", "deliveryTime": "0"}]}
        """#)
    static let positions = BybitFixture.response(#"""
        {"category": "linear", "nextPageCursor": "", "list": [
          {"symbol": "BTCUSDT", "side": "Buy", "size": "0.038", "avgPrice": "70000", "positionIdx": 0}]}
        """#)
    static let wallet = BybitFixture.response(#"""
        {"list": [{"accountType": "UNIFIED", "coin": [{"coin": "USDT", "walletBalance": "45391.74"}]}]}
        """#)
    static var base: Files { [("tickers.json", linearTickers), ("positions.json", positions), ("wallet.json", wallet)] }

    func positions(_ out: BybitImport.Output) -> [JSON] {
        if case let .array(a)? = out.account["positions"] { return a }
        return []
    }

    // MARK: - Instants

    @Test func outOfRangeInstantsAreImportErrorsNamingFileAndField() {
        func tickers(time: String, delivery: String = "0") -> [UInt8] {
            Array(#"{"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [{"symbol": "BTCUSDT", "markPrice": "70530", "indexPrice": "70500", "deliveryTime": "\#(delivery)"}]}, "time": "\#(time)"}"#.utf8)
        }
        let ok = "1774319290506"
        var e = importError([("t.json", tickers(time: "1e300"))])
        #expect(e.hasPrefix("t.json: time: expected milliseconds since 1970-01-01 up to 9999-12-31"), "\(e)")
        e = importError([("t.json", tickers(time: "99999999999999999"))])
        #expect(e.hasPrefix("t.json: time: expected milliseconds"), "\(e)")
        e = importError([("t.json", tickers(time: "-1"))])
        #expect(e.hasPrefix("t.json: time: expected milliseconds"), "\(e)")
        e = importError([("t.json", tickers(time: ok, delivery: "1e300"))])
        #expect(e.hasPrefix("t.json: result.list[0]: deliveryTime: expected milliseconds"), "\(e)")
        e = importError([("t.json", tickers(time: ok, delivery: "99999999999999999"))])
        #expect(e.hasPrefix("t.json: result.list[0]: deliveryTime: expected milliseconds"), "\(e)")
        e = importError([("t.json", tickers(time: ok, delivery: "-5"))])
        #expect(e.hasPrefix("t.json: result.list[0]: deliveryTime: expected milliseconds"), "\(e)")
        // The last accepted instant is written and read back.
        let out = try? BybitImport.run([("t.json", tickers(time: "253402300799999"))], accountId: "x")
        #expect(out?.market["time"] == .string("9999-12-31T23:59:59.999Z"))
    }

    @Test func iso8601FormatNeverTrapsAndOnlyReadableInstantsReadBack() {
        for v in [Double.nan, .infinity, -.infinity, 1e300, -1e300, Double(Int.max), -Double(Int.max), 9.3e18, 1e15, -1e15,
                  3_155_695_200_000_000, 253_402_300_800, -62_167_219_201, .greatestFiniteMagnitude, .leastNonzeroMagnitude] {
            let s = ISO8601.format(v)
            #expect(ISO8601.seconds(s) == nil || ISO8601.readable.contains(v), "\(v) → \(s)")
            _ = BybitSymbol.dateRepresentation(v)
        }
        #expect(ISO8601.format(253_402_300_799.999) == "9999-12-31T23:59:59.999Z")
        #expect(ISO8601.format(-62_167_219_200) == "0000-01-01T00:00:00Z")
        #expect(ISO8601.seconds(ISO8601.format(-62_167_219_200)) == -62_167_219_200)
        #expect(ISO8601.format(-62_167_219_201) == "-0001-12-31T23:59:59Z")
        #expect(BybitSymbol.dateRepresentation(.nan) == ISO8601.format(.nan))
    }

    // MARK: - Reconcile

    @Test func infinityMatchesOnlyTheSameInfinityAndNaNNothing() throws {
        #expect(!BybitReconcile.matches(0.14, .infinity, tolerance: 0.01))
        #expect(!BybitReconcile.matches(.infinity, 0.14, tolerance: 0.01))
        #expect(!BybitReconcile.matches(-.infinity, 1e308, tolerance: 0.01))
        #expect(BybitReconcile.matches(.infinity, .infinity, tolerance: 0.01))
        #expect(!BybitReconcile.matches(.infinity, -.infinity, tolerance: 0.01))
        #expect(!BybitReconcile.matches(.nan, 1, tolerance: 0.01) && !BybitReconcile.matches(1, .nan, tolerance: 0.01))
        #expect(!BybitReconcile.matches(.nan, .nan, tolerance: .infinity))
        #expect(BybitReconcile.matches(1, 1.005, tolerance: 0.01) && !BybitReconcile.matches(1, 1.02, tolerance: 0.01))
        #expect(BybitReconcile.matches(1e12, 1e12 + 1e5, tolerance: 0.01) && !BybitReconcile.matches(1e12, 1e12 + 1e7, tolerance: 0.01))
        #expect(!BybitReconcile.matches(1.7e308, -1.7e308, tolerance: 0.01))
        func doc(_ rate: String) -> JSON {
            .object([("result", .object([("wallet", .object([("accountMMRate", .string(rate))])), ("assetPnlRange", .array([]))]))])
        }
        let p = TestSupport.shippedParams
        var r = try BybitReconcile.compare(ours: doc("0.14"), theirs: doc("inf"), tolerance: 0.01, parameters: p)
        #expect(r.fields.count == 1 && r.differing == 1 && r.matched == 0)
        r = try BybitReconcile.compare(ours: doc("inf"), theirs: doc("0.14"), tolerance: 0.01, parameters: p)
        #expect(r.differing == 1)
        r = try BybitReconcile.compare(ours: doc("inf"), theirs: doc("inf"), tolerance: 0.01, parameters: p)
        #expect(r.matched == 1 && r.differing == 0)
    }

    @Test func cliReconcileWithBybitInfAgainstOurFiniteRateExitsThree() throws {
        var theirs = try PublishedExample.ours()
        theirs = BybitReconcileTests().replacing(theirs, ["result", "wallet", "accountMMRate"], with: "inf")
        let dir = TestTemp.dir("reconcile-inf")
        defer { TestTemp.remove(dir) }
        let path = dir + "/inf.json"
        try Data(BybitFormat.render(theirs).utf8).write(to: URL(fileURLWithPath: path))
        let out = try CLI.run(["bybit", "reconcile", path, "--account", "\(PublishedExample.dir)/account.json",
                               "--market", "\(PublishedExample.dir)/market.json", "--format", "json"])
        #expect(out.status == 3, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        #expect(doc["differing"] == .number(1))
        guard case let .array(fields)? = doc["fields"] else { Issue.record("shape"); return }
        let f = fields.first { $0["path"] == .string("wallet.accountMMRate") }
        #expect(f?["match"] == .bool(false) && f?["theirs"] == .string("inf"))
    }

    // MARK: - Duplicates

    @Test func aResponseGivenTwiceOrARowRepeatedIsRefused() {
        var e = importError(Self.base + [("positions-again.json", Self.positions)])
        #expect(e.hasPrefix("positions-again.json: result.list[0]: symbol: position \"BTCUSDT\" (positionIdx \"0\") given twice (also in positions.json result.list[0])"), "\(e)")
        e = importError(Self.base + [("wallet-again.json", Self.wallet)])
        #expect(e.hasPrefix("wallet-again.json: result.list[0].coin[0]: coin: coin \"USDT\" given twice (also in wallet.json result.list[0].coin[0])"), "\(e)")
        let coinTwice = BybitFixture.response(#"{"list": [{"accountType": "UNIFIED", "coin": [{"coin": "USDT", "walletBalance": "1"}, {"coin": "USDT", "walletBalance": "2"}]}]}"#)
        e = importError([Self.base[0], ("w.json", coinTwice)])
        #expect(e.hasPrefix("w.json: result.list[0].coin[1]: coin: coin \"USDT\" given twice (also in w.json result.list[0].coin[0])"), "\(e)")
        let rowTwice = BybitFixture.response(#"{"category": "linear", "list": [{"symbol": "BTCUSDT", "side": "Buy", "size": "1"}, {"symbol": "ETHUSDT", "side": "Buy", "size": "1"}, {"symbol": "BTCUSDT", "side": "Buy", "size": "1"}]}"#)
        e = importError([Self.base[0], ("p.json", rowTwice)])
        #expect(e.hasPrefix("p.json: result.list[2]: symbol: position \"BTCUSDT\""), "\(e)")
        let orders = BybitFixture.response(#"{"category": "linear", "list": [{"orderId": "o-1", "symbol": "BTCUSDT", "side": "Buy", "qty": "1", "leavesQty": "1", "price": "69000", "orderStatus": "New"}]}"#)
        e = importError(Self.base + [("o.json", orders), ("o2.json", orders)])
        #expect(e.hasPrefix("o2.json: result.list[0]: orderId: order \"o-1\" given twice (also in o.json result.list[0])"), "\(e)")
        let info = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "", "list": [{"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "settleCoin": "USDT", "baseCoin": "BTC"}]}"#)
        e = importError(Self.base + [("i.json", info), ("i2.json", info)])
        #expect(e.hasPrefix("i2.json: result.list[0]: symbol: duplicate instruments-info entry \"BTCUSDT\" (also in i.json result.list[0])"), "\(e)")
        let spot = BybitFixture.response(#"{"category": "spot", "list": [{"symbol": "SOLUSDT", "lastPrice": "180", "usdIndexPrice": "180.1"}]}"#)
        e = importError(Self.base + [("s.json", spot), ("s2.json", spot)])
        #expect(e.hasPrefix("s2.json: result.list[0]: symbol: duplicate ticker \"SOLUSDT\" (also in s.json result.list[0])"), "\(e)")
        e = importError(Self.base + [("a.json", BybitFixture.info), ("a2.json", BybitFixture.info)])
        #expect(e.hasPrefix("a2.json: result: account info given twice (also a.json)"), "\(e)")
        #expect(!e.contains("\n"))
    }

    @Test func distinctRowsAcrossPagesAndHedgeModeSidesAreFine() throws {
        let page1 = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "c1", "list": [{"symbol": "BTCUSDT", "side": "Buy", "size": "0.5", "positionIdx": "1"}]}"#)
        let page2 = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "", "list": [{"symbol": "BTCUSDT", "side": "Sell", "size": "0.2", "positionIdx": "2"}]}"#)
        let out = try BybitImport.run([Self.base[0], ("p1.json", page1), ("p2.json", page2)], accountId: "x")
        #expect(positions(out).map { $0["size"] } == [.number(0.5), .number(-0.2)])
        // A spot instruments-info `BTCUSDT` next to the linear ticker of the same name is not the linear one.
        let spotInfo = BybitFixture.response(#"{"category": "spot", "list": [{"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "lotSizeFilter": {}}]}"#)
        let out2 = try BybitImport.run(Self.base + [("spot-info.json", spotInfo)], accountId: "x")
        #expect(positions(out2).map { $0["size"] } == [.number(0.038)])
    }

    @Test func theExampleImportIsUnchanged() throws {
        let out = try BybitImport.run(paths: BybitFixture.exampleFiles, accountId: "bybit")
        let want = try JSON.parse(readFile(BybitFixture.example + "/market.json"))
        #expect(out.market == want)
    }

    // MARK: - Pages

    @Test func aCursorWithoutItsNextPageIsRefused() throws {
        let page1 = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "BTCUSDT%2C1", "list": [{"symbol": "BTCUSDT", "side": "Buy", "size": "0.5"}]}"#)
        var e = importError([Self.base[0], ("p1.json", page1)])
        #expect(e == "p1.json: result: nextPageCursor: more pages follow (cursor \"BTCUSDT%2C1\") but no position list (category linear) page given is the last one (an empty nextPageCursor): save every page", "\(e)")
        // Two pages each with a cursor: the last page is still missing.
        let page2 = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "ETHUSDT%2C2", "list": [{"symbol": "ETHUSDT", "side": "Buy", "size": "1"}]}"#)
        e = importError([Self.base[0], ("p1.json", page1), ("p2.json", page2)])
        #expect(e.hasPrefix("p1.json: result: nextPageCursor: more pages follow"), "\(e)")
        // The instruments-info and open orders endpoints page too.
        let info = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "x", "list": [{"symbol": "BTCUSDT", "contractType": "LinearPerpetual"}]}"#)
        e = importError(Self.base + [("i.json", info)])
        #expect(e.hasPrefix("i.json: result: nextPageCursor: more pages follow (cursor \"x\") but no instruments-info (category linear)"), "\(e)")
        // An empty last page of the category ends the chain; an empty page with a cursor does not.
        let emptyLast = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "", "list": []}"#)
        let out = try BybitImport.run([Self.base[0], ("p1.json", page1), ("end.json", emptyLast)], accountId: "x")
        #expect(positions(out).count == 1)
        let emptyMore = BybitFixture.response(#"{"category": "linear", "nextPageCursor": "y", "list": []}"#)
        e = importError(Self.base + [("empty.json", emptyMore)])
        #expect(e.hasPrefix("empty.json: result: nextPageCursor: an empty page that says more pages follow (cursor \"y\")"), "\(e)")
        // An empty last page of another category does not end this chain.
        let optionEnd = BybitFixture.response(#"{"category": "option", "nextPageCursor": "", "list": []}"#)
        e = importError([Self.base[0], ("p1.json", page1), ("end.json", optionEnd)])
        #expect(e.hasPrefix("p1.json: result: nextPageCursor"), "\(e)")
    }

    // MARK: - Arguments and orders

    @Test func anEmptyOrControlCharacterIdIsRefused() {
        #expect(importError(Self.base, id: "").hasPrefix("--id: expected a non-empty account id"))
        #expect(importError(Self.base, id: "a\nb").hasPrefix("--id: expected a non-empty account id without control characters, got \"a\\nb\""))
        #expect(importError(Self.base, id: "a\u{7f}").hasPrefix("--id:"))
        #expect(importError(Self.base, id: "Kontó-1") == "no error")
    }

    @Test func anOrderPriceMustBePositiveUnlessAMarketOrder() throws {
        func order(_ fields: String) -> Files {
            Self.base + [("o.json", BybitFixture.response(#"{"category": "linear", "list": [{"orderId": "o-1", "symbol": "BTCUSDT", "side": "Buy", "qty": "1", "leavesQty": "1", "orderStatus": "New", \#(fields)}]}"#))]
        }
        var e = importError(order(#""price": "-5", "orderType": "Limit""#))
        #expect(e == "o.json: result.list[0]: price: expected a positive price (only a Market order may have none), got \"-5\"", "\(e)")
        e = importError(order(#""price": "0", "orderType": "Limit""#))
        #expect(e.hasPrefix("o.json: result.list[0]: price: expected a positive price"), "\(e)")
        e = importError(order(#""price": """#))
        #expect(e.hasPrefix("o.json: result.list[0]: price: expected a positive price"), "\(e)")
        e = importError(order(#""price": "-5", "orderType": "Market""#))
        #expect(e.hasPrefix("o.json: result.list[0]: price: expected a positive price"), "\(e)")
        e = importError(order(#""price": "1e999", "orderType": "Limit""#))
        #expect(e.hasPrefix("o.json: result.list[0]: price: expected a decimal number"), "\(e)")
        // A market order (price "0" or "") fills at mark.
        for p in [#""price": "0""#, #""price": """#] {
            let out = try BybitImport.run(order(p + #", "orderType": "Market""#), accountId: "x")
            guard case let .array(o)? = out.account["orders"] else { Issue.record("no orders"); continue }
            #expect(o.count == 1 && o[0]["price"] == .number(70530))
        }
    }

    // MARK: - Writing

    func write(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    @Test func bothOutputsAppearTogetherOrNeitherWithTheReason() throws {
        let root = TestTemp.dir("bybit-write")
        defer { TestTemp.remove(root) }
        for (name, bytes) in Self.base { try write("\(root)/\(name)", bytes) }
        let inputs = Self.base.map { "\(root)/\($0.path)" }
        let out = root + "/out"
        try FileManager.default.createDirectory(atPath: out + "/account.json", withIntermediateDirectories: true)
        try write(out + "/account.json/keep", Array("x".utf8))
        try write(out + "/market.json", Array("old market\n".utf8))
        let r = try CLI.run(["bybit", "import"] + inputs + ["--out", out])
        #expect(r.status == 1)
        #expect(r.stderr == "Error: \(out)/account.json: exists and is not a plain file; nothing was written\n", "\(r.stderr)")
        #expect(try String(contentsOfFile: out + "/market.json", encoding: .utf8) == "old market\n")
        // A symbolic link is not a plain file either: refused, the link and its target left as they were.
        try FileManager.default.removeItem(atPath: out + "/account.json")
        try write(root + "/target.json", Array("target\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: out + "/account.json", withDestinationPath: root + "/target.json")
        let l = try CLI.run(["bybit", "import"] + inputs + ["--out", out])
        #expect(l.status == 1)
        #expect(l.stderr == "Error: \(out)/account.json: exists and is not a plain file; nothing was written\n", "\(l.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/account.json") == root + "/target.json")
        #expect(try String(contentsOfFile: root + "/target.json", encoding: .utf8) == "target\n")
        try FileManager.default.removeItem(atPath: root + "/target.json")
        // A plain OUT: both files replaced, the user's other files kept, no staging left.
        try FileManager.default.removeItem(atPath: out + "/account.json")
        try write(out + "/notes.txt", Array("mine".utf8))
        let ok = try CLI.run(["bybit", "import"] + inputs + ["--out", out])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["account.json", "market.json", "notes.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == (Self.base.map(\.path) + ["out"]).sorted())
        let market = try MarketSnapshot.load(path: out + "/market.json")
        #expect(market.instrument("BTCUSDT")?.markPrice == 70530)
        #expect(try Account.load(path: out + "/account.json").accounts[0].get().positions.first?.size == 0.038)
        // An --out that is a file: refused, the file untouched.
        let file = root + "/a-file"
        try write(file, Array("keep".utf8))
        let f = try CLI.run(["bybit", "import"] + inputs + ["--out", file])
        #expect(f.status == 1 && f.stderr.hasPrefix("Error: \(file): exists and is not a folder"), "\(f.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep")
    }

    // MARK: - Hostile files and arguments, end to end

    @Test func hostileFilesAndArgumentsExitOneWithOneLineNamingFileAndField() throws {
        let root = TestTemp.dir("bybit-hostile")
        defer { TestTemp.remove(root) }
        for (name, bytes) in Self.base { try write("\(root)/\(name)", bytes) }
        let inputs = Self.base.map { "\(root)/\($0.path)" }
        let out = root + "/out"
        func response(_ result: String) -> [UInt8] { BybitFixture.response(result) }
        let cases: [(name: String, bytes: [UInt8]?, expect: String)] = [
            ("empty.json", [], "empty.json:"),
            ("folder.json", nil, "folder.json:"),
            ("text.json", Array("not json at all".utf8), "text.json:"),
            ("array.json", Array("[1, 2]".utf8), "array.json: expected a Bybit V5 response object"),
            ("failed.json", BybitFixture.response("{}", code: 10001), "failed.json: retCode: the request failed: retCode 10001"),
            ("huge.json", response(#"{"category": "linear", "list": [{"symbol": "SOLUSDT", "markPrice": "1e400", "indexPrice": "180"}]}"#),
             "huge.json: result.list[0]: markPrice: expected a decimal number, got \"1e400\""),
            ("bool.json", response(#"{"category": "linear", "list": [{"symbol": "SOLUSDT", "markPrice": true, "indexPrice": "180"}]}"#),
             "bool.json: result.list[0]: markPrice: expected a decimal string, got"),
            ("word.json", response(#"{"category": "linear", "list": [{"symbol": "ETHUSDT", "side": "Buy", "size": "lots"}]}"#),
             "word.json: result.list[0]: size: expected a decimal number, got \"lots\""),
            ("time.json", Array(#"{"retCode": 0, "result": {"category": "spot", "list": [{"symbol": "SOLUSDT", "usdIndexPrice": "1"}]}, "time": "1e300"}"#.utf8),
             "time.json: time: expected milliseconds"),
            ("cursor.json", response(#"{"category": "linear", "nextPageCursor": "z", "list": [{"orderId": "1", "symbol": "BTCUSDT", "side": "Buy", "qty": "1", "price": "1"}]}"#),
             "cursor.json: result: nextPageCursor:"),
            ("listobj.json", response(#"{"category": "linear", "list": {"a": 1}}"#), "listobj.json: result: unrecognised response"),
        ]
        for c in cases {
            let path = "\(root)/\(c.name)"
            if let b = c.bytes { try write(path, b) } else { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            let r = try CLI.run(["bybit", "import"] + inputs + [path, "--out", out])
            #expect(r.status == 1, "\(c.name): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("Error: \(root)/\(c.expect)"), "\(c.name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stdout.isEmpty, "\(c.name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(c.name)")
        }
        // Odd arguments: exit 1, one line, nothing written.
        let odd: [[String]] = [["bybit", "import", "--out", out], ["bybit", "import"] + inputs, ["bybit", "import"] + inputs + ["--out", out, "--id", ""],
                               ["bybit", "import"] + inputs + ["--out", out, "--index", "BTC=-1"], ["bybit", "import"] + inputs + ["--out", out, "--index", "BTC=inf"],
                               ["bybit", "import"] + inputs + ["--out", out, "--bogus"], ["bybit", "import", root + "/missing.json", "--out", out],
                               ["bybit", "reconcile", root + "/empty.json", "--account", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json"],
                               ["bybit", "reconcile", root + "/failed.json", "--account", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json"],
                               ["bybit", "reconcile", root + "/folder.json", "--account", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json"],
                               ["bybit", "reconcile", "\(PublishedExample.dir)/portfolio-margin-published.json", "--account", "\(PublishedExample.dir)/account.json",
                                "--market", "\(PublishedExample.dir)/market.json", "--tolerance", "nan"]]
        for args in odd {
            let r = try CLI.run(args)
            #expect(r.status == 1, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stdout.isEmpty, "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(args)")
        }
        // A read-only parent (meaningless for root, who may write anyway).
        if geteuid() != 0 {
            let ro = root + "/ro"
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
            chmod(ro, 0o555)
            defer { chmod(ro, 0o755) }
            let r = try CLI.run(["bybit", "import"] + inputs + ["--out", ro + "/out"])
            #expect(r.status == 1 && r.stderr.contains("Permission denied"), "\(r.stderr)")
        }
    }
}
