import CKernels

/// A batch input folder (docs/formats.md), parsed into per-account row lists ready for `BookBuilder`.
///
/// `accounts.csv` fixes the accounts and their order. The row files are read whole (`InputFile`)
/// and parsed in parallel chunks; symbols, coins and account ids are resolved from the bytes
/// through hash tables built once. Row problems become per-account errors (the first one by file,
/// then line, is kept); structural problems (missing file or column, wrong field count, broken
/// quoting, an account id that is not UTF-8) throw. An account id that appears only in the row
/// files becomes an error account after the `accounts.csv` ones, in order of first appearance
/// (docs/formats.md: every account id seen appears in `margins.csv`).
public struct BatchInput: Sendable {
    /// The input folder read.
    public let directory: String
    /// Account ids in output order: `accounts.csv`'s order, then the orphan ids (docs/formats.md).
    public private(set) var accountIds: [String] = []
    var spotHedging: [Bool] = []
    /// The first problem of each account, or nil.
    var accountErrors: [InputError?] = []
    /// Every row that names an account id absent from accounts.csv (its rows are not margined;
    /// the id itself gets an error account at the end of `accountIds`).
    public private(set) var orphanRows: [InputError] = []
    /// How many accounts at the end of `accountIds` come from ids absent from accounts.csv.
    public private(set) var orphanAccountCount = 0
    /// Per orphan account (in `accountIds` order): where its id first appears (`manifest.json`).
    public private(set) var orphanFirstSeen: [Manifest.OrphanKey] = []
    /// The digest of each input file read (size in bytes, XXH64 seed 0 of its bytes, computed while
    /// reading), in the order read: `accounts.csv`, `balances.csv`, `positions.csv`, then
    /// `orders.csv` when present and not empty. For `manifest.json` (docs/formats.md "Scale-out").
    public internal(set) var digests: [(name: String, digest: InputDigest)] = []

    var balances = Rows()
    var positions = Rows()
    var orders = Rows()

    /// Rows of one file grouped by account: `start[a] ..< start[a+1]`.
    struct Rows: Sendable {
        var start: [Int] = [0]
        var account: [Int32] = []
        var ref: [Int32] = []       // coin id or instrument index
        var x: [Double] = []        // wallet balance, size, or qty
        var y: [Double] = []        // entry price (NaN none) or limit price
        var side: [Int8] = []       // orders only

        var count: Int { account.count }
    }

    /// The number of accounts, orphan error accounts included; 0 for an empty `accounts.csv`.
    public var accountCount: Int { accountIds.count }

    /// Reads `dir` against `priced`. With `shard` (I, N) only accounts whose id hashes to I are kept
    /// (FNV-1a 64 of the id's UTF-8 bytes, modulo N: docs/model.md §11.16) — ids absent from
    /// accounts.csv too.
    public static func load(directory dir: String, priced: PricedMarket, shard: (index: Int, count: Int)? = nil,
                            threads: Int = 2) throws -> BatchInput {
        // The row files are read (pread, digest, change check) on a thread of their own while this
        // thread builds the id table, serially (file order decides duplicates and shards): the
        // table's million inserts and the copy of 540 MB out of the page cache overlap. Only with
        // two or more threads (--threads 1 stays on one core). Costs the memory of the next file
        // earlier than before (docs/readings.md "Batch memory").
        var prefetch: RowFilePrefetch?
        defer { prefetch?.join() }
        let table = try loadAccounts(directory: dir, shard: shard, threads: threads, whileTableBuilds: {
            prefetch = RowFilePrefetch(directory: dir, background: threads >= 2)
        })
        return try load(directory: dir, table: table, rowFiles: prefetch!, priced: priced, shard: shard, threads: threads)
    }

    /// Reads the row files of `dir` against `priced`, accounts.csv having been read into `table`
    /// (the streamed run's table, when its row files turn out not grouped by account).
    static func load(directory dir: String, table: AccountTable, priced: PricedMarket, shard: (index: Int, count: Int)?,
                     threads: Int) throws -> BatchInput {
        let prefetch = RowFilePrefetch(directory: dir, background: threads >= 2)
        defer { prefetch.join() }
        return try load(directory: dir, table: table, rowFiles: prefetch, priced: priced, shard: shard, threads: threads)
    }

    private static func load(directory dir: String, table: AccountTable, rowFiles: RowFilePrefetch, priced: PricedMarket,
                             shard: (index: Int, count: Int)?, threads: Int) throws -> BatchInput {
        var input = BatchInput(directory: dir)
        input.digests.append(("accounts.csv", table.digest))
        input.accountIds = table.accountIds
        input.spotHedging = table.spotHedging
        input.accountErrors = [InputError?](repeating: nil, count: table.accountIds.count)
        for (a, e) in table.errors { input.accountErrors[a] = e }
        let ids = table.ids, keep = table.keep
        let context = RowContext(priced: priced, ids: ids, keep: keep)
        var orphans = Orphans(shard: shard)

        input.balances = try parseRows(CSVFile(file: rowFiles.take(0)!, required: Kind.balances.required), kind: .balances,
                                       context: context, threads: threads, input: &input, orphans: &orphans)
        input.positions = try parseRows(CSVFile(file: rowFiles.take(1)!, required: Kind.positions.required), kind: .positions,
                                        context: context, threads: threads, input: &input, orphans: &orphans)
        // orders.csv may be absent; an empty (0-byte) one counts as absent (docs/formats.md).
        let ordersFile = try rowFiles.take(2)
        if let ordersFile {
            input.orders = try parseRows(CSVFile(file: ordersFile, required: Kind.orders.required), kind: .orders,
                                         context: context, threads: threads, input: &input, orphans: &orphans)
        } else {
            input.orders.start = [Int](repeating: 0, count: input.accountCount + 1)
        }
        // Ids only in the row files: an error account each, after the accounts.csv ones.
        input.accountIds += orphans.ids
        input.spotHedging += [Bool](repeating: false, count: orphans.ids.count)
        input.accountErrors += orphans.errors.map { Optional($0) }
        input.orphanAccountCount = orphans.ids.count
        input.orphanFirstSeen = orphans.firstSeen
        for k in [\BatchInput.balances, \BatchInput.positions, \BatchInput.orders] {
            input[keyPath: k].start += [Int](repeating: input[keyPath: k].start.last!, count: orphans.ids.count)
        }
        return input
    }

    /// accounts.csv read: the id table, the accounts of this shard in file order (duplicates
    /// included, each at its own line's place) and their problems.
    struct AccountTable: Sendable {
        var ids: ByteKeyTable
        /// Per id table entry: its account index in this (sharded) input, or −1 outside the shard.
        var keep: [Int32] = []
        var accountIds: [String] = []
        var spotHedging: [Bool] = []
        /// The accounts.csv problem of each account that has one (sparse: problems are rare).
        var errors: [Int: InputError] = [:]
        var digest: InputDigest
        var count: Int { accountIds.count }
    }

    /// Reads accounts.csv (`whileTableBuilds` is called once the file is read and its header
    /// checked, before the serial id-table pass: the whole-file path starts reading the row files
    /// there). `cancelled` is asked before each chunk (a run that already failed elsewhere stops
    /// early: `AccountsLoadCancelled`).
    ///
    /// The lines are split (ids turned into Strings) in chunks by `threads − 1` helper threads
    /// while this thread builds the id table from the chunks already split, in file order — a
    /// pipeline, so the second core does not idle while the table is built on one. This thread splits a chunk itself only when no helper has taken it yet (with
    /// `--threads 1`: every chunk, split then inserted in turn).
    static func loadAccounts(directory dir: String, shard: (index: Int, count: Int)?, threads: Int,
                             cancelled: @escaping @Sendable () -> Bool = { false },
                             whileTableBuilds: () -> Void = {}) throws -> AccountTable {
        let accountsFile = try CSVFile(path: dir + "/accounts.csv", required: ["account_id", "spot_hedging"])
        let file = (name: accountsFile.name, headerLines: accountsFile.headerLines, digest: InputDigest(accountsFile.file.digest))
        // More chunks than workers: the table waits only for the first chunk to be split, and
        // each chunk's memory goes as soon as it is inserted.
        let splitter = AccountSplitter(accountsFile, chunks: accountsFile.chunks(max(1, threads * 16)), cancelled: cancelled)
        var helpers: [PortableThread] = []
        // No more helpers than chunks the table thread does not split itself (a small file with
        // `--threads 256` spawns none or a few).
        for _ in 0..<min(max(0, threads - 1), max(0, splitter.count - 1)) {
            if let t = PortableThread(start: { splitter.work() }) { helpers.append(t) }
        }
        defer {
            splitter.stop()
            for t in helpers { t.join() }
        }
        var table = AccountTable(ids: ByteKeyTable(capacity: 16), digest: file.digest)
        // The table is sized from the file's line ends (a vector count, ~2 ms at 1M accounts, done
        // while a helper splits the first chunk), not from the records split (those come later
        // now): the same size as before unless blank or multi-line records cross a power of two.
        let data = accountsFile.file.bytes
        var total = 0
        if data.count > accountsFile.dataStart {
            total = pm_count_lines(data.baseAddress! + accountsFile.dataStart, data.count - accountsFile.dataStart)
            if data[data.count - 1] != 10 && data[data.count - 1] != 13 { total += 1 }   // a last line without its end
        }
        var ids = ByteKeyTable(capacity: max(16, total))
        // index in accounts.csv → index in this (sharded) input, or −1 when outside the shard.
        var keep: [Int32] = []
        var firstLineOf: [Int] = []
        keep.reserveCapacity(total)
        firstLineOf.reserveCapacity(total)
        table.accountIds.reserveCapacity(shard == nil ? total : total / max(1, shard!.count) + 16)
        table.spotHedging.reserveCapacity(table.accountIds.capacity)
        // Every accounts.csv line of a duplicated id gets its own error row (docs/formats.md).
        var duplicates: [Int32: (lines: [Int], rows: [Int])] = [:]
        whileTableBuilds()
        var chunkFirstLine = file.headerLines
        for c in 0..<splitter.count {
            // Taken out of the splitter: each chunk's memory goes as soon as it is done.
            guard let (chunk, fatal) = splitter.take(c) else { throw AccountsLoadCancelled() }
            if let e = fatal { throw e.inputError(lineOffset: chunkFirstLine) }
            try chunk.idBytes.withUnsafeBufferPointer { idBase in
                // The slot of the key 8 lines ahead is fetched before this key is inserted, so the
                // cache misses of a large table overlap instead of being waited for one by one
                // (measured: the accounts.csv load 0.33–0.48 s → ~0.2 s at 1M, 2.2–2.5 → 1.2–1.7 s
                // at 5M). `ring` keeps those 8 hashes, computed once.
                let base = idBase.baseAddress ?? emptyKey
                let lines = chunk.lines
                var ring = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
                try withUnsafeMutableBytes(of: &ring) { raw in
                    let ring = raw.bindMemory(to: UInt64.self)
                    func hashAt(_ i: Int) -> UInt64 { ByteKeyTable.wordHash(base + lines[i].idStart, Int(lines[i].idLength)) }
                    for i in 0..<min(8, lines.count) { ring[i] = hashAt(i); ids.prefetch(hash: ring[i]) }
                    for (i, l) in lines.enumerated() {
                        let hash = ring[i & 7]
                        if i + 8 < lines.count { ring[i & 7] = hashAt(i + 8); ids.prefetch(hash: ring[i & 7]) }
                        let lineNo = chunkFirstLine + l.line
                        let idLength = Int(l.idLength)
                        let idBytes = base + l.idStart
                        let (k, inserted) = ids.insert(idBytes, idLength, hash: hash)
                        if !inserted {
                            let first = keep[Int(k)]
                            guard first >= 0 else { continue }   // the id belongs to another shard
                            duplicates[k, default: ([firstLineOf[Int(k)]], [Int(first)])].lines.append(lineNo)
                            duplicates[k]!.rows.append(table.accountIds.count)
                            table.accountIds.append(chunk.ids[i])
                            table.spotHedging.append(false)
                            continue
                        }
                        guard k < Int32.max - 1 else { throw InputError(file: file.name, record: "line \(lineNo)", "too many accounts") }
                        firstLineOf.append(lineNo)
                        if let shard, Int(ByteKeyTable.fnv1a(idBytes, idLength) % UInt64(shard.count)) != shard.index {
                            keep.append(-1)
                            continue
                        }
                        keep.append(Int32(table.accountIds.count))
                        let id = chunk.ids[i]
                        table.accountIds.append(id)
                        table.spotHedging.append(l.hedge == 1)
                        if id.isEmpty {
                            table.errors[table.accountIds.count - 1] = InputError(file: file.name, record: "line \(lineNo)", field: "account_id", "empty account id")
                        } else if let (field, message) = chunk.problems[i] ?? (l.hedge < 0 ? ("spot_hedging", chunk.hedgeProblem[i] ?? "") : nil) {
                            table.errors[table.accountIds.count - 1] = InputError(file: file.name, record: "line \(lineNo) (account \(id))",
                                                                                  field: field, message)
                        }
                    }
                }
            }
            chunkFirstLine += chunk.count
        }
        for (_, d) in duplicates {
            for a in d.rows {
                table.errors[a] = InputError(file: file.name, record: "account \(table.accountIds[a])", field: "account_id",
                                             "duplicate account id (lines \(d.lines.map(String.init).joined(separator: ", ")))")
            }
        }
        table.ids = ids
        table.keep = keep
        return table
    }

    /// One line of accounts.csv: its id's bytes in the chunk's `idBytes`, its chunk-relative line,
    /// its spot_hedging (1 true, 0 false, −1 neither). 24 bytes; the id's String and any problem
    /// are kept beside it (`AccountChunk`).
    struct AccountLine { var idStart: Int; var line: Int; var idLength: Int32; var hedge: Int8 }
    struct AccountChunk {
        var lines: [AccountLine] = []
        var ids: [String] = []
        /// Problems by index in `lines` (rare): invalid UTF-8, or the text of a bad spot_hedging.
        var problems: [Int: (field: String, message: String)] = [:]
        var hedgeProblem: [Int: String] = [:]
        var idBytes: [UInt8] = []
        var count = 0
    }

    /// The chunks of accounts.csv, split into lines by whichever thread takes each first (in
    /// file order), handed to the table builder in file order. The file's bytes are released
    /// once every chunk has been taken (the last split drops them).
    // @unchecked Sendable: `state` only inside `monitor.locked`; `file` and `ranges` read-only
    // (the file's bytes are only read by the splits).
    final class AccountSplitter: @unchecked Sendable {
        let ranges: [Range<Int>]
        var count: Int { ranges.count }
        private let cancelled: @Sendable () -> Bool
        private let monitor = Monitor()
        // Inside `monitor.locked` only.
        private var file: CSVFile?
        private var next = 0
        private var stopped = false
        private var done: [(AccountChunk, CSVRecordError?)?]

        init(_ file: CSVFile, chunks: [Range<Int>], cancelled: @escaping @Sendable () -> Bool) {
            self.file = file
            ranges = chunks
            self.cancelled = cancelled
            done = [(AccountChunk, CSVRecordError?)?](repeating: nil, count: chunks.count)
            if chunks.isEmpty { self.file = nil }
        }

        /// The next chunk nobody took (only if it is `only`, when given), and the file to split it
        /// from; nil when none is left.
        private func claim(only: Int? = nil) -> (Int, CSVFile)? {
            monitor.locked {
                guard !stopped, next < ranges.count, only == nil || next == only, let f = file else { return nil }
                let c = next
                next += 1
                if next == ranges.count { file = nil }   // the last chunk's split holds the bytes
                return (c, f)
            }
        }

        private func split(_ c: Int, _ f: CSVFile) {
            let r = cancelled() ? (AccountChunk(), nil) : BatchInput.splitAccounts(f, ranges[c])
            monitor.locked { done[c] = r; monitor.broadcast() }
        }

        /// A helper thread: splits chunks until none is left.
        func work() {
            while let (c, f) = claim() { split(c, f) }
        }

        /// Chunk `c` (split here if no helper took it yet), taken out; nil when cancelled.
        func take(_ c: Int) -> (AccountChunk, CSVRecordError?)? {
            if cancelled() { return nil }
            if let (_, f) = claim(only: c) { split(c, f) }
            let r = monitor.locked { () -> (AccountChunk, CSVRecordError?) in
                monitor.wait { done[c] != nil }
                defer { done[c] = nil }
                return done[c]!
            }
            return cancelled() ? nil : r
        }

        /// No more chunks are taken (the table builder stopped early).
        func stop() { monitor.locked { stopped = true; file = nil } }
    }

    /// `loadAccounts` stopped because the run failed elsewhere (its result is not used).
    struct AccountsLoadCancelled: Error {}

    /// One chunk of accounts.csv split into lines (ids turned into Strings there too). Each chunk
    /// copies its ids' bytes (a quoted id is unescaped into a scratch buffer the next line reuses).
    fileprivate static func splitAccounts(_ accountsFile: CSVFile, _ range: Range<Int>) -> (AccountChunk, CSVRecordError?) {
        let cId = accountsFile.column("account_id")!, cHedge = accountsFile.column("spot_hedging")!
        var chunk = AccountChunk()
        var fatal: CSVRecordError?
        let lines = pm_count_lines(accountsFile.file.bytes.baseAddress! + range.lowerBound, range.count)
        chunk.lines.reserveCapacity(lines)
        chunk.ids.reserveCapacity(lines)
        do {
            chunk.count = try accountsFile.forEachLine(in: range) { line, f in
                let idf = f[cId], h = f[cHedge]
                if !accountsFile.isValidUTF8 {
                    // An id that is not UTF-8 cannot be written out as itself: fatal.
                    if pm_utf8_valid(idf.0, idf.1) == 0 {
                        throw CSVSyntaxError(file: accountsFile.name, line: line, field: "account_id", "invalid UTF-8 in the account id \(fieldEcho(idf))")
                    }
                    if let bad = accountsFile.invalidUTF8Field(f) {
                        chunk.problems[chunk.lines.count] = (accountsFile.columns[bad], "invalid UTF-8: \(fieldEcho(f[bad]))")
                    }
                }
                let hedge: Int8 = h.1 == 4 && memEqual(h.0, trueBytes, 4) ? 1 : (h.1 == 5 && memEqual(h.0, falseBytes, 5) ? 0 : -1)
                if hedge < 0 { chunk.hedgeProblem[chunk.lines.count] = "expected true or false, got \(fieldEcho(h))" }
                chunk.lines.append(AccountLine(idStart: chunk.idBytes.count, line: line, idLength: Int32(truncatingIfNeeded: idf.1), hedge: hedge))
                chunk.ids.append(fieldText(idf))
                chunk.idBytes.append(contentsOf: UnsafeBufferPointer(start: idf.0, count: idf.1))
            }
        } catch { fatal = error as? CSVRecordError }
        return (chunk, fatal)
    }

    /// balances.csv, positions.csv and orders.csv (nil when absent or empty: docs/formats.md), read in
    /// that order on a background thread or, without one, when taken. Errors surface at `take`, so
    /// they come in the same order as reading each file when its turn comes.
    // @unchecked Sendable: `results` only inside `monitor` (written by the reading thread, taken by
    // the caller); `dir` and `oneThread` are `let`s; `thread` is the caller's own.
    final class RowFilePrefetch: @unchecked Sendable {
        private let dir: String
        private let monitor = Monitor()
        private var results: [Result<InputFile?, Error>?] = [nil, nil, nil]
        private var thread: PortableThread?
        private let oneThread: Bool

        init(directory: String, background: Bool) {
            dir = directory
            oneThread = !background
            if background {
                thread = PortableThread { [self] in
                    for k in 0..<3 {
                        let r = Result { try self.read(k) }
                        monitor.locked { results[k] = r; monitor.broadcast() }
                        if case .failure = r { break }   // the next take throws; nothing more to read
                    }
                }
            }
        }

        private func read(_ k: Int) throws -> InputFile? {
            // With --threads 1 a large file is copied by this one thread too (one core throughout).
            let parallelAbove = oneThread ? Int.max : InputFile.parallelThreshold
            switch k {
            case 0: return try InputFile(path: dir + "/balances.csv", parallelAbove: parallelAbove)
            case 1: return try InputFile(path: dir + "/positions.csv", parallelAbove: parallelAbove)
            default:
                // orders.csv may be absent; an empty (0-byte) one counts as absent (docs/formats.md).
                let path = dir + "/orders.csv"
                guard FileSystem.mayExist(path) else { return nil }
                let f = try InputFile(path: path, parallelAbove: parallelAbove)
                return f.bytes.count > 0 ? f : nil
            }
        }

        /// File `k` (0 balances, 1 positions, 2 orders); the prefetcher drops its reference.
        func take(_ k: Int) throws -> InputFile? {
            if thread == nil { return try read(k) }
            let r = monitor.locked { () -> Result<InputFile?, Error> in
                monitor.wait { results[k] != nil || (k > 0 && isFailure(results[k - 1])) }
                defer { results[k] = nil }
                return results[k] ?? .failure(InputError(file: dir, "not read"))
            }
            return try r.get()
        }

        private func isFailure(_ r: Result<InputFile?, Error>??) -> Bool {
            if case .some(.some(.failure)) = r { return true }
            return false
        }

        func join() {
            thread?.join()
            thread = nil
        }
    }

    /// Account ids found in the row files but not in accounts.csv, in order of first appearance
    /// (balances.csv, then positions.csv, then orders.csv; file order within each).
    struct Orphans {
        let shard: (index: Int, count: Int)?
        var table = ByteKeyTable(capacity: 16)
        /// Per table entry: whether the id belongs to this shard.
        var inShard: [Bool] = []
        var ids: [String] = []
        var errors: [InputError] = []
        /// Per id of `ids`: its first row (file, line), for `manifest.json` (`pm merge` orders by it).
        var firstSeen: [Manifest.OrphanKey] = []

        /// Records the orphan rows of `chunk` (of file `file`, row file `kind`, whose first line is
        /// `firstLine`): a new id gets its error account; every row of an id of this shard an orphan row.
        mutating func add(_ chunk: Chunk, file: String, kind: Kind, firstLine: Int, rows: inout [InputError]) {
            chunk.orphanBytes.withUnsafeBufferPointer { ob in
                for o in chunk.orphans {
                    let id = ((ob.baseAddress ?? emptyKey) + o.start, o.length)
                    let (k, inserted) = table.insert(id.0, id.1)
                    if inserted {
                        let mine = shard.map { Int(ByteKeyTable.fnv1a(id.0, id.1) % UInt64($0.count)) == $0.index } ?? true
                        inShard.append(mine)
                        if mine {
                            ids.append(fieldText(id))
                            firstSeen.append(Manifest.OrphanKey(file: kind.index, line: firstLine + o.line))
                            errors.append(InputError(file: file, record: "line \(firstLine + o.line)", field: "account_id",
                                                     "account \(fieldEcho(id)) is not in accounts.csv (its first row is here); none of its rows is margined"))
                        }
                    }
                    if inShard[Int(k)] {
                        rows.append(InputError(file: file, record: "line \(firstLine + o.line)", field: "account_id",
                                               "account \(fieldEcho(id)) is not in accounts.csv; row not margined"))
                    }
                }
            }
        }
    }

    enum Kind {
        case balances, positions, orders
        var fileName: String { self == .balances ? "balances.csv" : (self == .positions ? "positions.csv" : "orders.csv") }
        /// The file's place in `Manifest.OrphanKey.files` (the order the files are read in).
        var index: Int { self == .balances ? 0 : (self == .positions ? 1 : 2) }
        var required: [String] {
            switch self {
            case .balances: return ["account_id", "coin", "wallet_balance"]
            case .positions: return ["account_id", "symbol", "size"]
            case .orders: return ["account_id", "symbol", "side", "qty", "price"]
            }
        }
    }

    struct RowContext: Sendable {
        let priced: PricedMarket
        let ids: ByteKeyTable
        let keep: [Int32]
        /// Per instrument: whether it can be margined (`PricedMarket.resolve` succeeds), looked up
        /// once here instead of a call per row; the message of one that cannot is still made by
        /// `resolve`.
        let instrumentOK: [Bool]
        /// The symbol and coin tables' keys inline (`ShortKeyTable`: the per-row lookup, same answers).
        let symbols: ShortKeyTable
        let coins: ShortKeyTable
        init(priced: PricedMarket, ids: ByteKeyTable, keep: [Int32]) {
            self.priced = priced
            self.ids = ids
            self.keep = keep
            instrumentOK = priced.problem.map { $0 == nil }
            symbols = ShortKeyTable(priced.symbolTable)
            coins = ShortKeyTable(priced.coinTable)
        }
    }

    /// One chunk's problems (with chunk-relative lines) and its line count. Its rows go straight
    /// into its slice of the file's arrays (`RowSink`).
    struct Chunk {
        var errors: [(account: Int32, line: Int, field: String, message: String)] = []
        /// Rows whose account id is not in accounts.csv: line and the id's bytes in `orphanBytes`.
        var orphans: [(line: Int, start: Int, length: Int)] = []
        var orphanBytes: [UInt8] = []
        var lines = 0
        /// Rows written (at the start of the chunk's slots).
        var rows = 0
        /// The first and the largest account index of the chunk's rows, problem rows included
        /// (−1: none), and whether those indexes never decrease (the streaming path's test of a
        /// file grouped in accounts.csv order: docs/performance.md "Batch memory").
        var firstAccount: Int32 = -1
        var lastAccount: Int32 = -1
        var ordered = true
    }

    private static func parseRows(_ csv: CSVFile, kind: Kind, context: RowContext, threads: Int,
                                  input: inout BatchInput, orphans: inout Orphans) throws -> Rows {
        input.digests.append((kind.fileName, InputDigest(csv.file.digest)))
        let ranges = csv.chunks(max(1, threads * 4))
        // Lines per chunk bound its rows, so every chunk writes into its own slice of one array
        // (no per-chunk arrays to concatenate). Slots of lines that give no row are marked −1.
        let base = csv.file.bytes.baseAddress
        let lineCounts = ranges.map { pm_count_lines(base! + $0.lowerBound, $0.count) }
        var slotStart = [0]
        for c in lineCounts { slotStart.append(slotStart.last! + c) }
        let total = slotStart.last!
        var rows = Rows()
        rows.account = [Int32](repeating: -1, count: total)
        rows.ref = .uninitialized(count: total)
        rows.x = .uninitialized(count: total)
        rows.y = .uninitialized(count: total)
        if kind == .orders { rows.side = .uninitialized(count: total) }
        var chunks = [Chunk](repeating: Chunk(), count: ranges.count)
        var fatal = [CSVRecordError?](repeating: nil, count: ranges.count)
        rows.account.withUnsafeMutableBufferPointer { acc in
        rows.ref.withUnsafeMutableBufferPointer { ref in
        rows.x.withUnsafeMutableBufferPointer { xs in
        rows.y.withUnsafeMutableBufferPointer { ys in
        rows.side.withUnsafeMutableBufferPointer { side in
            let sink = RowSink(account: acc.baseAddress, ref: ref.baseAddress, x: xs.baseAddress, y: ys.baseAddress, side: side.baseAddress)
            chunks.withUnsafeMutableBufferPointer { chunkBuffer in
                fatal.withUnsafeMutableBufferPointer { fatalBuffer in
                    // Chunk c writes only slot c of each (DisjointSlots), and its rows only at its own slots.
                    let out = DisjointSlots(chunkBuffer), fat = DisjointSlots(fatalBuffer), slotStart = slotStart
                    Workers.forEach(ranges.count, threads: threads) { c in
                        do {
                            out[c] = try parseChunk(csv, ranges[c], kind: kind, context: context, sink: sink,
                                                    slots: slotStart[c]..<slotStart[c + 1])
                        } catch { fat[c] = error as? CSVRecordError }
                    }
                }
            }
        } } } } }
        // Line numbers: the header's lines first; each chunk starts after the lines of the ones before it.
        var firstLine = csv.headerLines
        for (c, chunk) in chunks.enumerated() {
            // The chunk counted lines from its own start; earlier chunks give the offset.
            if let e = fatal[c] { throw e.inputError(lineOffset: firstLine) }
            for e in chunk.errors where input.accountErrors[Int(e.account)] == nil {
                input.accountErrors[Int(e.account)] = InputError(file: csv.name, record: "line \(firstLine + e.line) (account \(input.accountIds[Int(e.account)]))",
                                                                 field: e.field, e.message)
            }
            orphans.add(chunk, file: csv.name, kind: kind, firstLine: firstLine, rows: &input.orphanRows)
            firstLine += chunk.lines
        }
        return group(rows, accounts: input.accountCount)
    }

    /// Where a chunk writes its rows: the file's arrays, at the chunk's slots.
    // @unchecked Sendable: the pointers are the arrays' buffers, alive for the whole parallel parse
    // (taken inside their `withUnsafeMutableBufferPointer`); chunk c writes only its own slots
    // `slotStart[c]..<slotStart[c+1]`, so no two workers touch one element; the arrays are read only
    // after the parallel parse has joined its workers.
    struct RowSink: @unchecked Sendable {
        let account: UnsafeMutablePointer<Int32>?
        let ref: UnsafeMutablePointer<Int32>?
        let x: UnsafeMutablePointer<Double>?
        let y: UnsafeMutablePointer<Double>?
        let side: UnsafeMutablePointer<Int8>?
    }

    static func parseChunk(_ csv: CSVFile, _ range: Range<Int>, kind: Kind, context: RowContext,
                                   sink: RowSink, slots: Range<Int>) throws -> Chunk {
        var chunk = Chunk()
        var slot = slots.lowerBound
        let p = context.priced
        let cAcc = csv.column("account_id")!
        let cRef = csv.column(kind == .balances ? "coin" : "symbol")!
        let cX = csv.column(kind == .balances ? "wallet_balance" : (kind == .positions ? "size" : "qty"))!
        let cY = kind == .positions ? csv.column("entry_price") : (kind == .orders ? csv.column("price") : nil)
        let cSide = kind == .orders ? csv.column("side") : nil
        let xName = csv.columns[cX], yName = cY.map { csv.columns[$0] } ?? ""
        let refTable = kind == .balances ? p.coinTable : p.symbolTable
        let shortRefs = kind == .balances ? context.coins : context.symbols
        // Fields of unquoted records point into the file's bytes, readable up to `bytesEnd`: the
        // word-at-a-time readers (`FastNumber.short`, `ShortKeyTable.find`) may load a few bytes
        // past a field there. A quoted record's fields (a scratch buffer) get no slack (`end` =
        // the field's start), so those readers take their byte-wise paths.
        let bytesStart = csv.file.bytes.baseAddress!, bytesEnd = bytesStart + csv.file.bytes.count
        @inline(__always) func readableEnd(_ q: UnsafePointer<UInt8>) -> UnsafePointer<UInt8> {
            q >= bytesStart && q < bytesEnd ? bytesEnd : q
        }
        // Not inlined by the compiler (the closure is large), and better so: forcing it in (the
        // byte loop moved out of line) measured ~4% more parse time on the 1M book — register
        // pressure in the row loop.
        // NaN for "not a number" (FastNumber's values are always finite): returned in a vector
        // register, where an optional Double went through an integer one and back.
        @inline(__always) func number(_ f: (UnsafePointer<UInt8>, Int)) -> Double {
            FastNumber.parse(f.0, f.1, readableTo: readableEnd(f.0)) ?? .nan
        }
        let instrumentOK = context.instrumentOK
        let checkUTF8 = !csv.isValidUTF8
        // Consecutive rows usually share an account (and often a symbol): remember the last lookup
        // as a table index and compare the field with the table's copy of that key (never with a
        // pointer to an earlier field: a quoted field lives in a scratch buffer the next quoted
        // line overwrites).
        var lastAcc: Int32 = -1
        var lastRef: Int32 = -1
        // Whether to try `lastRef` first: a position's symbol is rarely the previous row's (an
        // account holds different instruments), so after a miss the compare is skipped until a
        // row's symbol is the previous one again (the lookup's answer is the same either way).
        var tryLastRef = true
        var firstAccount: Int32 = -1, lastAccount: Int32 = -1, ordered = true
        chunk.lines = try csv.forEachRecord(in: range) { line, f, nonASCII in
            let acc = f[cAcc]
            // The first number is parsed first (it is only looked at where the checks below reach
            // it): its division's latency then overlaps the account and symbol lookups.
            let x = number(f[cX])
            var badField: Int?
            // Only a record with a byte ≥ 0x80 can be invalid UTF-8 (an ASCII field is valid).
            if checkUTF8 && nonASCII {
                // An id that is not UTF-8 cannot be written out as itself: fatal.
                if pm_utf8_valid(acc.0, acc.1) == 0 {
                    throw CSVSyntaxError(file: csv.name, line: line, field: "account_id", "invalid UTF-8 in the account id \(fieldEcho(acc))")
                }
                badField = csv.invalidUTF8Field(f)
            }
            var k: Int32
            if lastAcc >= 0, context.ids.matches(Int(lastAcc), acc.0, acc.1) { k = lastAcc } else {
                // Files usually follow accounts.csv: try the next few accounts before hashing (the
                // hash probe of a million-entry table is a cache miss; this scan streams).
                // orders.csv skips accounts without orders: in a generated 1M book 84% of its
                // account changes are ≤ 8 ahead, 96% ≤ 16.
                k = context.ids.scan(from: Int(lastAcc) + 1, count: 16, acc.0, acc.1)
                if k < 0 { k = context.ids.find(acc.0, acc.1) }
                lastAcc = k
            }
            if k < 0 {
                chunk.orphans.append((line, chunk.orphanBytes.count, acc.1))
                chunk.orphanBytes.append(contentsOf: UnsafeBufferPointer(start: acc.0, count: acc.1))
                return
            }
            let a = context.keep[Int(k)]
            guard a >= 0 else { return }   // another shard's account
            // Locals, not `chunk`'s fields: `chunk` is captured by `fail`, so each access to it
            // is checked at run time (measured: 6% of a streamed run's CPU).
            if a < lastAccount { ordered = false } else { lastAccount = a }
            if firstAccount < 0 { firstAccount = a }
            func fail(_ field: String, _ message: String) { chunk.errors.append((a, line, field, message)) }
            if let badField { fail(csv.columns[badField], "invalid UTF-8: \(fieldEcho(f[badField]))"); return }
            // Resolve the coin or symbol.
            let refField = f[cRef]
            var ref: Int32
            if tryLastRef, lastRef >= 0, refTable.matches(Int(lastRef), refField.0, refField.1) { ref = lastRef } else {
                ref = shortRefs.find(refField.0, refField.1, readableTo: readableEnd(refField.0)) ?? refTable.find(refField.0, refField.1)
                tryLastRef = ref == lastRef
                lastRef = ref
            }
            if ref < 0 {
                if kind == .balances {
                    let text = refField.1 <= 64 ? fieldText(refField) : ""
                    fail("coin", p.market.indexPrices[text] != nil ? p.coinProblem(text)
                                 : "unknown coin \(fieldEcho(refField)) (no index price in the market snapshot)")
                } else {
                    fail("symbol", "unknown instrument \(fieldEcho(refField)) (not in the market snapshot)")
                }
                return
            }
            if kind != .balances, !instrumentOK[Int(ref)], case let .failure(e) = p.resolve(instrumentAt: Int(ref)) { fail("symbol", e.message); return }
            // FastNumber never gives a non-finite value (NaN, inf and overflow are not numbers here).
            guard x.isFinite else {
                fail(xName, "expected a finite number, got \(fieldEcho(f[cX]))"); return
            }
            var y = Double.nan
            var side: Int8 = 0
            switch kind {
            case .balances: break
            case .positions:
                // Only an empty cell means "no entry price" (docs/formats.md); `NaN` text is an error.
                if let cY, f[cY].1 > 0 {
                    let e = number(f[cY])
                    guard e.isFinite else {
                        fail(yName, "expected a finite number or an empty cell, got \(fieldEcho(f[cY]))"); return
                    }
                    y = e
                }
                if !RowRules.positionOK(size: x, entryPrice: y.isNaN ? nil : y),
                   let (field, message) = RowRules.position(size: x, entryPrice: y.isNaN ? nil : y) {
                    fail(field == "entryPrice" ? yName : xName, message); return
                }
            case .orders:
                let s = f[cSide!]
                if s.1 == 3 && s.0[0] == 66 && s.0[1] == 117 && s.0[2] == 121 { side = 1 }                       // Buy
                else if s.1 == 4 && s.0[0] == 83 && s.0[1] == 101 && s.0[2] == 108 && s.0[3] == 108 { side = -1 } // Sell
                else { fail("side", "expected Buy or Sell, got \(fieldEcho(s))"); return }
                let pr = number(f[cY!])
                guard pr.isFinite else {
                    fail(yName, "expected a finite number, got \(fieldEcho(f[cY!]))"); return
                }
                y = pr
                if !RowRules.orderOK(qty: x, price: y), let (field, message) = RowRules.order(qty: x, price: y) { fail(field == "qty" ? xName : yName, message); return }
            }
            guard slot < slots.upperBound else { return }   // cannot happen: a row per line at most
            sink.account![slot] = a
            sink.ref![slot] = ref
            sink.x![slot] = x
            sink.y![slot] = y
            if kind == .orders { sink.side![slot] = side }
            slot += 1
        }
        chunk.rows = slot - slots.lowerBound
        chunk.firstAccount = firstAccount
        chunk.lastAccount = lastAccount
        chunk.ordered = ordered
        return chunk
    }

    /// Groups rows by account, stably (file order kept within an account), dropping the slots of
    /// lines that gave no row (account −1). Rows already in account order with no such slots — the
    /// usual layout — are not moved.
    private static func group(_ rows: Rows, accounts n: Int) -> Rows {
        var counts = [Int](repeating: 0, count: n + 1)
        var inPlace = true
        var last: Int32 = -1
        for a in rows.account {
            if a < 0 { inPlace = false; continue }
            counts[Int(a) + 1] += 1
            if a < last { inPlace = false }
            last = a
        }
        for a in 0..<n { counts[a + 1] += counts[a] }
        if inPlace {
            var out = rows
            out.start = counts
            return out
        }
        let kept = counts[n]
        var out = Rows()
        out.start = counts
        out.account = [Int32](repeating: 0, count: kept); out.ref = out.account
        out.x = [Double](repeating: 0, count: kept); out.y = out.x
        let hasSide = !rows.side.isEmpty
        if hasSide { out.side = [Int8](repeating: 0, count: kept) }
        var next = Array(counts[0..<n])
        for r in 0..<rows.count where rows.account[r] >= 0 {
            let a = Int(rows.account[r])
            let d = next[a]
            next[a] += 1
            out.account[d] = rows.account[r]; out.ref[d] = rows.ref[r]; out.x[d] = rows.x[r]; out.y[d] = rows.y[r]
            if hasSide { out.side[d] = rows.side[r] }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The three constant keys below: `nonisolated(unsafe)` because a pointer is not `Sendable`; safe
// because the bytes are written once, in the global's initializer (run once, thread-safely, by
// Swift's lazy global initialization), and only read after.
/// A valid address for a zero-length key (an empty array may have no storage).
nonisolated(unsafe) private let emptyKey: UnsafePointer<UInt8> = UnsafePointer(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))
// nonisolated(unsafe): as `emptyKey`, written once in its initializer, then only read.
nonisolated(unsafe) private let trueBytes: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 4)
    p.initialize(from: Array("true".utf8), count: 4)
    return UnsafePointer(p)
}()
// nonisolated(unsafe): as `emptyKey`, written once in its initializer, then only read.
nonisolated(unsafe) private let falseBytes: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 5)
    p.initialize(from: Array("false".utf8), count: 5)
    return UnsafePointer(p)
}()
