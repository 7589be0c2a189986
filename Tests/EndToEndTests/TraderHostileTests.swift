import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Hostile use of `pm whatif --max-size` and `pm hedge`, beyond `TraderCLITests`: each test
/// failed before the fix it names in its description.
struct TraderHostileTests {
    let market = TestSupport.path("data/sample/market.json")
    let cross = TestSupport.path("data/examples/cross-stablecoin.json")
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// An inverse instrument's default step is 1 USD contract, so `--max 500000` without `--step`
    /// is 500,000 grid points (allowed), not 5 × 10^8 counted with the linear default of 0.001.
    /// The answer equals the one with `--step 1` given explicitly.
    @Test func inverseMaxWithoutStepCountsGridPointsWithTheInstrumentsStep() throws {
        let implicit = try CLI.run(["whatif", cross, "--market", market, "--max-size", "BTCUSD", "--max", "500000"])
        #expect(implicit.status == 0, "\(implicit.stderr)")
        let explicit = try CLI.run(["whatif", cross, "--market", market, "--max-size", "BTCUSD", "--max", "500000", "--step", "1"])
        #expect(explicit.status == 0, "\(explicit.stderr)")
        #expect(implicit.stdout == explicit.stdout)
        let doc = try JSON.parse(implicit.stdout)
        #expect(doc["step"] == .number(1))
        // The grid is still bounded with the default step: 2 × 10^7 contracts is 2 × 10^7 points.
        try CLITrustTests.expectOneLineFailure(["whatif", cross, "--market", market, "--max-size", "BTCUSD", "--max", "20000000"],
                                               ["--max / --step must be at most 10000000 grid points, got 20000000"])
        // A linear instrument keeps its 0.001 default: 10^5 coins is 10^8 points.
        try CLITrustTests.expectOneLineFailure(["whatif", cross, "--market", market, "--max-size", "BTCUSDT", "--max", "100000"],
                                               ["--max / --step must be at most 10000000 grid points, got 100000000"])
    }

    /// The library's check of the arguments: without a known default step only a given step is counted.
    @Test func gridArgumentsCountWithTheStepUsed() throws {
        #expect(try TradeArguments.grid(step: nil, max: "500000", defaultStep: 1).max == 500000)
        #expect(throws: InputError.self) { try TradeArguments.grid(step: nil, max: "500000", defaultStep: 0.001) }
        #expect(throws: InputError.self) { try TradeArguments.grid(step: "0.0001", max: "5000") }
        #expect(try TradeArguments.grid(step: nil, max: "500000").max == 500000)
    }
}
