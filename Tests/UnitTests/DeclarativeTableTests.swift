import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The contingency table (`ContingencyKind`) and the parameter table (`CoinParameter.table`): what
/// is derived from them matches the shapes docs/formats.md and docs/model.md fix.
struct DeclarativeTableTests {
    static let kinds = ContingencyKind.all

    /// A unit with every add-on a different, nonzero value.
    static var sample: Contingencies {
        var c = Contingencies()
        for k in kinds { c[k] = Double(k.rawValue + 1) * 1.25 }
        return c
    }

    @Test func unitsHeaderIsDocsFormatsColumns() {
        #expect(String(decoding: BatchOutput.unitsHeader, as: UTF8.self)
                == "account_id,base_coin,max_loss,max_loss_price_move,max_loss_iv_shock,option_contingency,option_vega_contingency,usdt_usdc_contingency,future_delta_contingency,future_contingency,mm,im,governing_portfolio,hedge_spot_size\n")
        let docs = try! String(contentsOf: TestSupport.root.appendingPathComponent("docs/formats.md"), encoding: .utf8)
        let header = String(decoding: BatchOutput.unitsHeader.dropLast(), as: UTF8.self)
        #expect(docs.contains("| `units.csv` | `\(header)` |"), "docs/formats.md names the units.csv columns")
    }

    @Test func subscriptReadsAndWritesEachStoredAddOn() {
        let c = Self.sample
        #expect([c.optionContingency, c.optionVegaContingency, c.usdtUsdcContingency, c.futureDeltaContingency,
                 c.futureContingency] == Self.kinds.map { c[$0] })
        #expect(c.total == c.optionContingency + c.optionVegaContingency + c.usdtUsdcContingency
                + c.futureDeltaContingency + c.futureContingency)
        #expect(Set(Self.kinds.map(\.descriptor.jsonKey)).count == Self.kinds.count)
        #expect(Set(Self.kinds.map(\.descriptor.csvColumn)).count == Self.kinds.count)
        #expect(Set(Self.kinds.map(\.descriptor.bybitRank) + [ContingencyKind.bybitTotalRank]).count == Self.kinds.count + 1)
    }

    @Test func jsonAndBybitShapes() {
        let c = Self.sample
        let ours = Self.kinds.map(\.descriptor.jsonKey) + ["contingencyComponents"]
        #expect(ours == ["optionContingency", "optionVegaContingency", "usdtUsdcContingency", "futureDeltaContingency",
                         "futureContingency", "contingencyComponents"])
        // Bybit's published order (docs/bybit-api.md).
        #expect(BybitFormat.contingencyFields(c).map(\.0) == ["optionContingency", "futureDeltaContingency",
                "optionVegaContingency", "contingencyComponents", "usdtUsdcContingency", "futureContingency"])
    }

    @Test func reconcileComponentFillsParameterValues() {
        let p = TestSupport.shippedParams.parameters(for: "BTC")
        let text = ContingencyKind.deltaSpread.component(p) { String($0) }
        #expect(text == "delta spread: maturity mismatch × deltaSpreadFactor \(p.deltaSpreadFactor) + spot basis × basisFactor \(p.basisFactor) above basisThreshold \(p.basisThreshold)")
    }

    @Test func parameterKeysInFileOrder() {
        #expect(CoinParameters.numericKeys == [
            "priceRange", "pricePoints", "ivUp", "ivDown", "vegaPowerShort", "vegaPowerLong", "minDTE",
            "minShockedIv", "decaySeconds", "imFactor", "shortOptionFactor", "vegaSpreadFactor",
            "stablecoinSpreadFactor", "deltaSpreadFactor", "basisFactor", "basisThreshold",
            "futuresRiskFactor", "collateralValueRatio", "borrowMMRate", "borrowIMRate",
        ])
        #expect(CoinParameters.allKeys == CoinParameters.numericKeys + ["spotHedgeEligible"])
        #expect(CoinParameter.contingencyFactors.map(\.name) == ["shortOptionFactor", "vegaSpreadFactor",
                "stablecoinSpreadFactor", "deltaSpreadFactor", "basisFactor", "basisThreshold", "futuresRiskFactor"])
    }

    @Test func everyParameterReadsAndWritesItsField() {
        var p = TestSupport.shippedParams.parameters(for: "BTC")
        for (i, parameter) in CoinParameter.table.enumerated() where parameter.isNumeric {
            let v = parameter.name == "pricePoints" ? 7.0 : 0.5 + Double(i) / 100
            p[numeric: parameter.name] = v
            #expect(p[numeric: parameter.name] == v, "\(parameter.name)")
        }
        #expect(p[numeric: "spotHedgeEligible"] == nil && p[numeric: "nope"] == nil)
    }

    @Test func validationMessages() {
        #expect(CoinParameters.valueProblem("pricePoints", 4) == "must be an odd whole number from 3 to 101, got 4")
        #expect(CoinParameters.valueProblem("priceRange", 1) == "must be in (0, 1), got 1")
        #expect(CoinParameters.valueProblem("ivUp", -1) == "must be a finite number ≥ 0, got -1")
        #expect(CoinParameters.valueProblem("minDTE", 0) == "must be > 0 days, got 0")
        #expect(CoinParameters.valueProblem("decaySeconds", 0) == "must be > 0 seconds, got 0")
        #expect(CoinParameters.valueProblem("minShockedIv", 0) == "must be > 0, got 0")
        #expect(CoinParameters.valueProblem("collateralValueRatio", 1.5) == "must be at most 1, got 1.5")
        #expect(CoinParameters.valueProblem("collateralValueRatio", 1) == nil)
    }

    /// docs/formats.md holds `CoinParameter.markdownTable` verbatim: a parameter added to the table
    /// fails here until the docs name it.
    @Test func docsParameterTableIsTheTable() throws {
        let docs = try String(contentsOf: TestSupport.root.appendingPathComponent("docs/formats.md"), encoding: .utf8)
        #expect(docs.contains(CoinParameter.markdownTable), "docs/formats.md's parameter table:\n\(CoinParameter.markdownTable)")
    }
}
