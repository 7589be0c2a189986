/// The five contingency add-ons of a unit, USD, each ≥ 0 (MODEL.md §5).
///
/// Computed from the unshocked Black-76 deltas and vegas at the current market (§5) of the
/// portfolio's net holdings; a unit of zero-size positions has all five 0. Each field is named as
/// in Bybit's and our JSON output.
public struct Contingencies: Equatable, Sendable {
    /// A. Short option, USD (MODEL.md §5A): options grouped by (expiry, strike), calls and puts and
    /// settle coins together (§11.7); `Σ max(0, −Σ size) · shortOptionFactor · index`. 0 with no net short group.
    public var optionContingency = 0.0
    /// B. Vega spread across expiries, USD (MODEL.md §5B, §11.8): `|T_L − T_S| · min(L, S) · vegaSpreadFactor · index`
    /// over the coin vegas per expiry; 0 when either the long or the short vega side is empty.
    public var optionVegaContingency = 0.0
    /// C. USDT–USDC–USD settlement spread, USD (MODEL.md §5C): `(Σ_b |δ_b| − |Σ_b δ_b|) / 2 ·
    /// stablecoinSpreadFactor · index` over the settlement buckets; 0 unless the unit hedges across them.
    public var usdtUsdcContingency = 0.0
    /// D. Delta spread, USD (MODEL.md §5D): the maturity-mismatch part D1 plus the spot–derivative basis
    /// part D2 (only with a spot hedge leg h ≠ 0, §11.9). 0 for a single maturity bucket and no basis.
    public var futureDeltaContingency = 0.0
    /// E. Perpetual and futures, USD (MODEL.md §5E): `Σ |δ_i| · futuresRiskFactor · index` over every
    /// perpetual and future of the unit. 0 with none.
    public var futureContingency = 0.0

    /// All five add-ons 0.
    public init() {}

    /// `contingencyComponents` = A + B + C + D + E, USD, ≥ 0 (MODEL.md §5); the second term of
    /// `MM = maxLoss + contingencyComponents` (§7).
    public var total: Double {
        optionContingency + optionVegaContingency + usdtUsdcContingency + futureDeltaContingency + futureContingency
    }
}

/// Computes contingencies from a portfolio's net holdings without allocating: bucket sums live in
/// scratch arrays sized once for the largest coin, and only touched slots are reset.
struct ContingencyCalculator {
    private var groupSum: [Double]
    private var groupTouched: [Int32] = []
    private var vegaBucket: [Double]
    private var deltaBucket: [Double]
    private var bucketTouched: [Int32] = []

    init(priced: PricedMarket) {
        groupSum = [Double](repeating: 0, count: max(1, priced.strikeGroupCount.max() ?? 0))
        let buckets = max(1, priced.bucketDTE.map(\.count).max() ?? 0)
        vegaBucket = [Double](repeating: 0, count: buckets)
        deltaBucket = [Double](repeating: 0, count: buckets)
        groupTouched.reserveCapacity(groupSum.count)
        bucketTouched.reserveCapacity(buckets)
    }

    /// Contingencies of the holdings `instr[e], size[e]` (net per symbol) of one unit of coin `slot`,
    /// with spot hedge leg `hedge` (coins).
    mutating func compute(priced p: PricedMarket, slot: Int, instr: UnsafePointer<Int32>, size: UnsafePointer<Double>,
                          count: Int, hedge: Double) -> Contingencies {
        let params = p.coinParams[slot]
        let index = p.coinIndex[slot]
        var c = Contingencies()
        var settle0 = 0.0, settle1 = 0.0, settle2 = 0.0
        var futuresAbsDelta = 0.0
        var netShort = 0.0
        var vL = 0.0, vS = 0.0, vLT = 0.0, vST = 0.0
        var dL = 0.0, dS = 0.0, dLT = 0.0, dST = 0.0
        var w = 0.0, wb = 0.0
        var check = 0.0
        p.contingencyInfo.withUnsafeBufferPointer { info in
        p.bucketDTE[slot].withUnsafeBufferPointer { dteOf in
        groupSum.withUnsafeMutableBufferPointer { groupSum in
        vegaBucket.withUnsafeMutableBufferPointer { vegaBucket in
        deltaBucket.withUnsafeMutableBufferPointer { deltaBucket in
            // Spot leg sits in the DTE-0 bucket at full size (MODEL.md §11.4).
            deltaBucket[0] += hedge
            bucketTouched.append(0)
            for e in 0..<count {
                let x = info[Int(instr[e])]
                let q = size[e]
                let d = q * x.delta
                let m = Int(x.maturityBucket)
                if deltaBucket[m] == 0 && vegaBucket[m] == 0 { bucketTouched.append(Int32(m)) }
                deltaBucket[m] += d
                switch x.settleBucket {
                case 0: settle0 += d
                case 1: settle1 += d
                default: settle2 += d
                }
                if x.isOption {
                    let g = Int(x.strikeGroup)
                    if groupSum[g] == 0 { groupTouched.append(Int32(g)) }
                    groupSum[g] += q
                    vegaBucket[m] += q * x.coinVega
                } else {
                    futuresAbsDelta += abs(d)
                    // D2's basis is over the perpetuals and futures whose net size is opposite to h.
                    if hedge != 0, q != 0, (q > 0) != (hedge > 0) {
                        let weight = abs(d)
                        w += weight
                        wb += weight * (x.mark / index - 1)
                    }
                }
            }
            // A. Short option: Σ_groups max(0, −Σ size) · factor · index.
            for g in groupTouched {
                netShort += max(0, -groupSum[Int(g)])
                check += groupSum[Int(g)] - groupSum[Int(g)]
                groupSum[Int(g)] = 0
            }
            // B and D1: long/short totals and their weighted DTEs over the touched buckets.
            for b32 in bucketTouched {
                let b = Int(b32)
                let v = vegaBucket[b], d = deltaBucket[b]
                // A bucket can be listed twice when its sums passed through zero; count it once.
                vegaBucket[b] = 0
                deltaBucket[b] = 0
                let t = dteOf[b]
                check += (v - v) + (d - d)
                if v > 0 { vL += v; vLT += v * t } else if v < 0 { vS -= v; vST -= v * t }
                if d > 0 { dL += d; dLT += d * t } else if d < 0 { dS -= d; dST -= d * t }
            }
        } } } } }
        groupTouched.removeAll(keepingCapacity: true)
        bucketTouched.removeAll(keepingCapacity: true)

        // MODEL.md §10: a sum that overflowed must not vanish in a max(0, ·) or a sign test (NaN
        // compares false); `x − x` is 0 for finite x and NaN otherwise. A few subtractions per
        // portfolio, none per holding.
        check += (settle0 - settle0) + (settle1 - settle1) + (settle2 - settle2) + (futuresAbsDelta - futuresAbsDelta)
        check += (w - w) + (wb - wb) + (vLT - vLT) + (vST - vST) + (dLT - dLT) + (dST - dST)
        guard check == 0 else {
            c.optionContingency = .nan
            return c
        }
        c.optionContingency = netShort * params.shortOptionFactor * index
        if vL > 0 && vS > 0 {
            c.optionVegaContingency = abs(vLT / vL - vST / vS) * min(vL, vS) * params.vegaSpreadFactor * index
        }
        var deltaSpread = 0.0
        if dL > 0 && dS > 0 {
            deltaSpread = abs(dLT / dL - dST / dS) * min(dL, dS) * index * params.deltaSpreadFactor
        }
        // C. Settlement spread: (Σ|δ_b| − |Σδ_b|) / 2 · factor · index.
        let spread = (abs(settle0) + abs(settle1) + abs(settle2) - abs(settle0 + settle1 + settle2)) / 2
        c.usdtUsdcContingency = spread * params.stablecoinSpreadFactor * index
        // D2. Spot–derivative basis (only with a hedge leg); no such instruments → basis 0.
        if hedge != 0 {
            let basis = w > 0 ? wb / w : 0
            deltaSpread += abs(hedge) * index * params.basisFactor * max(0, abs(basis) - params.basisThreshold)
        }
        c.futureDeltaContingency = deltaSpread
        // E. Perpetual and futures: Σ|δ_i| · factor · index.
        c.futureContingency = futuresAbsDelta * params.futuresRiskFactor * index
        return c
    }
}
