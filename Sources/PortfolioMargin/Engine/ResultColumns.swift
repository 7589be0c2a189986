/// The handle through which the margin engine writes a ``BookResult``'s figures: one pointer per
/// column array, taken once, instead of one `withUnsafeMutableBufferPointer` closure per array.
///
/// Why pointers at all: the engine makes ~17 writes per account (`setUnit`, `setAccount`); made on
/// the arrays, each is an `Array` subscript set with its uniqueness and bounds checks
/// (docs/performance.md). Through the handle a write is one store.
///
/// Invariants (what makes the pointers valid and the writes unaliased):
/// 1. Made only by `BookResult.withFigures(_:)`, which holds `mutating` (exclusive) access to the
///    result for the handle's whole life: nothing else can read, copy, append to or replace an
///    array meanwhile, so no buffer is reallocated or shared (copy-on-write never triggers).
/// 2. ``init(pinning:)`` takes each pointer from that array's `withUnsafeMutableBufferPointer`,
///    which first makes the array's buffer uniquely referenced; the buffer then stays at that address
///    as long as the array is neither mutated through Swift nor released — excluded by 1.
/// 3. The handle is `~Copyable` and `withFigures` lends it to its body only as `borrowing`: it
///    cannot be stored or outlive the call.
/// 4. Indices are the book's own: accounts `0 ..< accountCount`, units `0 ..< unitCount`. Debug
///    builds check every write (`assert`); release builds check nothing (the engine's hot path).
///
/// Not `Sendable`: one engine run (one thread) writes through one handle.
struct ResultColumns: ~Copyable {
    private let marginBalance, orderLoss, totalIM, totalMM, imRate, mmRate: UnsafeMutablePointer<Double>
    private let stage: UnsafeMutablePointer<Stage?>
    private let unitMaxLoss: UnsafeMutablePointer<Double>
    private let unitWorst: UnsafeMutablePointer<Int32>
    private let unitContingency: UnsafeMutablePointer<Contingencies>
    private let unitHedge, unitMM, unitIM: UnsafeMutablePointer<Double>
    private let unitGoverning: UnsafeMutablePointer<GoverningPortfolio>
    /// MM of each portfolio C, A+C, B+C (NaN when not evaluated), at `Portfolio.slot(ofUnit:)`.
    private let unitPortfolioMM: UnsafeMutablePointer<Double>
    /// The bounds the debug checks use.
    private let accountCount, unitCount: Int

    /// Pins the figure arrays of `result` (invariant 2). Only for `BookResult.withFigures(_:)`.
    init(pinning result: inout BookResult) {
        accountCount = result.book.accountCount
        unitCount = result.book.unitCount
        marginBalance = Self.pin(&result.marginBalance, count: accountCount)
        orderLoss = Self.pin(&result.orderLoss, count: accountCount)
        totalIM = Self.pin(&result.totalIM, count: accountCount)
        totalMM = Self.pin(&result.totalMM, count: accountCount)
        imRate = Self.pin(&result.imRate, count: accountCount)
        mmRate = Self.pin(&result.mmRate, count: accountCount)
        stage = Self.pin(&result.stage, count: accountCount)
        unitMaxLoss = Self.pin(&result.unitMaxLoss, count: unitCount)
        unitWorst = Self.pin(&result.unitWorst, count: unitCount)
        unitContingency = Self.pin(&result.unitContingency, count: unitCount)
        unitHedge = Self.pin(&result.unitHedge, count: unitCount)
        unitMM = Self.pin(&result.unitMM, count: unitCount)
        unitIM = Self.pin(&result.unitIM, count: unitCount)
        unitGoverning = Self.pin(&result.unitGoverning, count: unitCount)
        unitPortfolioMM = Self.pin(&result.unitPortfolioMM, count: Portfolio.count * unitCount)
    }

    /// The base of `array`'s (now unique) buffer. An empty array may have no buffer; its pointer is
    /// then an aligned placeholder that the bounds (count 0) never let anyone read or write.
    private static func pin<T>(_ array: inout [T], count: Int) -> UnsafeMutablePointer<T> {
        assert(array.count == count, "a result column's length is not the book's")
        return array.withUnsafeMutableBufferPointer { $0.baseAddress }
            ?? UnsafeMutablePointer(bitPattern: MemoryLayout<T>.alignment)!
    }

    /// Unit `u`'s figures: those of its governing portfolio's outcome `o`, its IM, which portfolio
    /// governs, and the MM of each of C, A+C, B+C (nil: not evaluated).
    @inline(__always)
    func setUnit(_ u: Int, outcome o: PortfolioOutcome, im: Double, governing: GoverningPortfolio,
                 portfolioMM: (Double, Double?, Double?)) {
        assert(u >= 0 && u < unitCount, "unit index out of the result's range")
        unitMaxLoss[u] = o.maxLoss
        unitWorst[u] = Int32(o.worstScenario)
        unitContingency[u] = o.contingencies
        unitHedge[u] = o.hedge
        unitMM[u] = o.mm
        unitIM[u] = im
        unitGoverning[u] = governing
        unitPortfolioMM[Portfolio.positions.slot(ofUnit: u)] = portfolioMM.0
        unitPortfolioMM[Portfolio.buyOrders.slot(ofUnit: u)] = portfolioMM.1 ?? .nan
        unitPortfolioMM[Portfolio.sellOrders.slot(ofUnit: u)] = portfolioMM.2 ?? .nan
    }

    /// What unit `u`'s writes stored, for naming what overflowed (`UnitEvaluator.outOfRange`).
    func unit(_ u: Int) -> (maxLoss: Double, contingencies: Contingencies, im: Double, governing: GoverningPortfolio) {
        assert(u >= 0 && u < unitCount, "unit index out of the result's range")
        return (unitMaxLoss[u], unitContingency[u], unitIM[u], unitGoverning[u])
    }

    /// The MM stored for portfolio `k` of unit `u` (NaN when not evaluated).
    func portfolioMM(_ k: Portfolio, unit u: Int) -> Double {
        assert(u >= 0 && u < unitCount, "unit index out of the result's range")
        return unitPortfolioMM[k.slot(ofUnit: u)]
    }

    /// Account `a`'s totals, rates (docs/model.md §8, §11.12) and stage.
    @inline(__always)
    func setAccount(_ a: Int, totals: AccountTotals, totalMM mm: Double, totalIM im: Double, policy: StagePolicy) {
        assert(a >= 0 && a < accountCount, "account index out of the result's range")
        marginBalance[a] = totals.marginBalance
        orderLoss[a] = totals.orderLoss
        totalMM[a] = mm
        totalIM[a] = im
        let denominator = totals.marginBalance + totals.orderLoss
        let mmRate = AccountTotals.rate(mm, denominator), imRate = AccountTotals.rate(im, denominator)
        self.mmRate[a] = mmRate
        self.imRate[a] = imRate
        stage[a] = AccountTotals.stage(mmRate: mmRate, imRate: imRate, hasLiability: totals.hasLiability, policy)
    }
}
