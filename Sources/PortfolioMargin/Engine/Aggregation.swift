import CKernels

/// How the engine turns holdings into scenario P&L tables (docs/model.md §3: `Σ size · riskArray`).
public struct EngineOptions: Sendable {
    /// Which path sums `size × riskArray` into a portfolio's P&L table (same figures either way, up to
    /// floating-point summation order).
    public enum Aggregation: String, Sendable {
        /// Per portfolio row by density: BLAS for dense rows, the sparse gather for the rest.
        case automatic
        /// Every row through the sparse gather.
        case sparse
        /// Every row through BLAS `dgemm`.
        case dense
    }
    /// The aggregation path; `.automatic` (the default) picks per portfolio row by density.
    public var aggregation: Aggregation = .automatic
    /// The density (holdings / instruments of the coin) from which a row goes to `dgemm` in
    /// automatic mode. nil (the default): `DenseCrossover.threshold` — the `PM_DENSE_THRESHOLD`
    /// environment variable when set, else ``DenseCrossover/defaultThreshold``. Never a timing:
    /// BLAS and the gather sum in different orders, so the choice changes the last bits of a row and
    /// must come from the data alone (docs/formats.md "Reproducibility"); `bench` measures this machine's
    /// crossover (``DenseCrossover/probe(_:rows:)``) as advice for setting it.
    public var denseThreshold: Double?
    /// The code path of the scenario P&L gather (every path gives the same bits; tests pin one).
    public var kernel: KernelChoice = .automatic

    /// Options with the given path, dense-crossover density (`nil`: see ``DenseCrossover/threshold``)
    /// and gather code path.
    public init(aggregation: Aggregation = .automatic, denseThreshold: Double? = nil, kernel: KernelChoice = .automatic) {
        self.aggregation = aggregation
        self.denseThreshold = denseThreshold
        self.kernel = kernel
    }
}

/// Where the automatic aggregation switches from the gather to `dgemm`.
///
/// The threshold is fixed per run — ``defaultThreshold`` or `PM_DENSE_THRESHOLD` — and each
/// portfolio row is sent by its own density (holdings / instruments of its coin), so which path a
/// row takes depends on the data alone, never on a timing, the block size, the thread count or the
/// shard: the same inputs give the same bytes on every run (docs/formats.md "Reproducibility"; BLAS and
/// the gather agree only to rounding).
///
/// Where the crossover lies on a machine is measured by ``probe(_:rows:)`` (`bench` reports it as
/// advice): the gather costs one risk-array row per holding, so a row of density ρ costs ρ · G, G
/// being a row holding every instrument of the coin. The dense path fills a row of the positions
/// matrix and multiplies it by the whole block, which costs about the same D at any density. Dense
/// pays from ρ = D / G.
public enum DenseCrossover {
    /// Overrides ``defaultThreshold``: a density (0 sends every row to `dgemm`, above 1 none).
    public static let environmentVariable = "PM_DENSE_THRESHOLD"
    /// The automatic mode's threshold when `PM_DENSE_THRESHOLD` is not set: the crossover measured
    /// on the AVX-512 development machine (README "Performance": BLAS wins from density 0.75).
    public static let defaultThreshold = 0.75
    /// Portfolio rows per probe run: of the order of a block's dense rows per coin.
    public static let probeRows = 256

    /// The pure decision from the probe's timings: D / G, or infinity (every row sparse) when the
    /// dense path is not faster even with every instrument held.
    public static func threshold(gatherSecondsAtFullDensity g: Double, denseSeconds d: Double) -> Double {
        guard g > 0, g.isFinite, d >= 0, d < g else { return .infinity }
        return d / g
    }

    /// What the threshold in use came from.
    public struct Measurement: Sendable, Equatable {
        /// Seconds for `rows` portfolios holding every instrument of the probed coin: gather, dense.
        public var gatherSeconds: Double
        /// Seconds for the same `rows` through `dgemm`.
        public var denseSeconds: Double
        /// Portfolio rows per probe run (``DenseCrossover/probeRows``).
        public var rows: Int
        /// Instruments of the probed coin block (the largest of the first market aggregated).
        public var instruments: Int
        /// The resulting density threshold `denseSeconds / gatherSeconds`, or `+∞` (every row sparse).
        public var threshold: Double
    }

    /// The threshold automatic mode uses: `PM_DENSE_THRESHOLD` when set (read once per process),
    /// else ``defaultThreshold``.
    public static var threshold: Double { configured }

    private static let configured: Double = {
        guard let raw = CurrentProcess.environment(environmentVariable) else { return defaultThreshold }
        if let v = Double(raw), v >= 0, !v.isNaN { return v }
        writeStandardError("warning: \(environmentVariable)=\(InputError.echo(raw)) is not a density ≥ 0; using \(defaultThreshold)\n")
        return defaultThreshold
    }()

    /// Times the gather and the dense path (best of 3 each) for `rows` portfolios holding every
    /// instrument of `priced`'s largest coin block: advice for `PM_DENSE_THRESHOLD` (`bench`), never
    /// the engine's choice.
    public static func probe(_ priced: PricedMarket, rows: Int = probeRows) -> Measurement {
        guard let slot = priced.grids.indices.max(by: { priced.blockRows[$0] * priced.grids[$0].scenarioCount
                                                       < priced.blockRows[$1] * priced.grids[$1].scenarioCount }),
              priced.blockRows[slot] > 0 else {
            return Measurement(gatherSeconds: 0, denseSeconds: 0, rows: 0, instruments: 0, threshold: .infinity)
        }
        let k = priced.blockRows[slot], nS = priced.grids[slot].scenarioCount
        // Portfolio r holds every row of the block once (identity row map), sizes varying, in a
        // shuffled order: a real book's holdings jump between rows, and reading the block in row
        // order would let the prefetcher make the gather look several times faster than it is.
        let identity = (0..<k).map { Int32($0) }
        var instr: [Int32] = [], size: [Double] = [], start = [0]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for r in 0..<rows {
            var order = identity
            for j in stride(from: k - 1, to: 0, by: -1) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                order.swapAt(j, Int((state >> 33) % UInt64(j + 1)))
            }
            for j in 0..<k { instr.append(order[j]); size.append(Double((r + j) % 7) - 3.1) }
            start.append(instr.count)
        }
        var out = [Double](repeating: 0, count: rows * nS)
        func best(_ body: () -> Void) -> Double {
            var b = Double.infinity
            for _ in 0..<3 {
                let t0 = Clock.monotonicSeconds()
                body()
                b = min(b, Clock.monotonicSeconds() - t0)
            }
            return b
        }
        let (g, d) = priced.riskArrays.withUnsafeBufferPointer { risk in
            identity.withUnsafeBufferPointer { row in
                instr.withUnsafeBufferPointer { ins in
                    size.withUnsafeBufferPointer { sz in
                        out.withUnsafeMutableBufferPointer { o in
                            let block = risk.baseAddress! + priced.blockOffset[slot]
                            let g = best {
                                for r in 0..<rows {
                                    pm_gather_pnl(o.baseAddress! + r * nS, nS, block, row.baseAddress!, ins.baseAddress! + start[r],
                                                  sz.baseAddress! + start[r], start[r + 1] - start[r])
                                }
                            }
                            let d = best {
                                PnlTables.dense(rows: Array(0..<rows), k: k, width: nS, block: block, rowMap: row.baseAddress!,
                                                instr: ins.baseAddress!, size: sz.baseAddress!, start: { start[$0] }, end: { start[$0 + 1] }) { r, c in
                                    (o.baseAddress! + r * nS).update(from: c, count: nS)
                                }
                            }
                            return (g, d)
                        }
                    }
                }
            }
        }
        return Measurement(gatherSeconds: g, denseSeconds: d, rows: rows, instruments: k,
                           threshold: threshold(gatherSecondsAtFullDensity: g, denseSeconds: d))
    }
}

/// The risk arrays of one or more markets that share their instruments, side by side: per coin
/// slot a row-major block `blockRows × width`, an instrument's row holding the risk array of the
/// slot's first column market, then the second's, and so on (`width` = Σ the columns' scenario
/// counts). A sweep aggregates every combination in one pass over the holdings this way,
/// and lays out per slot only the markets whose risk arrays differ there (`columns`): a combination
/// that moves BTC leaves ETH's column shared with the base.
final class RiskColumns: Sendable {
    let markets: [PricedMarket]
    /// Per slot: the markets (indices into `markets`) laid side by side, in column order.
    let columns: [[Int]]
    /// Per slot and column: the column's offset within a row, and its scenario count.
    let columnOffset: [[Int]]
    let columnScenarios: [[Int]]
    let values: [Double]
    let blockOffset: [Int]
    /// Per slot: the row width (Σ of the columns' scenario counts).
    let width: [Int]
    /// Per slot and column: where that column's market's own block (`blockRows × scenarios`,
    /// row-major, as in its `riskArrays`) starts in `values` — what `dgemm` multiplies, so that a
    /// dense row gets the bits of that market aggregated alone (OpenBLAS's summation order depends
    /// on the call's shape).
    let columnBlockOffset: [[Int]]

    /// Whether `markets` can be laid side by side: the same instruments in the same rows of the
    /// same coin blocks (scenario grids may differ: each column has its own width).
    static func compatible(_ markets: [PricedMarket]) -> Bool {
        guard let p = markets.first else { return false }
        return markets.allSatisfy { $0.hasLayout(of: p) }
    }

    /// Every market in every slot.
    convenience init(_ markets: [PricedMarket]) {
        self.init(markets, columns: [[Int]](repeating: Array(markets.indices), count: markets.first?.grids.count ?? 0))
    }

    init(_ markets: [PricedMarket], columns: [[Int]]) {
        precondition(markets.count == 1 || Self.compatible(markets), "RiskColumns: markets with different instruments")
        self.markets = markets
        self.columns = columns
        let p = markets[0]
        columnScenarios = columns.enumerated().map { slot, c in c.map { markets[$0].grids[slot].scenarioCount } }
        columnOffset = columnScenarios.map { counts in counts.indices.map { counts[..<$0].reduce(0, +) } }
        width = columnScenarios.map { $0.reduce(0, +) }
        if markets.count == 1 {
            // One market (a batch): its own arrays, no copy.
            values = p.riskArrays
            blockOffset = p.blockOffset
            columnBlockOffset = p.blockOffset.map { [$0] }
            return
        }
        var offsets: [Int] = [], total = 0
        for slot in 0..<columns.count { offsets.append(total); total += p.blockRows[slot] * width[slot] }
        // A slot of several columns also keeps each column's own block, after the side-by-side ones.
        var own: [[Int]] = []
        for slot in 0..<columns.count {
            if columns[slot].count == 1 { own.append([offsets[slot]]); continue }
            own.append(columnScenarios[slot].map { nS in defer { total += p.blockRows[slot] * nS }; return total })
        }
        var v = [Double](repeating: 0, count: total)
        for slot in 0..<columns.count {
            let w = width[slot]
            for (c, m) in columns[slot].enumerated() {
                let market = markets[m], nS = columnScenarios[slot][c]
                for r in 0..<p.blockRows[slot] {
                    let src = market.blockOffset[slot] + r * nS, dst = offsets[slot] + r * w + columnOffset[slot][c]
                    for s in 0..<nS { v[dst + s] = market.riskArrays[src + s] }
                    if columns[slot].count > 1 {
                        for s in 0..<nS { v[own[slot][c] + r * nS + s] = market.riskArrays[src + s] }
                    }
                }
            }
        }
        values = v
        blockOffset = offsets
        columnBlockOffset = own
    }
}

/// The P&L tables of every evaluated portfolio of a book, before the spot leg: portfolio p of unit
/// u has one row `risk.width[slot]` wide at `offset[3u+p]` (−1 when not evaluated) — column c of
/// its slot (one market's table) at `offset + risk.columnOffset[slot][c]`. With one market a row
/// is the market's table.
struct PnlTables {
    var values: [Double]
    var offset: [Int]
    /// Portfolio rows that went through `dgemm` (for tests of the automatic mode's choice).
    var denseRowCount = 0

    init(book: Book, options: EngineOptions) {
        self.init(book: book, risk: RiskColumns([book.priced]), options: options)
    }

    /// Aggregates `book`'s portfolios per coin against every column of `risk` at once: the sparse
    /// rows gather `size × row` of every column in one pass over the holdings (each column gets the
    /// same bits as that market alone: the gather sums each scenario over the holdings in order,
    /// whatever the row width); rows at or above the density threshold form one dense positions
    /// matrix X (rows × instruments) multiplied with `dgemm` by each column's own block.
    init(book: Book, risk: RiskColumns, options: EngineOptions) {
        let p = book.priced
        let nSlots = p.grids.count
        offset = [Int](repeating: -1, count: Portfolio.count * book.unitCount)
        var total = 0
        var denseRows = [[Int]](repeating: [], count: nSlots)
        var isDense = [Bool](repeating: false, count: Portfolio.count * book.unitCount)
        let threshold = options.aggregation == .automatic ? (options.denseThreshold ?? DenseCrossover.threshold) : 0
        for u in 0..<book.unitCount {
            let slot = Int(book.unitSlot[u])
            let w = risk.width[slot]
            for q in 0..<Portfolio.count where book.pfPresent[Portfolio.count * u + q] {
                let pf = Portfolio.count * u + q
                offset[pf] = total
                total += w
                let holdings = book.pfStart[pf + 1] - book.pfStart[pf]
                let dense: Bool
                switch options.aggregation {
                case .sparse: dense = false
                case .dense: dense = true
                case .automatic: dense = Double(holdings) >= threshold * Double(p.blockRows[slot])
                }
                if dense { denseRows[slot].append(pf); isDense[pf] = true }
            }
        }
        denseRowCount = denseRows.reduce(0) { $0 + $1.count }
        // Every evaluated portfolio's row is written whole below (gathered, or each column stored
        // from dgemm), so the buffer needs no zeroing.
        values = .uninitialized(count: total)
        let offset = self.offset
        values.withUnsafeMutableBufferPointer { out in
            risk.values.withUnsafeBufferPointer { riskValues in
                p.row.withUnsafeBufferPointer { rowMap in
                    book.entInstr.withUnsafeBufferPointer { ins in
                        book.entSize.withUnsafeBufferPointer { sz in
                            // Sparse gather: straight into the portfolio's row, every column at once.
                            for u in 0..<book.unitCount {
                                let slot = Int(book.unitSlot[u])
                                let w = risk.width[slot]
                                let block = riskValues.baseAddress! + risk.blockOffset[slot]
                                for q in 0..<Portfolio.count where book.pfPresent[Portfolio.count * u + q] && !isDense[Portfolio.count * u + q] {
                                    let pf = Portfolio.count * u + q
                                    let from = book.pfStart[pf], count = book.pfStart[pf + 1] - from
                                    // An empty book has no entry arrays; a portfolio without holdings reads none.
                                    let instr = ins.baseAddress.map { $0 + from } ?? UnsafePointer(bitPattern: 8)!
                                    let size = sz.baseAddress.map { $0 + from } ?? UnsafePointer(bitPattern: 8)!
                                    pm_gather_pnl_isa(options.kernel.rawValue, out.baseAddress! + offset[pf], w, block, rowMap.baseAddress!, instr, size, count)
                                }
                            }
                            // Dense: dgemm per coin and column, in panels of rows.
                            for slot in 0..<nSlots where !denseRows[slot].isEmpty {
                                let blocks = risk.columnBlockOffset[slot].indices.map {
                                    (riskValues.baseAddress! + risk.columnBlockOffset[slot][$0], risk.columnScenarios[slot][$0])
                                }
                                let columnOffset = risk.columnOffset[slot]
                                Self.dense(rows: denseRows[slot], k: p.blockRows[slot], blocks: blocks, rowMap: rowMap.baseAddress!,
                                           instr: ins.baseAddress ?? UnsafePointer(bitPattern: 8)!,
                                           size: sz.baseAddress ?? UnsafePointer(bitPattern: 8)!,
                                           start: { book.pfStart[$0] }, end: { book.pfStart[$0 + 1] }) { pf, c, product in
                                    (out.baseAddress! + offset[pf] + columnOffset[c]).update(from: product, count: blocks[c].1)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Rows per `dgemm` call: the positions matrix and the product stay in cache (a 1,024-row
    /// product 363 scenarios wide ran 3–4× slower per row than 256 rows).
    static let densePanel = 256

    /// The dense path for portfolios `rows`: X (rows × k, holding sizes at their instruments' rows)
    /// times `block` (k × width) with `dgemm`, in panels; `store(portfolio, product row)`.
    static func dense(rows: [Int], k: Int, width: Int, block: UnsafePointer<Double>, rowMap: UnsafePointer<Int32>,
                      instr: UnsafePointer<Int32>, size: UnsafePointer<Double>,
                      start: (Int) -> Int, end: (Int) -> Int, store: (Int, UnsafePointer<Double>) -> Void) {
        dense(rows: rows, k: k, blocks: [(block, width)], rowMap: rowMap, instr: instr, size: size, start: start, end: end) { pf, _, c in
            store(pf, c)
        }
    }

    /// The dense path against several blocks (`k × width` each, a sweep's columns): X is filled
    /// once per panel and multiplied by each block in turn; `store(portfolio, block, product row)`.
    static func dense(rows: [Int], k: Int, blocks: [(UnsafePointer<Double>, Int)], rowMap: UnsafePointer<Int32>,
                      instr: UnsafePointer<Int32>, size: UnsafePointer<Double>,
                      start: (Int) -> Int, end: (Int) -> Int, store: (Int, Int, UnsafePointer<Double>) -> Void) {
        // Every call has the same shape, `densePanel` rows (the last panel padded with zero rows):
        // OpenBLAS chooses its kernel, and with it the summation order, by the call's shape (small
        // calls go to other kernels), so a row's bits would otherwise depend on how many dense rows
        // share its block — on the block size, the thread count and the shard.
        let panel = densePanel
        var x = [Double](repeating: 0, count: panel * k)
        var c = [Double](repeating: 0, count: panel * (blocks.map(\.1).max() ?? 0))
        var first = 0
        while first < rows.count {
            let n = min(panel, rows.count - first)
            x.withUnsafeMutableBufferPointer { x in
                x.baseAddress!.update(repeating: 0, count: panel * k)
                for r in 0..<n {
                    let pf = rows[first + r]
                    for e in start(pf)..<end(pf) { x[r * k + Int(rowMap[Int(instr[e])])] += size[e] }
                }
                c.withUnsafeMutableBufferPointer { c in
                    for (b, (block, width)) in blocks.enumerated() {
                        LinearAlgebra.multiply(m: panel, n: width, k: k, a: x.baseAddress!, lda: k,
                                               b: block, ldb: width, c: c.baseAddress!, ldc: width)
                        for r in 0..<n { store(rows[first + r], b, c.baseAddress! + r * width) }
                    }
                }
            }
            first += n
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
