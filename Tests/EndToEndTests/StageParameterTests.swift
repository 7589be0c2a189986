import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The `stages` object of a parameter file (docs/model.md §8, docs/formats.md): custom thresholds move an
/// account's stage exactly at the threshold; a file without `stages` gives docs/model.md's values.
struct StageParameterTests {
    /// The shipped parameter document with its `stages` replaced by `stages` (removed when nil).
    static func document(stages: [(String, Double)]?) throws -> String {
        let shipped = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: TestSupport.path("data/params/pm-params.json")))))
        guard case var .object(members) = shipped else { throw InputError("shipped parameters are not an object") }
        members.removeAll { $0.0 == "stages" }
        if let stages { members.append(("stages", .object(stages.map { ($0.0, .number($0.1)) }))) }
        return JSON.object(members).render()
    }

    /// Writes `text` to a fresh file and loads it as a parameter file.
    static func load(_ text: String, _ name: String) throws -> (ParameterSet, String) {
        let path = TestTemp.dir("stages") + "/\(name).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (try ParameterSet.load(path: path), path)
    }

    /// A file with every threshold: exactly these values.
    static func custom(liquidation: Double, autoRepay: Double, imBreach: Double, name: String) throws -> ParameterSet {
        try load(try document(stages: [("liquidationMMRate", liquidation), ("autoRepayMMRate", autoRepay),
                                       ("imBreachIMRate", imBreach), ("liquidationTargetMMRate", 0.5),
                                       ("liquidationStepFraction", 0.25)]), name).0
    }

    /// Short 1 BTCUSDT on the small market: MM 5,015, IM 6,018 (OrderRuleTests), on `usdt` of
    /// collateral (ratio 1, index 1), with an optional USDC liability.
    static func account(usdt: Double, liability: Double = 0) -> Account {
        var balances = [Balance(coin: "USDT", walletBalance: usdt)]
        if liability > 0 { balances.append(Balance(coin: "USDC", walletBalance: -liability)) }
        return Account(id: "S", balances: balances, positions: [Position(symbol: "BTCUSDT", size: -1)])
    }

    @Test func aFileWithoutStagesGivesTheModelValues() throws {
        let (set, _) = try Self.load(try Self.document(stages: nil), "none")
        // docs/model.md §8: liquidation at 100%, auto-repay at 85%, IM breach at 100%; plan to 90% in 10% steps.
        #expect(set.stages.liquidationMMRate == 1.0)
        #expect(set.stages.autoRepayMMRate == 0.85)
        #expect(set.stages.imBreachIMRate == 1.0)
        #expect(set.stages.liquidationTargetMMRate == 0.9)
        #expect(set.stages.liquidationStepFraction == 0.1)
        // An empty `stages` object also leaves every default, and a partial one only its own key.
        #expect(try Self.load(try Self.document(stages: []), "empty").0.stages == StagePolicy())
        let partial = try Self.load(try Self.document(stages: [("autoRepayMMRate", 0.7)]), "partial").0.stages
        #expect(partial.autoRepayMMRate == 0.7 && partial.liquidationMMRate == 1.0 && partial.imBreachIMRate == 1.0)
        // At the default threshold exactly: collateral equal to the MM gives mmRate = MM/MM = 1.
        let mm = TestSupport.margin(Self.account(usdt: 1e6), params: set).totalMM
        let at = TestSupport.margin(Self.account(usdt: mm), params: set)
        #expect(at.mmRate == 1.0 && at.stage == .liquidation)
        let above = TestSupport.margin(Self.account(usdt: mm.nextUp), params: set)
        #expect(above.mmRate < 1.0 && above.stage == .imBreach)   // imRate 1.2 ≥ 1
    }

    /// Each custom threshold, at the account's rate exactly and one ulp above it.
    @Test func customThresholdsMoveTheStageExactlyAtThem() throws {
        let shipped = TestSupport.shippedParams
        // A healthy account under docs/model.md's thresholds: mmRate 5,015/20,000 = 0.25075, imRate 0.3009.
        let a = Self.account(usdt: 20000)
        let r = TestSupport.margin(a, params: shipped)
        #expect(r.stage == .healthy)
        let m = r.mmRate, i = r.imRate

        // liquidationMMRate = m: liquidation; one ulp above m: not (the other thresholds are far).
        let liq = try Self.custom(liquidation: m, autoRepay: 50, imBreach: 50, name: "liq")
        #expect(TestSupport.margin(a, params: liq).stage == .liquidation)
        #expect(TestSupport.margin(a, params: try Self.custom(liquidation: m.nextUp, autoRepay: 50, imBreach: 50, name: "liq2")).stage == .healthy)

        // imBreachIMRate = i: imBreach; one ulp above: healthy.
        #expect(TestSupport.margin(a, params: try Self.custom(liquidation: 50, autoRepay: 50, imBreach: i, name: "im")).stage == .imBreach)
        #expect(TestSupport.margin(a, params: try Self.custom(liquidation: 50, autoRepay: 50, imBreach: i.nextUp, name: "im2")).stage == .healthy)

        // autoRepayMMRate applies with a liability only (§8).
        let b = Self.account(usdt: 20000, liability: 1000)
        let rb = TestSupport.margin(b, params: shipped)
        #expect(rb.stage == .healthy)
        #expect(TestSupport.margin(b, params: try Self.custom(liquidation: 50, autoRepay: rb.mmRate, imBreach: 50, name: "ar")).stage == .autoRepay)
        #expect(TestSupport.margin(b, params: try Self.custom(liquidation: 50, autoRepay: rb.mmRate.nextUp, imBreach: 50, name: "ar2")).stage == .healthy)
        // Without the liability the same threshold does not apply.
        #expect(TestSupport.margin(a, params: try Self.custom(liquidation: 50, autoRepay: m, imBreach: 50, name: "ar3")).stage == .healthy)
    }

    /// Through the command line: `pm margin --params FILE` states the stage the file's thresholds give.
    @Test func theCommandReadsTheFilesStages() throws {
        let r = TestSupport.margin(Self.account(usdt: 20000), market: TestSupport.sampleMarket)
        let (_, path) = try Self.load(try Self.document(stages: [("liquidationMMRate", r.mmRate)]), "cli")
        let (_, above) = try Self.load(try Self.document(stages: [("liquidationMMRate", r.mmRate.nextUp)]), "cli2")
        let dir = TestTemp.dir("stages-cli")
        defer { TestTemp.remove(dir) }
        let accountPath = dir + "/account.json"
        try #"{"id": "S", "balances": [{"coin": "USDT", "walletBalance": 20000}], "positions": [{"symbol": "BTCUSDT", "size": -1}]}"#
            .write(toFile: accountPath, atomically: true, encoding: .utf8)
        let at = try CLI.run(["margin", accountPath, "--market", "data/sample/market.json", "--params", path])
        #expect(at.status == 0, "\(at.stderr)")
        #expect(try JSON.parse(at.stdout)["stage"] == .string("liquidation"))
        let notAt = try CLI.run(["margin", accountPath, "--market", "data/sample/market.json", "--params", above])
        #expect(try JSON.parse(notAt.stdout)["stage"] == .string(r.stage.rawValue))
        #expect(r.stage == .healthy)
    }

    /// LiquidationStepTests' account (unit tests: short 10 BTCUSDT entered at 51,000 on 30,000 USDT).
    static let shortPerpetual = Account(id: "SHORT-PERP", balances: [Balance(coin: "USDT", walletBalance: 30000)],
                                        positions: [Position(symbol: "BTCUSDT", size: -10, entryPrice: 51000)])

    /// The plan's target and step fraction come from the file too: with target 0.5 and steps of
    /// 25%, the short 10 BTCUSDT of LiquidationStepTests (MM 5,015 per BTC on 40,000) goes
    /// −10 → −7.5 (rate 37,612.5/40,000 = 0.9403) → −5 (25,075/40,000 = 0.626875) → −2.5
    /// (12,537.5/40,000 = 0.3134375 ≤ 0.5).
    @Test func thePlanUsesTheFilesTargetAndStep() throws {
        let set = try Self.custom(liquidation: 1, autoRepay: 0.85, imBreach: 1, name: "plan")
        let plan = try LiquidationPlan.plan(for: Self.shortPerpetual,
                                            priced: PricedMarket(market: TestSupport.smallMarket(), parameters: set)).get()
        #expect(plan.steps.map { $0.sizeAfter ?? .nan } == [-7.5, -5, -2.5], "\(plan.steps)")
        for (s, want) in zip(plan.steps, [37612.5, 25075, 12537.5]) { #expect(TestSupport.close(s.mm, want)) }
        #expect(TestSupport.close(plan.mmRateAfter, 0.3134375) && plan.outcome == "target reached")
    }
}
