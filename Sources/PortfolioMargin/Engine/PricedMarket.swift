import CKernels

/// The market priced once for a parameter set: every valid instrument's risk array (docs/model.md §3),
/// its delta and vega (§5) and the buckets the contingencies group it by — the SPAN idea: pricing
/// cost follows the number of instruments, never the number of accounts.
///
/// All per-instrument data is struct-of-arrays, indexed by the instrument's position in
/// `market.instruments` (its *instrument index*).
public final class PricedMarket: Sendable {
    /// The snapshot priced; instrument indices refer to its `instruments`.
    public let market: MarketSnapshot
    /// The parameters the risk arrays, deltas and vegas were priced with (docs/model.md §9).
    public let parameters: ParameterSet

    // MARK: Base coins (units). Slots are sorted by coin name, so units sort alphabetically by slot.
    /// Base coins that have at least one valid instrument, alphabetically.
    public let baseCoins: [String]
    let coinSlotByName: [String: Int]
    /// Per base-coin slot: its grid, parameters and USD index.
    public let grids: [ScenarioGrid]
    let coinParams: [CoinParameters]
    /// Per slot: the §5 factors of `coinParams` (what the contingencies read, without the arrays).
    let contingencyFactors: [ContingencyFactors]
    let coinIndex: [Double]
    /// Per slot: DTE (days) of each maturity bucket; bucket 0 is DTE 0 (perpetuals, spot leg).
    let bucketDTE: [[Double]]
    /// `bucketDTE` flattened, slot after slot; slot s's are `bucketStart[s] ..< bucketStart[s + 1]`.
    let bucketDays: [Double]
    let bucketStart: [Int]
    /// Per slot: number of (expiry, strike) option groups.
    let strikeGroupCount: [Int]
    /// Per slot: offset of the slot's risk-array block in `riskArrays`, and its instrument count.
    let blockOffset: [Int]
    let blockRows: [Int]

    // MARK: All coins with an index price (balances)
    /// Every coin of `indexPrices` with a usable index, alphabetically; a balance's coin id indexes these.
    public let coins: [String]
    let coinIdByName: [String: Int32]
    /// USD index and parameters per coin id.
    let coinUSD: [Double]
    let coinParamsById: [CoinParameters]
    /// The coin id of each base-coin slot.
    let coinIdOfSlot: [Int32?]

    // MARK: Per instrument (instrument index)
    /// Why an instrument cannot be used, or nil when it is valid.
    let problem: [InputError?]
    /// Base-coin slot, or −1 for an invalid instrument.
    let coinSlot: [Int32]
    /// Row of the instrument in its coin's risk-array block.
    let row: [Int32]
    /// Option, perpetual or future.
    let kind: [InstrumentKind]
    let isInverse: [Bool]
    let isCall: [Bool]
    /// Delta per unit of size, in coins: N(d1) / N(d1)−1, ±1 linear, 1/mark per inverse contract.
    public let delta: [Double]
    /// Mark price (settle units) and the settle coin's USD index (1 for inverse instruments).
    let mark: [Double]
    let settleIndex: [Double]

    /// What the contingencies read per holding, packed in one record (one cache line per lookup
    /// in the engine's hottest per-holding loop).
    struct ContingencyInfo {
        /// Delta per unit of size, coins (as `delta`).
        var delta: Double
        /// Black-76 vega per unit divided by the option's forward (coin vega per 1.00 vol); 0 otherwise.
        var coinVega: Double
        /// §5D2's basis of a perpetual or future, `mark / index − 1` (index: its base coin's), computed
        /// once here rather than once per holding (the same two operations, so the same bits); 0 for options.
        var basis: Double
        /// Option (expiry, strike) group; for non-options `spareStrikeGroup`, a slot the
        /// contingency pass adds to without reading it (so its loop needs no branch on the kind).
        var strikeGroup: Int32
        /// Maturity bucket (index into `bucketDTE[slot]`): 0 for perpetuals, an expiry's bucket otherwise.
        var maturityBucket: Int32
        var kind: InstrumentKind
        /// Settlement bucket for the USDT–USDC–USD spread (§5C).
        var settlement: SettlementBucket
    }
    let contingencyInfo: [ContingencyInfo]
    /// The group index of non-options in `contingencyInfo`: one past the largest coin's groups, the
    /// same for every coin (so it is never a real group of any coin).
    let spareStrikeGroup: Int32

    /// Symbols (instrument index) and coins (coin id) looked up from bytes by the CSV reader.
    let symbolTable: ByteKeyTable
    let coinTable: ByteKeyTable

    /// Risk arrays, coin block by coin block; a block is row-major `rows × scenarioCount`.
    public let riskArrays: [Double]

    /// Prices every instrument of `market` under `parameters`.
    ///
    /// Invalid or expired instruments are kept with their problem and priced as nothing; an empty
    /// market gives empty arrays. Costs one Black-76 evaluation per option and scenario.
    /// - Parameters:
    ///   - market: the snapshot; its instrument order is the instrument index.
    ///   - parameters: the parameter set (docs/model.md §9); each base coin takes its own entry or `default`.
    ///   - kernel: the Black-76 code path for the options' risk arrays (`.scalar`: the plain libm
    ///     reference, for cross-checks); `.automatic` by default.
    public convenience init(market: MarketSnapshot, parameters: ParameterSet, kernel: KernelChoice = .automatic) {
        self.init(market: market, parameters: parameters, kernel: kernel, layout: nil)
    }

    /// Prices `market` on the instrument layout of `layout` (a sweep's combination on its base,
    /// docs/model.md §10): the same valid instruments, coin slots, rows, groups, buckets and coin ids, so a
    /// book built against `layout` can be `Book.repriced` to it. `market` must list the same
    /// instruments in the same order. An instrument valid in `layout` that `market` makes unusable
    /// (a shock that moves its strike out of range, a vol scaled past `maxMarkIv`, an overflowing
    /// risk array) keeps its place but is *poisoned*: its mark, delta and vega are NaN (its risk
    /// array 0), so every account holding it gets a non-finite figure and is an error (§10), while
    /// the others are computed as on a market without it. A coin whose index `market` makes unusable keeps its id with a NaN index, so
    /// its balances and units make their accounts errors the same way.
    public convenience init(market: MarketSnapshot, parameters: ParameterSet, onLayoutOf layout: PricedMarket,
                            kernel: KernelChoice = .automatic) {
        precondition(market.instruments.map(\.symbol) == layout.market.instruments.map(\.symbol),
                     "PricedMarket(onLayoutOf:): a different instrument list")
        self.init(market: market, parameters: parameters, kernel: kernel, layout: layout)
    }

    private init(market: MarketSnapshot, parameters: ParameterSet, kernel: KernelChoice, layout: PricedMarket?) {
        self.market = market
        self.parameters = parameters
        var instruments = market.instruments
        let n = instruments.count
        var problem = [InputError?](repeating: nil, count: n)
        for (i, inst) in instruments.enumerated() { problem[i] = market.instrumentProblems[inst.symbol] }
        // On a layout: validity is the layout's; an instrument `market` broke is priced from the
        // layout's (valid) copy, which gives it the layout's groups and buckets, then poisoned below.
        var poisoned = [Bool](repeating: false, count: n)
        if let layout {
            for i in 0..<n {
                poisoned[i] = layout.problem[i] == nil && problem[i] != nil
                if poisoned[i] { instruments[i] = layout.market.instruments[i] }
                problem[i] = layout.problem[i]
            }
        }

        let coins = Set(instruments.indices.filter { problem[$0] == nil }.map { instruments[$0].baseCoin }).sorted()
        baseCoins = coins
        coinSlotByName = Dictionary(uniqueKeysWithValues: coins.enumerated().map { ($1, $0) })
        coinParams = coins.map { parameters.parameters(for: $0) }
        contingencyFactors = coinParams.map(ContingencyFactors.init)
        grids = coinParams.map { ScenarioGrid(priceRange: $0.priceRange, pricePoints: $0.pricePoints) }
        // Valid instruments have a valid base index; on a layout an unusable one is NaN (poison).
        coinIndex = coins.map { market.index(of: $0) ?? .nan }
        self.coins = layout?.coins ?? market.indexPrices.keys.filter { market.index(of: $0) != nil }.sorted()
        let ids = Dictionary(uniqueKeysWithValues: self.coins.enumerated().map { ($1, Int32($0)) })
        coinIdByName = ids
        coinUSD = self.coins.map { market.index(of: $0) ?? .nan }
        coinParamsById = self.coins.map { parameters.parameters(for: $0) }
        coinIdOfSlot = coins.map { ids[$0] }

        var coinSlot = [Int32](repeating: -1, count: n)
        var row = [Int32](repeating: -1, count: n)
        var kind = [InstrumentKind](repeating: .option, count: n)
        var isInverse = [Bool](repeating: false, count: n)
        var isCall = [Bool](repeating: false, count: n)
        var settlement = [SettlementBucket](repeating: .usdt, count: n)
        var maturityBucket = [Int32](repeating: 0, count: n)
        var strikeGroup = [Int32](repeating: -1, count: n)
        var delta = [Double](repeating: 0, count: n)
        var coinVega = [Double](repeating: 0, count: n)
        var mark = [Double](repeating: 0, count: n)
        var settleIndex = [Double](repeating: 1, count: n)

        var bucketByExpiry = [[Double: Int32]](repeating: [:], count: coins.count)
        var bucketDTE = [[Double]](repeating: [0], count: coins.count)
        var groupByKey = [[String: Int32]](repeating: [:], count: coins.count)
        var rowsPerSlot = [Int](repeating: 0, count: coins.count)
        var membersPerSlot = [[Int]](repeating: [], count: coins.count)

        for i in 0..<n where problem[i] == nil {
            let inst = instruments[i]
            let slot = coinSlotByName[inst.baseCoin]!
            coinSlot[i] = Int32(slot)
            row[i] = Int32(rowsPerSlot[slot])
            rowsPerSlot[slot] += 1
            membersPerSlot[slot].append(i)
            kind[i] = inst.kind
            isInverse[i] = inst.isInverse
            isCall[i] = inst.optionType == .call
            settlement[i] = inst.isInverse ? .usd : (inst.settleCoin == "USDT" ? .usdt : .usdc)
            mark[i] = inst.markPrice
            settleIndex[i] = inst.isInverse ? 1 : market.index(of: inst.settleCoin) ?? .nan
            if let e = inst.expiry {
                let secs = e - market.time
                if let b = bucketByExpiry[slot][e] { maturityBucket[i] = b } else {
                    let b = Int32(bucketDTE[slot].count)
                    bucketByExpiry[slot][e] = b
                    bucketDTE[slot].append(secs / TimeUnit.secondsPerDay)
                    maturityBucket[i] = b
                }
            }
            switch inst.kind {
            case .option:
                let key = "\(inst.expiry!)|\(inst.strike!)"
                if let g = groupByKey[slot][key] { strikeGroup[i] = g } else {
                    let g = Int32(groupByKey[slot].count)
                    groupByKey[slot][key] = g
                    strikeGroup[i] = g
                }
                var price = 0.0, d = 0.0, vega = 0.0
                pm_black76_greeks(inst.underlyingPrice!, inst.strike!, (inst.expiry! - market.time) / TimeUnit.secondsPerYear,
                                  inst.markIv!, inst.optionType == .call ? 1 : 0, &price, &d, &vega)
                delta[i] = d
                coinVega[i] = vega / inst.underlyingPrice!
            case .perpetual, .future:
                delta[i] = inst.isInverse ? 1 / inst.markPrice : 1
            }
        }

        var offsets: [Int] = []
        var total = 0
        for slot in 0..<coins.count {
            offsets.append(total)
            total += rowsPerSlot[slot] * grids[slot].scenarioCount
        }
        var risk = [Double](repeating: 0, count: total)
        for slot in 0..<coins.count {
            Self.fillRiskArrays(into: &risk, offset: offsets[slot], members: membersPerSlot[slot], grid: grids[slot],
                                params: coinParams[slot], instruments: instruments, time: market.time, settleIndex: settleIndex,
                                kernel: kernel)
        }

        // docs/model.md §10: an instrument whose delta, vega or risk array is not finite (a strike or a
        // mark so extreme that the pricing overflows) cannot be margined; the accounts that hold it
        // are errors, the others are computed. Once per instrument, never per account.
        for i in 0..<n where problem[i] == nil {
            let slot = Int(coinSlot[i])
            let nS = grids[slot].scenarioCount
            let start = offsets[slot] + Int(row[i]) * nS
            var check = (delta[i] - delta[i]) + (coinVega[i] - coinVega[i]) + (mark[i] - mark[i]) + (settleIndex[i] - settleIndex[i])
            for s in start..<start + nS { check += risk[s] - risk[s] }
            if layout != nil {
                // The layout keeps the instrument valid: poison what the engine reads per holding
                // instead. Every holding's delta reaches the §5 sums and its mark the totals, so the
                // account's figures are NaN. Its risk array is zeroed, not NaN: the dense
                // aggregation multiplies every row of a block, held or not (0 × NaN is NaN).
                guard poisoned[i] || check != 0 else { continue }
                poisoned[i] = true
                delta[i] = .nan; coinVega[i] = .nan; mark[i] = .nan
                for s in start..<start + nS { risk[s] = 0 }
                continue
            }
            if check != 0 {
                let what = !delta[i].isFinite ? "delta" : (!coinVega[i].isFinite ? "vega" : "scenario P&L (risk array)")
                let inputs = kind[i] == .option ? "strike, underlyingPrice, markIv" : "markPrice"
                problem[i] = InputError(field: inputs, "value out of range: its \(what) is not finite")
            }
        }

        self.problem = problem; self.coinSlot = coinSlot; self.row = row; self.kind = kind
        self.isInverse = isInverse; self.isCall = isCall
        self.delta = delta; self.mark = mark
        self.settleIndex = settleIndex; self.bucketDTE = bucketDTE
        bucketDays = bucketDTE.flatMap { $0 }
        bucketStart = bucketDTE.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        self.strikeGroupCount = groupByKey.map { $0.count }
        self.blockOffset = offsets; self.blockRows = rowsPerSlot; self.riskArrays = risk
        let spare = Int32(groupByKey.map { $0.count }.max() ?? 0)
        spareStrikeGroup = spare
        let coinIndex = self.coinIndex
        contingencyInfo = (0..<n).map { i in
            let linear = coinSlot[i] >= 0 && kind[i] != .option
            return ContingencyInfo(delta: delta[i], coinVega: coinVega[i],
                                   basis: linear ? mark[i] / coinIndex[Int(coinSlot[i])] - 1 : 0,
                                   strikeGroup: kind[i] == .option ? strikeGroup[i] : spare,
                                   maturityBucket: maturityBucket[i], kind: kind[i], settlement: settlement[i])
        }
        var symbols = ByteKeyTable(capacity: n)
        for inst in instruments { symbols.insert(inst.symbol) }
        symbolTable = symbols
        var coinKeys = ByteKeyTable(capacity: self.coins.count)
        for c in self.coins { coinKeys.insert(c) }
        coinTable = coinKeys
    }

    /// Fills one coin's block: options through the C kernel, linear and inverse instruments directly.
    private static func fillRiskArrays(into risk: inout [Double], offset: Int, members: [Int], grid: ScenarioGrid,
                                       params: CoinParameters, instruments: [Instrument], time: Double, settleIndex: [Double],
                                       kernel: KernelChoice) {
        let nS = grid.scenarioCount
        let moves = grid.priceMoves
        var optF: [Double] = [], optK: [Double] = [], optT: [Double] = [], up: [Double] = [], mid: [Double] = []
        var down: [Double] = [], scale: [Double] = [], isCall: [Int8] = [], optMark: [Double] = []
        var optSettle: [Double] = [], optRows: [Int] = []
        for (r, i) in members.enumerated() {
            let inst = instruments[i]
            let base = offset + r * nS
            switch inst.kind {
            case .option:
                let secs = inst.expiry! - time
                let v = ScenarioGrid.shockedVols(sigma: inst.markIv!, dte: secs / TimeUnit.secondsPerDay, params)
                optF.append(inst.underlyingPrice!); optK.append(inst.strike!); optT.append(secs / TimeUnit.secondsPerYear)
                up.append(v.up); mid.append(v.unchanged); down.append(v.down)
                scale.append(ScenarioGrid.moveScale(secondsToExpiry: secs, params))
                isCall.append(inst.optionType == .call ? 1 : 0)
                optMark.append(inst.markPrice); optSettle.append(settleIndex[i]); optRows.append(r)
            case .perpetual, .future:
                // Linear: mark·s·settleIndex per coin. Inverse: s per USD contract (docs/model.md §3).
                let perUnit = inst.isInverse ? 1 : inst.markPrice * settleIndex[i]
                for k in 0..<moves.count {
                    let v = perUnit * moves[k]
                    let s = base + Scenario.first(ofMove: k)
                    for j in 0..<VolShock.count { risk[s + j] = v }  // the same under every vol shock
                }
            }
        }
        guard !optRows.isEmpty else { return }
        var out = [Double](repeating: 0, count: optRows.count * nS)
        pm_risk_arrays_isa(kernel.rawValue, optRows.count, moves.count, moves, optF, optK, optT, up, mid, down, scale, isCall,
                           optMark, optSettle, &out)
        for (o, r) in optRows.enumerated() {
            let dst = offset + r * nS
            for s in 0..<nS { risk[dst + s] = out[o * nS + s] }
        }
    }

    /// Whether a book built against `self` may be margined against `other` (`Book.repriced`,
    /// `RiskColumns`): the same instruments valid, in the same coin slots, rows, option groups and
    /// maturity buckets, the same coin ids and spot hedging eligibility. Everything the engine
    /// indexes by what the book holds; a market priced `onLayoutOf:` another has its layout.
    public func hasLayout(of other: PricedMarket) -> Bool {
        if self === other { return true }
        return market.instruments.count == other.market.instruments.count
            && baseCoins == other.baseCoins && coins == other.coins
            && coinSlot == other.coinSlot && row == other.row && blockRows == other.blockRows
            && strikeGroupCount == other.strikeGroupCount && bucketDTE.map(\.count) == other.bucketDTE.map(\.count)
            && spareStrikeGroup == other.spareStrikeGroup
            && zip(contingencyInfo, other.contingencyInfo).allSatisfy {
                $0.strikeGroup == $1.strikeGroup && $0.maturityBucket == $1.maturityBucket && $0.kind == $1.kind
            }
            && zip(coinParams, other.coinParams).allSatisfy { $0.spotHedgeEligible == $1.spotHedgeEligible }
    }

    /// Why a symbol cannot be used, for error messages.
    struct SymbolProblem: Error { let message: String }

    /// The instrument index of a symbol that is listed and valid.
    func resolve(_ symbol: String) -> Result<Int32, SymbolProblem> {
        guard let i = market.indexOf(symbol) else {
            return .failure(SymbolProblem(message: "unknown instrument \"\(symbol)\" (not in the market snapshot)"))
        }
        return resolve(instrumentAt: i)
    }

    /// The coin id of a coin with a usable index price.
    func coinId(_ coin: String) -> Int32? { coinIdByName[coin] }

    /// Why a coin cannot be used (no index price, or an unusable one).
    func coinProblem(_ coin: String) -> String {
        if let v = market.indexPrices[coin] { return "coin \(coin) has an unusable index price (\(v))" }
        return "unknown coin \"\(coin)\" (no index price in the market snapshot)"
    }

    /// `resolve` by instrument index (the batch reader looks symbols up from bytes).
    func resolve(instrumentAt i: Int) -> Result<Int32, SymbolProblem> {
        guard let p = problem[i] else { return .success(Int32(i)) }
        let what = [p.field, p.message].filter { !$0.isEmpty }.joined(separator: ": ")
        return .failure(SymbolProblem(message: "instrument \(market.instruments[i].symbol) cannot be margined: \(what)"))
    }


    /// The risk array of instrument `i` (a copy; the engine reads `riskArrays` in place).
    public func riskArray(of i: Int) -> [Double] {
        let slot = Int(coinSlot[i])
        precondition(slot >= 0, "instrument \(market.instruments[i].symbol) is not valid")
        let nS = grids[slot].scenarioCount
        let start = blockOffset[slot] + Int(row[i]) * nS
        return Array(riskArrays[start..<start + nS])
    }
}
