/// Runs a parsed batch through the engine: blocks of accounts become books, margined on worker
/// threads; their CSV rows are handed to `sink` in input order.
public enum BatchRunner {
    /// Accounts per block: large enough to amortise the per-block set-up, small enough to keep
    /// every worker busy and the memory of the pending output small.
    public static let defaultBlockSize = 8192

    /// Margins every account of `input`.
    /// - Parameters:
    ///   - input: the parsed batch (``BatchInput/load(directory:priced:shard:threads:)``).
    ///   - priced: the priced market `input` was read against.
    ///   - threads: threads of work (blocks in parallel), exactly: the calling thread and
    ///     `threads − 1` workers (`BlockPipeline`). BLAS runs single-threaded inside them.
    ///   - blockSize: accounts per book (``defaultBlockSize``); a smaller block only costs speed.
    ///   - options: the aggregation path (``EngineOptions``).
    ///   - progress: called on the calling thread after each block written with (accounts done, total).
    ///   - sink: receives (margins rows, units rows) of consecutive blocks, in order.
    public static func run(_ input: BatchInput, priced: PricedMarket, threads: Int = 2,
                           blockSize: Int = defaultBlockSize, options: EngineOptions = EngineOptions(),
                           progress: (Int, Int) -> Void = { _, _ in },
                           sink: ([UInt8], [UInt8]) throws -> Void) throws -> BatchSummary {
        let source = WholeFileRows(input, priced: priced, blockSize: blockSize)
        let pipeline = BlockPipeline(source: source, monitor: Monitor(), threads: threads, options: options)
        do {
            // A whole-file source never gives up.
            guard var (summary, _) = try pipeline.run(progress: progress, sink: sink) else { return BatchSummary() }
            summary.orphanRows = input.orphanRows.count
            return summary
        } catch let e as StreamingBatch.SinkError {
            throw e.underlying
        }
    }
}

extension BatchRunner {
    /// Margins one block's book: its margins.csv and units.csv rows and its summary counts.
    static func margin(_ book: Book, options: EngineOptions) -> ([UInt8], [UInt8], BatchSummary) {
        let n = book.accountIds.count
        let result = MarginEngine.run(book, options: options)
        var m = ByteBuffer(capacity: n * 160)
        var u = ByteBuffer(capacity: n * 256)
        BatchOutput.append(result, margins: &m, units: &u)
        return (m.bytes, u.bytes, result.summary())
    }
}

extension BatchInput {
    /// The book of accounts `range` (a block). The book shares the parsed row arrays (copy-on-write,
    /// never written) and copies only the block's per-account offsets; units and netting are built
    /// here. A failed account keeps its rows in range, but no units and no totals are built from them.
    func book(accounts range: Range<Int>, priced: PricedMarket) -> Book {
        var b = Book(priced: priced)
        b.accountIds = Array(accountIds[range])
        b.spotHedging = Array(spotHedging[range])
        b.accountErrors = Array(accountErrors[range])
        let offsets = range.lowerBound...range.upperBound
        b.balStart = Array(balances.start[offsets]); b.balCoin = balances.ref; b.balAmount = balances.x
        b.posStart = Array(positions.start[offsets]); b.posInstr = positions.ref; b.posSize = positions.x; b.posEntry = positions.y
        b.ordStart = Array(orders.start[offsets]); b.ordInstr = orders.ref; b.ordQty = orders.x; b.ordPrice = orders.y
        b.ordSide = orders.side
        var builder = BookBuilder(book: b)
        builder.buildUnitsOfAllAccounts()
        return builder.finish()
    }
}

extension BookResult {
    /// Counts for the batch summary.
    func summary() -> BatchSummary {
        var s = BatchSummary()
        s.accounts = accountCount
        for a in 0..<accountCount {
            if let st = stage[a] {
                s.stages[Stage.allCases.firstIndex(of: st)!] += 1
                s.totalMM += totalMM[a]
                s.totalIM += totalIM[a]
            } else {
                s.errors += 1
            }
        }
        return s
    }
}
