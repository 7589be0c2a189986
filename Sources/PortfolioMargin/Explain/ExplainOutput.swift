/// The rows of `explain.csv` and `explain-units.csv` (docs/formats.md "pm explain").
///
/// Every change and attribution term is an ``ExactDecimal`` difference of the figures' printed
/// decimals, so `market + parameters + positions` is `mm_change` exactly in the text written, and
/// `mm_change` is `mm_after − mm_before` exactly (docs/readings.md "Explain: exact sums"). A term
/// is written when both figures it is the difference of were computed, otherwise left empty.
///
/// The rows are written as bytes: each figure is formatted once (its printed text is both a column
/// and the decimal its differences are taken of), the differences go straight into the output
/// buffer, and the texts of the report's rows (the largest changes, the stage moves) are built
/// only for the rows kept.
enum ExplainOutput {
    /// Rows formatted per chunk (on `threads` workers) and handed to `sink` in row order.
    static let chunkRows = 4096

    /// Formats every row and folds the counts, the largest changes and the stage moves into `report`.
    ///
    /// Each worker formats a chunk into its own buffers and hands it to `sink` when the chunks
    /// before it have been handed over (in row order), then takes the next chunk: writing one chunk
    /// overlaps formatting the next, and the text of the whole output (hundreds of MB at a million
    /// accounts) is never held at once.
    static func write(rows: [(before: Int32, after: Int32)], figures: ExplainFigures, threads: Int, top: Int,
                      report: inout ExplainReport, sink: ([UInt8], [UInt8]) throws -> Void) throws {
        let chunks = (rows.count + chunkRows - 1) / chunkRows
        let state = OrderedState(top: top)
        let next = WorkCounter()
        let view = FigureView(figures)
        defer { view.deallocate() }
        withoutActuallyEscaping(sink) { sink in
            let sinkBox = UnsafeSendable(sink), rowsBox = UnsafeSendable(rows), viewBox = UnsafeSendable(view)
            Workers.run(threads: min(max(1, threads), max(1, chunks))) { _ in
                let rows = rowsBox.value, view = viewBox.value
                var chunk = Chunk()
                let scratch = RowScratch()
                defer { scratch.deallocate() }
                while true {
                    let c = next.take()
                    guard c < chunks else { break }
                    let failed = state.monitor.locked { state.failure != nil }
                    chunk.reset()
                    if !failed {
                        for r in (c * chunkRows)..<min(rows.count, (c + 1) * chunkRows) {
                            format(row: r, rows[r], view, top: top, scratch: scratch, into: &chunk)
                        }
                    }
                    state.monitor.locked { state.monitor.wait { state.turn == c } }
                    // This worker's turn: no other touches the sink or the folded figures until `turn` moves on.
                    if state.monitor.locked({ state.failure == nil }) {
                        do {
                            try sinkBox.value(chunk.accounts.bytes, chunk.units.bytes)
                            state.fold(chunk)
                        } catch {
                            state.monitor.locked { state.failure = error }
                        }
                    }
                    state.monitor.locked { state.turn = c + 1; state.monitor.broadcast() }
                }
            }
        }
        if let failure = state.failure { throw failure }
        report.accounts += state.counts.accounts; report.both += state.counts.both
        report.new += state.counts.new; report.gone += state.counts.gone
        report.errors += state.counts.errors; report.units += state.counts.units
        report.stageMoveCount += state.counts.stageMoves
        report.stageMoves = state.stageMoves.map { reportRow(rows[$0], figures) }
        report.largest = state.candidates.map { reportRow(rows[$0.row], figures) }
    }

    /// What the workers fold in row order (under `monitor`'s turn).
    // @unchecked Sendable: `turn` and `failure` are read and written with `monitor` held; the
    // other fields only by the worker whose turn it is (turns are handed over under `monitor`),
    // and by the caller after the workers are joined.
    final class OrderedState: @unchecked Sendable {
        let monitor = Monitor()
        let top: Int
        var turn = 0
        var failure: Error?
        var counts = Counts()
        var stageMoves: [Int] = []
        var candidates: [(row: Int, change: Double)] = []

        init(top: Int) { self.top = top }

        func fold(_ chunk: Chunk) {
            counts.accounts += chunk.counts.accounts; counts.both += chunk.counts.both
            counts.new += chunk.counts.new; counts.gone += chunk.counts.gone
            counts.errors += chunk.counts.errors; counts.units += chunk.counts.units
            counts.stageMoves += chunk.counts.stageMoves
            for m in chunk.stageMoves where stageMoves.count < top { stageMoves.append(m) }
            candidates += chunk.largest
            candidates = largestFirst(candidates, top: top)
        }
    }

    /// The `top` candidates with the largest |change|, ties by row order.
    static func largestFirst(_ c: [(row: Int, change: Double)], top: Int) -> [(row: Int, change: Double)] {
        Array(c.sorted { abs($0.change) != abs($1.change) ? abs($0.change) > abs($1.change) : $0.row < $1.row }.prefix(top))
    }

    struct Counts {
        var accounts = 0, both = 0, new = 0, gone = 0, errors = 0, units = 0, stageMoves = 0
    }

    /// One chunk's text and figures; a worker reuses one for all its chunks (`reset` keeps the memory).
    struct Chunk {
        var accounts = ByteBuffer(capacity: chunkRows * 200)
        var units = ByteBuffer(capacity: chunkRows * 200)
        var counts = Counts()
        var largest: [(row: Int, change: Double)] = []
        var stageMoves: [Int] = []

        mutating func reset() {
            accounts.bytes.removeAll(keepingCapacity: true)
            units.bytes.removeAll(keepingCapacity: true)
            counts = Counts()
            largest.removeAll(keepingCapacity: true)
            stageMoves.removeAll(keepingCapacity: true)
        }
    }

    /// A figure of one pricing, or nil when the account was not computed there.
    typealias Figure = Double?

    /// The four figures of one quantity (MM or IM) and the texts of its change and terms (the
    /// report's rows; the files are written by `format`, the same texts as bytes).
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

    /// The status of a row: both days, the after day only, the before day only.
    static func status(_ i0: Int, _ i1: Int) -> String { i0 >= 0 && i1 >= 0 ? "both" : (i1 >= 0 ? "new" : "gone") }

    /// The error column of an account: each problem once (a problem of the before input repeats in
    /// every pricing of it).
    static func errorText(_ i0: Int, _ i1: Int, _ f: ExplainFigures) -> String {
        var errors: [String] = []
        if i0 >= 0, let e = f.runs[0].error(i0) { errors.append("before: \(e)") }
        if i0 >= 0, i1 >= 0, f.runs[0].error(i0) == nil {
            if let e = f.runs[1].error(i0) { errors.append("before book under the after market: \(e)") }
            else if let e = f.runs[2].error(i0) { errors.append("before book under the after market and parameters: \(e)") }
        }
        if i1 >= 0, let e = f.runs[3].error(i1) { errors.append("after: \(e)") }
        return errors.joined(separator: "; ")
    }

    /// The report's text of one row of explain.csv (the same texts as the file's).
    static func reportRow(_ pair: (before: Int32, after: Int32), _ f: ExplainFigures) -> ExplainReport.Row {
        let i0 = Int(pair.before), i1 = Int(pair.after)
        let status = status(i0, i1)
        let id = i1 >= 0 ? f.ids1[i1] : f.ids0[i0]
        let k00 = i0 >= 0 && f.runs[0].known(i0), k10 = i0 >= 0 && i1 >= 0 && f.runs[1].known(i0)
        let k11 = i0 >= 0 && i1 >= 0 && f.runs[2].known(i0), k1 = i1 >= 0 && f.runs[3].known(i1)
        func fig(_ known: Bool, _ v: Double) -> Figure { known ? v : nil }
        let mm = Terms(fig(k00, k00 ? f.runs[0].mm[i0] : 0), fig(k10, k10 ? f.runs[1].mm[i0] : 0),
                       fig(k11, k11 ? f.runs[2].mm[i0] : 0), fig(k1, k1 ? f.runs[3].mm[i1] : 0))
        let stageBefore = k00 ? f.runs[0].stage[i0]!.rawValue : "", stageAfter = k1 ? f.runs[3].stage[i1]!.rawValue : ""
        let mmBefore = k00 ? NumberFormat.text(f.runs[0].mm[i0]) : "", mmAfter = k1 ? NumberFormat.text(f.runs[3].mm[i1]) : ""
        return ExplainReport.Row(accountId: id, status: status, mmBefore: mmBefore, mmAfter: mmAfter, mmChange: mm.change,
                                 market: mm.market, parameters: mm.parameters, positions: mm.positions,
                                 stageBefore: stageBefore, stageAfter: stageAfter)
    }

    /// Per-row memory of a worker: the printed texts of up to 8 figures (`NumberFormat.maxLength`
    /// bytes each), the bits of the double each slot holds, and the coins of one account's units.
    ///
    /// A figure is formatted only when no slot holds the same double (the same bits): the same
    /// double has the same text and decimal. Many do — a unit's figures are often its account's
    /// (one unit), a pricing's often the previous one's (a term of 0), and the after book's
    /// pricing is the before book's third when the after folder is the before one.
    final class RowScratch {
        static let slots = 8
        let text = UnsafeMutablePointer<CChar>.allocate(capacity: slots * NumberFormat.maxLength)
        // Pointers, not arrays: a class's array properties are checked for exclusive access at
        // every read and write.
        let length = UnsafeMutablePointer<Int>.allocate(capacity: slots)
        let decimal = UnsafeMutablePointer<ShortDecimal>.allocate(capacity: slots)
        let known = UnsafeMutablePointer<Bool>.allocate(capacity: slots)
        /// The bit pattern of the double slot k holds (meaningful when `known[k]`).
        let bits = UnsafeMutablePointer<UInt64>.allocate(capacity: slots)
        var coins: [Int32] = []

        init() {
            length.initialize(repeating: 0, count: Self.slots)
            decimal.initialize(repeating: ShortDecimal(), count: Self.slots)
            known.initialize(repeating: false, count: Self.slots)
            bits.initialize(repeating: 0, count: Self.slots)
        }

        func deallocate() { text.deallocate(); length.deallocate(); decimal.deallocate(); known.deallocate(); bits.deallocate() }

        /// Formats `v` into slot `k` (known), or marks the slot unknown. The text of a double that
        /// slot `k` already holds is kept; one that another slot holds is copied from there.
        @inline(__always) func set(_ k: Int, _ v: Double?) {
            guard let v else { known[k] = false; return }
            let b = v.bitPattern
            if known[k] && bits[k] == b { return }
            known[k] = true
            bits[k] = b
            let p = text + k * NumberFormat.maxLength
            for j in 0..<Self.slots where j != k && known[j] && bits[j] == b {
                length[k] = length[j]
                p.update(from: text + j * NumberFormat.maxLength, count: length[j])
                decimal[k] = decimal[j]
                return
            }
            let n = NumberFormat.write(v, p)
            length[k] = n
            decimal[k] = ShortDecimal(text: p, count: n)
        }

        /// Slot `k`'s text (known slots only).
        @inline(__always) func copy(_ k: Int, into b: inout ByteBuffer) {
            (text + k * NumberFormat.maxLength).withMemoryRebound(to: UInt8.self, capacity: length[k]) {
                b.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length[k]))
            }
        }

        /// The difference slot b − slot a, when both are known.
        @inline(__always) func difference(_ a: Int, _ b: Int, into out: inout ByteBuffer) {
            guard known[a] && known[b] else { return }
            // The same double: the same decimal, whose difference is zero (written `0.0`).
            if bits[a] == bits[b] {
                out.append(maxCount: ShortDecimal.maxText) { ShortDecimal().write(into: &$0) }
                return
            }
            if let d = ShortDecimal.difference(decimal[a], decimal[b]) {
                out.append(maxCount: ShortDecimal.maxText) { d.write(into: &$0) }
            } else {
                let ta = (text + a * NumberFormat.maxLength).withMemoryRebound(to: UInt8.self, capacity: length[a]) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length[a]), as: UTF8.self)
                }
                let tb = (text + b * NumberFormat.maxLength).withMemoryRebound(to: UInt8.self, capacity: length[b]) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length[b]), as: UTF8.self)
                }
                out.append((ExactDecimal(text: tb)! - ExactDecimal(text: ta)!).text)
            }
        }

        /// `change,market,parameters,positions,` of the four slots `f` (00, 10, 11, 1).
        @inline(__always) func terms(_ f: (Int, Int, Int, Int), into b: inout ByteBuffer) {
            difference(f.0, f.3, into: &b); b.byte(44)
            difference(f.0, f.1, into: &b); b.byte(44)
            difference(f.1, f.2, into: &b); b.byte(44)
            difference(f.2, f.3, into: &b); b.byte(44)
        }
    }

    /// `account_id,status,…,error` of row `r` and its unit rows.
    static func format(row r: Int, _ pair: (before: Int32, after: Int32), _ v: FigureView, top: Int, scratch s: RowScratch,
                       into chunk: inout Chunk) {
        let i0 = Int(pair.before), i1 = Int(pair.after)
        let both = i0 >= 0 && i1 >= 0
        let status: StaticString = both ? "both" : (i1 >= 0 ? "new" : "gone")
        // Which pricings computed the account.
        let k00 = i0 >= 0 && v.known[0][i0], k10 = both && v.known[1][i0]
        let k11 = both && v.known[2][i0], k1 = i1 >= 0 && v.known[3][i1]
        let hasError = (i0 >= 0 && v.hasError[0][i0]) || (both && (v.hasError[1][i0] || v.hasError[2][i0]))
            || (i1 >= 0 && v.hasError[3][i1])
        let error = hasError ? errorText(i0, i1, v.figures) : ""
        let id = i1 >= 0 ? v.figures.ids1[i1] : v.figures.ids0[i0]

        s.set(0, k00 ? v.mm[0][i0] : nil); s.set(1, k10 ? v.mm[1][i0] : nil)
        s.set(2, k11 ? v.mm[2][i0] : nil); s.set(3, k1 ? v.mm[3][i1] : nil)
        s.set(4, k00 ? v.im[0][i0] : nil); s.set(5, k10 ? v.im[1][i0] : nil)
        s.set(6, k11 ? v.im[2][i0] : nil); s.set(7, k1 ? v.im[3][i1] : nil)
        let stageBefore = k00 ? v.stage[0][i0] : nil, stageAfter = k1 ? v.stage[3][i1] : nil

        chunk.accounts.field(id); chunk.accounts.byte(44); chunk.accounts.append(status); chunk.accounts.byte(44)
        if k00 { s.copy(0, into: &chunk.accounts) }
        chunk.accounts.byte(44)
        if k1 { s.copy(3, into: &chunk.accounts) }
        chunk.accounts.byte(44)
        s.terms((0, 1, 2, 3), into: &chunk.accounts)
        if k00 { s.copy(4, into: &chunk.accounts) }
        chunk.accounts.byte(44)
        if k1 { s.copy(7, into: &chunk.accounts) }
        chunk.accounts.byte(44)
        if let stageBefore { chunk.accounts.append(stageBefore.rawValue) }
        chunk.accounts.byte(44)
        if let stageAfter { chunk.accounts.append(stageAfter.rawValue) }
        chunk.accounts.byte(44)
        s.terms((4, 5, 6, 7), into: &chunk.accounts)
        chunk.accounts.field(error); chunk.accounts.byte(10)

        chunk.counts.accounts += 1
        if both { chunk.counts.both += 1 } else if i1 >= 0 { chunk.counts.new += 1 } else { chunk.counts.gone += 1 }
        if !error.isEmpty { chunk.counts.errors += 1 }
        if k00 && k1 && both {
            if stageBefore != stageAfter {
                chunk.counts.stageMoves += 1
                if chunk.stageMoves.count < top { chunk.stageMoves.append(r) }
            }
            if top > 0 {
                chunk.largest.append((r, v.mm[3][i1] - v.mm[0][i0]))
                // Pruned when more than 4 · top + 64 candidates are held (written so a huge `top` cannot overflow).
                if chunk.largest.count > 64 && (chunk.largest.count - 64) / 4 >= top {
                    chunk.largest = largestFirst(chunk.largest, top: top)
                }
            }
        }
        formatUnits(id: id, both: both, status: status, i0: i0, i1: i1, known: (k00, k10, k11, k1), error: error, v,
                    scratch: s, into: &chunk)
    }

    /// The unit rows of one account: one per base coin that is a unit in any pricing computed, in
    /// coin order. In a pricing that computed the account, a coin it has no unit of counts 0.
    static func formatUnits(id: String, both: Bool, status: StaticString, i0: Int, i1: Int, known k: (Bool, Bool, Bool, Bool),
                            error: String, _ v: FigureView, scratch s: RowScratch, into chunk: inout Chunk) {
        // Pricing r's account index and whether it computed the account.
        @inline(__always) func at(_ r: Int) -> (account: Int, known: Bool) {
            switch r {
            case 0: return (i0, k.0)
            case 1: return (i0, k.1)
            case 2: return (i0, k.2)
            default: return (i1, k.3)
            }
        }
        s.coins.removeAll(keepingCapacity: true)   // a handful per account: a list, not a set
        for r in 0..<4 {
            let (a, known) = at(r)
            guard known else { continue }
            for u in v.unitStart[r][a]..<v.unitStart[r][a + 1] where !s.coins.contains(v.unitCoin[r][u]) {
                s.coins.append(v.unitCoin[r][u])
            }
        }
        guard !s.coins.isEmpty else { return }
        // Coin ids are numbered in name order: sorting the ids sorts the names.
        s.coins.sort()
        for coin in s.coins {
            // Pricing r's unit MM and IM of the coin (0 when it has none), nil when not computed.
            var present = (false, false)
            for r in 0..<4 {
                let (a, known) = at(r)
                guard known else { s.set(r, nil); s.set(4 + r, nil); continue }
                var mm = 0.0, im = 0.0
                for u in v.unitStart[r][a]..<v.unitStart[r][a + 1] where v.unitCoin[r][u] == coin {
                    mm = v.unitMM[r][u]; im = v.unitIM[r][u]
                    if r == 0 { present.0 = true } else if r == 3 { present.1 = true }
                    break
                }
                s.set(r, mm); s.set(4 + r, im)
            }
            // With both days computed, the coin's own presence; otherwise the account's status.
            let unitStatus: StaticString = both && k.0 && k.3 ? (present.0 && present.1 ? "both" : (present.1 ? "new" : "gone")) : status
            var b = chunk.units
            chunk.units = ByteBuffer(capacity: 0)
            b.field(id); b.byte(44); b.field(v.coinNames[Int(coin)]); b.byte(44); b.append(unitStatus); b.byte(44)
            if s.known[0] { s.copy(0, into: &b) }
            b.byte(44)
            if s.known[3] { s.copy(3, into: &b) }
            b.byte(44)
            s.terms((0, 1, 2, 3), into: &b)
            if s.known[4] { s.copy(4, into: &b) }
            b.byte(44)
            if s.known[7] { s.copy(7, into: &b) }
            b.byte(44)
            s.terms((4, 5, 6, 7), into: &b)
            b.field(error); b.byte(10)
            chunk.units = b
            chunk.counts.units += 1
        }
    }
}

/// The figures of the four pricings as the writer reads them: per run, copies of its arrays read
/// through pointers (no array access per figure; freed by `deallocate`), whether each account was computed and has an error, and the
/// units' coins as ids numbered in coin-name order across the four pricings.
struct FigureView {
    let figures: ExplainFigures
    let mm: [UnsafePointer<Double>], im: [UnsafePointer<Double>]
    let stage: [UnsafePointer<Stage?>]
    let known: [UnsafeMutablePointer<Bool>], hasError: [UnsafeMutablePointer<Bool>]
    let unitStart: [UnsafePointer<Int>]
    let unitCoin: [UnsafeMutablePointer<Int32>]
    let unitMM: [UnsafePointer<Double>], unitIM: [UnsafePointer<Double>]
    /// Coin names by id, in name order.
    let coinNames: [String]

    init(_ f: ExplainFigures) {
        figures = f
        coinNames = Array(Set(f.runs.flatMap(\.coinNames))).sorted()
        let coinId = Dictionary(uniqueKeysWithValues: coinNames.enumerated().map { ($0.element, Int32($0.offset)) })
        var mm: [UnsafePointer<Double>] = [], im: [UnsafePointer<Double>] = [], stage: [UnsafePointer<Stage?>] = []
        var known: [UnsafeMutablePointer<Bool>] = [], hasError: [UnsafeMutablePointer<Bool>] = []
        var unitStart: [UnsafePointer<Int>] = [], unitCoin: [UnsafeMutablePointer<Int32>] = []
        var unitMM: [UnsafePointer<Double>] = [], unitIM: [UnsafePointer<Double>] = []
        func copy<T>(_ a: [T]) -> UnsafePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            if !a.isEmpty { p.initialize(from: a, count: a.count) }
            return UnsafePointer(p)
        }
        for run in f.runs {
            mm.append(copy(run.mm)); im.append(copy(run.im)); stage.append(copy(run.stage))
            unitStart.append(copy(run.unitStart)); unitMM.append(copy(run.unitMM)); unitIM.append(copy(run.unitIM))
            let n = run.mm.count
            let k = UnsafeMutablePointer<Bool>.allocate(capacity: max(1, n)), e = UnsafeMutablePointer<Bool>.allocate(capacity: max(1, n))
            for a in 0..<n { k[a] = run.known(a); e[a] = run.failed[a] }
            known.append(k); hasError.append(e)
            let slotId = run.coinNames.map { coinId[$0]! }
            let u = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, run.unitSlot.count))
            for (j, slot) in run.unitSlot.enumerated() { u[j] = slotId[Int(slot)] }
            unitCoin.append(u)
        }
        self.mm = mm; self.im = im; self.stage = stage; self.known = known; self.hasError = hasError
        self.unitStart = unitStart; self.unitCoin = unitCoin; self.unitMM = unitMM; self.unitIM = unitIM
    }

    func deallocate() {
        for p in mm + im + unitMM + unitIM { p.deallocate() }
        for p in stage { p.deallocate() }
        for p in unitStart { p.deallocate() }
        for p in known + hasError { p.deallocate() }
        for p in unitCoin { p.deallocate() }
    }
}
