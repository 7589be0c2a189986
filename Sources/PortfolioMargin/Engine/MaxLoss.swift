/// Maximum loss over the scenario grid (docs/model.md §4).
enum MaxLoss {
    /// The worst scenario of a P&L table of `count` scenarios in grid order: the first minimum in
    /// the order price move ascending, then up, unchanged, down (docs/model.md §11.6), and
    /// `maxLoss = max(0, −min)`. A worst scenario is reported even when the loss is 0.
    ///
    /// The minimum is found four lanes at a time with `SIMD4<Double>`, as `minimum` does (the same
    /// comparisons, so the same `best`); each lane also keeps the index where it first reached its
    /// minimum (replaced only on a strictly smaller entry), so the first scenario holding `best` is
    /// the smallest of those indices over the lanes equal to `best` — every entry of a lane before
    /// that index is above its minimum — or, when no lane holds it, the first such entry of the
    /// tail. This replaced a forward scan after the minimum, whose exit at a random scenario was a
    /// mispredicted branch per portfolio (perf annotate of the 1M batch: about a quarter of
    /// `UnitEvaluator.finish`); the rule (docs/model.md §11.6) is unchanged, ±0 ties included.
    ///
    /// A table holding a NaN or an infinity gives `maxLoss` NaN (scenario 0): the account is then
    /// out of range (docs/model.md §10). A NaN never compares below the running minimum, so without this
    /// it would be skipped silently (or, in a table of NaNs only, the scan would find nothing);
    /// `x − x` is 0 for every finite x and NaN otherwise, one subtraction per lane.
    @inline(__always)
    static func worst(_ pnl: UnsafePointer<Double>, count: Int) -> (maxLoss: Double, scenario: Int) {
        var lanes = SIMD4<Double>(repeating: .infinity)
        var check = SIMD4<Double>(repeating: 0)
        var firstAt = SIMD4<Int64>(repeating: 0)
        var index = SIMD4<Int64>(0, 1, 2, 3)
        var s = 0
        let raw = UnsafeRawPointer(pnl)
        while s + 4 <= count {
            let v = raw.loadUnaligned(fromByteOffset: s * 8, as: SIMD4<Double>.self)
            let lower = v .< lanes
            lanes.replace(with: v, where: lower)
            firstAt.replace(with: index, where: lower)
            check += v - v
            index &+= 4
            s += 4
        }
        var best = min(min(lanes[0], lanes[1]), min(lanes[2], lanes[3]))
        var tail = 0.0
        var t = s
        while t < count {
            if pnl[t] < best { best = pnl[t] }
            tail += pnl[t] - pnl[t]
            t += 1
        }
        guard (check.sum() + tail) == 0 else { return (.nan, 0) }
        // Every entry is finite, so `best` is one of them (or +∞ for an empty table: scenario 0).
        firstAt.replace(with: .max, where: lanes .!= best)
        var at = Int(firstAt.min())
        if at == Int(Int64.max) {
            at = s
            while at < count - 1 && pnl[at] != best { at += 1 }
        }
        return (max(0, -best), at)
    }

    /// `worst(pnl, count:).maxLoss` without looking for the scenario (a sweep needs only the figure).
    @inline(__always)
    static func loss(_ pnl: UnsafePointer<Double>, count: Int) -> Double {
        let best = minimum(pnl, count: count)
        return best.isNaN ? .nan : max(0, -best)
    }

    /// The smallest entry, or NaN when an entry is not finite.
    @inline(__always)
    static func minimum(_ pnl: UnsafePointer<Double>, count: Int) -> Double {
        var lanes = SIMD4<Double>(repeating: .infinity)
        var check = SIMD4<Double>(repeating: 0)
        var s = 0
        let raw = UnsafeRawPointer(pnl)
        while s + 4 <= count {
            let v = raw.loadUnaligned(fromByteOffset: s * 8, as: SIMD4<Double>.self)
            lanes.replace(with: v, where: v .< lanes)
            check += v - v
            s += 4
        }
        var best = min(min(lanes[0], lanes[1]), min(lanes[2], lanes[3]))
        var tail = 0.0
        while s < count {
            if pnl[s] < best { best = pnl[s] }
            tail += pnl[s] - pnl[s]
            s += 1
        }
        return (check.sum() + tail) == 0 ? best : .nan
    }

    /// For each price move, the vol shock that was worst at it (first minimum of up, unchanged, down).
    static func worstShockPerMove(_ pnl: [Double]) -> [IvShock] {
        stride(from: 0, to: pnl.count, by: VolShock.count).map { b in
            var j = VolShock.up
            if pnl[b + VolShock.unchanged.rawValue] < pnl[b + j.rawValue] { j = .unchanged }
            if pnl[b + VolShock.down.rawValue] < pnl[b + j.rawValue] { j = .down }
            return j
        }
    }
}
