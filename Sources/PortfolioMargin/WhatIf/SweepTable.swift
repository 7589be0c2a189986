import Foundation

extension SweepOutput {
    /// The readable table `pm sweep` prints: one right-aligned row per combination (settings' values,
    /// total IM and MM, accounts per stage, errors), then per combination with a top list its three
    /// largest MM increases. Lines are separated by newlines, without a final one.
    public static func table(_ results: [SweepCombination], settings: [SweepSetting], accountIds: [String]) -> String {
        func money(_ v: Double) -> String { String(format: "%.2f", v) }
        let head = ["#"] + settings.map(\.name) + ["total IM", "total MM", "healthy", "imBreach", "autoRepay", "liquidation", "errors"]
        let rows = results.map { c in
            ["\(c.index)"] + c.values.map { "\($0)" } + [money(c.totalIM), money(c.totalMM)] + c.stages.map(String.init) + ["\(c.errors)"]
        }
        let widths = head.indices.map { k in ([head[k]] + rows.map { $0[k] }).map(\.count).max()! + 2 }
        var lines: [String] = []
        for line in [head] + rows {
            lines.append(zip(line, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined())
        }
        for c in results where !c.top.isEmpty {
            lines.append("combination \(c.index): largest MM increases: " + c.top.prefix(3).map { "\(accountIds[$0.account]) \($0.mm >= $0.mmBase ? "+" : "")\(money($0.mm - $0.mmBase))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
