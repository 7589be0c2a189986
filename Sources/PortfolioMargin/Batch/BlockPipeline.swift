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

/// One margined block: its margins.csv rows, its units.csv rows and its summary counts.
typealias BlockOutput = ([UInt8], [UInt8], BatchSummary)

/// Where the rows of a batch come from, block by block, for ``BlockPipeline``: the row files
/// streamed in chunks (`StreamedRows`) or read whole (`WholeFileRows`).
///
/// `advance` runs on the pipeline's calling thread only; `hasWork` and `takeWork` are asked by the
/// workers with the pipeline's monitor held (the source's state they read is guarded by that
/// monitor, which the source is given).
protocol RowSource: AnyObject {
    /// One step on the calling thread: read, assemble, ``BlockEmitter/emit(_:)`` the blocks
    /// whose rows are complete while ``BlockEmitter/hasRoom`` holds.
    func advance(_ pipeline: BlockEmitter) throws -> RowSourceStep
    /// Whether the source has work for a worker (a parse); with the monitor held.
    var hasWork: Bool { get }
    /// The source's next work for a worker, with the monitor held; nil when none.
    func takeWork() -> (() -> Void)?
    /// The accounts progress counts towards.
    var progressTotal: Int { get }
    /// The blocks the source will emit when it knows them before the run (whole-file rows), else
    /// nil: the pipeline starts no more workers than blocks beside the calling thread.
    var knownBlocks: Int? { get }
    /// What the source read besides the rows, once every block is written.
    func outcome() -> RowSourceOutcome
}

/// What one ``RowSource/advance(_:)`` did.
enum RowSourceStep {
    /// Something was done (`true`) or nothing could be (`false`: the pipeline waits for a worker).
    case working(Bool)
    /// Every block is emitted: the source's blocks number this many.
    case complete(blocks: Int)
    /// The rows cannot be given this way: this source replaces it (the row files are read whole).
    case replace(by: RowSource)
    /// The rows cannot be given this way and no replacement is wanted.
    case giveUp
}

/// What a row source read besides the rows.
struct RowSourceOutcome {
    /// The digests of the input files read (accounts.csv, then the row files), as `BatchInput.digests`.
    var digests: [(name: String, digest: InputDigest)]
    /// As `BatchInput.orphanRows`.
    var orphanRows: [InputError]
    /// As `BatchInput.orphanFirstSeen`.
    var orphanFirstSeen: [Manifest.OrphanKey]
    /// Seconds spent reading the input before margining (the summary's "parse").
    var parseSeconds: Double
    /// True when the row files were streamed.
    var streamed: Bool
}

/// The one writer of a batch: takes each finished block in block order, hands its margins.csv
/// and units.csv rows to the sink, folds its counts into the summary and reports progress.
struct BlockWriter {
    /// What was written so far.
    var summary = BatchSummary()
    /// Accounts written so far.
    private(set) var written = 0
    /// The accounts progress counts towards.
    let total: Int

    init(total: Int) { self.total = total }

    /// Writes one finished block (the next in order).
    mutating func write(_ block: BlockOutput, sink: ([UInt8], [UInt8]) throws -> Void,
                        progress: (Int, Int) -> Void) throws {
        try sink(block.0, block.1)
        written += block.2.accounts
        summary.add(block: block.2)
        progress(min(written, total), total)
    }
}

/// What a row source sees of the pipeline it feeds (``BlockPipeline``, whatever its blocks give).
protocol BlockEmitter: AnyObject {
    /// Blocks emitted (the next block's index).
    var emitted: Int { get }
    /// Blocks consumed in order (the next block to consume).
    var written: Int { get }
    /// How many blocks may be emitted ahead of the consumer.
    var window: Int { get }
    /// Whether another block may be emitted (it is within the window ahead of the consumer).
    var hasRoom: Bool { get }
    /// Queues the next block (index ``emitted``): `book` is built, and the pipeline's step run on
    /// it, on a thread of work.
    func emit(_ book: @escaping () -> Book)
}

/// The one ordered block pipeline — of a batch, and of a backtest: `threads` threads of work —
/// the calling thread and `threads − 1` workers of its own (never the global pool, whose width is
/// the core count whatever --threads says) — take the source's blocks (build the book, run the
/// step on it: for a batch, margin it and format its rows) and the source's own work (parses);
/// the calling thread drives the source and hands the blocks' outputs to the consumer in block
/// order (for a batch, `BlockWriter`), and takes a block or a parse itself whenever it has none
/// of that to do (so `--threads 1` is one thread in all, and N threads do N times its work).
/// Blocks are emitted at most `window` ahead of the consumer, so the pending output is bounded by
/// the block size, and no block waits for the slowest of a wave.
///
/// A source may hand over to another (``RowSourceStep/replace(by:)``: the row files turn out not
/// grouped by account). Blocks emitted and not consumed are dropped (a generation number); when
/// none was consumed yet, the switch is invisible. When some were, the consumer starts again (for
/// a batch, through `restart`: the staged files emptied) and ``discardedBlocks`` counts them.
final class BlockPipeline<Output>: BlockEmitter, @unchecked Sendable {
    // @unchecked Sendable: `blockQueue`, `finished`, `generation`, `events`, `stop` and `source`
    // (as seen by the workers) only inside `monitor.locked`; `step` is fixed for the pipeline's
    // life and only reads what it captured; the rest is the calling thread's.
    let monitor: Monitor
    let threads: Int
    /// How many blocks may be emitted ahead of the consumer.
    let window: Int
    /// The per-block work, on any thread of work: a block's book to its output.
    private let step: (Book) -> Output

    private struct BlockTask { let index: Int; let generation: Int; let book: () -> Book }
    private enum Task { case block(BlockTask), work(() -> Void) }
    private var blockQueue: [BlockTask] = []
    private var finished: [Int: Output] = [:]
    private var generation = 0
    private var events = 0
    private var stop = false
    private var source: RowSource

    /// Blocks consumed (the next block to consume).
    private(set) var written = 0
    /// Blocks emitted (the next block's index).
    private(set) var emitted = 0
    /// Blocks consumed and then discarded by a late switch of source (0 unless a row file was
    /// found not grouped after the first block was written).
    private(set) var discardedBlocks = 0
    /// Switches of source (a row source replaced by another).
    private(set) var switches = 0
    /// Worker threads the last ``run(consume:switching:)`` started besides the calling thread
    /// (`threads − 1`; fewer when the source knows it has fewer blocks, or the system refused one).
    private(set) var workersStarted = 0

    /// A pipeline of `threads` threads of work starting from `source`, whose shared state is
    /// guarded by `monitor`, turning each block's book into an output with `step`.
    init(source: RowSource, monitor: Monitor, threads: Int, step: @escaping (Book) -> Output) {
        self.source = source
        self.monitor = monitor
        self.threads = max(1, threads)
        self.step = step
        window = 2 * self.threads + 1
    }

    var hasRoom: Bool { emitted < written + window }

    func emit(_ book: @escaping () -> Book) {
        let task = BlockTask(index: emitted, generation: generation, book: book)
        emitted += 1
        monitor.locked { blockQueue.append(task); monitor.broadcast() }
    }

    /// Runs the blocks of the source (and of any source replacing it) to the end, handing the
    /// outputs of consecutive blocks to `consume` on the calling thread. When a source hands over
    /// to another, `switching(next, consumed)` is told the blocks already consumed (which the
    /// consumer must let go of) and says whether to go on; by default only when none was.
    /// Returns the final source, or nil when a source (or `switching`) gave up. Throws the
    /// source's errors and `consume`'s.
    func run(consume: (Output) throws -> Void,
             switching: (_ next: RowSource, _ consumed: Int) throws -> Bool = { _, consumed in consumed == 0 }) throws -> RowSource? {
        // The calling thread is one of the `threads`: `threads − 1` workers of its own beside it.
        var spawned: [PortableThread] = []
        // No more threads of work than blocks, when the source knows them (a worker would only wait).
        let workers = min(threads, max(1, source.knownBlocks ?? threads)) - 1
        for _ in 0..<workers {
            if let t = PortableThread(start: { [self] in work() }) { spawned.append(t) }
        }
        workersStarted = spawned.count
        defer {
            monitor.locked { stop = true; monitor.broadcast() }
            for t in spawned { t.join() }
        }
        var current = source
        var totalBlocks: Int?
        var seen = -1
        while true {
            var did = false
            var ready: [Output] = []
            monitor.locked {
                seen = events
                while let r = finished.removeValue(forKey: written + ready.count) { ready.append(r) }
            }
            for block in ready {
                try consume(block)
                written += 1
                did = true
            }
            if let totalBlocks, written == totalBlocks { break }
            if totalBlocks == nil {
                switch try current.advance(self) {
                case .working(let d): did = did || d
                case .complete(let blocks): totalBlocks = blocks; did = true
                case .giveUp: return nil
                case .replace(let next):
                    guard try switching(next, written) else { return nil }
                    discardedBlocks += written
                    current = next
                    written = 0
                    emitted = 0
                    switches += 1
                    monitor.locked {
                        generation += 1
                        blockQueue.removeAll()
                        finished.removeAll()
                        source = next
                    }
                    did = true
                }
            }
            if !did {
                // Nothing of its own to do (nothing to consume, read or emit): the calling thread
                // takes a block or a parse as a worker would, and otherwise waits for one to end.
                // Without workers (`threads` 1, or none could be created) there is always a task
                // here: everything in flight is queued.
                let task = monitor.locked { () -> Task? in
                    if let t = nextTask() { return t }
                    if !spawned.isEmpty { monitor.wait { events != seen } }
                    return nil
                }
                if let task { perform(task) }
            }
        }
        return current
    }

    // MARK: - Workers

    /// With the monitor held: a block first (the consumer waits for it), else the source's work.
    private func nextTask() -> Task? {
        if !blockQueue.isEmpty { return .block(blockQueue.removeFirst()) }
        if let w = source.takeWork() { return .work(w) }
        return nil
    }

    private func work() {
        while true {
            let task = monitor.locked { () -> Task? in
                monitor.wait { stop || !blockQueue.isEmpty || source.hasWork }
                return stop ? nil : nextTask()
            }
            guard let task else { return }
            perform(task)
        }
    }

    private func perform(_ task: Task) {
        switch task {
        case .work(let w):
            w()
            monitor.locked { events += 1; monitor.broadcast() }
        case .block(let b):
            let done = step(b.book())
            monitor.locked {
                if b.generation == generation { finished[b.index] = done }
                events += 1
                monitor.broadcast()
            }
        }
    }
}

/// A batch's pipeline: each block margined into its margins.csv and units.csv rows (`BatchRunner.margin`).
extension BlockPipeline where Output == BlockOutput {
    /// A batch's pipeline on `threads` threads of work starting from `source`.
    convenience init(source: RowSource, monitor: Monitor, threads: Int, options: EngineOptions) {
        self.init(source: source, monitor: monitor, threads: threads) { BatchRunner.margin($0, options: options) }
    }

    /// Runs the batch's blocks, handing (margins rows, units rows) of consecutive blocks to `sink`
    /// through one ``BlockWriter``. `restart` empties what `sink` received (a late switch of
    /// source); without it such a switch gives up. Returns the summary and the final source, or
    /// nil when a source gave up. Throws the source's errors and `StreamingBatch.SinkError` for
    /// the sink's.
    func run(progress: (Int, Int) -> Void, sink: ([UInt8], [UInt8]) throws -> Void,
             restart: (() throws -> Void)? = nil) throws -> (BatchSummary, RowSource)? {
        var writer = BlockWriter(total: source.progressTotal)
        let last = try run(consume: { block in
            do { try writer.write(block, sink: sink, progress: progress) } catch { throw StreamingBatch.SinkError(underlying: error) }
        }, switching: { next, consumed in
            if consumed > 0 {
                guard let restart else { return false }
                do { try restart() } catch { throw StreamingBatch.SinkError(underlying: error) }
            }
            writer = BlockWriter(total: next.progressTotal)
            return true
        })
        guard let last else { return nil }
        return (writer.summary, last)
    }
}

/// A parsed batch (``BatchInput``) as a row source: its blocks are slices of the parsed rows.
final class WholeFileRows: RowSource {
    let input: BatchInput
    let priced: PricedMarket
    let blockSize: Int
    let blocks: Int
    let parseSeconds: Double

    init(_ input: BatchInput, priced: PricedMarket, blockSize: Int, parseSeconds: Double = 0) {
        self.input = input
        self.priced = priced
        self.blockSize = max(1, blockSize)
        blocks = (input.accountCount + self.blockSize - 1) / self.blockSize
        self.parseSeconds = parseSeconds
    }

    func advance(_ pipeline: BlockEmitter) throws -> RowSourceStep {
        let n = input.accountCount, blockSize = self.blockSize
        let work = UnsafeSendable((input, priced))
        var did = false
        while pipeline.emitted < blocks, pipeline.hasRoom {
            did = true
            let b = pipeline.emitted
            pipeline.emit {
                let (input, priced) = work.value
                return input.book(accounts: (b * blockSize)..<min(n, (b + 1) * blockSize), priced: priced)
            }
        }
        return pipeline.emitted == blocks ? .complete(blocks: blocks) : .working(did)
    }

    var hasWork: Bool { false }
    func takeWork() -> (() -> Void)? { nil }
    var progressTotal: Int { input.accountCount }
    var knownBlocks: Int? { blocks }

    func outcome() -> RowSourceOutcome {
        RowSourceOutcome(digests: input.digests, orphanRows: input.orphanRows, orphanFirstSeen: input.orphanFirstSeen,
                         parseSeconds: parseSeconds, streamed: false)
    }
}
