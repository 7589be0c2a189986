import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The five §5 functions on hand-built exposures (docs/model.md §5A–E), and their §10 rule: a sum that
/// is not finite makes the add-on NaN, never 0 through a `max(0, ·)` or a sign test.
struct ContingencyModelTests {
    let params = ContingencyFactors(TestSupport.shippedParams.parameters(for: "BTC"))
    let index = 50_000.0

    /// Runs `body` with an exposure over the given per-group net sizes and per-bucket vega/delta
    /// (bucket b has DTE `days[b]`).
    func withExposure<R>(groups: [Double] = [], vega: [Double] = [0], delta: [Double] = [0], days: [Double] = [0],
                         _ edit: (inout UnitExposure) -> Void = { _ in }, _ body: (UnitExposure) -> R) -> R {
        let groupIds = (0..<groups.count).map(Int32.init), bucketIds = (0..<vega.count).map(Int32.init)
        let sizes = groups.isEmpty ? [0] : groups  // a valid pointer even without groups
        return sizes.withUnsafeBufferPointer { g in groupIds.withUnsafeBufferPointer { gi in
            vega.withUnsafeBufferPointer { v in delta.withUnsafeBufferPointer { d in
                bucketIds.withUnsafeBufferPointer { bi in days.withUnsafeBufferPointer { t in
                    var x = UnitExposure(groupSize: g.baseAddress!, groups: gi,
                                         vega: v.baseAddress!, delta: d.baseAddress!, buckets: bi, days: t)
                    edit(&x)
                    return body(x)
                } }
            } }
        } }
    }

    @Test func shortOptionSumsTheNetShortGroupsOnly() {
        // Groups −3, +1, −0.5: netShort = 3.5.
        let a = withExposure(groups: [-3, 1, -0.5]) { ContingencyModel.shortOption($0, params, index: index) }
        #expect(a == 3.5 * params.shortOptionFactor * index)
        // +∞ in a long group would vanish in max(0, −x): it must make the add-on NaN.
        #expect(withExposure(groups: [-1, .infinity]) { ContingencyModel.shortOption($0, params, index: index) }.isNaN)
    }

    @Test func vegaAndDeltaSpreadWeighTheirSidesByDTE() {
        // Long vega 2 at 90 days, short 1 at 30 days (bucket 0, DTE 0, empty): |90 − 30| × 1.
        let b = withExposure(vega: [0, 2, -1], delta: [0, 0, 0], days: [0, 90, 30]) {
            ContingencyModel.vegaSpread($0, params, index: index)
        }
        #expect(b == 60 * params.vegaSpreadFactor * index)
        // Delta: +4 at DTE 0, −1 at 60 and −3 at 20 days → short DTE (60 + 60)/4 = 30, min = 4.
        let d = withExposure(vega: [0, 0, 0], delta: [4, -1, -3], days: [0, 60, 20]) {
            ContingencyModel.deltaSpread($0, params, index: index)
        }
        #expect(d == 30 * 4 * index * params.deltaSpreadFactor)
        // A NaN bucket fails both sign tests; it must not be skipped.
        #expect(withExposure(vega: [0, .nan, -1], days: [0, 90, 30]) { ContingencyModel.vegaSpread($0, params, index: index) }.isNaN)
        #expect(withExposure(vega: [0, 0], delta: [1, .nan], days: [0, 30]) { ContingencyModel.deltaSpread($0, params, index: index) }.isNaN)
    }

    @Test func basisPartNeedsAHedgeAndABasisAboveTheThreshold() {
        let basis = params.basisThreshold + 0.02
        let d2 = withExposure({ x in x.hedge = -2; x.basisWeight = 3; x.basisWeightedBasis = 3 * basis }) {
            ContingencyModel.deltaSpread($0, params, index: index)
        }
        #expect(TestSupport.close(d2, 2 * index * params.basisFactor * 0.02, 1e-6))
        // Without a hedge leg there is no basis part, whatever the weights.
        #expect(withExposure({ x in x.basisWeight = 3; x.basisWeightedBasis = 3 }) {
            ContingencyModel.deltaSpread($0, params, index: index)
        } == 0)
        // A non-finite weighted basis would vanish in max(0, |basis| − threshold).
        #expect(withExposure({ x in x.hedge = 1; x.basisWeight = 1; x.basisWeightedBasis = .nan }) {
            ContingencyModel.deltaSpread($0, params, index: index)
        }.isNaN)
    }

    @Test func stablecoinSpreadAndFutures() {
        let c = withExposure({ x in x.settlementDelta = SettlementDelta(usdt: 2, usdc: -1.5, usd: 0.5) }) {
            ContingencyModel.stablecoinSpread($0, params, index: index)
        }
        #expect(c == (4 - 1) / 2 * params.stablecoinSpreadFactor * index)
        #expect(withExposure({ x in x.settlementDelta = SettlementDelta(usdt: .infinity, usdc: -1, usd: 0) }) {
            ContingencyModel.stablecoinSpread($0, params, index: index)
        }.isNaN)
        #expect(withExposure({ x in x.futuresAbsDelta = 2.5 }) { ContingencyModel.futures($0, params, index: index) }
                == 2.5 * params.futuresRiskFactor * index)
        #expect(withExposure({ x in x.futuresAbsDelta = .infinity }) { ContingencyModel.futures($0, params, index: index) }.isNaN)
    }
}
