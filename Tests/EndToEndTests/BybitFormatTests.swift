import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Bybit's published portfolio-margin example (bybit-exchange/docs, docs/v5/asset/portfolio-margin.mdx,
/// response of 2026-03-24T02:28:10.506Z): long 0.02 BTC-25SEP26-80000-C-USDT and long 0.038
/// BTCUSDT. The numbers below are copied from that page (also in
/// data/examples/bybit/portfolio-margin-published.json).
enum PublishedExample {
    static let dir = TestSupport.path("data/examples/bybit")
    /// Option ladder per move −10%…+10%: [IV up, unchanged, down], USDT.
    static let option: [[Double]] = [
        [-24.06747339, -33.15841013, -39.65273684], [-18.12509537, -28.31048642, -35.80450518],
        [-11.36193138, -22.62748031, -31.13352117], [-3.73852526, -16.04846592, -25.55420042],
        [4.77766694, -8.52041879, -18.98866670], [14.21190294, 0.00067229, -11.36906857],
        [24.58198339, 9.54902598, -2.63944748], [35.89827143, 20.14862960, 7.24291762],
        [48.16388381, 31.81313064, 18.30672359], [61.37503018, 44.54603289, 30.56641060],
        [75.52147477, 58.34116026, 44.02244694],
    ]
    static let perpetual: [Double] = [-972.14482880, -777.71586304, -583.28689728, -388.85793152, -194.42896576, 0,
                                      194.42896576, 388.85793152, 583.28689728, 777.71586304, 972.14482880]
    static let futureContingency = 0.80370460
    static let assetIM = 1274.8190514137673, assetMM = 1062.3492095114727

    static func result() throws -> (MarginResult, Account, PricedMarket) {
        let priced = PricedMarket(market: try MarketSnapshot.load(path: "\(dir)/market.json"), parameters: TestSupport.shippedParams)
        let account = try Account.load(path: "\(dir)/account.json").accounts[0].get()
        return (try MarginEngine.margin(account, priced: priced).get(), account, priced)
    }

    static func ours() throws -> JSON {
        let (r, a, p) = try result()
        return BybitFormat.portfolioMargin(r, account: a, priced: p)
    }
}

struct BybitFormatTests {
    func strings(_ rows: JSON?) -> [[Double]] {
        guard case let .array(items)? = rows else { return [] }
        return items.map { row in
            guard case let .array(p)? = row["pnls"] else { return [] }
            return p.map { if case let .string(s) = $0 { return Double(s) ?? .nan }; return .nan }
        }
    }

    /// docs/model.md §3: the published option ladder on the unchanged column within 0.01 USDT; the
    /// perpetual ladder to the published 8 decimals; futureContingency 0.80370; assetIM/assetMM 1.2.
    @Test func theExampleAccountReproducesThePublishedLadders() throws {
        let doc = try PublishedExample.ours()
        let unit = doc["result"]?["assetPnlRange"].flatMap { if case let .array(u) = $0 { return u.first }; return nil }
        let exp = unit?["optionExpiryDatePnlRanges"].flatMap { if case let .array(e) = $0 { return e.first }; return nil }
        #expect(exp?["expiryDateRepresentation"] == .string("25SEP26"))
        let option = strings(exp?["pnlRanges"])
        #expect(option.count == 11)
        for k in 0..<11 {
            #expect(TestSupport.near(option[k][1], PublishedExample.option[k][1], within: 0.01), "move \(k): \(option[k][1]) vs \(PublishedExample.option[k][1])")
            // The shocked columns differ through the vol-shock scale: ours uses the exact DTE
            // (185.23 days), the published shocks imply about 186.24 (docs/readings.md 9): within 0.035.
            #expect(TestSupport.near(option[k][0], PublishedExample.option[k][0], within: 0.035))
            #expect(TestSupport.near(option[k][2], PublishedExample.option[k][2], within: 0.035))
        }
        let perps = unit?["perpPositionPnlRanges"].flatMap { if case let .array(p) = $0 { return p.first }; return nil }
        let perp = strings(perps?["pnlRanges"])
        for k in 0..<11 { #expect(TestSupport.near(perp[k][0], PublishedExample.perpetual[k], within: 1e-6), "move \(k)") }
        #expect(strings(unit?["totalPnlRanges"]?["PERPETUAL"]?["pnlRanges"]).map { $0[0] }.enumerated().allSatisfy { TestSupport.near($1, PublishedExample.perpetual[$0], within: 1e-6) })
        guard case let .string(fc)? = unit?["contingency"]?["futureContingency"],
              case let .string(im)? = unit?["asset"]?["assetIM"], case let .string(mm)? = unit?["asset"]?["assetMM"] else {
            Issue.record("fields missing"); return
        }
        #expect(TestSupport.near(Double(fc)!, PublishedExample.futureContingency, within: 1e-5))
        #expect(TestSupport.near(Double(im)! / Double(mm)!, PublishedExample.assetIM / PublishedExample.assetMM, within: 1e-12))
        #expect(TestSupport.near(Double(im)! / Double(mm)!, 1.2, within: 1e-12))
        // The worst scenario is Bybit's: −10% with IV down, "-0.2" (the shock itself) on every row.
        #expect(unit?["maxLossPriceMove"] == .string("-0.1") && unit?["maxLossIvShock"] == .string("-0.2"))
        #expect(unit?["maxLossIvShockList"] == .array(Array(repeating: .string("-0.2"), count: 11)))
    }

    /// Every key of the published response is in ours, at the same place, except the fields the
    /// model has not (docs/formats.md: fees, session average price, contract type codes, cash and
    /// available balance); every value is a decimal string.
    @Test func keyByKeyAgainstThePublishedShape() throws {
        let published = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(PublishedExample.dir)/portfolio-margin-published.json"))))
        let ours = try PublishedExample.ours()
        let leftOut: Set<String> = ["totalClosePzFee", "sessionAvgPrice", "contractType", "cashBalance", "availableBalance"]
        var problems: [String] = []
        func walk(_ a: JSON, _ b: JSON, _ path: String) {
            switch (a, b) {
            case let (.object(x), .object(y)):
                let keysTheirs = x.map(\.0).filter { !leftOut.contains($0) }, keysOurs = y.map(\.0)
                if Set(keysTheirs) != Set(keysOurs) { problems.append("\(path): keys \(keysTheirs.sorted()) vs \(keysOurs.sorted())") }
                for (k, v) in x where !leftOut.contains(k) { if let w = b[k] { walk(v, w, "\(path).\(k)") } }
            case let (.array(x), .array(y)):
                if x.count != y.count { problems.append("\(path): \(x.count) vs \(y.count) items") }
                for (n, (v, w)) in zip(x, y).enumerated() { walk(v, w, "\(path)[\(n)]") }
            case (.string, .string), (.number, .number): break
            default: problems.append("\(path): \(a.typeName) vs \(b.typeName)")
            }
        }
        walk(published, ours, "$")
        #expect(problems.isEmpty, "\(problems)")
        // priceScale as Bybit writes it.
        let rows = ours["result"]?["assetPnlRange"].flatMap { if case let .array(u) = $0 { return u[0]["totalPnlRanges"]?["ALL"]?["pnlRanges"] }; return nil }
        guard case let .array(r)? = rows else { Issue.record("no rows"); return }
        #expect(r.map { $0["priceScale"]! } == ["-0.1", "-0.08", "-0.06", "-0.04", "-0.02", "0.0", "0.02", "0.04", "0.06", "0.08", "0.1"].map(JSON.string))
    }

    @Test func decimalStringsNeverUseExponents() {
        #expect(BybitFormat.decimal(0.038) == "0.038")
        #expect(BybitFormat.decimal(-6.661656516371295e-07) == "-0.0000006661656516371295")
        #expect(BybitFormat.decimal(1e-7) == "0.0000001")
        #expect(BybitFormat.decimal(1.5e20) == "150000000000000000000")
        #expect(BybitFormat.decimal(1.25e17) == "125000000000000000")
        #expect(BybitFormat.decimal(70500.56) == "70500.56")
        #expect(BybitFormat.decimal(12) == "12")
        #expect(BybitFormat.decimal(0) == "0")
        #expect(BybitFormat.decimal(-0.0) == "0")
        #expect(BybitFormat.decimal(.infinity) == "inf")
        for v in [1e-7, 3.3e-12, 1.5e20, -2.5e-5, 123.456] { #expect(Double(BybitFormat.decimal(v)) == v) }
        #expect(BybitFormat.priceScale(-0.060000000000000005) == "-0.06")
        #expect(BybitFormat.priceScale(-5.551115123125783e-18) == "0.0")
    }

    /// `POST /v5/order/pre-check`: rates × 10⁴ rounded to integers; +∞ is 2147483647.
    @Test func preCheckIntegers() throws {
        #expect(BybitFormat.rateE4(0.0249) == 249)
        #expect(BybitFormat.rateE4(0.02228278) == 223)
        #expect(BybitFormat.rateE4(0.00005) == 1)        // half rounds away from zero
        #expect(BybitFormat.rateE4(0.000049) == 0)
        #expect(BybitFormat.rateE4(.infinity) == 2147483647)
        #expect(BybitFormat.rateE4(1e12) == 2147483647)
        let (r, _, _) = try PublishedExample.result()
        let text = BybitFormat.render(BybitFormat.preCheck(before: r, after: r, time: 1774319290.506))
        #expect(text.contains("\"preImrE4\": \(BybitFormat.rateE4(r.imRate)),"))
        #expect(text.contains("\"time\": 1774319290506"))
        let out = try CLI.run(["whatif", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json",
                               "--add", "BTCUSDT:0.5", "--format", "bybit"])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        let res = doc["result"]!
        // Before: IM 1215.14 on a margin balance of 45443.92 → 267.4 → 267.
        #expect(res["preImrE4"] == .number(Double(BybitFormat.rateE4(r.imRate))))
        #expect(res["preImrE4"] == .number(267) && res["preMmrE4"] == .number(223))
        guard case let .number(post)? = res["postImrE4"], case let .number(postMM)? = res["postMmrE4"] else { Issue.record("post missing"); return }
        #expect(post > 267 && postMM > 223 && post == post.rounded())
        #expect(!out.stdout.contains("267.0"))
    }

    /// `position` and `orderSize` are the account's; the ladders are the governing portfolio's
    /// (here positions+sellOrders: the short call's resting sell order counts). A unit with a
    /// future and no perpetual lists FUTURE and no PERPETUAL.
    @Test func positionsOrdersAndKinds() throws {
        let market = try MarketSnapshot.load(path: TestSupport.path("\(CLI.fixtures)/market.json"))
        let priced = PricedMarket(market: market, parameters: TestSupport.shippedParams)
        let account = try Account.load(path: TestSupport.path("\(CLI.fixtures)/account.json")).accounts[0].get()
        let r = try MarginEngine.margin(account, priced: priced).get()
        let btc = r.units.first { $0.baseCoin == "BTC" }!
        #expect(btc.governingPortfolio == .sellOrders)
        let doc = BybitFormat.portfolioMargin(r, account: account, priced: priced)
        guard case let .array(units)? = doc["result"]?["assetPnlRange"], case let .array(exps)? = units[0]["optionExpiryDatePnlRanges"],
              case let .array(ops)? = exps[0]["optionPositionPnlRanges"] else { Issue.record("shape"); return }
        let call = ops.first { $0["symbolName"] == .string("BTC-25SEP26-80000-C-USDT") }!
        #expect(call["position"] == .string("-2") && call["orderSize"] == .string("-1"))
        let held = btc.positions.first { $0.symbol == "BTC-25SEP26-80000-C-USDT" }!
        #expect(held.size == -3)
        #expect(strings(call["pnlRanges"])[0] == held.pnl[0])

        let fut = Account(id: "F", balances: [Balance(coin: "USDC", walletBalance: 10_000)],
                          positions: [Position(symbol: "BTCUSDC-27MAR26", size: -1, entryPrice: 70_700)])
        let f = try MarginEngine.margin(fut, priced: priced).get()
        let fdoc = BybitFormat.portfolioMargin(f, account: fut, priced: priced)
        guard case let .array(fu)? = fdoc["result"]?["assetPnlRange"], case let .object(totals)? = fu[0]["totalPnlRanges"] else { Issue.record("shape"); return }
        #expect(totals.map(\.0) == ["ALL", "FUTURE"])
        // −1 BTC future marked 70,650 (USDC at 1): +7,065 at −10%.
        #expect(TestSupport.near(strings(fu[0]["totalPnlRanges"]?["FUTURE"]?["pnlRanges"])[0][0], 7065, within: 1e-9))
        #expect(fu[0]["perpPositionPnlRanges"].map { if case let .array(a) = $0 { return a.count }; return 0 } == 1)
    }

    @Test func marginCLIPrintsTheBybitObject() throws {
        let out = try CLI.run(["margin", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json", "--format", "bybit"])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        #expect(doc["retCode"] == .number(0) && doc["time"] == .number(1774319290506))
        #expect(sameJSON(doc, try PublishedExample.ours()).isEmpty)
    }
}

struct BybitReconcileTests {
    func write(_ doc: JSON) throws -> String {
        let path = TestTemp.file("reconcile.json")
        try Data(BybitFormat.render(doc).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Replaces the string at a path of keys / indices.
    func replacing(_ doc: JSON, _ path: [Any], with value: String) -> JSON {
        guard let head = path.first else { return .string(value) }
        let rest = Array(path.dropFirst())
        switch (doc, head) {
        case let (.object(m), key as String): return .object(m.map { $0.0 == key ? ($0.0, replacing($0.1, rest, with: value)) : $0 })
        case let (.array(a), i as Int): var b = a; b[i] = replacing(a[i], rest, with: value); return .array(b)
        default: return doc
        }
    }

    @Test func aMatchingResponseExitsZero() throws {
        let path = try write(try PublishedExample.ours())
        defer { TestTemp.remove((path as NSString).deletingLastPathComponent) }
        let out = try CLI.run(["bybit", "reconcile", path, "--account", "\(PublishedExample.dir)/account.json",
                               "--market", "\(PublishedExample.dir)/market.json", "--format", "json"])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        #expect(doc["differing"] == .number(0))
        guard case let .number(n)? = doc["matched"], case let .array(fields)? = doc["fields"] else { Issue.record("shape"); return }
        // wallet 6 + ALL/PERPETUAL/OPTION 33 + perp position 12 + expiry 33 + option position 34 + 6 contingencies
        // + 2 asset + 2 worst + 11 shocks + hedge 1 + spot ladder 11
        #expect(n == 151 && fields.count == 151)
        #expect(doc["onlyTheirs"] == .array([]) && doc["onlyOurs"] == .array([]))
    }

    @Test func aChangedContingencyAndLadderPointAreReported() throws {
        var theirs = try PublishedExample.ours()
        theirs = replacing(theirs, ["result", "assetPnlRange", 0, "contingency", "futureDeltaContingency"], with: "56.89174177")
        theirs = replacing(theirs, ["result", "assetPnlRange", 0, "optionExpiryDatePnlRanges", 0, "pnlRanges", 0, "pnls", 2], with: "-39.65273684")
        let path = try write(theirs)
        defer { TestTemp.remove((path as NSString).deletingLastPathComponent) }
        let args = ["bybit", "reconcile", path, "--account", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json"]
        let out = try CLI.run(args + ["--format", "json"])
        #expect(out.status == 3, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        guard case let .array(fields)? = doc["fields"] else { Issue.record("shape"); return }
        let differing = fields.filter { $0["match"] == .bool(false) }.compactMap { f -> String? in if case let .string(s)? = f["path"] { return s }; return nil }
        #expect(differing == ["BTC.optionExpiryDatePnlRanges.25SEP26[-0.1].down", "BTC.contingency.futureDeltaContingency"])
        let fdc = fields.first { $0["path"] == .string("BTC.contingency.futureDeltaContingency") }!
        #expect(fdc["ours"] == .number(0) && fdc["theirs"] == .number(56.89174177) && fdc["difference"] == .number(-56.89174177))
        #expect(doc["differing"] == .number(2))
        // The table lists the differences first, each with its model component.
        let table = try CLI.run(args)
        #expect(table.status == 3)
        let lines = table.stdout.split(separator: "\n").map(String.init)
        let d = lines.firstIndex { $0.hasPrefix("Differing:") }!, m = lines.firstIndex { $0.hasPrefix("Matching:") }!
        #expect(d < m)
        #expect(lines[d + 2].contains("25SEP26[-0.1].down") && lines[d + 3].contains("Black-76"))
        #expect(lines[d + 4].contains("BTC.contingency.futureDeltaContingency") && lines[d + 5].contains("§5D") && lines[d + 5].contains("deltaSpreadFactor 0.0003"))
        // A tolerance wide enough matches everything.
        #expect(try CLI.run(args + ["--tolerance", "100"]).status == 0)
    }

    @Test func thePublishedResponseShowsWhereWeDiffer() throws {
        let out = try CLI.run(["bybit", "reconcile", "\(PublishedExample.dir)/portfolio-margin-published.json",
                               "--account", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json", "--format", "json"])
        #expect(out.status == 3)
        let doc = try JSON.parse(out.stdout)
        guard case let .array(fields)? = doc["fields"] else { Issue.record("shape"); return }
        func match(_ p: String) -> Bool? { fields.first { $0["path"] == .string(p) }.map { $0["match"] == .bool(true) } }
        #expect(match("BTC.contingency.futureContingency") == true)
        #expect(match("BTC.perpPositionPnlRanges.BTCUSDT[-0.1]") == true)
        #expect(match("BTC.optionExpiryDatePnlRanges.25SEP26[0.1].unchanged") == true)
        #expect(match("BTC.maxLossPriceMove") == true && match("BTC.maxLossIvShock") == true)
        // The basis part Bybit charges on its spot leg: not in this account (no spot hedge).
        #expect(match("BTC.contingency.futureDeltaContingency") == false)
        #expect(match("BTC.spotHedgeInfo[-0.1]") == false)
    }

    @Test func badInputExitsOne() throws {
        let dir = TestTemp.dir("reconcile-bad")
        defer { TestTemp.remove(dir) }
        let path = dir + "/reconcile-bad.json"
        try Data(#"{"retCode": 0, "result": {"list": []}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let out = try CLI.run(["bybit", "reconcile", path, "--account", "\(PublishedExample.dir)/account.json", "--market", "\(PublishedExample.dir)/market.json"])
        #expect(out.status == 1 && out.stdout.isEmpty)
        #expect(out.stderr.contains("assetPnlRange: missing"))
    }
}
