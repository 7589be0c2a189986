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
        var out = [Chunk?](repeating: nil, count: chunks)
        out.withUnsafeMutableBufferPointer { buffer in
            let slots = DisjointSlots(buffer)   // chunk c writes only slot c
            Workers.forEach(chunks, threads: threads) { c in
                var chunk = Chunk()
                for r in (c * chunkRows)..<min(rows.count, (c + 1) * chunkRows) {
                    format(row: r, rows[r], figures, top: top, into: &chunk)
                }
                slots[c] = chunk
            }
        }
        var candidates: [(row: Int, change: Double, text: ExplainReport.Row)] = []
        for c in 0..<chunks {
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
            func diff(_ a: Figure, _ b: Figure) -> String { ExactDecimal.differenceText(a, b) }
            change = diff(f00, f1)
            market = diff(f00, f10)
            parameters = diff(f10, f11)
            positions = diff(f11, f1)
        }
    }

    /// `account_id,status,…,error` of row `r` and its unit rows.
    static func format(row r: Int, _ pair: (before: Int32, after: Int32), _ f: ExplainFigures, top: Int, into chunk: inout Chunk) {
        let i0 = Int(pair.before), i1 = Int(pair.after)
        let status = i0 >= 0 && i1 >= 0 ? "both" : (i1 >= 0 ? "new" : "gone")
        let id = i1 >= 0 ? f.ids1[i1] : f.ids0[i0]
        // Which pricings computed the account.
        let k00 = i0 >= 0 && f.r00.known(i0), k10 = i0 >= 0 && i1 >= 0 && f.r10.known(i0)
        let k11 = i0 >= 0 && i1 >= 0 && f.r11.known(i0), k1 = i1 >= 0 && f.r1.known(i1)
        func fig(_ known: Bool, _ v: Double) -> Figure { known ? v : nil }
        // Errors, each once: a problem of the before input repeats in every pricing of it.
        var errors: [String] = []
        if i0 >= 0, let e = f.r00.error[i0] { errors.append("before: \(e)") }
        if i0 >= 0, i1 >= 0, f.r00.error[i0] == nil {
            if let e = f.r10.error[i0] { errors.append("before book under the after market: \(e)") }
            else if let e = f.r11.error[i0] { errors.append("before book under the after market and parameters: \(e)") }
        }
        if i1 >= 0, let e = f.r1.error[i1] { errors.append("after: \(e)") }
        let error = errors.joined(separator: "; ")

        let mm = Terms(fig(k00, k00 ? f.r00.mm[i0] : 0), fig(k10, k10 ? f.r10.mm[i0] : 0),
                       fig(k11, k11 ? f.r11.mm[i0] : 0), fig(k1, k1 ? f.r1.mm[i1] : 0))
        let im = Terms(fig(k00, k00 ? f.r00.im[i0] : 0), fig(k10, k10 ? f.r10.im[i0] : 0),
                       fig(k11, k11 ? f.r11.im[i0] : 0), fig(k1, k1 ? f.r1.im[i1] : 0))
        let stageBefore = k00 ? f.r00.stage[i0]!.rawValue : "", stageAfter = k1 ? f.r1.stage[i1]!.rawValue : ""
        let mmBefore = k00 ? NumberFormat.text(f.r00.mm[i0]) : "", mmAfter = k1 ? NumberFormat.text(f.r1.mm[i1]) : ""

        // Taken out of the chunk while written (a copy would make the append copy the whole buffer).
        var b = ByteBuffer(capacity: 0)
        swap(&b, &chunk.accounts)
        b.field(id); b.byte(44); b.append(status); b.byte(44)
        b.append(mmBefore); b.byte(44); b.append(mmAfter); b.byte(44)
        for t in [mm.change, mm.market, mm.parameters, mm.positions] { b.append(t); b.byte(44) }
        if k00 { b.number(f.r00.im[i0]) }
        b.byte(44)
        if k1 { b.number(f.r1.im[i1]) }
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
                chunk.largest.append((r, f.r1.mm[i1] - f.r00.mm[i0], text))
                if chunk.largest.count >= 4 * top + 64 { chunk.largest = largestFirst(chunk.largest, top: top) }
            }
        }
        formatUnits(id: id, status: status, i0: i0, i1: i1, known: (k00, k10, k11, k1), error: error, f, into: &chunk)
    }

    /// The unit rows of one account: one per base coin that is a unit in any pricing computed, in
    /// coin order. In a pricing that computed the account, a coin it has no unit of counts 0.
    static func formatUnits(id: String, status: String, i0: Int, i1: Int, known k: (Bool, Bool, Bool, Bool), error: String,
                            _ f: ExplainFigures, into chunk: inout Chunk) {
        let runs: [(RunFigures, Int, Bool)] = [(f.r00, i0, k.0), (f.r10, i0, k.1), (f.r11, i0, k.2), (f.r1, i1, k.3)]
        var coins = Set<String>()
        for (run, a, known) in runs where known {
            for u in run.unitStart[a]..<run.unitStart[a + 1] { coins.insert(run.unitCoin[u]) }
        }
        guard !coins.isEmpty else { return }
        func unit(_ run: RunFigures, _ a: Int, _ coin: String) -> Int? {
            for u in run.unitStart[a]..<run.unitStart[a + 1] where run.unitCoin[u] == coin { return u }
            return nil
        }
        var b = ByteBuffer(capacity: 0)
        swap(&b, &chunk.units)
        for coin in coins.sorted() {
            var mmF: [Figure] = [], imF: [Figure] = []
            var mmValue: [Double?] = [], imValue: [Double?] = []
            var present: [Bool] = []
            for (run, a, known) in runs {
                guard known else { mmF.append(nil); imF.append(nil); mmValue.append(nil); imValue.append(nil); present.append(false); continue }
                if let u = unit(run, a, coin) {
                    mmF.append(run.unitMM[u]); imF.append(run.unitIM[u])
                    mmValue.append(run.unitMM[u]); imValue.append(run.unitIM[u]); present.append(true)
                } else {
                    mmF.append(0); imF.append(0); mmValue.append(0); imValue.append(0); present.append(false)
                }
            }
            // With both days computed, the coin's own presence; otherwise the account's status.
            let unitStatus = status == "both" && k.0 && k.3 ? (present[0] && present[3] ? "both" : (present[3] ? "new" : "gone")) : status
            let mm = Terms(mmF[0], mmF[1], mmF[2], mmF[3]), im = Terms(imF[0], imF[1], imF[2], imF[3])
            b.field(id); b.byte(44); b.field(coin); b.byte(44); b.append(unitStatus); b.byte(44)
            if let v = mmValue[0] { b.number(v) }
            b.byte(44)
            if let v = mmValue[3] { b.number(v) }
            b.byte(44)
            for t in [mm.change, mm.market, mm.parameters, mm.positions] { b.append(t); b.byte(44) }
            if let v = imValue[0] { b.number(v) }
            b.byte(44)
            if let v = imValue[3] { b.number(v) }
            b.byte(44)
            for t in [im.change, im.market, im.parameters, im.positions] { b.append(t); b.byte(44) }
            b.field(error); b.byte(10)
            chunk.counts.units += 1
        }
        chunk.units = b
    }
}
