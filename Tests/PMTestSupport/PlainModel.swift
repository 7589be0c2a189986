import Foundation
@testable import PortfolioMargin

/// A deliberately plain, slow re-statement of docs/model.md §2–§8 and §11, written from the text alone.
///
/// It shares nothing with the engine but the model value types (`Account`, `MarketSnapshot`,
/// `Instrument`, `ParameterSet`): no book, no risk-array cache, no kernels. Every number is
/// recomputed from the snapshot with dictionaries, per-scenario loops and `erfc`, so that it
/// can cross-check the fast engine. It assumes a valid account (the engine checks
/// input, docs/model.md §10).
enum PlainModel {

    // MARK: Results

    /// The five contingencies of docs/model.md §5.
    struct PlainContingencies: Equatable {
        var option = 0.0            // §5 A
        var vega = 0.0              // §5 B
        var stablecoin = 0.0        // §5 C
        var delta = 0.0             // §5 D (D1 + D2)
        var deltaBasis = 0.0        // §5 D2 alone (already inside `delta`), for coverage reports
        var futures = 0.0           // §5 E
        var total: Double { option + vega + stablecoin + delta + futures }
    }

    /// One net holding of a portfolio and its scenario P&L (`size × riskArray`).
    struct PlainHolding {
        var symbol: String
        var size: Double
        var pnl: [[Double]]
    }

    /// One risk unit, for its governing portfolio.
    struct PlainUnit {
        var baseCoin: String
        var priceMoves: [Double]
        /// [move][up, unchanged, down], USD, spot hedge leg included.
        var pnl: [[Double]]
        var maxLoss: Double
        /// Index into `priceMoves` of the worst scenario.
        var worstMove: Int
        var maxLossPriceMove: Double
        /// "up", "unchanged" or "down".
        var maxLossIvShock: String
        var maxLossIvShockList: [String]
        var contingency: PlainContingencies
        var hedgeSpotSize: Double
        var mm: Double
        var im: Double
        /// "positions", "positions+buyOrders" or "positions+sellOrders".
        var governingPortfolio: String
        /// MM of C, A+C, B+C (nil when that side has no orders).
        var portfolioMM: [Double?]
        var positions: [PlainHolding]
    }

    /// The account figures of docs/model.md §8 and its units.
    struct PlainResult {
        var accountId: String
        var marginBalance: Double
        var orderLoss: Double
        var totalIM: Double
        var totalMM: Double
        var imRate: Double
        var mmRate: Double
        /// "healthy", "imBreach", "autoRepay" or "liquidation".
        var stage: String
        /// Alphabetical by base coin.
        var units: [PlainUnit]
    }

    static let ivShockNames = ["up", "unchanged", "down"]
    static let portfolioNames = ["positions", "positions+buyOrders", "positions+sellOrders"]

    // MARK: Black-76 (docs/model.md §3, §5)

    /// Standard normal distribution function, N(x) = ½·erfc(−x/√2).
    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / sqrt(2.0)) }

    /// Standard normal density φ(x).
    static func normalPDF(_ x: Double) -> Double { exp(-0.5 * x * x) / sqrt(2.0 * Double.pi) }

    /// d1 of Black-76 with zero rate.
    static func d1(forward: Double, strike: Double, years: Double, vol: Double) -> Double {
        let sd = vol * sqrt(years)
        return (log(forward / strike) + 0.5 * sd * sd) / sd
    }

    /// Black-76 price with zero rate (docs/model.md §3).
    static func black76(forward: Double, strike: Double, years: Double, vol: Double, type: OptionType) -> Double {
        let sd = vol * sqrt(years)
        let a = d1(forward: forward, strike: strike, years: years, vol: vol)
        let b = a - sd
        switch type {
        case .call: return forward * normalCDF(a) - strike * normalCDF(b)
        case .put: return strike * normalCDF(-b) - forward * normalCDF(-a)
        }
    }

    // MARK: Time (docs/model.md §1)

    static let secondsPerDay = 86400.0
    static let secondsPerYear = 365.0 * 86400.0

    static func secondsToExpiry(_ i: Instrument, _ market: MarketSnapshot) -> Double { i.expiry! - market.time }

    /// DTE, fractional days (§11.8); perpetuals and the spot leg are DTE 0 (§5).
    static func dte(_ i: Instrument, _ market: MarketSnapshot) -> Double {
        guard i.kind != .perpetual, let e = i.expiry else { return 0 }
        return (e - market.time) / secondsPerDay
    }

    // MARK: §2 The scenario grid

    /// `s_k = −R + k·2R/(N−1)`, k = 0…N−1.
    static func priceMoves(_ p: CoinParameters) -> [Double] {
        let r = p.priceRange
        let n = p.pricePoints
        return (0..<n).map { k in -r + Double(k) * 2 * r / Double(n - 1) }
    }

    /// The three shocked vols of an option, [up, unchanged, down] (§2, §11.13).
    static func shockedVols(_ i: Instrument, _ market: MarketSnapshot, _ p: CoinParameters) -> [Double] {
        let sigma = i.markIv!
        let days = dte(i, market)
        let power = days < 30 ? p.vegaPowerShort : p.vegaPowerLong
        let scale = pow(30.0 / max(days, p.minDTE), power)
        let up = sigma * (1 + p.ivUp * scale)
        // §11.13: minShockedIv bounds only the down shock.
        let down = max(sigma * (1 - p.ivDown * scale), p.minShockedIv)
        return [up, sigma, down]
    }

    /// An option's own price move in scenario k: shrunk linearly in its last `decaySeconds` (§2).
    static func optionMove(_ s: Double, _ i: Instrument, _ market: MarketSnapshot, _ p: CoinParameters) -> Double {
        let seconds = secondsToExpiry(i, market)
        return seconds < p.decaySeconds ? s * seconds / p.decaySeconds : s
    }

    // MARK: §3 Risk array of one instrument

    /// USD P&L of one unit long of `i` in every scenario: [move][up, unchanged, down].
    static func riskArray(_ i: Instrument, _ market: MarketSnapshot, _ p: CoinParameters) -> [[Double]] {
        let moves = priceMoves(p)
        switch i.kind {
        case .option:
            let settleIndex = market.indexPrices[i.settleCoin]!
            let vols = shockedVols(i, market, p)
            let years = secondsToExpiry(i, market) / secondsPerYear
            return moves.map { s in
                let forward = i.underlyingPrice! * (1 + optionMove(s, i, market, p))
                return vols.map { vol in
                    (black76(forward: forward, strike: i.strike!, years: years, vol: vol, type: i.optionType!) - i.markPrice) * settleIndex
                }
            }
        case .perpetual, .future:
            if i.isInverse {
                // One USD contract: s_k USD at the moved price.
                return moves.map { s in [s, s, s] }
            }
            let settleIndex = market.indexPrices[i.settleCoin]!
            return moves.map { s in
                let v = i.markPrice * s * settleIndex
                return [v, v, v]
            }
        }
    }

    // MARK: §5 Greeks at the current market

    /// Delta in coins of `size` of `i` (§5): options N(d1) / N(d1)−1 per contract, linear ±1 per
    /// coin, inverse n/P.
    static func delta(_ i: Instrument, size: Double, _ market: MarketSnapshot) -> Double {
        switch i.kind {
        case .option:
            let years = secondsToExpiry(i, market) / secondsPerYear
            let nd1 = normalCDF(d1(forward: i.underlyingPrice!, strike: i.strike!, years: years, vol: i.markIv!))
            return size * (i.optionType! == .call ? nd1 : nd1 - 1)
        case .perpetual, .future:
            return i.isInverse ? size / i.markPrice : size
        }
    }

    /// Vega of one option contract, USD per 1.00 of vol: `F·φ(d1)·√T`.
    static func vega(_ i: Instrument, _ market: MarketSnapshot) -> Double {
        let years = secondsToExpiry(i, market) / secondsPerYear
        let a = d1(forward: i.underlyingPrice!, strike: i.strike!, years: years, vol: i.markIv!)
        return i.underlyingPrice! * normalPDF(a) * sqrt(years)
    }

    // MARK: One portfolio of one unit (§3–§7)

    struct PortfolioEvaluation {
        var holdings: [PlainHolding]
        var pnl: [[Double]]
        var maxLoss: Double
        var worstMove: Int
        var worstShock: Int
        var worstShockPerMove: [Int]
        var contingency: PlainContingencies
        var hedgeSpotSize: Double
        var mm: Double
    }

    /// `|T_L − T_S| · min(L, S)` over signed bucket amounts with their DTEs (§5 B and D1):
    /// `T_L`, `T_S` are the |amount|-weighted mean DTE of the positive and negative buckets.
    /// Zero when either side is empty (§11.8).
    static func spreadDaysTimesHedged(_ buckets: [(amount: Double, days: Double)]) -> Double {
        var long = 0.0, short = 0.0, longDays = 0.0, shortDays = 0.0
        for b in buckets {
            if b.amount > 0 { long += b.amount; longDays += b.amount * b.days }
            if b.amount < 0 { short += -b.amount; shortDays += -b.amount * b.days }
        }
        guard long > 0, short > 0 else { return 0 }
        let tLong = longDays / long
        let tShort = shortDays / short
        return abs(tLong - tShort) * min(long, short)
    }

    /// Evaluates one portfolio (net holdings per symbol) of the unit on `coin`.
    static func evaluate(holdings netted: [(symbol: String, size: Double)], coin: String, account: Account,
                         market: MarketSnapshot, params: ParameterSet) -> PortfolioEvaluation {
        let p = params.parameters(for: coin)
        let index = market.indexPrices[coin]!
        let moves = priceMoves(p)
        let n = moves.count

        // §3: the unit's table is Σ size_i · riskArray_i, with one common vol scenario.
        var table = [[Double]](repeating: [0, 0, 0], count: n)
        var holdings: [PlainHolding] = []
        for (symbol, size) in netted {
            let inst = market.instrument(symbol)!
            let ra = riskArray(inst, market, p)
            let pnl = ra.map { row in row.map { size * $0 } }
            for k in 0..<n { for j in 0..<3 { table[k][j] += pnl[k][j] } }
            holdings.append(PlainHolding(symbol: symbol, size: size, pnl: pnl))
        }

        // §6: the spot hedge leg, recomputed for this portfolio (§11.3).
        var derivativeDelta = 0.0
        for (symbol, size) in netted {
            derivativeDelta += delta(market.instrument(symbol)!, size: size, market)
        }
        var h = 0.0
        if account.spotHedging && p.spotHedgeEligible {
            let balance = account.balances.filter { $0.coin == coin }.reduce(0.0) { $0 + $1.walletBalance }
            if balance > 0 && derivativeDelta < 0 { h = min(balance, -derivativeDelta) }
            if balance < 0 && derivativeDelta > 0 { h = max(balance, -derivativeDelta) }
        }
        // §3 spot leg `index · s_k` per coin; a liability's leg counts only its gains (§6, §11.4).
        for k in 0..<n {
            var leg = h * index * moves[k]
            if h < 0 { leg = max(0, leg) }
            for j in 0..<3 { table[k][j] += leg }
        }

        // §4 / §11.6: worst scenario = first minimum, moves ascending, then up, unchanged, down.
        var worstMove = 0, worstShock = 0
        for k in 0..<n {
            for j in 0..<3 where table[k][j] < table[worstMove][worstShock] {
                worstMove = k; worstShock = j
            }
        }
        let worstShockPerMove: [Int] = table.map { row in
            var best = 0
            for j in 1..<3 where row[j] < row[best] { best = j }
            return best
        }
        let maxLoss = max(0, -table[worstMove][worstShock])

        var c = PlainContingencies()

        // §5 A, §11.7: net short per (expiry instant, strike) across calls, puts and settle coins.
        var groups: [String: Double] = [:]
        for (symbol, size) in netted {
            let i = market.instrument(symbol)!
            guard i.kind == .option else { continue }
            groups["\(i.expiry!)|\(i.strike!)", default: 0] += size
        }
        let netShort = groups.values.reduce(0.0) { $0 + max(0, -$1) }
        c.option = netShort * p.shortOptionFactor * index

        // §5 B, §11.8: V_e = Σ size·vega/F per expiry instant.
        var vegaByExpiry: [Double: Double] = [:]
        for (symbol, size) in netted {
            let i = market.instrument(symbol)!
            guard i.kind == .option else { continue }
            vegaByExpiry[i.expiry!, default: 0] += size * vega(i, market) / i.underlyingPrice!
        }
        c.vega = spreadDaysTimesHedged(vegaByExpiry.map { (amount: $0.value, days: ($0.key - market.time) / secondsPerDay) })
            * p.vegaSpreadFactor * index

        // §5 C: net delta per settlement bucket (USDT, USDC, inverse/USD) of the derivatives.
        var bySettlement: [String: Double] = [:]
        for (symbol, size) in netted {
            let i = market.instrument(symbol)!
            let bucket = i.isInverse ? "USD" : i.settleCoin
            bySettlement[bucket, default: 0] += delta(i, size: size, market)
        }
        let sumAbs = bySettlement.values.reduce(0.0) { $0 + abs($1) }
        let absSum = abs(bySettlement.values.reduce(0.0, +))
        c.stablecoin = (sumAbs - absSum) / 2 * p.stablecoinSpreadFactor * index

        // §5 D1: net delta per maturity bucket; perpetuals and the spot leg (full h, §11.4) at DTE 0.
        var byMaturity: [Double: Double] = [:]   // keyed by DTE (instruments sharing an expiry share a bucket)
        for (symbol, size) in netted {
            let i = market.instrument(symbol)!
            byMaturity[dte(i, market), default: 0] += delta(i, size: size, market)
        }
        byMaturity[0, default: 0] += h
        let d1Part = spreadDaysTimesHedged(byMaturity.map { (amount: $0.value, days: $0.key) })
            * index * p.deltaSpreadFactor

        // §5 D2, §11.9: basis of the perpetuals/futures whose net size is opposite to h.
        var d2Part = 0.0
        if h != 0 {
            var weight = 0.0, weighted = 0.0
            for (symbol, size) in netted {
                let i = market.instrument(symbol)!
                guard i.kind != .option, size != 0, (size > 0) != (h > 0) else { continue }
                let w = abs(delta(i, size: size, market))
                weight += w
                weighted += w * (i.markPrice / index - 1)
            }
            let basis = weight > 0 ? weighted / weight : 0
            d2Part = abs(h) * index * p.basisFactor * max(0, abs(basis) - p.basisThreshold)
        }
        c.delta = d1Part + d2Part
        c.deltaBasis = d2Part

        // §5 E: Σ |δ_i| over perpetual and future holdings.
        var futuresDelta = 0.0
        for (symbol, size) in netted {
            let i = market.instrument(symbol)!
            guard i.kind != .option else { continue }
            futuresDelta += abs(delta(i, size: size, market))
        }
        c.futures = futuresDelta * p.futuresRiskFactor * index

        // §7: MM(portfolio) = maxLoss + contingencyComponents.
        return PortfolioEvaluation(holdings: holdings, pnl: table, maxLoss: maxLoss, worstMove: worstMove,
                                   worstShock: worstShock, worstShockPerMove: worstShockPerMove,
                                   contingency: c, hedgeSpotSize: h, mm: maxLoss + c.total)
    }

    /// Net holdings per symbol, in order of first appearance (§11.1).
    static func net(_ rows: [(symbol: String, size: Double)]) -> [(symbol: String, size: Double)] {
        var order: [String] = []
        var sizes: [String: Double] = [:]
        for r in rows {
            if sizes[r.symbol] == nil { order.append(r.symbol) }
            sizes[r.symbol, default: 0] += r.size
        }
        return order.map { ($0, sizes[$0]!) }
    }

    /// §11.2: buy perpetual/future/call and sell put → A (positive delta side); the rest → B.
    static func isBuySide(_ o: Order, _ i: Instrument) -> Bool {
        switch (o.side, i.kind, i.optionType) {
        case (.buy, .perpetual, _), (.buy, .future, _), (.buy, .option, .call?): return true
        case (.sell, .option, .put?): return true
        default: return false
        }
    }

    // MARK: The account (§7, §8)

    static func margin(_ account: Account, market: MarketSnapshot, params: ParameterSet) -> PlainResult {
        // §11.5: a unit per base coin with a position row (size 0 included) or an order.
        var coins = Set<String>()
        for pos in account.positions { coins.insert(market.instrument(pos.symbol)!.baseCoin) }
        for o in account.orders { coins.insert(market.instrument(o.symbol)!.baseCoin) }

        var units: [PlainUnit] = []
        for coin in coins.sorted() {
            let p = params.parameters(for: coin)
            let positionRows = account.positions
                .filter { market.instrument($0.symbol)!.baseCoin == coin }
                .map { (symbol: $0.symbol, size: $0.size) }
            let orders = account.orders.filter { market.instrument($0.symbol)!.baseCoin == coin }
            let buyOrders = orders.filter { isBuySide($0, market.instrument($0.symbol)!) }
            let sellOrders = orders.filter { !isBuySide($0, market.instrument($0.symbol)!) }
            // §7: an order is a position of its remaining quantity (signed by side).
            func asRows(_ os: [Order]) -> [(symbol: String, size: Double)] {
                os.map { (symbol: $0.symbol, size: $0.side == .buy ? $0.qty : -$0.qty) }
            }

            // C, A+C, B+C; a side with no orders is not evaluated (§11.2).
            var evaluations: [PortfolioEvaluation?] = [
                evaluate(holdings: net(positionRows), coin: coin, account: account, market: market, params: params),
                nil, nil,
            ]
            if !buyOrders.isEmpty {
                evaluations[1] = evaluate(holdings: net(positionRows + asRows(buyOrders)), coin: coin,
                                          account: account, market: market, params: params)
            }
            if !sellOrders.isEmpty {
                evaluations[2] = evaluate(holdings: net(positionRows + asRows(sellOrders)), coin: coin,
                                          account: account, market: market, params: params)
            }
            // §11.6: the first maximum in the order positions, buyOrders, sellOrders.
            var governing = 0
            for g in 1..<3 {
                if let e = evaluations[g], e.mm > evaluations[governing]!.mm { governing = g }
            }
            let e = evaluations[governing]!
            let moves = priceMoves(p)
            units.append(PlainUnit(
                baseCoin: coin, priceMoves: moves, pnl: e.pnl, maxLoss: e.maxLoss, worstMove: e.worstMove,
                maxLossPriceMove: moves[e.worstMove], maxLossIvShock: ivShockNames[e.worstShock],
                maxLossIvShockList: e.worstShockPerMove.map { ivShockNames[$0] }, contingency: e.contingency,
                hedgeSpotSize: e.hedgeSpotSize, mm: e.mm, im: e.mm * p.imFactor,
                governingPortfolio: portfolioNames[governing], portfolioMM: evaluations.map { $0?.mm },
                positions: e.holdings))
        }

        // §8 margin balance: balances (ratio on positive rows only, §11.11), unrealised P&L, option value.
        var marginBalance = 0.0
        for b in account.balances {
            let value = b.walletBalance * market.indexPrices[b.coin]!
            marginBalance += b.walletBalance > 0 ? value * params.parameters(for: b.coin).collateralValueRatio : value
        }
        for pos in account.positions {
            let i = market.instrument(pos.symbol)!
            switch i.kind {
            case .option:
                marginBalance += pos.size * i.markPrice * market.indexPrices[i.settleCoin]!
            case .perpetual, .future:
                guard let entry = pos.entryPrice else { continue }
                if i.isInverse {
                    marginBalance += pos.size * (1 / entry - 1 / i.markPrice) * market.indexPrices[i.baseCoin]!
                } else {
                    marginBalance += pos.size * (i.markPrice - entry) * market.indexPrices[i.settleCoin]!
                }
            }
        }

        // §8, §11.10: order loss at the limit price against mark.
        var orderLoss = 0.0
        for o in account.orders {
            let i = market.instrument(o.symbol)!
            var gain: Double
            if i.isInverse {
                let coinGain = o.side == .buy ? o.qty * (1 / o.price - 1 / i.markPrice)
                                              : o.qty * (1 / i.markPrice - 1 / o.price)
                gain = coinGain * market.indexPrices[i.baseCoin]!
            } else {
                let settleGain = o.side == .buy ? (i.markPrice - o.price) * o.qty : (o.price - i.markPrice) * o.qty
                gain = settleGain * market.indexPrices[i.settleCoin]!
            }
            orderLoss += min(0, gain)
        }

        // §8 borrowing margin on liabilities.
        var borrowMM = 0.0, borrowIM = 0.0
        for b in account.balances where b.walletBalance < 0 {
            let liability = -b.walletBalance * market.indexPrices[b.coin]!
            borrowMM += liability * params.parameters(for: b.coin).borrowMMRate
            borrowIM += liability * params.parameters(for: b.coin).borrowIMRate
        }

        let totalMM = units.reduce(0.0) { $0 + $1.mm } + borrowMM
        let totalIM = units.reduce(0.0) { $0 + $1.im } + borrowIM

        // §8, §11.12: rates; 0 when the total is 0, +∞ on a non-positive denominator.
        let denominator = marginBalance + orderLoss
        func rate(_ total: Double) -> Double {
            if total == 0 { return 0 }
            return denominator <= 0 ? .infinity : total / denominator
        }
        let mmRate = rate(totalMM)
        let imRate = rate(totalIM)

        // §8 liquidation stage, first that applies.
        let hasLiabilities = account.balances.contains { $0.walletBalance < 0 }
        let stage: String
        if mmRate >= params.stages.liquidationMMRate {
            stage = "liquidation"
        } else if hasLiabilities && mmRate >= params.stages.autoRepayMMRate {
            stage = "autoRepay"
        } else if imRate >= params.stages.imBreachIMRate {
            stage = "imBreach"
        } else {
            stage = "healthy"
        }

        return PlainResult(accountId: account.id, marginBalance: marginBalance, orderLoss: orderLoss,
                           totalIM: totalIM, totalMM: totalMM, imRate: imRate, mmRate: mmRate,
                           stage: stage, units: units)
    }
}
