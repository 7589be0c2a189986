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

    /// Number arguments are decimal: `Double("0x10")` is 16 and `Double("0x1p-3")` is 0.125, so
    /// `--max 0x10` searched up to 16 coins and `--add BTCUSDT:0x10` traded 16. Each is refused
    /// now, naming the option.
    @Test func numberArgumentsAreDecimalNotHex() throws {
        for (option, value) in [("--max", "0x10"), ("--step", "0x1p-3"), ("--max", "0X10"), ("--step", " 0x1 ")] {
            try CLITrustTests.expectOneLineFailure(["whatif", cross, "--market", market, "--max-size", "BTCUSDT", option, value],
                                                   [option, "expected a finite decimal number", value.trimmingCharacters(in: .whitespaces)])
        }
        try CLITrustTests.expectOneLineFailure(["whatif", cross, "--market", market, "--add", "BTCUSDT:0x10"],
                                               ["--add", "SIZE", "finite non-zero size"])
        try CLITrustTests.expectOneLineFailure(["whatif", cross, "--market", market, "--add", "BTCUSDT:1@0x10"],
                                               ["--add", "PRICE", "finite positive price"])
        #expect(throws: InputError.self) { try Trade(parsing: "BTCUSDT:0x10") }
        #expect(TradeArguments.decimal("0x10") == nil)
        #expect(TradeArguments.decimal("nan") == nil && TradeArguments.decimal("inf") == nil && TradeArguments.decimal("1e999") == nil)
        #expect(TradeArguments.decimal("") == nil && TradeArguments.decimal("  ") == nil && TradeArguments.decimal("1.2.3") == nil)
        // Decimal text in every form the files accept still reads.
        #expect(TradeArguments.decimal("16") == 16 && TradeArguments.decimal("+1.5e1") == 15 && TradeArguments.decimal("-.5") == -0.5)
        // No spaces around a number, as in the files (a padded balance is an account error there).
        #expect(TradeArguments.decimal(" 16 ") == nil)
        #expect(try Trade(parsing: "BTCUSDT:-2.5@1e4") == Trade(symbol: "BTCUSDT", size: -2.5, price: 10_000))
        // The same decimal value in other spellings gives the same answer.
        let out = try CLI.run(["whatif", cross, "--market", market, "--max-size", "BTCUSDT", "--max", "16", "--step", "1"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(try JSON.parse(out.stdout)["step"] == .number(1))
        let spelt = try CLI.run(["whatif", cross, "--market", market, "--max-size", "BTCUSDT", "--max", "1.6e1", "--step", "1.000"])
        #expect(spelt.status == 0 && spelt.stdout == out.stdout, "\(spelt.stderr)")
    }

    /// `--step` has a lower bound (10^-8): a step of 10^-300 made the default cap 10^6 steps of
    /// nothing, and with `--max` a grid of 10^7 sizes too small to trade. Refused, naming the bound.
    @Test func aStepBelowTheBoundIsRefused() throws {
        for value in ["1e-300", "5e-324", "0.000000009", "9.99e-9"] {
            try CLITrustTests.expectOneLineFailure(["whatif", cross, "--market", market, "--max-size", "BTCUSDT", "--step", value],
                                                   ["--step", "must be at least 1e-08", value])
        }
        #expect(throws: InputError.self) { try TradeArguments.grid(step: "1e-300", max: nil) }
        // The bound itself is a step (the grid 10^-8 · 100 points).
        #expect(try TradeArguments.grid(step: "1e-8", max: "0.000001").step == 1e-8)
        let out = try CLI.run(["whatif", cross, "--market", market, "--max-size", "BTCUSDT", "--step", "1e-8", "--max", "0.000001"])
        #expect(out.status == 0, "\(out.stderr)")
    }
}
