import CBLAS
import CKernels

/// How the engine turns holdings into scenario P&L tables (MODEL.md §3: `Σ size · riskArray`).
public struct EngineOptions: Sendable {
    public enum Aggregation: String, Sendable {
        /// Per portfolio row by density: BLAS for dense rows, the sparse gather for the rest.
        case automatic
        /// Every row through the sparse gather.
        case sparse
        /// Every row through BLAS `dgemm`.
        case dense
    }
    public var aggregation: Aggregation = .automatic
    /// The density (holdings / instruments of the coin) from which a row goes to `dgemm` in
    /// automatic mode. Measured with `swift run -c release bench` (the aggregation table): the
    /// vectorized gather costs one risk-array row per holding; the dense path fills a row of the
    /// positions matrix per instrument, then multiplies. On the 2-core AVX-512 machine BLAS was
    /// 0.73× the gather at density 0.5 and 1.27× at 1.0, crossing near 0.75.
    public var denseThreshold = 0.75

    public init(aggregation: Aggregation = .automatic, denseThreshold: Double = 0.75) {
        self.aggregation = aggregation
        self.denseThreshold = denseThreshold
    }
}

/// OpenBLAS runs single-threaded: the engine spreads account blocks over its own threads, and the
/// two must not fight (TOOLCHAIN.md) — OpenBLAS's idle workers spin in `sched_yield` otherwise.
private let blasSingleThreaded: Void = { openblas_set_num_threads(1) }()

/// The P&L tables of every evaluated portfolio of a book, before the spot leg: one contiguous
/// buffer, `offset[3u+p]` to the table of portfolio p of unit u (−1 when not evaluated).
struct PnlTables {
    var values: [Double]
    var offset: [Int]

    /// Aggregates `book`'s portfolios per coin: rows at or above the density threshold form one
    /// dense positions matrix X (rows × instruments) multiplied by the coin's risk-array block R
    /// (instruments × scenarios) with `dgemm`; the rest gather `size × R[row]` directly.
    init(book: Book, options: EngineOptions) {
        _ = blasSingleThreaded
        let p = book.priced
        let nSlots = p.grids.count
        offset = [Int](repeating: -1, count: 3 * book.unitCount)
        var total = 0
        var denseRows = [[Int]](repeating: [], count: nSlots)
        var isDense = [Bool](repeating: false, count: 3 * book.unitCount)
        for u in 0..<book.unitCount {
            let slot = Int(book.unitSlot[u])
            let nS = p.grids[slot].scenarioCount
            for q in 0..<3 where book.pfPresent[3 * u + q] {
                let pf = 3 * u + q
                offset[pf] = total
                total += nS
                let holdings = book.pfStart[pf + 1] - book.pfStart[pf]
                let dense: Bool
                switch options.aggregation {
                case .sparse: dense = false
                case .dense: dense = true
                case .automatic: dense = Double(holdings) >= options.denseThreshold * Double(p.blockRows[slot])
                }
                if dense { denseRows[slot].append(pf); isDense[pf] = true }
            }
        }
        values = [Double](repeating: 0, count: total)
        values.withUnsafeMutableBufferPointer { out in
            p.riskArrays.withUnsafeBufferPointer { risk in
                book.entInstr.withUnsafeBufferPointer { ins in
                    book.entSize.withUnsafeBufferPointer { sz in
                        // Sparse gather.
                        for u in 0..<book.unitCount {
                            let slot = Int(book.unitSlot[u])
                            let nS = p.grids[slot].scenarioCount
                            let block = risk.baseAddress! + p.blockOffset[slot]
                            for q in 0..<3 where book.pfPresent[3 * u + q] && !isDense[3 * u + q] {
                                let pf = 3 * u + q
                                Self.gather(into: out.baseAddress! + offset[pf], nS: nS, block: block, rows: p.row,
                                            instr: ins.baseAddress!, size: sz.baseAddress!,
                                            from: book.pfStart[pf], to: book.pfStart[pf + 1])
                            }
                        }
                        // Dense: one dgemm per coin.
                        for slot in 0..<nSlots where !denseRows[slot].isEmpty {
                            let rows = denseRows[slot]
                            let k = p.blockRows[slot], nS = p.grids[slot].scenarioCount
                            var x = [Double](repeating: 0, count: rows.count * k)
                            for (r, pf) in rows.enumerated() {
                                for e in book.pfStart[pf]..<book.pfStart[pf + 1] {
                                    x[r * k + Int(p.row[Int(ins[e])])] += sz[e]
                                }
                            }
                            var c = [Double](repeating: 0, count: rows.count * nS)
                            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(nS), Int32(k),
                                        1, x, Int32(k), risk.baseAddress! + p.blockOffset[slot], Int32(nS), 0, &c, Int32(nS))
                            for (r, pf) in rows.enumerated() {
                                for s in 0..<nS { out[offset[pf] + s] = c[r * nS + s] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `out[s] = Σ_e size[e] · block[row(instr[e])·nS + s]` for e in from..<to (CKernels: AVX-512 /
    /// AVX2 / scalar, chosen at run time).
    @inline(__always)
    static func gather(into out: UnsafeMutablePointer<Double>, nS: Int, block: UnsafePointer<Double>, rows: [Int32],
                       instr: UnsafePointer<Int32>, size: UnsafePointer<Double>, from: Int, to: Int) {
        rows.withUnsafeBufferPointer { row in
            pm_gather_pnl(out, nS, block, row.baseAddress!, instr + from, size + from, to - from)
        }
    }
}
