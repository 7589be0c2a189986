/// The contingency add-ons of docs/model.md §5, one table: every place that names them — the
/// `units.csv` columns and their byte bound (`BatchOutput`), the JSON result (`UnitResult.json`),
/// the text table and what-if's per-unit lines, Bybit's `contingency` object and `pm reconcile`'s
/// comparison — reads this declaration, in this order (the order of ``Contingencies/total``'s sum
/// and of the CSV columns). Adding an add-on means a case here, its ``descriptor``, its stored value
/// in ``Contingencies`` (and its ``Contingencies/subscript(_:)`` case) and its line in
/// `ContingencyCalculator.compute`.
public enum ContingencyKind: Int, CaseIterable, Sendable {
    /// A. Short option (docs/model.md §5A).
    case shortOption
    /// B. Vega spread across expiries (docs/model.md §5B).
    case vegaSpread
    /// C. USDT–USDC–USD settlement spread (docs/model.md §5C).
    case settlementSpread
    /// D. Delta spread: maturity mismatch and spot–derivative basis (docs/model.md §5D).
    case deltaSpread
    /// E. Perpetual and futures (docs/model.md §5E).
    case futures

    /// How one add-on is named and explained wherever it appears.
    public struct Descriptor: Sendable {
        /// Its letter in docs/model.md §5 (`A` … `E`); `pm reconcile` cites it as `§5A`.
        public let letter: String
        /// Its key in the JSON result's `contingency` object, which is also Bybit's field name.
        public let jsonKey: String
        /// Its `units.csv` column (docs/formats.md).
        public let csvColumn: String
        /// Its row label in the text table and in what-if's per-unit lines.
        public let label: String
        /// Its place in Bybit's `contingency` object, whose published order is not ours;
        /// `contingencyComponents` (the sum) sits at ``ContingencyKind/bybitTotalRank``.
        public let bybitRank: Int
        /// What `pm reconcile` says the figure is made of: `{name}` stands for that coin
        /// parameter's value (formatted by the caller).
        public let component: String
    }

    /// The table: one entry per add-on.
    public var descriptor: Descriptor {
        switch self {
        case .shortOption:
            return Descriptor(letter: "A", jsonKey: "optionContingency", csvColumn: "option_contingency",
                              label: "short option", bybitRank: 0,
                              component: "short option: net short per (expiry, strike) × shortOptionFactor {shortOptionFactor} × index")
        case .vegaSpread:
            return Descriptor(letter: "B", jsonKey: "optionVegaContingency", csvColumn: "option_vega_contingency",
                              label: "vega spread", bybitRank: 2,
                              component: "vega spread: hedged coin vega × tenor gap × vegaSpreadFactor {vegaSpreadFactor}")
        case .settlementSpread:
            return Descriptor(letter: "C", jsonKey: "usdtUsdcContingency", csvColumn: "usdt_usdc_contingency",
                              label: "USDT-USDC-USD", bybitRank: 4,
                              component: "USDT–USDC–USD spread: stablecoinSpreadFactor {stablecoinSpreadFactor}")
        case .deltaSpread:
            return Descriptor(letter: "D", jsonKey: "futureDeltaContingency", csvColumn: "future_delta_contingency",
                              label: "delta spread", bybitRank: 1,
                              component: "delta spread: maturity mismatch × deltaSpreadFactor {deltaSpreadFactor} + spot basis × basisFactor {basisFactor} above basisThreshold {basisThreshold}")
        case .futures:
            return Descriptor(letter: "E", jsonKey: "futureContingency", csvColumn: "future_contingency",
                              label: "perp & futures", bybitRank: 5,
                              component: "perpetual and futures: Σ|delta| × futuresRiskFactor {futuresRiskFactor} × index")
        }
    }

    /// Every add-on in table order, held once (the hot paths loop over it without rebuilding
    /// `allCases`).
    public static let all = allCases

    /// The place of the sum `contingencyComponents` in Bybit's `contingency` object.
    public static let bybitTotalRank = 3

    /// `component` with every `{name}` replaced by `format(p[numeric: name])`.
    public func component(_ p: CoinParameters, format: (Double) -> String) -> String {
        var out = "", rest = Substring(descriptor.component)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            out += p[numeric: name].map(format) ?? name
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// The contingency add-ons of a unit, USD, each ≥ 0 (docs/model.md §5), one per ``ContingencyKind``.
///
/// Computed from the unshocked Black-76 deltas and vegas at the current market (§5) of the
/// portfolio's net holdings; a unit of zero-size positions has every add-on 0. Each field is named as
/// in Bybit's and our JSON output.
public struct Contingencies: Equatable, Sendable {
    /// A. Short option, USD (docs/model.md §5A): options grouped by (expiry, strike), calls and puts and
    /// settle coins together (§11.7); `Σ max(0, −Σ size) · shortOptionFactor · index`. 0 with no net short group.
    public var optionContingency = 0.0
    /// B. Vega spread across expiries, USD (docs/model.md §5B, §11.8): `|T_L − T_S| · min(L, S) · vegaSpreadFactor · index`
    /// over the coin vegas per expiry; 0 when either the long or the short vega side is empty.
    public var optionVegaContingency = 0.0
    /// C. USDT–USDC–USD settlement spread, USD (docs/model.md §5C): `(Σ_b |δ_b| − |Σ_b δ_b|) / 2 ·
    /// stablecoinSpreadFactor · index` over the settlement buckets; 0 unless the unit hedges across them.
    public var usdtUsdcContingency = 0.0
    /// D. Delta spread, USD (docs/model.md §5D): the maturity-mismatch part D1 plus the spot–derivative basis
    /// part D2 (only with a spot hedge leg h ≠ 0, §11.9). 0 for a single maturity bucket and no basis.
    public var futureDeltaContingency = 0.0
    /// E. Perpetual and futures, USD (docs/model.md §5E): `Σ |δ_i| · futuresRiskFactor · index` over every
    /// perpetual and future of the unit. 0 with none.
    public var futureContingency = 0.0

    /// Every add-on 0.
    public init() {}

    /// The add-on of `kind`, USD.
    public subscript(_ kind: ContingencyKind) -> Double {
        get {
            switch kind {
            case .shortOption: return optionContingency
            case .vegaSpread: return optionVegaContingency
            case .settlementSpread: return usdtUsdcContingency
            case .deltaSpread: return futureDeltaContingency
            case .futures: return futureContingency
            }
        }
        set {
            switch kind {
            case .shortOption: optionContingency = newValue
            case .vegaSpread: optionVegaContingency = newValue
            case .settlementSpread: usdtUsdcContingency = newValue
            case .deltaSpread: futureDeltaContingency = newValue
            case .futures: futureContingency = newValue
            }
        }
    }

    /// `contingencyComponents`, the sum of every add-on in ``ContingencyKind`` order (A + B + C + D + E),
    /// USD, ≥ 0 (docs/model.md §5); the second term of `MM = maxLoss + contingencyComponents` (§7).
    /// Walks the raw values rather than `allCases` (an array): no allocation or reference count
    /// on the engine's path, and the same left-to-right sum, so the same bits.
    public var total: Double {
        var sum = self[ContingencyKind(rawValue: 0)!], raw = 1
        while let k = ContingencyKind(rawValue: raw) { sum += self[k]; raw += 1 }
        return sum
    }
}

/// What the §5 add-ons read from one portfolio of a unit, filled in one pass over its holdings
/// (`ContingencyCalculator.compute`). The per-group and per-bucket sums live in the calculator's
/// scratch and are valid only during that call.
///
/// docs/model.md §10: every add-on below returns NaN when a sum it reads is not finite (an overflowed
/// sum must make the account an error, never vanish in a `max(0, ·)` or a sign test, as NaN
/// compares false). `x − x` is 0 for finite x and NaN otherwise.
struct UnitExposure {
    /// Net size per (expiry, strike) option group (§5A), indexed by group; `groups` lists each
    /// touched group once.
    var groupSize: UnsafePointer<Double>
    var groups: UnsafeBufferPointer<Int32>
    /// Coin vega and coin delta per maturity bucket (§5B, §5D1), indexed by bucket; `buckets` lists
    /// each touched bucket once, in first-touch order; `days` is each bucket's DTE.
    var vega: UnsafePointer<Double>
    var delta: UnsafePointer<Double>
    var buckets: UnsafeBufferPointer<Int32>
    var days: UnsafeBufferPointer<Double>
    /// `BranchFree` masks for the add-ons' sign tests (the calculator's own table on the hot path).
    var masks: UnsafePointer<UInt64> = BranchFree.shared
    /// Coin delta per settlement bucket (§5C).
    var settlementDelta = SettlementDelta()
    /// Spot hedge leg h, coins (§6); it sits in maturity bucket 0 (DTE 0) at full size (§11.4).
    var hedge = 0.0
    /// §5D2: Σ w_i and Σ w_i·(mark_i/index − 1) over the perpetuals and futures whose net size is
    /// opposite to h, w_i = |δ_i|.
    var basisWeight = 0.0
    var basisWeightedBasis = 0.0
    /// §5E: Σ |δ_i| over perpetuals and futures.
    var futuresAbsDelta = 0.0
}

/// Coin delta per settlement bucket (docs/model.md §5C).
struct SettlementDelta {
    var usdt = 0.0, usdc = 0.0, usd = 0.0
}

/// Long and short totals over maturity buckets, and their DTE-weighted sums (§5B, §5D1).
struct MaturitySides {
    var long = 0.0, short = 0.0, longDays = 0.0, shortDays = 0.0
    /// 0 when every bucket value and total is finite, NaN otherwise (§10).
    var check = 0.0

    /// No buckets yet (`add` each, then `close`).
    init() {}

    /// Each bucket goes to the long side when > 0, to the short side when < 0, to neither when 0
    /// or NaN. Written without a branch on the sign (`keep`; a mispredicted branch per bucket cost more
    /// than the whole sum): the other side adds 0, which leaves a sum that started at +0 unchanged — such
    /// a sum is never −0 (IEEE round to nearest: x + y is −0 only when both are −0), and y + 0 = y
    /// and y − 0 = y for every other y, NaN and ±∞ included. So the bits are those of the branch.
    @inline(__always)
    init(_ value: UnsafePointer<Double>, buckets: UnsafeBufferPointer<Int32>, days: UnsafeBufferPointer<Double>,
         masks: UnsafePointer<UInt64>) {
        for b in buckets { add(value[Int(b)], days: days[Int(b)], masks) }
        close()
    }

    /// One bucket's value `v` at DTE `t` (the loop body of `init`).
    @inline(__always)
    mutating func add(_ v: Double, days t: Double, _ masks: UnsafePointer<UInt64>) {
        check += v - v
        let isLong = masks[v > 0 ? 1 : 0], isShort = masks[v < 0 ? 1 : 0]
        long += BranchFree.keep(v, isLong)
        longDays += BranchFree.keep(v * t, isLong)
        short -= BranchFree.keep(v, isShort)
        shortDays -= BranchFree.keep(v * t, isShort)
    }

    /// After the last bucket (the end of `init`).
    @inline(__always)
    mutating func close() {
        check += (longDays - longDays) + (shortDays - shortDays)
    }

    /// `|DTE_long − DTE_short| · min(long, short)` with DTE_x the x-weighted mean DTE; 0 unless
    /// both sides are present.
    ///
    /// Computed always and kept through a mask rather than behind a branch on both sides being
    /// present (which varies at random between portfolios); without a side the quotient is NaN or
    /// ±∞ and the mask gives +0, the guard's 0. Same operations otherwise, so the same bits.
    @inline(__always)
    func spread(_ masks: UnsafePointer<UInt64>) -> Double {
        let both = masks[(long > 0 ? 1 : 0) & (short > 0 ? 1 : 0)]
        return BranchFree.keep(abs(longDays / long - shortDays / short) * min(long, short), both)
    }

    /// `spread` with a branch (the reference the masked form is tested against).
    var spread: Double {
        guard long > 0 && short > 0 else { return 0 }
        return abs(longDays / long - shortDays / short) * min(long, short)
    }
}

/// The §5 factors of a coin's parameters (docs/model.md §9), plain values: the engine reads these per
/// portfolio from `PricedMarket.contingencyFactors` rather than copying the whole `CoinParameters`
/// (its collateral tiers are an array, so each copy was a retain and a release).
struct ContingencyFactors {
    var shortOptionFactor, vegaSpreadFactor, stablecoinSpreadFactor, deltaSpreadFactor: Double
    var basisFactor, basisThreshold, futuresRiskFactor: Double

    init(_ c: CoinParameters) {
        shortOptionFactor = c.shortOptionFactor; vegaSpreadFactor = c.vegaSpreadFactor
        stablecoinSpreadFactor = c.stablecoinSpreadFactor; deltaSpreadFactor = c.deltaSpreadFactor
        basisFactor = c.basisFactor; basisThreshold = c.basisThreshold; futuresRiskFactor = c.futuresRiskFactor
    }
}

/// The add-ons of docs/model.md §5, one pure function each, from a portfolio's `UnitExposure`.
enum ContingencyModel {
    /// §5A Short option: `Σ_groups max(0, −Σ size) · shortOptionFactor · index`.
    ///
    /// `max(0, n)` as Swift's `max` defines it (`n >= 0 ? n : 0`), through `keep` rather than a
    /// branch on the group's sign (random, so often mispredicted); a 0 added where `max` gave −0
    /// leaves the sum (never −0) unchanged.
    @inline(__always)
    static func shortOption(_ x: UnitExposure, _ params: ContingencyFactors, index: Double) -> Double {
        var sum = NetShort()
        for g in x.groups { sum.add(x.groupSize[Int(g)], x.masks) }
        return shortOption(sum, params, index: index)
    }

    /// §5A from the groups' summed `NetShort`.
    @inline(__always)
    static func shortOption(_ sum: NetShort, _ params: ContingencyFactors, index: Double) -> Double {
        guard sum.check == 0 else { return .nan }
        return sum.netShort * params.shortOptionFactor * index
    }

    /// §5A's sum over option groups, `Σ max(0, −size)`, and its `x − x` check (docs/model.md §10).
    struct NetShort {
        var netShort = 0.0, check = 0.0

        /// One group of net size `s`.
        @inline(__always)
        mutating func add(_ s: Double, _ masks: UnsafePointer<UInt64>) {
            check += s - s
            let n = -s
            netShort += BranchFree.keep(n, masks[n >= 0 ? 1 : 0])
        }
    }

    /// §5B Vega spread: the long and short coin vega over maturity buckets, each with its
    /// vega-weighted DTE; `|DTE_L − DTE_S| · min(V_L, V_S) · vegaSpreadFactor · index`.
    @inline(__always)
    static func vegaSpread(_ x: UnitExposure, _ params: ContingencyFactors, index: Double) -> Double {
        vegaSpread(MaturitySides(x.vega, buckets: x.buckets, days: x.days, masks: x.masks), x.masks, params, index: index)
    }

    /// §5B from the vega's `MaturitySides`.
    @inline(__always)
    static func vegaSpread(_ v: MaturitySides, _ masks: UnsafePointer<UInt64>, _ params: ContingencyFactors,
                           index: Double) -> Double {
        guard v.check == 0 else { return .nan }
        return v.spread(masks) * params.vegaSpreadFactor * index
    }

    /// §5C Settlement spread: `(Σ_b |δ_b| − |Σ_b δ_b|) / 2 · stablecoinSpreadFactor · index` over the
    /// USDT, USDC and USD (inverse) buckets.
    @inline(__always)
    static func stablecoinSpread(_ x: UnitExposure, _ params: ContingencyFactors, index: Double) -> Double {
        let s = x.settlementDelta
        guard (s.usdt - s.usdt) + (s.usdc - s.usdc) + (s.usd - s.usd) == 0 else { return .nan }
        let spread = (abs(s.usdt) + abs(s.usdc) + abs(s.usd) - abs(s.usdt + s.usdc + s.usd)) / 2
        return spread * params.stablecoinSpreadFactor * index
    }

    /// §5D Delta spread: D1 the maturity mismatch, as §5B on coin delta (the spot leg in bucket 0),
    /// `|DTE_L − DTE_S| · min(Δ_L, Δ_S) · index · deltaSpreadFactor`; plus D2 the spot–derivative
    /// basis, only with a hedge leg: `|h| · index · basisFactor · max(0, |basis| − basisThreshold)`,
    /// basis the |δ|-weighted mean of `mark/index − 1` (0 without such instruments).
    @inline(__always)
    static func deltaSpread(_ x: UnitExposure, _ params: ContingencyFactors, index: Double) -> Double {
        deltaSpread(MaturitySides(x.delta, buckets: x.buckets, days: x.days, masks: x.masks), x, params, index: index)
    }

    /// §5D from the delta's `MaturitySides` and `x`'s hedge and basis sums.
    @inline(__always)
    static func deltaSpread(_ d: MaturitySides, _ x: UnitExposure, _ params: ContingencyFactors, index: Double) -> Double {
        guard d.check + (x.basisWeight - x.basisWeight) + (x.basisWeightedBasis - x.basisWeightedBasis) == 0 else {
            return .nan
        }
        var spread = d.spread(x.masks) * index * params.deltaSpreadFactor
        if x.hedge != 0 {
            let basis = x.basisWeight > 0 ? x.basisWeightedBasis / x.basisWeight : 0
            spread += abs(x.hedge) * index * params.basisFactor * max(0, abs(basis) - params.basisThreshold)
        }
        return spread
    }

    /// §5E Perpetual and futures: `Σ|δ_i| · futuresRiskFactor · index`.
    @inline(__always)
    static func futures(_ x: UnitExposure, _ params: ContingencyFactors, index: Double) -> Double {
        guard x.futuresAbsDelta - x.futuresAbsDelta == 0 else { return .nan }
        return x.futuresAbsDelta * params.futuresRiskFactor * index
    }
}

/// Computes contingencies from a portfolio's net holdings without allocating: the per-group and
/// per-bucket sums live in scratch sized once for the largest coin, and only touched slots are
/// reset. One per worker (`UnitEvaluator`), never shared between threads; its owner calls
/// `deallocate()` when done. Plain pointers, not a class: no reference counting on the hot path.
struct ContingencyCalculator {
    private let groupSize: UnsafeMutablePointer<Double>
    private let groupSeen: UnsafeMutablePointer<Bool>
    private let groups: UnsafeMutablePointer<Int32>
    private let vega: UnsafeMutablePointer<Double>
    private let delta: UnsafeMutablePointer<Double>
    private let bucketSeen: UnsafeMutablePointer<Bool>
    private let buckets: UnsafeMutablePointer<Int32>
    /// `PricedMarket.spareStrikeGroup` (the same for every pricing of the same instruments).
    private let spareGroup: Int
    /// This calculator's `BranchFree` mask table.
    private let masks: UnsafeMutablePointer<UInt64>

    /// Scratch for `priced` and every pricing of the same instruments (a sweep's). One more group
    /// than the largest coin has: `spareStrikeGroup`, where non-options add their size, marked seen
    /// for good so it is never listed; one more group and bucket index so `fill` may write the
    /// next list entry before knowing whether it keeps it.
    init(priced: PricedMarket) {
        let g = max(1, priced.strikeGroupCount.max() ?? 0) + 1
        let b = max(1, priced.bucketDTE.map(\.count).max() ?? 0) + 1
        func zeroed<T>(_ n: Int, _ v: T) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: n)
            p.initialize(repeating: v, count: n)
            return p
        }
        groupSize = zeroed(g, 0.0); groupSeen = zeroed(g, false); groups = zeroed(g, Int32(0))
        vega = zeroed(b, 0.0); delta = zeroed(b, 0.0); bucketSeen = zeroed(b, false); buckets = zeroed(b, Int32(0))
        masks = BranchFree.allocateMasks()
        spareGroup = Int(priced.spareStrikeGroup)
        precondition(spareGroup < g)
        groupSeen[spareGroup] = true
    }

    /// Everything of `p` that `compute` reads for a unit of coin `slot`, plus the deltas its spot
    /// hedge leg comes from (bit patterns): two pricings of the same instruments with equal keys give
    /// every portfolio of that coin the same contingencies (a sweep computes them once per distinct
    /// key; docs/model.md §5). The factors are every `CoinParameter` of a §5 section; the holdings'
    /// fields are what `fill` reads.
    static func inputsKey(_ p: PricedMarket, slot: Int) -> [UInt64] {
        let c = p.coinParams[slot]
        var bits: [UInt64] = [p.coinIndex[slot].bitPattern]
        bits += CoinParameter.contingencyFactors.map { $0.value(c).bitPattern }
        bits += p.bucketDTE[slot].map(\.bitPattern)
        for i in p.coinSlot.indices where Int(p.coinSlot[i]) == slot {
            let h = p.contingencyInfo[i]
            bits += [UInt64(i), h.delta.bitPattern, h.coinVega.bitPattern, p.mark[i].bitPattern, p.delta[i].bitPattern,
                     UInt64(bitPattern: Int64(h.strikeGroup)), UInt64(bitPattern: Int64(h.maturityBucket)),
                     h.kind == .option ? 0 : (h.kind == .perpetual ? 1 : 2), UInt64(h.settlement.rawValue)]
        }
        return bits
    }

    func deallocate() {
        groupSize.deallocate(); groupSeen.deallocate(); groups.deallocate()
        vega.deallocate(); delta.deallocate(); bucketSeen.deallocate(); buckets.deallocate()
        masks.deallocate()
    }

    /// Contingencies of the holdings `instr[e], size[e]` (net per symbol) of one unit of coin `slot`,
    /// with spot hedge leg `hedge` (coins).
    func compute(priced p: PricedMarket, slot: Int, instr: UnsafePointer<Int32>, size: UnsafePointer<Double>,
                 count: Int, hedge: Double) -> Contingencies {
        // A sweep computes every pricing with the scratch of the first; its pricings are of the same
        // instruments, so they have the same groups (the scratch's size already relies on it) and the
        // same spare group. Checked, as a different spare would be listed as an option group.
        precondition(Int(p.spareStrikeGroup) == spareGroup, "contingency scratch of another instrument set")
        let params = p.contingencyFactors[slot]
        let index = p.coinIndex[slot]
        // The slot's DTEs from the flat `bucketDays` (a nested array's inner buffer was retained
        // and released per call).
        let from = p.bucketStart[slot], to = p.bucketStart[slot + 1]
        return p.bucketDays.withUnsafeBufferPointer { all in
            let days = UnsafeBufferPointer(rebasing: all[from..<to])
            let x = p.contingencyInfo.withUnsafeBufferPointer { info in
                fill(info: info, days: days, instr: instr, size: size, count: count, hedge: hedge)
            }
            // One pass over the touched groups and one over the touched buckets, each reading a
            // slot and zeroing it for the next portfolio (each slot is listed once): the same sums
            // as `ContingencyModel`'s passes over `x` followed by a reset, with two fewer loops
            // (whose exits, at a trip count that varies per portfolio, were mispredicted).
            var netShort = ContingencyModel.NetShort()
            for g in x.groups {
                netShort.add(groupSize[Int(g)], masks)
                groupSize[Int(g)] = 0; groupSeen[Int(g)] = false
            }
            groupSize[spareGroup] = 0  // never read; kept small so it never turns subnormal or NaN
            var vegaSides = MaturitySides(), deltaSides = MaturitySides()
            for b in x.buckets {
                let t = days[Int(b)]
                vegaSides.add(vega[Int(b)], days: t, masks)
                deltaSides.add(delta[Int(b)], days: t, masks)
                vega[Int(b)] = 0; delta[Int(b)] = 0; bucketSeen[Int(b)] = false
            }
            vegaSides.close(); deltaSides.close()
            var c = Contingencies()
            c.optionContingency = ContingencyModel.shortOption(netShort, params, index: index)
            c.optionVegaContingency = ContingencyModel.vegaSpread(vegaSides, masks, params, index: index)
            c.usdtUsdcContingency = ContingencyModel.stablecoinSpread(x, params, index: index)
            c.futureDeltaContingency = ContingencyModel.deltaSpread(deltaSides, x, params, index: index)
            c.futureContingency = ContingencyModel.futures(x, params, index: index)
            return c
        }
    }

    /// The one pass over the holdings: per-group net size, per-bucket vega and delta,
    /// per-settlement delta, basis weights and futures |δ| (docs/model.md §5).
    ///
    /// No branch on the data: options and linear instruments, settlement buckets and first
    /// touches mix at random in a book, and their mispredicted branches were most of this loop's
    /// time. Each sum an instrument does not belong to adds 0 instead (`BranchFree.keep(v, mask)`):
    /// every sum here starts at +0 and so is never −0, and y + 0 = y for every other y, NaN and
    /// ±∞ included — the bits are those of the branches (checked against the branchy pass,
    /// BranchFreeEngineEquivalenceTests). Non-options add their size to the spare group, which is never listed.
    /// A first touch writes the next list entry always and keeps it only when the slot was unseen.
    @inline(__always)
    private func fill(info: UnsafeBufferPointer<PricedMarket.ContingencyInfo>, days: UnsafeBufferPointer<Double>,
                      instr: UnsafePointer<Int32>, size: UnsafePointer<Double>, count: Int,
                      hedge: Double) -> UnitExposure {
        var x = UnitExposure(groupSize: groupSize, groups: UnsafeBufferPointer(start: groups, count: 0),
                             vega: vega, delta: delta, buckets: UnsafeBufferPointer(start: buckets, count: 0),
                             days: days, masks: masks)
        x.hedge = hedge
        var groupCount = 0, bucketCount = 0
        // The spot leg sits in the DTE-0 bucket at full size (docs/model.md §11.4).
        bucketSeen[0] = true; buckets[0] = 0; bucketCount = 1
        delta[0] += hedge
        var usdt = 0.0, usdc = 0.0, usd = 0.0, futuresAbsDelta = 0.0, basisWeight = 0.0, basisWeightedBasis = 0.0
        let hedgeLong = hedge > 0
        let base = info.baseAddress!
        let hedged = hedge != 0 ? 1 : 0
        for e in 0..<count {
            let h = base[Int(instr[e])]
            let q = size[e]
            let d = q * h.delta
            let m = Int(h.maturityBucket)
            buckets[bucketCount] = Int32(m)
            bucketCount &+= bucketSeen[m] ? 0 : 1
            bucketSeen[m] = true
            delta[m] += d
            let lanes = x.masks + 2 + 3 * Int(h.settlement.rawValue)
            usdt += BranchFree.keep(d, lanes[0])
            usdc += BranchFree.keep(d, lanes[1])
            usd += BranchFree.keep(d, lanes[2])
            let isOption = h.kind == .option ? 1 : 0
            let option = x.masks[isOption], linear = ~option
            let g = Int(h.strikeGroup)
            groups[groupCount] = Int32(g)
            groupCount &+= groupSeen[g] ? 0 : 1
            groupSeen[g] = true
            groupSize[g] += q
            vega[m] += BranchFree.keep(q * h.coinVega, option)
            let weight = abs(d)
            futuresAbsDelta += BranchFree.keep(weight, linear)
            // D2's basis is over the perpetuals and futures whose net size is opposite to h.
            let opposite = (q != 0 ? 1 : 0) & ((q > 0) != hedgeLong ? 1 : 0)
            let inBasis = x.masks[(1 &- isOption) & hedged & opposite]
            basisWeight += BranchFree.keep(weight, inBasis)
            basisWeightedBasis += BranchFree.keep(weight * h.basis, inBasis)
        }
        x.settlementDelta = SettlementDelta(usdt: usdt, usdc: usdc, usd: usd)
        x.futuresAbsDelta = futuresAbsDelta
        x.basisWeight = basisWeight
        x.basisWeightedBasis = basisWeightedBasis
        x.groups = UnsafeBufferPointer(start: groups, count: groupCount)
        x.buckets = UnsafeBufferPointer(start: buckets, count: bucketCount)
        return x
    }
}
