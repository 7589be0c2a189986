/// Which of the three portfolios of a unit set its requirement (docs/model.md §7).
///
/// `MM_unit = max(MM[C], MM[A+C], MM[B+C])`; the governing portfolio is the first maximum in the
/// order positions, buyOrders, sellOrders (docs/model.md §11.6), so a later one governs only with a
/// strictly larger MM, and a unit without orders is always governed by `positions`.
public enum GoverningPortfolio: Int, CaseIterable, Sendable {
    /// C: the open positions.
    case positions = 0
    /// A+C: positions with the positive-delta orders (buy perpetual/future/call, sell put).
    case buyOrders = 1
    /// B+C: positions with the negative-delta orders.
    case sellOrders = 2

    /// The name used in results: `positions`, `positions+buyOrders`, `positions+sellOrders`.
    public var name: String {
        switch self {
        case .positions: return "positions"
        case .buyOrders: return "positions+buyOrders"
        case .sellOrders: return "positions+sellOrders"
        }
    }
}

enum OrderRule {
    /// `MM_unit = max(MM[C], MM[A+C], MM[B+C])`: the first maximum in the order C, A+C, B+C — a later
    /// portfolio governs only with a strictly larger MM (docs/model.md §11.6). The caller passes −∞ for a
    /// side without orders, so it never governs.
    @inline(__always)
    static func governing(_ mm: (Double, Double, Double)) -> GoverningPortfolio {
        var g = GoverningPortfolio.positions
        var best = mm.0
        if mm.1 > best { best = mm.1; g = .buyOrders }
        if mm.2 > best { g = .sellOrders }
        return g
    }
}
