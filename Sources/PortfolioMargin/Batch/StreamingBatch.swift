#if canImport(Glibc)
import Glibc   // memchr (libc, not an OS call)
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels

/// The streaming batch (docs/performance.md "Batch memory"): when balances.csv, positions.csv and
/// orders.csv each list their rows grouped by account in accounts.csv order (what `pm generate`
/// writes and what a database export ordered by id gives), the three files are read as cursors
/// that advance together one block of accounts at a time, so memory is bounded by the block and
/// buffer sizes plus the accounts.csv id table — not by the book.
///
/// - Reading (the calling thread): each row file is read with `pread` into a few reused buffers
///   (`bufferSize`), cut after the last complete record (quote-aware: a quoted field may hold
///   line breaks); the incomplete record is carried to the front of the file's next buffer. The
///   XXH64 digest is updated as bytes arrive (the same digests as `InputFile`), and at each
///   file's end the change check of `InputFile` runs (short read, a byte past the size, size or
///   mtime changed: exit 1). Nothing is memory-mapped.
/// - Parsing (the pipeline's N threads of work, the calling thread among them): each buffer is
///   parsed into rows (`BatchInput.parseChunk`, the very code of the whole-file path), in parallel.
/// - Assembly (the calling thread): chunks are taken in file order; a row whose account comes
///   before the previous row's means "not grouped". When every file has passed the end of a block
///   of accounts, the block's rows (slices of the chunks) are emitted into the batch's one block
///   pipeline (`BlockPipeline`), whose workers build the block's book, margin it and format its
///   rows, and whose calling thread writes the blocks in order.
/// - Orphans (ids absent from accounts.csv) are held until all three files are read, then become
///   error accounts after the others, exactly as in the whole-file path.
///
/// On "not grouped", and on any fatal input problem other than a file changing (a missing file or
/// column, a wrong field count, broken quoting, an account id that is not UTF-8), the streamed
/// rows (`StreamedRows`) hand over to the row files read whole inside the pipeline (`BatchJob`),
/// which report such a problem with the exact message, line and order they always had; `run`
/// alone returns nil then.
public enum StreamingBatch {
    /// Bytes per read buffer.
    public static let defaultBufferSize = 4 << 20

    /// The most rows `bytes` of a file with `columns` columns can give: each row's record has a
    /// comma between fields and a number that is not empty (a quoted field only adds bytes), so
    /// at least `columns` bytes; a record not ending the range takes a line end too (`RowStore`).
    static func rowBound(bytes: Int, columns: Int) -> Int { bytes / max(1, columns) + 1 }

    /// What a streamed run produced besides the rows handed to the sink.
    public struct Outcome: Sendable {
        /// Accounts, errors, stages and totals, as `BatchRunner.run` returns them.
        public var summary: BatchSummary
        /// As `BatchInput.digests`.
        public var digests: [(name: String, digest: InputDigest)]
        /// As `BatchInput.orphanRows`.
        public var orphanRows: [InputError]
        /// As `BatchInput.orphanFirstSeen`.
        public var orphanFirstSeen: [Manifest.OrphanKey] = []
        /// Seconds spent reading accounts.csv (the summary's "parse").
        public var accountsSeconds: Double
        /// The most read buffers allocated at once (tests: memory is bounded).
        public var peakBuffers = 0
        /// The bytes of those buffers.
        public var peakBufferBytes = 0
        /// The most parsed rows held at once (chunks not yet margined).
        public var peakHeldRows = 0
    }

    /// An error of the sink (writing the output), as opposed to one of the input.
    public struct SinkError: Error, CustomStringConvertible {
        /// What the sink threw.
        public let underlying: Error
        /// Wraps a sink's error.
        public init(underlying: Error) { self.underlying = underlying }
        /// The sink error's own text.
        public var description: String { "\(underlying)" }
    }

    /// Streams `dir` through the batch's block pipeline, handing (margins rows, units rows) of
    /// consecutive blocks to `sink`; the same rows, in the same order, as `BatchInput.load` +
    /// `BatchRunner.run`. Returns nil when the row files are not grouped in accounts.csv order, or
    /// on an input problem the whole-file read reports (then nothing it handed to `sink` may be
    /// kept; ``BatchJob/run()`` switches to the whole-file read instead).
    /// Throws accounts.csv's errors, a row file that changed while read, and `SinkError`.
    /// With `accounts` (started by the caller on the same `dir`, `shard` and `threads`), its
    /// table is used: accounts.csv has been read while the caller did other work.
    public static func run(directory dir: String, priced: PricedMarket, shard: (index: Int, count: Int)? = nil,
                           threads: Int = 2, blockSize: Int = BatchRunner.defaultBlockSize,
                           options: EngineOptions = EngineOptions(), bufferSize: Int = defaultBufferSize,
                           accounts: AccountsReadAhead? = nil,
                           progress: (Int, Int) -> Void = { _, _ in },
                           sink: ([UInt8], [UInt8]) throws -> Void) throws -> Outcome? {
        let (table, seconds) = try (accounts ?? AccountsReadAhead(directory: dir, shard: shard, threads: threads, background: false)).take()
        let monitor = Monitor()
        let rows = StreamedRows(directory: dir, table: table, priced: priced, shard: shard, threads: max(1, threads),
                                blockSize: max(1, blockSize), bufferSize: max(1, bufferSize), monitor: monitor)
        let pipeline = BlockPipeline(source: rows, monitor: monitor, threads: max(1, threads), options: options)
        guard var (summary, _) = try pipeline.run(progress: progress, sink: sink) else { return nil }
        let o = rows.outcome()
        let peaks = rows.stats.peaks
        summary.orphanRows = o.orphanRows.count
        return Outcome(summary: summary, digests: o.digests, orphanRows: o.orphanRows, orphanFirstSeen: o.orphanFirstSeen,
                       accountsSeconds: seconds, peakBuffers: peaks.0, peakBufferBytes: peaks.1, peakHeldRows: peaks.2)
    }
}

extension StreamingBatch {
    /// accounts.csv read (split and its id table built, `BatchInput.loadAccounts`) on a thread of
    /// its own from the start of a run, while the caller loads and prices the market, opens the
    /// output folder and so on (otherwise the market would have the first moments of a run alone
    /// on one core). Only with two or more threads (`--threads 1` stays on one core:
    /// then `take` reads the file). Its error, if any, is thrown by `take`, where reading it
    /// would have thrown it: a run that fails before (a bad market) reports its own error, and
    /// `cancel` stops the read.
    public final class AccountsReadAhead: @unchecked Sendable {
        // @unchecked Sendable: `result` and `cancelled` only inside `monitor.locked`.
        private let dir: String
        private let shard: (index: Int, count: Int)?
        private let threads: Int
        private let monitor = Monitor()
        private var result: Result<(BatchInput.AccountTable, Double), Error>?
        private var cancelled = false
        private var thread: PortableThread?

        /// Starts reading `dir`/accounts.csv as `StreamingBatch.run` would with `shard` and
        /// `threads` (on a thread of its own when `threads` ≥ 2).
        public convenience init(directory dir: String, shard: (index: Int, count: Int)?, threads: Int) {
            self.init(directory: dir, shard: shard, threads: threads, background: threads >= 2)
        }

        init(directory dir: String, shard: (index: Int, count: Int)?, threads: Int, background: Bool) {
            self.dir = dir
            self.shard = shard
            self.threads = max(1, threads)
            if background {
                thread = PortableThread { [self] in
                    let r = Result { try load() }
                    monitor.locked { result = r }
                }
            }
        }

        deinit { cancel() }

        private func load() throws -> (BatchInput.AccountTable, Double) {
            let start = Clock.monotonicSeconds()
            let table = try BatchInput.loadAccounts(directory: dir, shard: shard, threads: threads,
                                                    cancelled: { [self] in monitor.locked { cancelled } })
            return (table, Clock.monotonicSeconds() - start)
        }

        /// The table and the seconds its read took; throws accounts.csv's error.
        func take() throws -> (BatchInput.AccountTable, Double) {
            guard let t = thread else { return try load() }
            t.join()
            thread = nil
            return try monitor.locked { result! }.get()
        }

        /// Stops the read (its result is not wanted) and waits for its thread.
        public func cancel() {
            guard let t = thread else { return }
            monitor.locked { cancelled = true }
            t.join()
            thread = nil
        }
    }
}

/// A row file read forward in pieces: `pread`, XXH64 as bytes arrive, change check at the end
/// (the guarantees of `InputFile`, docs/readings.md item 40).
final class StreamFile {
    /// A problem reading the file (short read, changed, I/O error): fatal, never a fallback.
    struct ReadFailure: Error { let error: InputError }

    let path: String
    let size: Int
    private let fd: FileDescriptor
    private let opened: FileStatus
    private(set) var offset = 0
    private var hasher = XXH64Stream()
    private var closed = false
    private(set) var digest: InputDigest?
    /// The cache's copy of what is read is dropped as the reads go (`PageCacheRelease`).
    private let cache: PageCacheRelease
    private var released = 0

    init(path: String) throws {
        self.path = path
        (fd, opened) = try InputFile.openRegular(path)
        size = opened.size
        cache = PageCacheRelease(fd: fd.rawValue, size: size)
    }

    deinit { if !closed { fd.closeIgnoringErrors() } }

    var atEnd: Bool { offset >= size }

    /// Reads up to `capacity` bytes into `dst` (fewer only at the end of the file); at the end,
    /// checks that the file did not change and finishes the digest.
    func read(into dst: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int {
        let want = min(capacity, size - offset)
        var done = 0
        while done < want {
            let n: Int
            do throws(Errno) { n = try fd.read(into: dst + done, count: min(InputFile.defaultBlockSize, want - done), at: offset + done) } catch {
                throw ReadFailure(error: InputError(file: path, "cannot be read (\(error.reason))"))
            }
            if n == 0 {
                throw ReadFailure(error: InputError(file: path, "changed while it was being read (it shrank from \(size) to \(offset + done) bytes or less); nothing was computed"))
            }
            hasher.update(UnsafeRawBufferPointer(start: dst + done, count: n))
            done += n
        }
        offset += done
        cache.release(released, offset)
        released = offset >= size ? offset : PageCacheRelease.alignDown(offset)
        if offset >= size, !closed { try finish() }
        return done
    }

    /// The end-of-file check of `InputFile.readAll`, then the digest.
    private func finish() throws {
        do { try InputFile.checkUnchanged(fd, path: path, opened: opened) } catch let e as InputError { throw ReadFailure(error: e) }
        // A drop skips pages the kernel's readahead held at that moment: one last pass over the file.
        cache.release(0, size)
        let d = hasher.digest
        digest = d
        fd.closeIgnoringErrors()
        closed = true
    }

    /// The end of the last complete record of `p[0..<n]` (which starts on a record), or 0 when
    /// there is none: after the last line end outside quotes; a `\r` as the very last byte may be
    /// the first half of a CRLF, so it does not end a line yet. `from` skips a BOM.
    static func lastRecordEnd(_ p: UnsafePointer<UInt8>, from: Int, _ n: Int) -> Int {
        guard n > from else { return 0 }
        if memchr(p + from, 34, n - from) == nil {
            var i = n - 1
            if p[i] == 10 { return n }
            if p[i] == 13 { i -= 1 }
            while i >= from {
                if p[i] == 10 || p[i] == 13 { return i + 1 }
                i -= 1
            }
            return 0
        }
        // Quotes: the grammar of `CSVFile.parseQuotedRecord` / `pm_csv_next_record`, forward.
        var i = from, fieldStart = true, last = 0
        while i < n {
            let b = p[i]
            if b == 34 && fieldStart {
                i += 1
                while true {
                    guard i < n else { return last }              // the quoted field goes on
                    if p[i] == 34 {
                        guard i + 1 < n else { return last }      // `"` or the first of `""`: unknown yet
                        if p[i + 1] == 34 { i += 2; continue }
                        i += 1
                        break
                    }
                    i += 1
                }
                fieldStart = false
                continue
            }
            if b == 44 { fieldStart = true; i += 1; continue }
            if b == 10 { i += 1; last = i; fieldStart = true; continue }
            if b == 13 {
                guard i + 1 < n else { return last }
                i += p[i + 1] == 10 ? 2 : 1
                last = i
                fieldStart = true
                continue
            }
            fieldStart = false
            i += 1
        }
        return last
    }
}

/// Parsed rows of one buffer of a row file (file order), with the chunk's problems and orphans.
// @unchecked Sendable: written by the worker that parses it, then handed over under the monitor
// and only read after.
final class StreamChunk: @unchecked Sendable {
    /// Where the rows are (`info.rows` of them, from slot 0), given back to the pool at deinit.
    let store: RowStore
    var info = BatchInput.Chunk()
    /// The file's line number of the chunk's first line minus one (set at assembly).
    var lineOffset = 0
    let stats: StreamStats
    let pool: RowStorePool
    init(stats: StreamStats, pool: RowStorePool, capacity: Int) {
        self.stats = stats
        self.pool = pool
        store = pool.take(capacity: capacity)
    }
    deinit {
        stats.rowsHeld(-info.rows)
        pool.give(store)
    }
}

/// Room for the rows of one buffer, sized from a bound instead of a count of its lines (the count
/// was a pass over every byte: 3% of a 1M run's CPU). A row takes at least as many bytes as the
/// file has columns (a comma between fields and a number that is not empty), so a buffer of `n`
/// bytes gives at most `n / columns` rows. That bound is several times the usual rows, but the
/// memory is mapped, never written beyond the rows a chunk had, and recycled (`RowStorePool`):
/// pages past the rows are never touched, so they cost neither memory nor page faults.
// @unchecked Sendable: written by the one worker that parses into it, read after the hand-over
// (the monitor), recycled only when its chunk is gone.
final class RowStore: @unchecked Sendable {
    let capacity: Int
    let account: UnsafeMutablePointer<Int32>
    let ref: UnsafeMutablePointer<Int32>
    let x: UnsafeMutablePointer<Double>
    let y: UnsafeMutablePointer<Double>
    let side: UnsafeMutablePointer<Int8>
    private let region: UnsafeMutableRawPointer
    private let bytes: Int
    private let mapped: Bool

    /// The size of one row in the store.
    static let rowBytes = 4 + 4 + 8 + 8 + 1

    init(capacity: Int) {
        self.capacity = capacity
        bytes = max(1, capacity * Self.rowBytes)
        // Anonymous memory: pages come zeroed on first touch only.
        if let m = AnonymousMemory.map(bytes) {
            region = m
            mapped = true
        } else {
            region = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 8)
            mapped = false
        }
        // Doubles first (8-byte aligned), then the 4-byte and 1-byte columns.
        x = region.bindMemory(to: Double.self, capacity: 2 * capacity)
        y = x + capacity
        account = (region + 16 * capacity).bindMemory(to: Int32.self, capacity: 2 * capacity)
        ref = account + capacity
        side = (region + 24 * capacity).bindMemory(to: Int8.self, capacity: capacity)
    }

    deinit {
        if mapped { AnonymousMemory.unmap(region, bytes) } else { region.deallocate() }
    }
}

/// Row stores not in use, handed out again (mapping and unmapping each would cost page faults on
/// the same rows every time).
final class RowStorePool: Sendable {
    private let free = Locked<[RowStore]>([])
    /// The capacity of a store for a regular buffer (one carrying a longer record may need more).
    let standard: Int
    init(standard: Int) { self.standard = standard }

    func take(capacity: Int) -> RowStore {
        let found = free.withLock { free -> RowStore? in
            guard let k = free.lastIndex(where: { $0.capacity >= capacity }) else { return nil }
            return free.remove(at: k)
        }
        return found ?? RowStore(capacity: max(capacity, standard))
    }

    func give(_ s: RowStore) { free.withLock { $0.append(s) } }
}

/// Counters of what the streaming path holds (tests check the bound).
final class StreamStats: Sendable {
    private struct Counts { var buffers = 0, bytes = 0, rows = 0, peakBuffers = 0, peakBytes = 0, peakRows = 0 }
    private let counts = Locked(Counts())
    func buffer(_ count: Int, bytes b: Int) {
        counts.withLock {
            $0.buffers += count
            $0.bytes += b
            $0.peakBuffers = max($0.peakBuffers, $0.buffers)
            $0.peakBytes = max($0.peakBytes, $0.bytes)
        }
    }
    func rowsHeld(_ n: Int) {
        counts.withLock {
            $0.rows += n
            $0.peakRows = max($0.peakRows, $0.rows)
        }
    }
    /// The most buffers, bytes and rows held at once.
    var peaks: (Int, Int, Int) { counts.withLock { ($0.peakBuffers, $0.peakBytes, $0.peakRows) } }
}

/// The row files streamed (`StreamingBatch`), as a ``RowSource``: reading and assembly on the
/// pipeline's calling thread, parses on its workers.
// @unchecked Sendable: the `let`s are fixed for the run; the fields marked "shared with the
// workers" are touched only inside `monitor.locked`; the rest only by the pipeline's calling thread.
final class StreamedRows: RowSource, @unchecked Sendable {
    // Fixed for the run, read by every thread.
    let dir: String
    let table: BatchInput.AccountTable
    let priced: PricedMarket
    let shard: (index: Int, count: Int)?
    let threads: Int
    let blockSize: Int
    let bufferSize: Int
    let context: BatchInput.RowContext
    let kinds: [BatchInput.Kind] = [.balances, .positions, .orders]
    let paths: [String]
    let stats = StreamStats()
    let pool: RowStorePool
    /// Parse tasks in flight per file, and buffers in all (`3·maxInflight`).
    let maxInflight: Int
    let maxBuffers: Int
    /// A whole block of `nil` account errors, shared (copy-on-write) by the books of the blocks
    /// without errors: filling 8192 64-byte optionals per block cost ~100 instructions an account.
    let noErrors: [InputError?]
    /// Seconds spent reading accounts.csv (the summary's "parse").
    var accountsSeconds = 0.0
    /// The source taking over when the row files cannot be streamed (not grouped, or a structural
    /// problem the whole-file path reports with its exact message); nil: the run gives up.
    let replacement: ((BatchInput.AccountTable) throws -> RowSource)?

    struct Buffer { let base: UnsafeMutablePointer<UInt8>; let capacity: Int }
    struct ParseTask { let file: Int; let seq: Int; let buffer: Buffer; let range: Range<Int>; let header: CSVFile }
    struct Slice { let chunk: StreamChunk; let rows: Range<Int>; let errors: Range<Int> }
    enum BlockTask {
        case accounts(lo: Int, hi: Int, slices: [[Slice]])
        case orphans(ids: ArraySlice<String>, errors: ArraySlice<InputError>)
    }

    // Shared with the workers: only inside `monitor.locked` (the pipeline's monitor).
    let monitor: Monitor
    var parseQueue: [ParseTask] = []
    var parsed: [[Int: StreamChunk]] = [[:], [:], [:]]
    var freeBuffers: [Buffer] = []
    var allocatedBuffers = 0
    var fallback = false

    // The calling thread's own.
    var files: [StreamFile?] = [nil, nil, nil]
    var opened = false
    var headers: [CSVFile?] = [nil, nil, nil]
    var carry: [[UInt8]] = [[], [], []]
    var readSeq = [0, 0, 0], takenSeq = [0, 0, 0], inflight = [0, 0, 0]
    var readDone = [false, false, false], fileDone = [false, false, false]
    var frontier: [Int32] = [-1, -1, -1]
    var lineOffset = [0, 0, 0]
    var pending: [[StreamChunk]] = [[], [], []]
    var cursorRow = [0, 0, 0], cursorError = [0, 0, 0]
    var orphanChunks: [[(chunk: BatchInput.Chunk, firstLine: Int)]] = [[], [], []]
    var orphans: BatchInput.Orphans
    var orphanRows: [InputError] = []
    var digests: [(name: String, digest: InputDigest)] = []
    let regularBlocks: Int

    init(directory: String, table: BatchInput.AccountTable, priced: PricedMarket, shard: (index: Int, count: Int)?,
         threads: Int, blockSize: Int, bufferSize: Int, monitor: Monitor,
         replacement: ((BatchInput.AccountTable) throws -> RowSource)? = nil) {
        dir = directory
        self.table = table
        self.priced = priced
        self.shard = shard
        self.threads = threads
        self.blockSize = blockSize
        self.bufferSize = bufferSize
        self.monitor = monitor
        self.replacement = replacement
        context = BatchInput.RowContext(priced: priced, ids: table.ids, keep: table.keep)
        paths = kinds.map { directory + "/" + $0.fileName }
        // balances.csv has the fewest columns (3): the largest bound of a regular buffer.
        pool = RowStorePool(standard: StreamingBatch.rowBound(bytes: bufferSize, columns: 3))
        // Enough parses in flight for every worker, capped: with `--threads 256` the buffers
        // would otherwise be 3 GB.
        maxInflight = min(8, max(2, threads))
        maxBuffers = 3 * maxInflight
        noErrors = [InputError?](repeating: nil, count: min(blockSize, table.count))
        orphans = BatchInput.Orphans(shard: shard)
        regularBlocks = (table.count + blockSize - 1) / blockSize
    }

    deinit {
        // Buffers of parses never run (a run stopped early) go too.
        for b in freeBuffers { b.base.deallocate() }
        for t in parseQueue { t.buffer.base.deallocate() }
    }

    // MARK: - RowSource

    var progressTotal: Int { table.count }
    var knownBlocks: Int? { nil }

    var hasWork: Bool { !parseQueue.isEmpty }

    func takeWork() -> (() -> Void)? {
        guard !parseQueue.isEmpty else { return nil }
        let t = parseQueue.removeFirst()
        return { [self] in
            let chunk = parse(t)
            monitor.locked {
                freeBuffers.append(t.buffer)
                if let chunk { parsed[t.file][t.seq] = chunk } else { fallback = true }
            }
        }
    }

    func outcome() -> RowSourceOutcome {
        RowSourceOutcome(digests: [("accounts.csv", table.digest)] + digests, orphanRows: orphanRows,
                         orphanFirstSeen: orphans.firstSeen, parseSeconds: accountsSeconds, streamed: true)
    }

    /// The row files cannot be streamed: the parses not started are dropped, the rows held let go,
    /// and the replacement (if any) takes over.
    private func stopStreaming() throws -> RowSourceStep {
        monitor.locked {
            for t in parseQueue { freeBuffers.append(t.buffer) }
            parseQueue.removeAll()
            parsed = [[:], [:], [:]]
        }
        pending = [[], [], []]
        orphanChunks = [[], [], []]
        files = [nil, nil, nil]
        guard let replacement else { return .giveUp }
        return .replace(by: try replacement(table))
    }

    func advance(_ pipeline: BlockEmitter) throws -> RowSourceStep {
        if !opened {
            opened = true
            // Open the row files up front; a problem here is the whole-file path's to report.
            do {
                files[0] = try StreamFile(path: paths[0])
                files[1] = try StreamFile(path: paths[1])
                // orders.csv may be absent; an empty (0-byte) one counts as absent (docs/formats.md).
                if FileSystem.mayExist(paths[2]) {
                    let f = try StreamFile(path: paths[2])
                    if f.size > 0 { files[2] = f }
                }
            } catch { return try stopStreaming() }
            if files[2] == nil { readDone[2] = true; fileDone[2] = true }
        }
        var did = false
        // Parsed chunks in file order.
        var arrived: [(Int, StreamChunk)] = []
        let failed = monitor.locked { () -> Bool in
            if fallback { return true }
            for f in 0..<3 {
                while let c = parsed[f].removeValue(forKey: takenSeq[f]) { arrived.append((f, c)); takenSeq[f] += 1 }
            }
            return false
        }
        if failed { return try stopStreaming() }
        for (f, c) in arrived {
            guard assemble(f, c) else { return try stopStreaming() }
            did = true
        }
        // Blocks every file has gone past, within the window ahead of the writer.
        let n = table.count
        while pipeline.emitted < regularBlocks, pipeline.hasRoom {
            let lo = pipeline.emitted * blockSize, hi = min(n, lo + blockSize)
            guard (0..<3).allSatisfy({ fileDone[$0] || frontier[$0] >= Int32(hi) }) else { break }
            let task = BlockTask.accounts(lo: lo, hi: hi, slices: (0..<3).map { take(file: $0, below: Int32(hi)) })
            pipeline.emit { [self] in book(task) }
            did = true
        }
        if pipeline.emitted == regularBlocks, fileDone.allSatisfy({ $0 }) {
            // Orphans in order of first appearance: balances.csv, positions.csv, orders.csv.
            for f in 0..<3 {
                for (chunk, firstLine) in orphanChunks[f] { orphans.add(chunk, file: paths[f], kind: kinds[f], firstLine: firstLine, rows: &orphanRows) }
            }
            orphanChunks = [[], [], []]
            for f in 0..<3 { if let d = files[f]?.digest { digests.append((kinds[f].fileName, d)) } }
            let ids = orphans.ids, errors = orphans.errors
            let extra = (ids.count + blockSize - 1) / blockSize
            for k in 0..<extra {
                let r = (k * blockSize)..<min(ids.count, (k + 1) * blockSize)
                let task = BlockTask.orphans(ids: ids[r], errors: errors[r])
                pipeline.emit { [self] in book(task) }
            }
            return .complete(blocks: regularBlocks + extra)
        }
        if let f = fileToRead(written: pipeline.written, window: pipeline.window) {
            do { guard try read(f) else { return try stopStreaming() } } catch let e as StreamFile.ReadFailure { throw e.error }
            did = true
        }
        return .working(did)
    }

    /// The file to read next: of those not fully read, with room for another parse in flight and
    /// not too far ahead of the writer, the one whose rows have reached the lowest account (the
    /// file the next block waits for). Nil when none is, or no buffer is free.
    func fileToRead(written: Int, window: Int) -> Int? {
        let limit = Int32(clamping: (written + window + 2) * blockSize)
        var best: Int?
        for f in 0..<3 where !readDone[f] && inflight[f] < maxInflight && frontier[f] < limit {
            if best == nil || frontier[f] < frontier[best!] || (frontier[f] == frontier[best!] && inflight[f] < inflight[best!]) { best = f }
        }
        guard let best else { return nil }
        let room = monitor.locked { !freeBuffers.isEmpty || allocatedBuffers < maxBuffers }
        return room ? best : nil
    }

    /// Reads file `f`'s next buffer and queues its parse. False: the header is not the whole-file
    /// path's (fallback).
    func read(_ f: Int) throws -> Bool {
        let file = files[f]!
        var buffer = monitor.locked { () -> Buffer in
            if let b = freeBuffers.popLast() { return b }
            allocatedBuffers += 1
            return allocate(bufferSize)
        }
        var length = carry[f].count
        if buffer.capacity <= length {
            // The record carried over is longer than this buffer: a larger one, with room to read.
            release(buffer)
            buffer = allocate(2 * length)
        }
        carry[f].withUnsafeBufferPointer { if length > 0 { buffer.base.update(from: $0.baseAddress!, count: length) } }
        let first = readSeq[f] == 0
        var cut = 0
        var from = 0
        while true {
            length += try file.read(into: buffer.base + length, capacity: buffer.capacity - length)
            if first, length >= 3, buffer.base[0] == 0xEF, buffer.base[1] == 0xBB, buffer.base[2] == 0xBF { from = 3 }
            cut = file.atEnd ? length : StreamFile.lastRecordEnd(buffer.base, from: from, length)
            if cut > 0 || file.atEnd { break }
            // One record longer than the buffer: a larger buffer for it.
            let larger = allocate(buffer.capacity * 2)
            larger.base.update(from: buffer.base, count: length)
            release(buffer)
            buffer = larger
        }
        carry[f].removeAll(keepingCapacity: true)
        carry[f].append(contentsOf: UnsafeBufferPointer(start: buffer.base + cut, count: length - cut))
        (buffer.base + cut).update(repeating: 0, count: 32)
        var start = 0
        if first {
            let header: CSVFile
            do {
                header = try CSVFile(file: InputFile(borrowing: UnsafeBufferPointer(start: buffer.base, count: cut), path: paths[f]),
                                     required: kinds[f].required)
            } catch {
                monitor.locked { freeBuffers.append(buffer) }
                return false
            }
            headers[f] = header
            start = header.dataStart
            lineOffset[f] = header.headerLines
        }
        if file.atEnd { readDone[f] = true }
        let task = ParseTask(file: f, seq: readSeq[f], buffer: buffer, range: start..<cut, header: headers[f]!)
        readSeq[f] += 1
        inflight[f] += 1
        monitor.locked { parseQueue.append(task); monitor.broadcast() }
        return true
    }

    func allocate(_ capacity: Int) -> Buffer {
        stats.buffer(1, bytes: capacity + 32)
        return Buffer(base: .allocate(capacity: capacity + 32), capacity: capacity)
    }

    func release(_ b: Buffer) {
        stats.buffer(-1, bytes: -(b.capacity + 32))
        b.base.deallocate()
    }

    /// Takes file `f`'s next chunk in file order. False: the file is not grouped.
    func assemble(_ f: Int, _ c: StreamChunk) -> Bool {
        inflight[f] -= 1
        let info = c.info
        if !info.ordered || (info.firstAccount >= 0 && info.firstAccount < frontier[f]) { return false }
        c.lineOffset = lineOffset[f]
        if !info.orphans.isEmpty {
            var kept = BatchInput.Chunk()
            kept.orphans = info.orphans
            kept.orphanBytes = info.orphanBytes
            orphanChunks[f].append((kept, lineOffset[f]))
            c.info.orphans = []
            c.info.orphanBytes = []
        }
        lineOffset[f] += info.lines
        if info.lastAccount >= 0 { frontier[f] = info.lastAccount }
        if info.rows > 0 || !info.errors.isEmpty { pending[f].append(c) }
        if readDone[f] && inflight[f] == 0 { fileDone[f] = true }
        return true
    }

    /// File `f`'s rows and problems of accounts below `hi` not taken yet (all of them: the file
    /// has gone past `hi`, or is done).
    func take(file f: Int, below hi: Int32) -> [Slice] {
        var out: [Slice] = []
        while let c = pending[f].first {
            let r0 = cursorRow[f], e0 = cursorError[f]
            var r1 = r0
            do {
                // Rows are in account order: the first at or past `hi`, by bisection.
                let acc = c.store.account
                var lo = r0, up = c.info.rows
                while lo < up {
                    let mid = (lo + up) / 2
                    if acc[mid] < hi { lo = mid + 1 } else { up = mid }
                }
                r1 = lo
            }
            var e1 = e0
            while e1 < c.info.errors.count, c.info.errors[e1].account < hi { e1 += 1 }
            if r1 > r0 || e1 > e0 { out.append(Slice(chunk: c, rows: r0..<r1, errors: e0..<e1)) }
            if r1 == c.info.rows && e1 == c.info.errors.count {
                pending[f].removeFirst()
                cursorRow[f] = 0
                cursorError[f] = 0
            } else {
                cursorRow[f] = r1
                cursorError[f] = e1
                break
            }
        }
        return out
    }

    /// Parses one buffer; nil on a fatal record problem (the whole-file path reports it).
    func parse(_ t: ParseTask) -> StreamChunk? {
        let view = InputFile(borrowing: UnsafeBufferPointer(start: t.buffer.base, count: t.range.upperBound), path: paths[t.file])
        let csv = CSVFile(chunk: view, header: t.header)
        let kind = kinds[t.file]
        let slots = StreamingBatch.rowBound(bytes: t.range.count, columns: t.header.columns.count)
        let chunk = StreamChunk(stats: stats, pool: pool, capacity: slots)
        let st = chunk.store
        do {
            let sink = BatchInput.RowSink(account: st.account, ref: st.ref, x: st.x, y: st.y, side: st.side)
            let info = try BatchInput.parseChunk(csv, t.range, kind: kind, context: context, sink: sink, slots: 0..<slots)
            chunk.info = info
            stats.rowsHeld(info.rows)
            return chunk
        } catch {
            return nil
        }
    }

    /// The book of a block: its accounts, their accounts.csv problems, then their first row problem
    /// by file (balances, positions, orders) and line — the order of the whole-file path.
    func book(_ task: BlockTask) -> Book {
        var b = Book(priced: priced)
        switch task {
        case let .orphans(ids, errors):
            b.accountIds = Array(ids)
            b.spotHedging = [Bool](repeating: false, count: ids.count)
            b.accountErrors = errors.map { Optional($0) }
            let zeros = [Int](repeating: 0, count: ids.count + 1)
            b.balStart = zeros; b.posStart = zeros; b.ordStart = zeros
            var builder = BookBuilder(book: b)
            builder.buildUnitsOfAllAccounts()
            return builder.finish()
        case let .accounts(lo, hi, slices):
            let m = hi - lo
            b.accountIds = Array(table.accountIds[lo..<hi])
            b.spotHedging = Array(table.spotHedging[lo..<hi])
            var errors = m == noErrors.count ? noErrors : [InputError?](repeating: nil, count: m)
            if !table.errors.isEmpty { for a in lo..<hi { errors[a - lo] = table.errors[a] } }
            for f in 0..<3 {
                for s in slices[f] {
                    for e in s.chunk.info.errors[s.errors] where errors[Int(e.account) - lo] == nil {
                        errors[Int(e.account) - lo] = InputError(file: paths[f], record: "line \(s.chunk.lineOffset + e.line) (account \(table.accountIds[Int(e.account)]))",
                                                                 field: e.field, e.message)
                    }
                }
            }
            b.accountErrors = errors
            var rows = [BatchInput.Rows](repeating: BatchInput.Rows(), count: 3)
            for f in 0..<3 {
                var start = [Int](repeating: 0, count: m + 1)
                let total = slices[f].reduce(0) { $0 + $1.rows.count }
                rows[f].ref.reserveCapacity(total)
                rows[f].x.reserveCapacity(total)
                if f != 0 { rows[f].y.reserveCapacity(total) }   // balances have no y column
                start.withUnsafeMutableBufferPointer { start in
                    for s in slices[f] {
                        let st = s.chunk.store, r0 = s.rows.lowerBound, k = s.rows.count
                        for r in s.rows { start[Int(st.account[r]) - lo + 1] += 1 }
                        rows[f].ref.append(contentsOf: UnsafeBufferPointer(start: st.ref + r0, count: k))
                        rows[f].x.append(contentsOf: UnsafeBufferPointer(start: st.x + r0, count: k))
                        if f != 0 { rows[f].y.append(contentsOf: UnsafeBufferPointer(start: st.y + r0, count: k)) }
                        if f == 2 { rows[f].side.append(contentsOf: UnsafeBufferPointer(start: st.side + r0, count: k)) }
                    }
                }
                for a in 0..<m { start[a + 1] += start[a] }
                rows[f].start = start
            }
            b.balStart = rows[0].start; b.balCoin = rows[0].ref; b.balAmount = rows[0].x
            b.posStart = rows[1].start; b.posInstr = rows[1].ref; b.posSize = rows[1].x; b.posEntry = rows[1].y
            b.ordStart = rows[2].start; b.ordInstr = rows[2].ref; b.ordQty = rows[2].x; b.ordPrice = rows[2].y
            b.ordSide = rows[2].side
            var builder = BookBuilder(book: b)
            builder.buildUnitsOfAllAccounts()
            return builder.finish()
        }
    }
}
