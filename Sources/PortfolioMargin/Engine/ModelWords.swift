/// The model's words as small engine types: the portfolios of a unit, the vol shocks and
/// scenarios of a grid, the settlement buckets, the order sides of a unit, and the time units.
/// Each is a one-byte enum or an `Int32`/`Int` index, laid out as the integer codes they replace.

/// The portfolios of a unit (docs/model.md §7): C, A+C, B+C. Per-portfolio arrays of the engine
/// (`Book.pfStart`, `pfPresent`, the aggregation offsets, `BookResult.unitPortfolioMM`) hold
/// `Portfolio.count` entries per unit, portfolio `p` of unit `u` at `p.slot(ofUnit: u)`.
typealias Portfolio = GoverningPortfolio

extension GoverningPortfolio {
    /// C, A+C, B+C.
    static let count = 3
    /// A+C and B+C, the portfolios with one side's orders netted in.
    static let withOrders: [GoverningPortfolio] = [.buyOrders, .sellOrders]

    /// Index of this portfolio of unit `u` in the per-portfolio arrays.
    @inline(__always)
    func slot(ofUnit u: Int) -> Int { u * Self.count + rawValue }
}

/// The vol shock of a scenario (docs/model.md §2): up, unchanged, down.
typealias VolShock = IvShock

extension IvShock {
    /// Up, unchanged, down.
    static let count = 3
}

/// A scenario of a grid (docs/model.md §2): price move `move` (ascending) under vol shock `shock`. Its
/// index in a P&L table or risk array is `move · VolShock.count + shock` — grid order, which is
/// also the tie-break order of docs/model.md §11.6.
struct Scenario {
    var move: Int
    var shock: VolShock

    /// The scenario at table index `s`.
    @inline(__always)
    init(index s: Int) {
        move = s / VolShock.count
        shock = VolShock(rawValue: s % VolShock.count)!
    }

    /// Table index of the first scenario (vol shock up) of price move `k`.
    @inline(__always)
    static func first(ofMove k: Int) -> Int { k * VolShock.count }
}

/// Settlement bucket of an instrument for the USDT–USDC–USD spread (docs/model.md §5C).
enum SettlementBucket: UInt8 {
    /// Linear, settled in USDT.
    case usdt = 0
    /// Linear, settled in USDC.
    case usdc = 1
    /// Inverse (USD contracts, coin-settled).
    case usd = 2
}

/// The order set of one unit an order joins (docs/model.md §11.2): `A` (positive delta: buy
/// perpetual/future/call, sell put) or `B`, packed in an `Int32` as the unit's coin slot `s`
/// (side A) or `~s` (side B).
struct OrderSideTag: Equatable {
    let raw: Int32

    @inline(__always)
    init(slot: Int32, positiveDelta: Bool) { raw = positiveDelta ? slot : ~slot }

    /// The portfolio this order set is netted into: A+C or B+C.
    @inline(__always)
    init(slot: Int32, portfolio: Portfolio) { self.init(slot: slot, positiveDelta: portfolio == .buyOrders) }
}

/// Time units of the model: DTE in days, Black-76 time in years of 365 days (docs/model.md §2–3).
enum TimeUnit {
    static let secondsPerDay = 86400.0
    static let secondsPerYear = 365 * secondsPerDay
}
