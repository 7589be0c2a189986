import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import PMTestSupport

/// The generator as its own target: it is the only generator, so the shipped sample must be
/// its output byte for byte, and it takes its model numbers from the parameter set it is given.
@Suite struct GeneratorLayoutTests {
    static func files(_ params: ParameterSet, count: Int, seed: UInt64 = 1) throws -> GeneratedBook.Files {
        var files: GeneratedBook.Files = [:]
        _ = try SyntheticAccounts(market: GeneratedBook.market, parameters: params, seed: seed).generate(count: count) { f, bytes in
            files[f, default: []] += bytes
        }
        return files
    }

    /// `data/sample/accounts/` is `pm generate --accounts 10000 --seed 1` against the shipped market
    /// and parameters: with the Python copy retired, nothing else could have written it.
    @Test func shippedSampleAccountsAreTheGeneratorsOutput() throws {
        let generated = try Self.files(TestSupport.shippedParams, count: 10_000)
        for f in SyntheticAccounts.File.allCases {
            let shipped = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestSupport.path("data/sample/accounts/" + f.fileName))))
            #expect(generated[f] == shipped, "\(f.fileName) differs from the generator's output")
        }
    }

    /// The distressed accounts are sized with the parameter set's maintenance risk: a wider BTC/ETH
    /// price range (more risk per unit) must change their collateral, and nothing else in the
    /// generator may hold its own copy of the range.
    @Test func distressedSizingReadsTheParameterSet() throws {
        var wider = TestSupport.shippedParams
        for coin in ["BTC", "ETH"] { wider.coins[coin]!.priceRange = 0.2 }
        let base = try Self.files(TestSupport.shippedParams, count: 3000)
        let changed = try Self.files(wider, count: 3000)
        // Same accounts and positions (the draws do not depend on the parameters) …
        #expect(base[.accounts] == changed[.accounts])
        // … but the wallets topped up to a target MM rate do.
        let a = GeneratedBook.rows(base, .balances), b = GeneratedBook.rows(changed, .balances)
        let differing = zip(a, b).filter { $0 != $1 }.count
        #expect(differing > 0, "no balance row depends on the BTC/ETH price range")
    }
}
