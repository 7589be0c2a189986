/// The rows of `explain.csv` and `explain-units.csv` (docs/formats.md "pm explain").
///
/// Every change and attribution term is an ``ExactDecimal`` difference of the figures' printed
/// decimals, so `market + parameters + positions` is `mm_change` exactly in the text written, and
/// `mm_change` is `mm_after − mm_before` exactly (docs/readings.md "Explain: exact sums"). A term
/// is written when both figures it is the difference of were computed, otherwise left empty.
enum ExplainOutput {
    /// Rows formatted per chunk (on `threads` workers) and handed to `sink` in row order.
    static let chunkRows = 4096

    /// Formats every row and folds the counts, the largest changes and the stage moves into `report`.
    static func write(rows: [(before: Int32, after: Int32)], figures: ExplainFigures, threads: Int, top: Int,
                      report: inout ExplainReport, sink: ([UInt8], [UInt8]) throws -> Void) throws {
        let chunks = (rows.count + chunkRows - 1) / chunkRows
        var candidates: [(row: Int, change: Double, text: ExplainReport.Row)] = []
        // A window of chunks at a time, formatted in parallel and then written in order: the text
        // of the whole output (hundreds of MB at a million accounts) is never held at once.
        let window = max(2, 4 * threads)
        var first = 0
        while first < chunks {
            let count = min(window, chunks - first)
            var out = [Chunk?](repeating: nil, count: count)
            out.withUnsafeMutableBufferPointer { buffer in
                let slots = DisjointSlots(buffer)   // chunk first + c writes only slot c
                Workers.forEach(count, threads: threads) { c in
                    var chunk = Chunk()
                    for r in ((first + c) * chunkRows)..<min(rows.count, (first + c + 1) * chunkRows) {
                        format(row: r, rows[r], figures, top: top, into: &chunk)
                    }
                    slots[c] = chunk
                }
            }
            for c in 0..<count {
                let chunk = out[c]!
                out[c] = nil
                try sink(chunk.accounts.bytes, chunk.units.bytes)
                report.accounts += chunk.counts.accounts; report.both += chunk.counts.both
                report.new += chunk.counts.new; report.gone += chunk.counts.gone
                report.errors += chunk.counts.errors; report.units += chunk.counts.units
                report.stageMoveCount += chunk.counts.stageMoves
                for m in chunk.stageMoves where report.stageMoves.count < top { report.stageMoves.append(m) }
                candidates += chunk.largest
                candidates = largestFirst(candidates, top: top)
            }
            first += count
        }
        report.largest = candidates.map(\.text)
    }

    /// The `top` candidates with the largest |change|, ties by row order.
    static func largestFirst(_ c: [(row: Int, change: Double, text: ExplainReport.Row)], top: Int)
        -> [(row: Int, change: Double, text: ExplainReport.Row)] {
        Array(c.sorted { abs($0.change) != abs($1.change) ? abs($0.change) > abs($1.change) : $0.row < $1.row }.prefix(top))
    }

    struct Counts {
        var accounts = 0, both = 0, new = 0, gone = 0, errors = 0, units = 0, stageMoves = 0
    }

    struct Chunk {
        var accounts = ByteBuffer(capacity: chunkRows * 200)
        var units = ByteBuffer(capacity: chunkRows * 200)
        var counts = Counts()
        var largest: [(row: Int, change: Double, text: ExplainReport.Row)] = []
        var stageMoves: [ExplainReport.Row] = []
    }

    /// A figure of one pricing, or nil when the account was not computed there.
    typealias Figure = Double?

    /// The four figures of one quantity (MM or IM) and the texts of its change and terms.
    struct Terms {
        var change = "", market = "", parameters = "", positions = ""
        init(_ f00: Figure, _ f10: Figure, _ f11: Figure, _ f1: Figure) {
            // Each figure's decimal once (each is in two differences).
            let s00 = f00.map(ShortDecimal.init), s10 = f10.map(ShortDecimal.init)
            let s11 = f11.map(ShortDecimal.init), s1 = f1.map(ShortDecimal.init)
            func diff(_ a: Figure, _ sa: ShortDecimal?, _ b: Figure, _ sb: ShortDecimal?) -> String {
                guard let a, let sa, let b, let sb else { return "" }
                return ExactDecimal.differenceText(a, sa, b, sb)
            }
            change = diff(f00, s00, f1, s1)
            market = diff(f00, s00, f10, s10)
            parameters = diff(f10, s10, f11, s11)
            positions = diff(f11, s11, f1, s1)
        }
    }

    /// `account_id,status,…,error` of row `r` and its unit rows.
    static func format(row r: Int, _ pair: (before: Int32, after: Int32), _ f: ExplainFigures, top: Int, into chunk: inout Chunk) {
        let i0 = Int(pair.before), i1 = Int(pair.after)
        let status = i0 >= 0 && i1 >= 0 ? "both" : (i1 >= 0 ? "new" : "gone")
        let id = i1 >= 0 ? f.ids1[i1] : f.ids0[i0]
        // Which pricings computed the account.
        let k00 = i0 >= 0 && f.runs[0].known(i0), k10 = i0 >= 0 && i1 >= 0 && f.runs[1].known(i0)
        let k11 = i0 >= 0 && i1 >= 0 && f.runs[2].known(i0), k1 = i1 >= 0 && f.runs[3].known(i1)
        func fig(_ known: Bool, _ v: Double) -> Figure { known ? v : nil }
        // Errors, each once: a problem of the before input repeats in every pricing of it.
        var errors: [String] = []
        if i0 >= 0, let e = f.runs[0].error[i0] { errors.append("before: \(e)") }
        if i0 >= 0, i1 >= 0, f.runs[0].error[i0] == nil {
            if let e = f.runs[1].error[i0] { errors.append("before book under the after market: \(e)") }
            else if let e = f.runs[2].error[i0] { errors.append("before book under the after market and parameters: \(e)") }
        }
        if i1 >= 0, let e = f.runs[3].error[i1] { errors.append("after: \(e)") }
        let error = errors.joined(separator: "; ")

        let mm = Terms(fig(k00, k00 ? f.runs[0].mm[i0] : 0), fig(k10, k10 ? f.runs[1].mm[i0] : 0),
                       fig(k11, k11 ? f.runs[2].mm[i0] : 0), fig(k1, k1 ? f.runs[3].mm[i1] : 0))
        let im = Terms(fig(k00, k00 ? f.runs[0].im[i0] : 0), fig(k10, k10 ? f.runs[1].im[i0] : 0),
                       fig(k11, k11 ? f.runs[2].im[i0] : 0), fig(k1, k1 ? f.runs[3].im[i1] : 0))
        let stageBefore = k00 ? f.runs[0].stage[i0]!.rawValue : "", stageAfter = k1 ? f.runs[3].stage[i1]!.rawValue : ""
        let mmBefore = k00 ? NumberFormat.text(f.runs[0].mm[i0]) : "", mmAfter = k1 ? NumberFormat.text(f.runs[3].mm[i1]) : ""

        // Taken out of the chunk while written (a copy would make the append copy the whole buffer).
        var b = ByteBuffer(capacity: 0)
        swap(&b, &chunk.accounts)
        b.field(id); b.byte(44); b.append(status); b.byte(44)
        b.append(mmBefore); b.byte(44); b.append(mmAfter); b.byte(44)
        for t in [mm.change, mm.market, mm.parameters, mm.positions] { b.append(t); b.byte(44) }
        if k00 { b.number(f.runs[0].im[i0]) }
        b.byte(44)
        if k1 { b.number(f.runs[3].im[i1]) }
        b.byte(44)
        b.append(stageBefore); b.byte(44); b.append(stageAfter); b.byte(44)
        for t in [im.change, im.market, im.parameters, im.positions] { b.append(t); b.byte(44) }
        b.field(error); b.byte(10)
        chunk.accounts = b

        chunk.counts.accounts += 1
        switch status {
        case "both": chunk.counts.both += 1
        case "new": chunk.counts.new += 1
        default: chunk.counts.gone += 1
        }
        if !error.isEmpty { chunk.counts.errors += 1 }
        let text = ExplainReport.Row(accountId: id, status: status, mmBefore: mmBefore, mmAfter: mmAfter, mmChange: mm.change,
                                     market: mm.market, parameters: mm.parameters, positions: mm.positions,
                                     stageBefore: stageBefore, stageAfter: stageAfter)
        if k00 && k1 && status == "both" {
            if stageBefore != stageAfter {
                chunk.counts.stageMoves += 1
                if chunk.stageMoves.count < top { chunk.stageMoves.append(text) }
            }
            if top > 0 {
                chunk.largest.append((r, f.runs[3].mm[i1] - f.runs[0].mm[i0], text))
                // Pruned when more than 4 · top + 64 candidates are held (written so a huge `top` cannot overflow).
                if chunk.largest.count > 64 && (chunk.largest.count - 64) / 4 >= top {
                    chunk.largest = largestFirst(chunk.largest, top: top)
                }
            }
        }
        formatUnits(id: id, status: status, i0: i0, i1: i1, known: (k00, k10, k11, k1), error: error, f, into: &chunk)
    }

    /// The unit rows of one account: one per base coin that is a unit in any pricing computed, in
    /// coin order. In a pricing that computed the account, a coin it has no unit of counts 0.
    static func formatUnits(id: String, status: String, i0: Int, i1: Int, known k: (Bool, Bool, Bool, Bool), error: String,
                            _ f: ExplainFigures, into chunk: inout Chunk) {
        // Pricing r's account index and whether it computed the account (no copies of the runs).
        func at(_ r: Int) -> (account: Int, known: Bool) {
            switch r {
            case 0: return (i0, k.0)
            case 1: return (i0, k.1)
            case 2: return (i0, k.2)
            default: return (i1, k.3)
            }
        }
        var coins: [String] = []   // a handful per account: a list, not a set
        for r in 0..<4 {
            let (a, known) = at(r)
            guard known else { continue }
            for u in f.runs[r].unitStart[a]..<f.runs[r].unitStart[a + 1] where !coins.contains(f.runs[r].unitCoin[u]) {
                coins.append(f.runs[r].unitCoin[u])
            }
        }
        guard !coins.isEmpty else { return }
        coins.sort()
        var b = ByteBuffer(capacity: 0)
        swap(&b, &chunk.units)
        for coin in coins {
            // Pricing r's unit MM and IM of the coin (0 when it has none), nil when not computed.
            func figures(_ r: Int) -> (mm: Double?, im: Double?, present: Bool) {
                let (a, known) = at(r)
                guard known else { return (nil, nil, false) }
                for u in f.runs[r].unitStart[a]..<f.runs[r].unitStart[a + 1] where f.runs[r].unitCoin[u] == coin {
                    return (f.runs[r].unitMM[u], f.runs[r].unitIM[u], true)
                }
                return (0, 0, false)
            }
            let x0 = figures(0), x1 = figures(1), x2 = figures(2), x3 = figures(3)
            // With both days computed, the coin's own presence; otherwise the account's status.
            let unitStatus = status == "both" && k.0 && k.3 ? (x0.present && x3.present ? "both" : (x3.present ? "new" : "gone")) : status
            let mm = Terms(x0.mm, x1.mm, x2.mm, x3.mm), im = Terms(x0.im, x1.im, x2.im, x3.im)
            b.field(id); b.byte(44); b.field(coin); b.byte(44); b.append(unitStatus); b.byte(44)
            if let v = x0.mm { b.number(v) }
            b.byte(44)
            if let v = x3.mm { b.number(v) }
            b.byte(44)
            b.append(mm.change); b.byte(44); b.append(mm.market); b.byte(44)
            b.append(mm.parameters); b.byte(44); b.append(mm.positions); b.byte(44)
            if let v = x0.im { b.number(v) }
            b.byte(44)
            if let v = x3.im { b.number(v) }
            b.byte(44)
            b.append(im.change); b.byte(44); b.append(im.market); b.byte(44)
            b.append(im.parameters); b.byte(44); b.append(im.positions); b.byte(44)
            b.field(error); b.byte(10)
            chunk.counts.units += 1
        }
        chunk.units = b
    }
}
