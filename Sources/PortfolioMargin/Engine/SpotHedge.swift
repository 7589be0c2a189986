/// Spot hedging (docs/model.md §6, §11.3–4).
enum SpotHedge {
    /// The hedge leg h of a balance `b` against the unit's derivative delta `d` (coins): a positive
    /// balance hedges a negative delta, `h = min(b, −d)`; a liability hedges a positive delta,
    /// `h = max(b, −d)`; otherwise 0. `b` is 0 when hedging is off or the coin is not eligible.
    @inline(__always)
    static func legSize(balance b: Double, derivativeDelta d: Double) -> Double {
        if b > 0 && d < 0 { return min(b, -d) }
        if b < 0 && d > 0 { return max(b, -d) }
        return 0
    }

    /// Adds the leg's scenario P&L, `h·index·s_k` per price move (the same under every vol shock).
    /// A liability's leg (h < 0) counts only its gains: `max(0, h·index·s_k)` (docs/model.md §11.4).
    @inline(__always)
    static func addLegPnl(_ h: Double, index: Double, moves: [Double], into pnl: UnsafeMutablePointer<Double>) {
        guard h != 0 else { return }
        for k in 0..<moves.count {
            var v = h * index * moves[k]
            if h < 0 { v = max(0, v) }
            let s = Scenario.first(ofMove: k)
            pnl[s + VolShock.up.rawValue] += v; pnl[s + VolShock.unchanged.rawValue] += v; pnl[s + VolShock.down.rawValue] += v
        }
    }
}
