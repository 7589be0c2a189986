#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a batch run did, for the one-line summary.
public struct BatchSummary: Sendable {
    /// Accounts margined or failed: every account id of the input (orphans included).
    public var accounts = 0
    /// Accounts that are errors (input problems or out-of-range figures, docs/model.md §10).
    public var errors = 0
    /// Accounts per stage, in `Stage.allCases` order.
    public var stages = [Int](repeating: 0, count: Stage.allCases.count)
    /// Rows naming an account id absent from `accounts.csv` (docs/formats.md); their ids become error accounts.
    public var orphanRows = 0
    /// Wall-clock seconds of the run, reading excluded.
    public var seconds = 0.0
    /// Σ totalMM over the accounts that are not errors, USD.
    public var totalMM = 0.0
    /// Σ totalIM over the accounts that are not errors, USD.
    public var totalIM = 0.0

    /// Adds the counts and totals of one block written (`BlockWriter`).
    mutating func add(block s: BatchSummary) {
        accounts += s.accounts
        errors += s.errors
        totalMM += s.totalMM
        totalIM += s.totalIM
        for k in 0..<stages.count { stages[k] += s.stages[k] }
    }
}

/// The one writer of a batch, for both paths (streamed and whole-file): takes each finished block
/// in block order, hands its margins.csv and units.csv rows to the sink, folds its counts into the
/// summary and reports progress.
struct BlockWriter {
    /// What was written so far.
    var summary = BatchSummary()
    /// Accounts written so far.
    private(set) var written = 0
    /// The accounts progress counts towards.
    let total: Int

    init(total: Int) { self.total = total }

    /// Writes one finished block (the next in order).
    mutating func write(_ block: ([UInt8], [UInt8], BatchSummary), sink: ([UInt8], [UInt8]) throws -> Void,
                        progress: (Int, Int) -> Void) throws {
        try sink(block.0, block.1)
        written += block.2.accounts
        summary.add(block: block.2)
        progress(min(written, total), total)
    }
}

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
    ///   - threads: worker threads (blocks in parallel), exactly: the calling thread only writes.
    ///     BLAS runs single-threaded inside them.
    ///   - blockSize: accounts per book (``defaultBlockSize``); a smaller block only costs speed.
    ///   - options: the aggregation path (``EngineOptions``).
    ///   - progress: called on the calling thread after each block written with (accounts done, total).
    ///   - sink: receives (margins rows, units rows) of consecutive blocks, in order.
    public static func run(_ input: BatchInput, priced: PricedMarket, threads: Int = 2,
                           blockSize: Int = defaultBlockSize, options: EngineOptions = EngineOptions(),
                           progress: (Int, Int) -> Void = { _, _ in },
                           sink: ([UInt8], [UInt8]) throws -> Void) throws -> BatchSummary {
        let n = input.accountCount
        var writer = BlockWriter(total: n)
        writer.summary.orphanRows = input.orphanRows.count
        let blocks = (n + blockSize - 1) / blockSize
        let workers = max(1, min(threads, blocks))
        // A streaming pipeline, no waves: `workers` threads of our own (never the global pool, whose
        // width is the core count whatever --threads says) each take the next block, build its
        // book, margin it and format its rows; the calling thread only hands the finished bytes to
        // `sink` in block order. Workers run at most `window` blocks ahead of the writer, so the
        // memory of pending output is bounded by the block size, and no block waits for the
        // slowest of a wave.
        let window = 2 * workers + 1
        let monitor = Monitor()
        // @unchecked Sendable: every field is read and written only inside `monitor.locked`.
        final class State: @unchecked Sendable {
            var ready: [Int: ([UInt8], [UInt8], BatchSummary)] = [:]
            var written = 0
            var stop = false
        }
        let state = State()
        let next = WorkCounter()
        let work = UnsafeSendable((input, priced, options))
        var spawned: [PortableThread] = []
        let worker: @Sendable () -> Void = {
            let (input, priced, options) = work.value
            while true {
                let b = next.take()
                guard b < blocks else { return }
                let go = monitor.locked { () -> Bool in
                    monitor.wait { state.stop || b < state.written + window }
                    return !state.stop
                }
                guard go else { return }
                let range = (b * blockSize)..<min(n, (b + 1) * blockSize)
                let done = margin(input.book(accounts: range, priced: priced), options: options)
                monitor.locked {
                    state.ready[b] = done
                    monitor.broadcast()
                }
            }
        }
        for _ in 0..<workers {
            if let t = PortableThread(start: worker) { spawned.append(t) }
        }
        defer {
            monitor.locked { state.stop = true; monitor.broadcast() }
            for t in spawned { t.join() }
        }
        if spawned.isEmpty {
            // No thread could be created: compute every block here (no window), then write.
            monitor.locked { state.written = blocks + window }
            worker()
        }
        for b in 0..<blocks {
            let block = monitor.locked { () -> ([UInt8], [UInt8], BatchSummary) in
                monitor.wait { state.ready[b] != nil }
                let r = state.ready.removeValue(forKey: b)!
                state.written = b + 1
                monitor.broadcast()
                return r
            }
            try writer.write(block, sink: sink, progress: progress)
        }
        return writer.summary
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
