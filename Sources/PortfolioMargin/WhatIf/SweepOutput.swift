/// The sweep output files (docs/formats.md `pm sweep`).
public enum SweepOutput {
    /// `sweep.csv`: `combination,` one column per varied setting, then totals and stage counts.
    public static func sweepCSV(_ results: [SweepCombination], settings: [SweepSetting]) -> [UInt8] {
        var b = ByteBuffer()
        b.append("combination,")
        for s in settings { b.field(s.name); b.byte(44) }
        b.append("total_im,total_mm,healthy,im_breach,auto_repay,liquidation,errors\n")
        for c in results {
            b.append(String(c.index)); b.byte(44)
            for v in c.values { b.number(v); b.byte(44) }
            b.number(c.totalIM); b.byte(44); b.number(c.totalMM)
            for n in c.stages { b.byte(44); b.append(String(n)) }
            b.byte(44); b.append(String(c.errors)); b.byte(10)
        }
        return b.bytes
    }

    /// `top.csv`: `combination,rank,account_id,mm_base,mm,mm_change`.
    public static func topCSV(_ results: [SweepCombination], accountIds: [String]) -> [UInt8] {
        var b = ByteBuffer()
        b.append("combination,rank,account_id,mm_base,mm,mm_change\n")
        for c in results {
            for (rank, t) in c.top.enumerated() {
                b.append("\(c.index),\(rank + 1),")
                b.field(accountIds[t.account]); b.byte(44)
                b.number(t.mmBase); b.byte(44); b.number(t.mm); b.byte(44); b.number(t.mm - t.mmBase); b.byte(10)
            }
        }
        return b.bytes
    }
}

extension AccountFigures {
    /// Adds the figures' totals, stage counts and errors to a sweep combination's row.
    func summarize(into c: inout SweepCombination) {
        for a in 0..<mm.count {
            guard let s = stage[a] else { c.errors += 1; continue }
            c.totalMM += mm[a]
            c.totalIM += im[a]
            c.stages[Stage.allCases.firstIndex(of: s)!] += 1
        }
    }
}
