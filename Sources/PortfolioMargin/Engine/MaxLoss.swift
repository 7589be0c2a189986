/// Maximum loss over the scenario grid (MODEL.md §4).
enum MaxLoss {
    /// The worst scenario of a P&L table of `count` scenarios in grid order: the first minimum in
    /// the order price move ascending, then up, unchanged, down (MODEL.md §11.6), and
    /// `maxLoss = max(0, −min)`. A worst scenario is reported even when the loss is 0.
    @inline(__always)
    static func worst(_ pnl: UnsafePointer<Double>, count: Int) -> (maxLoss: Double, scenario: Int) {
        var best = pnl[0]
        var at = 0
        for s in 1..<count where pnl[s] < best {
            best = pnl[s]
            at = s
        }
        return (max(0, -best), at)
    }

    /// For each price move, the vol shock that was worst at it (first minimum of up, unchanged, down).
    static func worstShockPerMove(_ pnl: [Double]) -> [IvShock] {
        stride(from: 0, to: pnl.count, by: 3).map { b in
            var j = 0
            if pnl[b + 1] < pnl[b + j] { j = 1 }
            if pnl[b + 2] < pnl[b + j] { j = 2 }
            return IvShock(rawValue: j)!
        }
    }
}
