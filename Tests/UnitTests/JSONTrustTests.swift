import Foundation
import Testing
@testable import PortfolioMargin
@testable import pm
@testable import PMTestSupport

/// JSON, dates, parameters and market values that can be trusted (docs/formats.md "JSON" and
/// "Bounds", docs/model.md §10): every hostile input is an `InputError` naming where it is, never a trap,
/// a silently changed value or a whole file lost for one bad instrument.
struct JSONTrustTests {
    /// The InputError `body` throws, or nil.
    func inputError(_ body: () throws -> Void) -> InputError? {
        do { try body() } catch let e as InputError { return e } catch { Issue.record("not an InputError: \(error)") }
        return nil
    }

    func parse(_ text: String) -> InputError? { inputError { _ = try JSON.parse(text) } }

    // MARK: 1. Surrogate escapes

    @Test func unpairedSurrogatesAreErrorsNamingLineAndField() throws {
        // A high surrogate followed by a non-surrogate escape used to trap (UInt32 overflow).
        let e1 = try #require(parse(#"{"a": 1,"#  + "\n" + #" "note": "\uD800\u0041"}"#))
        #expect(e1.record == "line 2, column 11", "\(e1)")
        #expect(e1.field == "note")
        #expect(e1.message.contains("unpaired surrogate") && e1.message.contains("D800"), "\(e1)")
        // A high surrogate at the end of the string, one before an ordinary character, a lone low one.
        for text in [#"["\uD800"]"#, #"["\uDBFFx"]"#, #"{"k": ["\uDC00"]}"#, #"["\uD800\n"]"#] {
            let e = try #require(parse(text), "\(text) was accepted")
            #expect(e.message.contains("unpaired surrogate"), "\(text): \(e)")
        }
        #expect(parse(#"{"k": ["\uDC00"]}"#)?.field == "k[0]")
        // Valid pairs and BMP escapes decode to their characters.
        #expect(try JSON.parse(#""\uD83D\uDE00 \u00e9\u20AC\u0041""#) == .string("😀 é€A"))
        #expect(try JSON.parse(#""\uDBFF\uDFFF""#) == .string("\u{10FFFF}"))
    }

    @Test func aSurrogateInAnIgnoredFieldOfAFileNamesTheFile() throws {
        let dir = try TrustTempDir()
        let market = dir.write("m.json", #"{"time": "2026-03-24T02:28:10Z", "comment": "\uD800\u0041", "indexPrices": {}, "instruments": []}"#)
        let e = try #require(inputError { _ = try MarketSnapshot.load(path: market) })
        #expect(e.file == market && e.record == "line 1, column 46" && e.field == "comment", "\(e)")
        let params = dir.write("p.json", #"{"name": "\uDFFF", "coins": {}}"#)
        let e2 = try #require(inputError { _ = try ParameterSet.load(path: params) })
        #expect(e2.file == params && e2.field == "name" && e2.message.contains("unpaired surrogate"), "\(e2)")
    }

    // MARK: 2. Duplicate keys

    @Test func duplicateKeysAreErrorsNamingLineAndKey() throws {
        let e = try #require(parse("{\"id\": \"A\",\n \"positions\": [{\"symbol\": \"X\", \"size\": 1, \"size\": 2}]}"))
        #expect(e.record == "line 2, column 43", "\(e)")
        #expect(e.field == "positions[0].size", "\(e)")
        #expect(e.message.contains("duplicate key \"size\""), "\(e)")
        // A large object (checked with a set, not a scan).
        let members = (0..<40).map { "\"k\($0)\": \($0)" } + ["\"k17\": 0"]
        let big = try #require(parse("{" + members.joined(separator: ", ") + "}"))
        #expect(big.field == "k17" && big.message.contains("duplicate key"), "\(big)")
        // Same key in different objects, or differing only in case, is fine.
        #expect(parse(#"[{"a": 1}, {"a": 2}, {"a": 3, "A": 4}]"#) == nil)
        // In a file: the error names it.
        let dir = try TrustTempDir()
        let path = dir.write("a.json", #"{"id": "A-1", "id": "A-2"}"#)
        let fe = try #require(inputError { _ = try Account.load(path: path) })
        #expect(fe.file == path && fe.field == "id" && fe.record == "line 1, column 15", "\(fe)")
    }

    // MARK: 3. Invalid UTF-8

    @Test func invalidUTF8IsAnErrorNamingTheLine() throws {
        func bytes(_ prefix: String, _ raw: [UInt8], _ suffix: String) -> [UInt8] { Array(prefix.utf8) + raw + Array(suffix.utf8) }
        let bad: [[UInt8]] = [
            [0xFF], [0xFE], [0x80],             // never valid
            [0xC0, 0xAF], [0xE0, 0x80, 0xAF],    // overlong
            [0xED, 0xA0, 0x80],                  // an encoded surrogate
            [0xF4, 0x90, 0x80, 0x80],            // beyond U+10FFFF
            [0xC3], [0xE2, 0x82],                // cut short (before the closing quote)
        ]
        for raw in bad {
            let doc = bytes("{\"id\": \"A\",\n\"x\": \"A", raw, "\"}")
            let e = try #require(inputError { _ = try JSON.parse(doc) }, "\(raw) accepted")
            #expect(e.record.hasPrefix("line 2,") && e.field == "x" && e.message.contains("invalid UTF-8"), "\(raw): \(e)")
        }
        // Two ids that differ only in invalid bytes no longer print alike: both are refused.
        let dir = try TrustTempDir()
        let path = dir.write("a.json", bytes("[{\"id\": \"A", [0xFF], "\"}, {\"id\": \"A\"}]"))
        let e = try #require(inputError { _ = try Account.load(path: path) })
        #expect(e.file == path && e.record == "line 1, column 11" && e.message.contains("0xFF"), "\(e)")
        // Valid multi-byte text passes unchanged, as does a leading byte order mark.
        #expect(try JSON.parse(bytes("\"", Array("é€😀".utf8), "\"")) == .string("é€😀"))
        #expect(try JSON.parse([0xEF, 0xBB, 0xBF] + Array("{\"a\": 1}".utf8)) == .object([("a", .number(1))]))
    }

    // MARK: 4. NaN and Infinity tokens

    @Test func nanAndInfinityTokensAreNonFiniteNumbers() throws {
        guard case let .array(v) = try JSON.parse("[NaN, Infinity, -Infinity, 1e400, -0.5e-3]") else { Issue.record("not an array"); return }
        guard case let .number(a) = v[0], case let .number(b) = v[1], case let .number(c) = v[2],
              case let .number(d) = v[3], case let .number(e) = v[4] else { Issue.record("not numbers"); return }
        #expect(a.isNaN && b == .infinity && c == -.infinity && d == .infinity && e == -0.0005)
        // Other spellings and RFC 8259 violations stay malformed.
        for text in ["nan", "inf", "-NaN", "+1", "01", "1.", ".5", "1e", "-", "Infinit", "0x10", "1.5.5"] {
            #expect(parse("[\(text)]") != nil, "\(text) accepted")
        }
    }

    @Test func aNonFiniteInstrumentValueFailsOnlyItsAccounts() throws {
        let doc = try JSON.parse("""
            {"time": "2026-03-24T00:00:00Z", "indexPrices": {"BTC": 70000, "USDT": 1, "ETH": NaN},
             "instruments": [
              {"symbol": "BTCUSDT", "kind": "perpetual", "baseCoin": "BTC", "settleCoin": "USDT", "markPrice": 70000},
              {"symbol": "BTCUSDT-NAN", "kind": "perpetual", "baseCoin": "BTC", "settleCoin": "USDT", "markPrice": NaN},
              {"symbol": "BTC-C", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT", "optionType": "Call",
               "strike": 80000, "expiry": "2026-09-25T08:00:00Z", "markPrice": 2000, "underlyingPrice": 71000, "markIv": Infinity},
              {"symbol": "ETHUSDT", "kind": "perpetual", "baseCoin": "ETH", "settleCoin": "USDT", "markPrice": 3500}
            ]}
            """)
        let m = try MarketSnapshot.parse(doc, file: "m.json")
        #expect(m.instrumentProblems["BTCUSDT"] == nil)
        #expect(m.instrumentProblems["BTCUSDT-NAN"]?.field == "markPrice")
        #expect(m.instrumentProblems["BTCUSDT-NAN"]?.message.contains("NaN") == true)
        #expect(m.instrumentProblems["BTC-C"]?.field == "markIv")
        #expect(m.instrumentProblems["BTC-C"]?.message.contains("Infinity") == true)
        #expect(m.instrumentProblems["ETHUSDT"]?.field == "indexPrices")
        let priced = PricedMarket(market: m, parameters: TestSupport.shippedParams)
        let ok = MarginEngine.margin(Account(id: "A", balances: [Balance(coin: "USDT", walletBalance: 10000)],
                                             positions: [Position(symbol: "BTCUSDT", size: 0.1)]), priced: priced)
        // 0.1 BTC long: worst move −10% = 700 USD, plus 0.1 · 70000 · futuresRiskFactor (BTC 0.0003) = 2.1.
        #expect(TestSupport.close(try ok.get().totalMM, 702.1), "\(ok)")
        for sym in ["BTCUSDT-NAN", "BTC-C"] {
            let bad = MarginEngine.margin(Account(id: "B", positions: [Position(symbol: sym, size: 1)]), priced: priced)
            guard case let .failure(e) = bad else { Issue.record("\(sym) accepted"); continue }
            #expect(e.description.contains(sym), "\(e)")
        }
    }

    @Test func aNonFiniteAccountValueIsThatAccountsError() throws {
        let doc = try JSON.parse("""
            [{"id": "A", "balances": [{"coin": "USDT", "walletBalance": NaN}]},
             {"id": "B", "positions": [{"symbol": "BTCUSDT", "size": -Infinity}]},
             {"id": "C", "balances": [{"coin": "USDT", "walletBalance": 5}]}]
            """)
        let parsed = try Account.parseDocument(doc, file: "a.json")
        guard case let .failure(a) = parsed.accounts[0], case let .failure(b) = parsed.accounts[1],
              case let .success(c) = parsed.accounts[2] else { Issue.record("\(parsed.accounts)"); return }
        #expect(a.accountId == "A" && a.error.field == "balances[0].walletBalance" && a.error.message.contains("NaN"), "\(a)")
        #expect(b.accountId == "B" && b.error.field == "positions[0].size" && b.error.message.contains("-Infinity"), "\(b)")
        #expect(c.balances == [Balance(coin: "USDT", walletBalance: 5)])
    }

    // MARK: 5. Dates

    @Test func impossibleDatesAndTimesAreRefused() {
        for text in ["2026-02-30", "2026-02-29T00:00:00Z", "2025-02-29", "1900-02-29", "2026-04-31", "2026-06-31T00:00:00Z",
                     "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32",
                     "2026-03-24T24:00:00Z", "2026-03-24T23:60:00Z", "2026-03-24T12:30:60Z", "2026-03-24T12:30:61Z",
                     "2026-03-24T12:30:00+24:00", "2026-03-24T12:30:00+05:60", "2026-03-24T12:30:00", "2026-3-24"] {
            #expect(ISO8601.seconds(text) == nil, "\(text) accepted")
        }
        let day = 86400.0
        func s(_ t: String) -> Double { ISO8601.seconds(t) ?? .nan }
        // Leap years by the Gregorian rule.
        #expect(s("2024-03-01") - s("2024-02-29") == day && s("2024-02-29") - s("2024-02-28") == day)
        #expect(s("2000-03-01") - s("2000-02-29") == day)
        #expect(s("2026-03-01") - s("2026-02-28") == day)
        #expect(s("1970-01-01T00:00:00Z") == 0 && s("2026-03-24T02:28:10.506Z") == 1_774_319_290.506)
        // A leap second reads as the next minute's first second; offsets are applied.
        #expect(s("2016-12-31T23:59:60Z") == s("2017-01-01T00:00:00Z"))
        #expect(s("2026-03-24T10:28:10+08:00") == s("2026-03-24T02:28:10Z"))
        #expect(s("2026-03-24T10:28:10+23:59") == s("2026-03-24T02:28:10Z") - 15 * 3600 - 59 * 60)
    }

    @Test func anInvalidDateNamesFileRecordAndField() throws {
        let text = """
            {"time": "2026-03-24T00:00:00Z", "indexPrices": {"BTC": 70000, "USDC": 1},
             "instruments": [
              {"symbol": "BTCUSDC-30FEB26", "kind": "future", "baseCoin": "BTC", "settleCoin": "USDC",
               "expiry": "2026-02-30T08:00:00Z", "markPrice": 70000},
              {"symbol": "BTCUSDC-27MAR26", "kind": "future", "baseCoin": "BTC", "settleCoin": "USDC",
               "expiry": "2026-03-27T08:00:00Z", "markPrice": 70000}
            ]}
            """
        let m = try MarketSnapshot.parse(JSON.parse(text), file: "m.json")
        let p = try #require(m.instrumentProblems["BTCUSDC-30FEB26"])
        #expect(p.file == "m.json" && p.record == "instrument BTCUSDC-30FEB26" && p.field == "expiry", "\(p)")
        #expect(p.message.contains("day 30 does not exist in February 2026") && p.message.contains("\"2026-02-30T08:00:00Z\""), "\(p)")
        #expect(m.instrumentProblems["BTCUSDC-27MAR26"] == nil)
        // The snapshot's own time is fatal.
        let bad = text.replacingOccurrences(of: "2026-03-24T00:00:00Z", with: "2026-03-24T25:00:00Z")
        let e = try #require(inputError { _ = try MarketSnapshot.parse(JSON.parse(bad), file: "m.json") })
        #expect(e.file == "m.json" && e.field == "time" && e.message.contains("hour 25"), "\(e)")
    }

    // MARK: 6. Echoes

    @Test func messagesEchoAtMost80CharactersOfAValue() throws {
        let huge = String(repeating: "Z", count: 1_000_000)
        let market = """
            {"time": "2026-03-24T00:00:00Z", "indexPrices": {"BTC": 70000, "USDT": 1},
             "instruments": [{"symbol": "\(huge)", "kind": "\(huge)", "baseCoin": "BTC", "settleCoin": "USDT", "markPrice": 1}]}
            """
        let m = try MarketSnapshot.parse(JSON.parse(market), file: "m.json")
        let p = try #require(m.instrumentProblems[huge])
        #expect(p.description.count < 400, "\(p.description.prefix(500))")
        #expect(p.message.contains("(1000000 characters)"))
        let badTime = try #require(inputError { _ = try MarketSnapshot.parse(JSON.parse(#"{"time": "\#(huge)"}"#)) })
        #expect(badTime.description.count < 400)
        let account = #"{"id": "\#(huge)", "orders": [{"symbol": "X", "side": "\#(huge)\n", "qty": 1, "price": 1}]}"#
        guard case let .failure(e) = try Account.parseDocument(JSON.parse(account), file: "a.json").accounts[0] else {
            Issue.record("accepted"); return
        }
        #expect(e.description.count < 400 && !e.description.contains("\n"), "\(e.description.prefix(500))")
        // Keys: a huge duplicate or unknown key is echoed, not printed whole.
        let dup = try #require(parse(#"{"\#(huge)": 1, "\#(huge)": 2}"#))
        #expect(dup.description.count < 400)
        let pe = try #require(inputError { _ = try ParameterSet.parse(JSON.parse(try params(btc: huge, "1"))) })
        // (This message also lists the 21 parameter names.)
        #expect(pe.description.count < 700 && pe.description.contains("(1000000 characters)"), "\(pe.description.prefix(800))")
        let num = try #require(parse("[1" + String(repeating: "2", count: 100_000) + "e]"))
        #expect(num.description.count < 400, "\(num.description.prefix(500))")
    }

    // MARK: 8. Parameter bounds

    /// The shipped parameter file with `coins.BTC.KEY` replaced by `value` (raw JSON text).
    func params(btc key: String, _ value: String) throws -> String {
        let text = try String(contentsOfFile: TestSupport.path("data/params/pm-params.json"), encoding: .utf8)
        var doc = try JSON.parse(text)
        guard case var .object(top) = doc, let ci = top.firstIndex(where: { $0.0 == "coins" }),
              case var .object(coins) = top[ci].1, let bi = coins.firstIndex(where: { $0.0 == "BTC" }),
              case var .object(btc) = coins[bi].1 else { throw InputError("unexpected shipped params") }
        btc.removeAll { $0.0 == key }
        btc.append((key, .string("@@VALUE@@")))
        coins[bi].1 = .object(btc)
        top[ci].1 = .object(coins)
        top.removeAll { $0.0 == "stages" }   // the shipped defaults; tests that need stages append their own
        doc = .object(top)
        return doc.render().replacingOccurrences(of: "\"@@VALUE@@\"", with: value)
    }

    @Test(arguments: [
        ("pricePoints", "1e19"), ("pricePoints", "100000001"), ("pricePoints", "103"), ("pricePoints", "9.9"),
        ("pricePoints", "10"), ("pricePoints", "1"), ("pricePoints", "-11"), ("pricePoints", "NaN"),
        ("priceRange", "1"), ("priceRange", "0"), ("priceRange", "-Infinity"),
        ("imFactor", "-1"), ("imFactor", "Infinity"), ("basisFactor", "NaN"), ("minShockedIv", "0"),
        ("collateralValueRatio", "1.5"),
    ])
    func outOfBoundsParametersNameFileCoinAndKey(key: String, value: String) throws {
        let dir = try TrustTempDir()
        let path = dir.write("p.json", try params(btc: key, value))
        let e = try #require(inputError { _ = try ParameterSet.load(path: path) }, "\(key)=\(value) accepted")
        #expect(e.file == path && e.record == "coins.BTC" && e.field == key, "\(e)")
    }

    @Test func parametersWithinBoundsLoad() throws {
        for (key, value, check) in [("pricePoints", "101", 101.0), ("pricePoints", "3", 3), ("pricePoints", "21.0", 21),
                                    ("priceRange", "0.999", 0.999), ("imFactor", "0", 0)] {
            let p = try ParameterSet.parse(JSON.parse(try params(btc: key, value)))
            #expect(p.parameters(for: "BTC")[numeric: key] == check, "\(key)=\(value)")
        }
    }

    @Test func stageThresholdsAreValidated() throws {
        for (stages, field) in [(#"{"liquidationMMRate": NaN}"#, "liquidationMMRate"),
                                (#"{"autoRepayMMRate": Infinity}"#, "autoRepayMMRate"),
                                (#"{"imBreachIMRate": -1}"#, "imBreachIMRate"),
                                (#"{"liquidationStepFraction": 1.5}"#, "liquidationStepFraction"),
                                (#"{"liquidationStepFraction": 0.1, "liquidationStepFraction": 0.2}"#, "liquidationStepFraction")] {
            let text = try params(btc: "imFactor", "1.2").dropLast() + #", "stages": \#(stages)}"#
            let e = try #require(inputError { _ = try ParameterSet.parse(JSON.parse(String(text))) }, "\(stages) accepted")
            #expect(e.field.hasSuffix(field), "\(stages): \(e)")
        }
        let ok = try params(btc: "imFactor", "1.2").dropLast() + #", "stages": {"liquidationTargetMMRate": 0.8}}"#
        #expect(try ParameterSet.parse(JSON.parse(String(ok))).stages.liquidationTargetMMRate == 0.8)
    }

    @Test func sweepSettingsObeyTheParameterBounds() throws {
        for text in ["BTC.pricePoints=9.9", "BTC.pricePoints=11,1e19", "default.pricePoints=100000001",
                     "BTC.priceRange=0.1,1.5", "ETH.imFactor=-1", "BTC.minDTE=0"] {
            let e = try #require(inputError { _ = try SweepSetting.parseSet(text) }, "\(text) accepted")
            #expect(e.field == String(text.split(separator: "=")[0]) && e.record.contains(text), "\(e)")
        }
        #expect(try SweepSetting.parseSet("BTC.pricePoints=5,21").values == [5, 21])
        #expect(try SweepSetting.parseSet("default.priceRange=0.15,0.2").values == [0.15, 0.2])
    }

    @Test func settingAnUnrepresentablePricePointsNeverTraps() {
        var p = TestSupport.shippedParams.defaults
        p[numeric: "pricePoints"] = 1e19
        #expect(p.validationProblem()?.0 == "pricePoints")
        p[numeric: "pricePoints"] = .nan
        #expect(p.validationProblem()?.0 == "pricePoints")
    }

    // MARK: 9. Market bounds

    static let saneMarket = """
        {"time": "2026-03-24T00:00:00Z", "indexPrices": {"BTC": 70000, "USDT": 1},
         "instruments": [
          {"symbol": "BTCUSDT", "kind": "perpetual", "baseCoin": "BTC", "settleCoin": "USDT", "markPrice": 70000},
          {"symbol": "OPT", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT", "optionType": "Call",
           "strike": STRIKE, "expiry": "2026-09-25T08:00:00Z", "markPrice": MARK, "underlyingPrice": FORWARD, "markIv": IV}
        ]}
        """

    func market(strike: String = "80000", forward: String = "71000", iv: String = "0.5", mark: String = "2000") throws -> MarketSnapshot {
        let text = Self.saneMarket.replacingOccurrences(of: "STRIKE", with: strike).replacingOccurrences(of: "FORWARD", with: forward)
            .replacingOccurrences(of: "IV", with: iv).replacingOccurrences(of: "MARK", with: mark)
        return try MarketSnapshot.parse(JSON.parse(text), file: "m.json")
    }

    @Test(arguments: [
        ("strike", "1e-305", "80000", "0.5"), ("strike", "0.069", "71000", "0.5"), ("strike", "70000000001", "71000", "0.5"),
        ("underlyingPrice", "80000", "0.0699", "0.5"), ("underlyingPrice", "80000", "1e300", "0.5"),
        ("markIv", "80000", "71000", "1e155"), ("markIv", "80000", "71000", "10.000001"),
    ])
    func insaneOptionsAreLazilyInvalid(field: String, strike: String, forward: String, iv: String) throws {
        let m = try market(strike: strike, forward: forward, iv: iv)
        let p = try #require(m.instrumentProblems["OPT"], "accepted")
        #expect(p.field == field && p.file == "m.json" && p.record == "instrument OPT", "\(p)")
        // The snapshot stays usable: only accounts that hold the option fail.
        let priced = PricedMarket(market: m, parameters: TestSupport.shippedParams)
        let ok = MarginEngine.margin(Account(id: "A", positions: [Position(symbol: "BTCUSDT", size: -0.1)]), priced: priced)
        #expect(TestSupport.close(try ok.get().totalMM, 702.1), "\(ok)")
        guard case let .failure(e) = MarginEngine.margin(Account(id: "B", positions: [Position(symbol: "OPT", size: -1)]), priced: priced) else {
            Issue.record("an account holding the invalid option was margined"); return
        }
        #expect(e.accountId == "B" && e.description.contains(field), "\(e)")
    }

    @Test func boundaryValuesAreSane() throws {
        // Exactly at the bounds: index / 1e6, index · 1e6, a vol of 10.
        for (k, f, iv) in [("0.07", "71000", "0.5"), ("70000000000", "71000", "0.5"), ("80000", "0.07", "0.5"),
                           ("80000", "70000000000", "0.5"), ("80000", "71000", "10")] {
            let m = try market(strike: k, forward: f, iv: iv)
            #expect(m.instrumentProblems["OPT"] == nil, "\(k) \(f) \(iv): \(String(describing: m.instrumentProblems["OPT"]))")
        }
        // Mark prices must be positive and finite.
        for mark in ["0", "-1", "NaN", "Infinity"] {
            #expect(try market(mark: mark).instrumentProblems["OPT"]?.field == "markPrice", "\(mark)")
        }
    }

    // MARK: Mutations

    /// Seeded mutations of the fixtures (hostile tokens spliced in, bytes replaced or dropped):
    /// parsing and loading never trap, every error is one short line, and whatever loads obeys
    /// the bounds (docs/model.md §10, docs/formats.md "Bounds").
    @Test func mutatedFixturesNeverTrapAndLoadOnlySaneValues() throws {
        let seeds = try ["\(CLI.fixtures)/market.json", "\(CLI.fixtures)/account.json", "\(CLI.fixtures)/accounts-array.json",
                         "data/params/pm-params.json"].map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestSupport.path($0)))) }
        let tokens = [#"\uD800"#, #"\uDC00"#, #"\uD800\u0041"#, #"\uD83D\uDE00"#, "NaN", "Infinity", "-Infinity", "1e19",
                      "1e-305", "1e155", "100000001", "9.9", "-5", "0", "\"", "\\", "{", "}", "[", "]", ",", ":", "2026-02-30",
                      "T24:00:00Z", "\"id\": 1, \"id\"", "\"markIv\": 11, \"markIv\""].map { Array($0.utf8) }
            + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0]]
        var rng = SplitMix(seed: 7)
        var loaded = 0, refused = 0
        for n in 0..<2000 {
            var b = seeds[n % seeds.count]
            for _ in 0..<rng.int(1, 3) {
                let at = rng.int(0, b.count - 1)
                switch rng.int(0, 2) {
                case 0: b.insert(contentsOf: rng.pick(tokens), at: at)
                case 1: b.replaceSubrange(at..<min(b.count, at + rng.int(1, 8)), with: rng.pick(tokens))
                default: b.remove(at: at)
                }
            }
            do {
                let doc = try JSON.parse(b)
                switch n % seeds.count {
                case 0:
                    let m = try MarketSnapshot.parse(doc, file: "m.json")
                    for i in m.instruments where m.instrumentProblems[i.symbol] == nil {
                        #expect(i.markPrice.isFinite && i.markPrice > 0, "\(i)")
                        if i.kind == .option, let idx = m.index(of: i.baseCoin) {
                            #expect(i.markIv! > 0 && i.markIv! <= 10, "\(i)")
                            #expect(i.strike! >= idx / 1e6 && i.strike! <= idx * 1e6 && i.underlyingPrice! >= idx / 1e6
                                    && i.underlyingPrice! <= idx * 1e6, "\(i)")
                        }
                    }
                    _ = PricedMarket(market: m, parameters: TestSupport.shippedParams)
                case 3:
                    let p = try ParameterSet.parse(doc)
                    for c in Array(p.coins.values) + [p.defaults] {
                        #expect(c.validationProblem() == nil && (3...101).contains(c.pricePoints) && c.pricePoints % 2 == 1)
                    }
                default:
                    for case let .failure(e) in try Account.parseDocument(doc, file: "a.json").accounts {
                        #expect(!e.description.contains("\n") && e.description.count < 1000, "\(e)")
                    }
                }
                loaded += 1
            } catch let e as InputError {
                #expect(!e.description.contains("\n") && e.description.count < 1000, "\(e)")
                refused += 1
            }
        }
        // Both outcomes are exercised.
        #expect(loaded > 200 && refused > 200, "loaded \(loaded), refused \(refused)")
    }
}

