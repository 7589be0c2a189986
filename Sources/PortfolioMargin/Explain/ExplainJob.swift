#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One day-over-day explanation (docs/model.md §14 "Explain"), as a value: the two days' input
/// folders, market snapshots and parameter files, the output folder and how to run. ``run()`` is
/// the whole of `pm explain` (the command only parses its arguments into a job and prints the
/// ``ExplainReport``).
///
/// Each day's folder is read once (``BatchInput/load(directory:priced:shard:threads:)``). The engine
/// then runs four times over the two parsed books, block by block: the before book `B0` under
/// (before market, before parameters), (after market, before parameters) and (after market, after
/// parameters) — its instrument ids moved to the after market's layout once, the third pricing a
/// `Book.repriced` of the second's book when the parameters keep the layout — and the after book
/// `B1` under (after market, after parameters). An after folder that holds the before folder's
/// bytes (and a before book without errors, ``isSameBook(_:on:pricedAs:after:beforeDirectory:afterDirectory:)``) is not read
/// again: `B1` is `B0`, and its pricing is the third. `explain.csv`, `explain-units.csv` and
/// `manifest.json` are written all three or none (``OutputFiles``).
public struct ExplainJob {
    /// One day: its input folder (docs/formats.md "Batch input"), market snapshot and parameter file.
    public struct Day: Sendable {
        /// The input folder: accounts.csv, balances.csv, positions.csv and (optional) orders.csv.
        public var input: String
        /// The market snapshot file.
        public var market: String
        /// The parameters: a file, or the shipped set.
        public var parameters: ParameterSource
        /// A day of these three inputs.
        public init(input: String, market: String, parameters: ParameterSource) {
            self.input = input
            self.market = market
            self.parameters = parameters
        }
    }

    /// The before day (`B0`, `M0`, `P0`).
    public var before: Day
    /// The after day (`B1`, `M1`, `P1`).
    public var after: Day
    /// The output folder (created if missing) for explain.csv, explain-units.csv and manifest.json.
    public var output: String
    /// Worker threads (blocks in parallel), exactly.
    public var threads = 2
    /// Accounts per block of work; the outputs do not depend on it.
    public var blockSize = BatchRunner.defaultBlockSize
    /// The aggregation path.
    public var options = EngineOptions()
    /// How many rows ``ExplainReport/largest`` and ``ExplainReport/stageMoves`` keep.
    public var top = 10
    /// Whether an after folder whose files are the before folder's bytes is taken as the before
    /// book (``isSameBook(_:on:pricedAs:after:beforeDirectory:afterDirectory:)``); off only in the tests that check it changes nothing.
    var reuseIdenticalAfterBook = true

    /// A job with the default threads, block size, engine options and `top`.
    public init(before: Day, after: Day, output: String) {
        self.before = before
        self.after = after
        self.output = output
    }
}

/// What an explanation found: counts, the largest MM changes, the stage moves and the digests
/// written to `manifest.json`.
public struct ExplainReport: Sendable {
    /// One row of `explain.csv`, as text (the numbers exactly as written).
    public struct Row: Sendable, Equatable {
        /// The account id.
        public var accountId: String
        /// `both`, `new` or `gone`.
        public var status: String
        /// `mm_before`, `mm_after`, `mm_change`, `market`, `parameters`, `positions` (empty when unknown).
        public var mmBefore, mmAfter, mmChange, market, parameters, positions: String
        /// `stage_before`, `stage_after` (empty when unknown).
        public var stageBefore, stageAfter: String
    }
    /// Rows of explain.csv (accounts of either day).
    public var accounts = 0
    /// Rows with status `both`, `new`, `gone`.
    public var both = 0, new = 0, gone = 0
    /// Rows that carry an error (either day, or the before book under the after market).
    public var errors = 0
    /// Rows of explain-units.csv.
    public var units = 0
    /// Accounts on both days whose stage differs (both stages known).
    public var stageMoveCount = 0
    /// The accounts on both days with the largest |MM change|, largest first (ties: file order);
    /// at most ``ExplainJob/top``.
    public var largest: [Row] = []
    /// The first stage moves in file order; at most ``ExplainJob/top``.
    public var stageMoves: [Row] = []
    /// Seconds from the start of ``ExplainJob/run()`` to the output committed.
    public var seconds = 0.0
    /// The input digests written to manifest.json (`before/…`, then `after/…`).
    public var inputs: [(name: String, digest: InputDigest)] = []
    /// The digests of explain.csv and explain-units.csv as written.
    public var outputs: [(name: String, digest: InputDigest)] = []
    /// Whether the after folder was found to be the before book (not read or priced again).
    var afterBookReused = false
}

extension ExplainJob {
    /// The files written to ``output``, in ``OutputFiles`` order.
    static let outputNames = ["explain.csv", "explain-units.csv", "manifest.json"]
    /// The header of explain.csv (docs/formats.md), newline included.
    static let accountsHeader = "account_id,status,mm_before,mm_after,mm_change,market,parameters,positions,im_before,im_after,"
        + "stage_before,stage_after,im_change,im_market,im_parameters,im_positions,error\n"
    /// The header of explain-units.csv (docs/formats.md), newline included.
    static let unitsHeader = "account_id,base_coin,status,mm_before,mm_after,mm_change,market,parameters,positions,im_before,im_after,"
        + "im_change,im_market,im_parameters,im_positions,error\n"

    /// Runs the explanation. Throws the inputs' problems (an `InputError` and the like, whose text is
    /// the message to print) and ``BatchOutputError``; nothing is left in ``output`` then.
    public func run() throws -> ExplainReport {
        let start = BatchJob.now()
        let threads = max(1, self.threads), blockSize = max(1, self.blockSize)
        let (p0, p0Digest) = try before.parameters.loadWithDigest()
        let (m0, m0Digest) = try MarketSnapshot.loadWithDigest(path: before.market)
        let (p1, p1Digest) = try after.parameters.loadWithDigest()
        let (m1, m1Digest) = try MarketSnapshot.loadWithDigest(path: after.market)
        let priced00 = PricedMarket(market: m0, parameters: p0)
        let priced10 = PricedMarket(market: m1, parameters: p0)
        let priced11 = PricedMarket(market: m1, parameters: p1)
        // Open (and check) the output folder before the work: a refused folder costs nothing.
        let writer = try OutputFiles(directory: output, names: Self.outputNames)
        do {
            let input0 = try BatchInput.load(directory: before.input, priced: priced00, threads: threads)
            // B0 on the after market's layout, once; under the after parameters too only when they
            // change the layout (spot hedging eligibility, an instrument they make unusable).
            let relaid10 = input0.relaid(from: priced00, to: priced10, targetName: "the after market \(after.market)")
            let relaid11 = priced11.hasLayout(of: priced10) ? nil
                : input0.relaid(from: priced00, to: priced11, targetName: "the after market \(after.market) under the after parameters")
            // The after folder holding the before folder's bytes (`sameBook`): B1 is B0, and B1 under
            // (M1, P1) is the before book's third pricing — neither read nor priced again.
            let sameBook = reuseIdenticalAfterBook
                && Self.isSameBook(input0, on: relaid11 ?? relaid10, pricedAs: relaid11 == nil ? priced10 : priced11,
                                   after: priced11, beforeDirectory: before.input, afterDirectory: after.input)
            let input1 = sameBook ? nil : try BatchInput.load(directory: after.input, priced: priced11, threads: threads)
            let ids1 = input1?.accountIds ?? input0.accountIds
            let runs0 = Self.runBefore(input0, relaid10, relaid11, priced00, priced10, priced11,
                                       repriceBefore: Self.keepsBook(priced00, priced10),
                                       threads: threads, blockSize: blockSize, options: options)
            let run1 = input1.map { Self.runAfter($0, priced11, threads: threads, blockSize: blockSize, options: options) } ?? runs0.2
            let rows = Self.join(before: input0.accountIds, after: ids1)
            var report = ExplainReport()
            report.afterBookReused = sameBook
            report.inputs = input0.digests.map { ("before/" + $0.name, $0.digest) }
                + [("before/market", m0Digest), ("before/params", p0Digest)]
                + (input1 ?? input0).digests.map { ("after/" + $0.name, $0.digest) }
                + [("after/market", m1Digest), ("after/params", p1Digest)]
            let figures = ExplainFigures(ids0: input0.accountIds, ids1: ids1, runs: [runs0.0, runs0.1, runs0.2, run1])
            try Self.writing {
                try writer.write(0, Array(Self.accountsHeader.utf8))
                try writer.write(1, Array(Self.unitsHeader.utf8))
                try ExplainOutput.write(rows: rows, figures: figures, threads: threads, top: max(0, top), report: &report) { a, u in
                    try writer.write(0, a)
                    try writer.write(1, u)
                }
                report.outputs = [("explain.csv", writer.digest(0)), ("explain-units.csv", writer.digest(1))]
                let manifest = Manifest(shard: nil, accounts: report.accounts, errors: report.errors,
                                        inputs: report.inputs, outputs: report.outputs)
                try writer.write(2, manifest.json)
                try writer.commit()
            }
            report.seconds = BatchJob.now() - start
            return report
        } catch let e as StreamingBatch.SinkError {
            writer.abandon()
            throw BatchOutputError(folder: output, underlying: e.underlying)
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Whether the after folder's book is `input0` itself, so that reading it against the after
    /// pricing would give exactly `relaid` (the before book moved to that pricing's layout) and its
    /// pricing would give the before book's third pricing, figure for figure. That holds when
    ///  - the after folder's files are the before folder's bytes: the same files present
    ///    (orders.csv absent or empty on both), of the same size and XXH64 as the before files
    ///    read — the digests `manifest.json` lists for both days then are the same too — and, unless
    ///    they are the very files read (same device and inode), equal byte for byte to the before
    ///    files (a hash match alone could be a collision made on purpose);
    ///  - the before book has no error account and no orphan row: every row was read and no
    ///    message names the before folder or depends on the before market (a symbol unknown
    ///    there, an instrument it cannot margin, a coin without an index price);
    ///  - no row of it is an error under the after pricing (`relaid`, the book moved to `relaidPricing`,
    ///    has no error, and every instrument `relaidPricing` can margin `after` can margin too —
    ///    the same layout may still differ there: parameters that make a risk array overflow):
    ///    every symbol and coin resolves there, as the reader would have resolved it.
    /// A book with positions changed (other bytes) or with any error is read and priced as before.
    static func isSameBook(_ input0: BatchInput, on relaid: BatchInput, pricedAs relaidPricing: PricedMarket,
                           after: PricedMarket, beforeDirectory: String, afterDirectory dir: String) -> Bool {
        guard input0.orphanRows.isEmpty, !relaid.accountErrors.contains(where: { $0 != nil }) else { return false }
        func usable(_ p: PricedMarket, _ i: Int) -> Bool { if case .success = p.resolve(instrumentAt: i) { return true }; return false }
        guard relaidPricing === after
                || relaidPricing.market.instruments.indices.allSatisfy({ !usable(relaidPricing, $0) || usable(after, $0) })
        else { return false }
        let expected = input0.digests
        var names = ["accounts.csv", "balances.csv", "positions.csv"]
        // orders.csv may be absent; an empty (0-byte) one counts as absent (BatchInput.load).
        if FileSystem.mayExist(dir + "/orders.csv") { names.append("orders.csv") }
        // Sizes first (a stat each): a changed book is usually told apart without reading it.
        var sizes: [Int] = []
        for name in names {
            guard let st = try? FileSystem.status(dir + "/" + name), st.kind == .regular else { return false }
            sizes.append(st.size)
        }
        if names.count == 4 && sizes[3] == 0 { names.removeLast(); sizes.removeLast() }
        guard expected.count == names.count,
              zip(expected, zip(names, sizes)).allSatisfy({ $0.name == $1.0 && $0.digest.size == $1.1 }) else { return false }
        for (e, name) in zip(expected, names) {
            guard let d = try? InputDigest(path: dir + "/" + name), d == e.digest else { return false }
            let a = beforeDirectory + "/" + name, b = dir + "/" + name
            if let sa = try? FileSystem.status(a), let sb = try? FileSystem.status(b), sa.isSameFile(as: sb) { continue }
            guard Self.sameBytes(a, b) else { return false }
        }
        return true
    }

    /// Whether the regular files `a` and `b` hold the same bytes (false when either cannot be read).
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        guard let (fa, _) = try? InputFile.openRegular(a) else { return false }
        defer { fa.closeIgnoringErrors() }
        guard let (fb, _) = try? InputFile.openRegular(b) else { return false }
        defer { fb.closeIgnoringErrors() }
        let chunk = 1 << 20
        let pa = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        let pb = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { pa.deallocate(); pb.deallocate() }
        var offset = 0
        while true {
            guard let na = try? fa.read(into: pa, count: chunk, at: offset),
                  let nb = try? fb.read(into: pb, count: chunk, at: offset), na == nb else { return false }
            if na == 0 { return true }
            if memcmp(pa, pb, na) != 0 { return false }
            offset += na
        }
    }

    /// Runs `body`, marking what it throws as an output error.
    private static func writing<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw StreamingBatch.SinkError(underlying: error) }
    }

    /// Whether a book built against `source` is, repriced, the book its input moved to `target`
    /// (`BatchInput.relaid`) builds there: the same instruments in the same order and the same coins
    /// (the ids stay), the same layout (`PricedMarket.hasLayout(of:)`: what `BookBuilder` reads of
    /// a pricing), and the same instruments usable (no row becomes an error by the move).
    static func keepsBook(_ source: PricedMarket, _ target: PricedMarket) -> Bool {
        if source === target { return true }
        func usable(_ p: PricedMarket, _ i: Int) -> Bool { if case .success = p.resolve(instrumentAt: i) { return true }; return false }
        return source.market.instruments.count == target.market.instruments.count && source.coins == target.coins
            && zip(source.market.instruments, target.market.instruments).allSatisfy { $0.symbol == $1.symbol }
            && target.hasLayout(of: source)
            && source.market.instruments.indices.allSatisfy { usable(source, $0) == usable(target, $0) }
    }

    /// The before book's three pricings, block by block: each block's book is built once per layout
    /// and margined, then dropped. With `repriceBefore` (``keepsBook(_:_:)`` of the before and the
    /// after market under the before parameters) the second pricing's book is the first's, repriced.
    static func runBefore(_ input0: BatchInput, _ relaid10: BatchInput, _ relaid11: BatchInput?,
                          _ priced00: PricedMarket, _ priced10: PricedMarket, _ priced11: PricedMarket,
                          repriceBefore: Bool = false,
                          threads: Int, blockSize: Int, options: EngineOptions) -> (RunFigures, RunFigures, RunFigures) {
        let n = input0.accountCount
        let blocks = (n + blockSize - 1) / blockSize
        var out = [(RunFigures, RunFigures, RunFigures)?](repeating: nil, count: blocks)
        out.withUnsafeMutableBufferPointer { buffer in
            let slots = DisjointSlots(buffer)   // block b writes only slot b
            Workers.forEach(blocks, threads: threads) { b in
                let range = (b * blockSize)..<min(n, (b + 1) * blockSize)
                let book00 = input0.book(accounts: range, priced: priced00)
                let r00 = RunFigures(MarginEngine.run(book00, options: options))
                let book10 = repriceBefore ? book00.repriced(priced10) : relaid10.book(accounts: range, priced: priced10)
                let r10 = RunFigures(MarginEngine.run(book10, options: options))
                let book11 = relaid11.map { $0.book(accounts: range, priced: priced11) } ?? book10.repriced(priced11)
                let r11 = RunFigures(MarginEngine.run(book11, options: options))
                slots[b] = (r00, r10, r11)
            }
        }
        var all = (RunFigures(), RunFigures(), RunFigures())
        for block in out {
            all.0.append(block!.0); all.1.append(block!.1); all.2.append(block!.2)
        }
        return all
    }

    /// The after book under the after market and parameters, block by block.
    static func runAfter(_ input1: BatchInput, _ priced11: PricedMarket, threads: Int, blockSize: Int,
                         options: EngineOptions) -> RunFigures {
        let n = input1.accountCount
        let blocks = (n + blockSize - 1) / blockSize
        var out = [RunFigures?](repeating: nil, count: blocks)
        out.withUnsafeMutableBufferPointer { buffer in
            let slots = DisjointSlots(buffer)
            Workers.forEach(blocks, threads: threads) { b in
                let range = (b * blockSize)..<min(n, (b + 1) * blockSize)
                slots[b] = RunFigures(MarginEngine.run(input1.book(accounts: range, priced: priced11), options: options))
            }
        }
        var all = RunFigures()
        for block in out { all.append(block!) }
        return all
    }

    /// The rows of explain.csv: every after-day account in its order (matched with the before
    /// day's account of the same id: the k-th occurrence of a duplicated id with the k-th), then
    /// the unmatched before-day accounts in their order.
    static func join(before ids0: [String], after ids1: [String]) -> [(before: Int32, after: Int32)] {
        // The same ids in the same order: the k-th occurrence of each id is at the same index on
        // both days, so every account matches its own index and none is gone.
        if ids0 == ids1 { return (0..<ids1.count).map { (Int32($0), Int32($0)) } }
        var first = [String: Int32](minimumCapacity: ids0.count)
        var nextSame = [Int32](repeating: -1, count: ids0.count)
        var last = [String: Int32]()
        for (i, id) in ids0.enumerated() {
            if let f = first[id] {
                // A duplicated id (rare): chain its occurrences in order.
                var tail = last[id] ?? f
                nextSame[Int(tail)] = Int32(i)
                tail = Int32(i)
                last[id] = tail
            } else {
                first[id] = Int32(i)
            }
        }
        var matched = [Bool](repeating: false, count: ids0.count)
        var rows: [(before: Int32, after: Int32)] = []
        rows.reserveCapacity(ids1.count)
        for (j, id) in ids1.enumerated() {
            var i = first[id] ?? -1
            while i >= 0 && matched[Int(i)] { i = nextSame[Int(i)] }
            if i >= 0 { matched[Int(i)] = true }
            rows.append((i, Int32(j)))
        }
        for i in 0..<ids0.count where !matched[i] { rows.append((Int32(i), -1)) }
        return rows
    }
}

/// Per-account and per-unit figures of one pricing of one book, in book order: what explain reads.
struct RunFigures {
    var mm: [Double] = [], im: [Double] = []
    var stage: [Stage?] = []
    /// Whether account a has an input error, and the errors by account, in account order (few:
    /// kept apart so the joins of blocks copy no optional error per account).
    var failed: [Bool] = []
    var errors: [(account: Int, error: InputError)] = []
    /// Units of account a: `unitStart[a] ..< unitStart[a+1]`.
    var unitStart: [Int] = [0]
    /// A unit's coin: its slot in `coinNames` (the pricing's base coins).
    var unitSlot: [Int32] = []
    var coinNames: [String] = []
    var unitMM: [Double] = [], unitIM: [Double] = []

    init() {}

    init(_ r: BookResult) {
        let book = r.book
        mm = r.totalMM; im = r.totalIM; stage = r.stage
        failed = book.accountErrors.map { $0 != nil }
        for (a, e) in book.accountErrors.enumerated() { if let e { errors.append((a, e)) } }
        unitStart = book.unitStart
        unitSlot = book.unitSlot
        coinNames = book.priced.baseCoins
        unitMM = r.unitMM; unitIM = r.unitIM
    }

    mutating func append(_ o: RunFigures) {
        let base = unitStart.last!, accounts = mm.count
        mm += o.mm; im += o.im; stage += o.stage; failed += o.failed
        errors += o.errors.map { ($0.account + accounts, $0.error) }
        unitStart += o.unitStart.dropFirst().map { $0 + base }
        unitSlot += o.unitSlot; unitMM += o.unitMM; unitIM += o.unitIM
        if coinNames.isEmpty { coinNames = o.coinNames }
    }

    /// Whether account a was computed (no error, finite figures).
    func known(_ a: Int) -> Bool { !failed[a] && stage[a] != nil && mm[a].isFinite && im[a].isFinite }

    /// Account a's input error, if any.
    func error(_ a: Int) -> InputError? {
        guard failed[a] else { return nil }
        var lo = 0, hi = errors.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if errors[mid].account < a { lo = mid + 1 } else { hi = mid }
        }
        return lo < errors.count && errors[lo].account == a ? errors[lo].error : nil
    }
}

/// The four pricings, for the writer.
struct ExplainFigures {
    let ids0: [String], ids1: [String]
    /// B0 under (M0, P0), (M1, P0), (M1, P1); B1 under (M1, P1): read in place (`runs[r].mm[a]`),
    /// never bound to a local (a copy retains every array of the run).
    let runs: [RunFigures]
}
