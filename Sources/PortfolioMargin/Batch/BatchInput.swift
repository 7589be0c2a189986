import Dispatch
import CKernels

/// A batch input folder (FORMATS.md), parsed into per-account row lists ready for `BookBuilder`.
///
/// `accounts.csv` fixes the accounts and their order. The row files are parsed in parallel chunks
/// straight from memory maps; symbols, coins and account ids are resolved from the bytes through
/// hash tables built once. Row problems become per-account errors (the first one by file, then
/// line, is kept); structural problems (missing file or column, wrong field count) throw.
public struct BatchInput: Sendable {
    public let directory: String
    public private(set) var accountIds: [String] = []
    var spotHedging: [Bool] = []
    /// The first problem of each account, or nil.
    var accountErrors: [InputError?] = []
    /// Rows that name an account id absent from accounts.csv (reported, not margined).
    public private(set) var orphanRows: [InputError] = []
    /// Size and XXH64 of each CSV file read, in reading order (`manifest.json`; ScaleOut/InputDigest).
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

    public var accountCount: Int { accountIds.count }

    /// Reads `dir` against `priced`. With `shard` (I, N) only accounts whose id hashes to I are kept
    /// (FNV-1a 64 of the id's UTF-8 bytes, modulo N: MODEL.md §11.16).
    public static func load(directory dir: String, priced: PricedMarket, shard: (index: Int, count: Int)? = nil,
                            threads: Int = 2) throws -> BatchInput {
        var input = BatchInput(directory: dir)
        let accountsFile = try CSVFile(path: dir + "/accounts.csv", required: ["account_id", "spot_hedging"])
        input.digests.append(("accounts.csv", InputDigest(accountsFile.file.bytes)))
        var ids = ByteKeyTable(capacity: max(16, accountsFile.file.bytes.count / 16))
        // index in accounts.csv → index in this (sharded) input, or −1 when outside the shard.
        var keep: [Int32] = []
        var firstLineOf: [Int] = []
        // Every accounts.csv line of a duplicated id gets its own error row (FORMATS.md).
        var duplicates: [Int32: (lines: [Int], rows: [Int])] = [:]
        // Lines are split and ids turned into Strings in parallel chunks; the id table, duplicates
        // and shards need file order, so one serial pass follows.
        let cId = accountsFile.column("account_id")!, cHedge = accountsFile.column("spot_hedging")!
        let base = accountsFile.file.bytes.baseAddress
        struct AccountLine { var idOffset: Int; var idLength: Int; var id: String; var hedge: Int8; var line: Int; var hedgeText: String }
        let ranges = accountsFile.chunks(max(1, threads * 4))
        var parsed = [(lines: [AccountLine], count: Int)](repeating: ([], 0), count: ranges.count)
        var fatal = [FieldCountError?](repeating: nil, count: ranges.count)
        parsed.withUnsafeMutableBufferPointer { out in
            fatal.withUnsafeMutableBufferPointer { fat in
                DispatchQueue.concurrentPerform(iterations: ranges.count) { c in
                    var lines: [AccountLine] = []
                    lines.reserveCapacity(ranges[c].count / 16)
                    do {
                        let n = try accountsFile.forEachLine(in: ranges[c]) { line, f in
                            let h = f[cHedge]
                            let hedge: Int8 = h.1 == 4 && memEqual(h.0, trueBytes, 4) ? 1 : (h.1 == 5 && memEqual(h.0, falseBytes, 5) ? 0 : -1)
                            lines.append(AccountLine(idOffset: f[cId].0 - base!, idLength: f[cId].1, id: fieldText(f[cId]), hedge: hedge,
                                                     line: line, hedgeText: hedge < 0 ? fieldText(h) : ""))
                        }
                        out[c] = (lines, n)
                    } catch { fat[c] = error as? FieldCountError }
                }
            }
        }
        var chunkFirstLine = 1   // the header
        for (c, chunk) in parsed.enumerated() {
            if let e = fatal[c] {
                throw FieldCountError(file: e.file, line: chunkFirstLine + e.line, count: e.count, expected: e.expected).inputError
            }
            for l in chunk.lines {
                let lineNo = chunkFirstLine + l.line
                let idBytes = base! + l.idOffset
                let (k, inserted) = ids.insert(idBytes, l.idLength)
                if !inserted {
                    let first = keep[Int(k)]
                    guard first >= 0 else { continue }   // the id belongs to another shard
                    duplicates[k, default: ([firstLineOf[Int(k)]], [Int(first)])].lines.append(lineNo)
                    duplicates[k]!.rows.append(input.accountIds.count)
                    input.accountIds.append(l.id)
                    input.spotHedging.append(false)
                    input.accountErrors.append(nil)
                    continue
                }
                firstLineOf.append(lineNo)
                if let shard, Int(ByteKeyTable.fnv1a(idBytes, l.idLength) % UInt64(shard.count)) != shard.index {
                    keep.append(-1)
                    continue
                }
                keep.append(Int32(input.accountIds.count))
                input.accountIds.append(l.id)
                input.spotHedging.append(l.hedge == 1)
                if l.id.isEmpty {
                    input.accountErrors.append(InputError(file: accountsFile.name, record: "line \(lineNo)", field: "account_id", "empty account id"))
                } else if l.hedge < 0 {
                    input.accountErrors.append(InputError(file: accountsFile.name, record: "line \(lineNo) (account \(l.id))",
                                                          field: "spot_hedging", "expected true or false, got \"\(l.hedgeText)\""))
                } else {
                    input.accountErrors.append(nil)
                }
            }
            chunkFirstLine += chunk.count
        }
        for (_, d) in duplicates {
            for a in d.rows {
                input.accountErrors[a] = InputError(file: accountsFile.name, record: "account \(input.accountIds[a])", field: "account_id",
                                                    "duplicate account id (lines \(d.lines.map(String.init).joined(separator: ", ")))")
            }
        }
        let context = RowContext(priced: priced, ids: ids, keep: keep)

        input.balances = try parseRows(path: dir + "/balances.csv", kind: .balances, context: context, threads: threads, input: &input)
        input.positions = try parseRows(path: dir + "/positions.csv", kind: .positions, context: context, threads: threads, input: &input)
        let ordersPath = dir + "/orders.csv"
        if access(ordersPath, F_OK) == 0 {
            input.orders = try parseRows(path: ordersPath, kind: .orders, context: context, threads: threads, input: &input)
        } else {
            input.orders.start = [Int](repeating: 0, count: input.accountCount + 1)
        }
        return input
    }

    enum Kind { case balances, positions, orders }

    struct RowContext: @unchecked Sendable {
        let priced: PricedMarket
        let ids: ByteKeyTable
        let keep: [Int32]
    }

    /// One chunk's problems (with chunk-relative lines) and its line count. Its rows go straight
    /// into its slice of the file's arrays (`RowSink`).
    struct Chunk {
        var errors: [(account: Int32, line: Int, field: String, message: String)] = []
        var orphans: [(line: Int, id: String)] = []
        var lines = 0
    }

    private static func parseRows(path: String, kind: Kind, context: RowContext, threads: Int,
                                  input: inout BatchInput) throws -> Rows {
        let required: [String]
        switch kind {
        case .balances: required = ["account_id", "coin", "wallet_balance"]
        case .positions: required = ["account_id", "symbol", "size"]
        case .orders: required = ["account_id", "symbol", "side", "qty", "price"]
        }
        let csv = try CSVFile(path: path, required: required)
        input.digests.append((String(path.split(separator: "/").last ?? Substring(path)), InputDigest(csv.file.bytes)))
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
        rows.ref = [Int32](unsafeUninitializedCapacity: total) { _, n in n = total }
        rows.x = [Double](unsafeUninitializedCapacity: total) { _, n in n = total }
        rows.y = [Double](unsafeUninitializedCapacity: total) { _, n in n = total }
        if kind == .orders { rows.side = [Int8](unsafeUninitializedCapacity: total) { _, n in n = total } }
        var chunks = [Chunk](repeating: Chunk(), count: ranges.count)
        var fatal = [FieldCountError?](repeating: nil, count: ranges.count)
        rows.account.withUnsafeMutableBufferPointer { acc in
        rows.ref.withUnsafeMutableBufferPointer { ref in
        rows.x.withUnsafeMutableBufferPointer { xs in
        rows.y.withUnsafeMutableBufferPointer { ys in
        rows.side.withUnsafeMutableBufferPointer { side in
            let sink = RowSink(account: acc.baseAddress, ref: ref.baseAddress, x: xs.baseAddress, y: ys.baseAddress, side: side.baseAddress)
            chunks.withUnsafeMutableBufferPointer { out in
                fatal.withUnsafeMutableBufferPointer { fat in
                    DispatchQueue.concurrentPerform(iterations: ranges.count) { c in
                        do {
                            out[c] = try parseChunk(csv, ranges[c], kind: kind, context: context, sink: sink,
                                                    slots: slotStart[c]..<slotStart[c + 1])
                        } catch { fat[c] = error as? FieldCountError }
                    }
                }
            }
        } } } } }
        // Line numbers: header is line 1; each chunk starts after the lines of the ones before it.
        var firstLine = 1
        for (c, chunk) in chunks.enumerated() {
            if let e = fatal[c] {
                // The chunk counted lines from its own start; earlier chunks give the offset.
                throw FieldCountError(file: e.file, line: firstLine + e.line, count: e.count, expected: e.expected).inputError
            }
            for e in chunk.errors where input.accountErrors[Int(e.account)] == nil {
                input.accountErrors[Int(e.account)] = InputError(file: csv.name, record: "line \(firstLine + e.line) (account \(input.accountIds[Int(e.account)]))",
                                                                 field: e.field, e.message)
            }
            for o in chunk.orphans {
                input.orphanRows.append(InputError(file: csv.name, record: "line \(firstLine + o.line)", field: "account_id",
                                                   "account \"\(o.id)\" is not in accounts.csv; row ignored"))
            }
            firstLine += chunk.lines
        }
        return group(rows, accounts: input.accountCount)
    }

    /// Where a chunk writes its rows: the file's arrays, at the chunk's slots.
    struct RowSink: @unchecked Sendable {
        let account: UnsafeMutablePointer<Int32>?
        let ref: UnsafeMutablePointer<Int32>?
        let x: UnsafeMutablePointer<Double>?
        let y: UnsafeMutablePointer<Double>?
        let side: UnsafeMutablePointer<Int8>?
    }

    private static func parseChunk(_ csv: CSVFile, _ range: Range<Int>, kind: Kind, context: RowContext,
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
        // Consecutive rows usually share an account (and often a symbol): remember the last lookup.
        var lastAcc: (UnsafePointer<UInt8>?, Int, Int32) = (nil, 0, -1)
        var lastRef: (UnsafePointer<UInt8>?, Int, Int32) = (nil, 0, -1)
        chunk.lines = try csv.forEachLine(in: range) { line, f in
            let acc = f[cAcc]
            var k: Int32
            if let lp = lastAcc.0, lastAcc.1 == acc.1, memEqual(lp, acc.0, acc.1) { k = lastAcc.2 } else {
                // Files usually follow accounts.csv: try the next account before hashing (the
                // hash probe of a million-entry table is a cache miss; this compare streams).
                if context.ids.matches(Int(lastAcc.2) + 1, acc.0, acc.1) { k = lastAcc.2 + 1 } else { k = context.ids.find(acc.0, acc.1) }
                lastAcc = (acc.0, acc.1, k)
            }
            if k < 0 { chunk.orphans.append((line, fieldText(acc))); return }
            let a = context.keep[Int(k)]
            guard a >= 0 else { return }   // another shard's account
            func fail(_ field: String, _ message: String) { chunk.errors.append((a, line, field, message)) }
            // Resolve the coin or symbol.
            let refField = f[cRef]
            var ref: Int32
            if let lp = lastRef.0, lastRef.1 == refField.1, memEqual(lp, refField.0, refField.1) { ref = lastRef.2 } else {
                ref = kind == .balances ? p.coinTable.find(refField.0, refField.1) : p.symbolTable.find(refField.0, refField.1)
                lastRef = (refField.0, refField.1, ref)
            }
            if ref < 0 {
                let text = fieldText(refField)
                fail(kind == .balances ? "coin" : "symbol",
                     kind == .balances ? p.coinProblem(text) : "unknown instrument \"\(text)\" (not in the market snapshot)")
                return
            }
            if kind != .balances, case let .failure(e) = p.resolve(instrumentAt: Int(ref)) { fail("symbol", e.message); return }
            guard let x = FastNumber.parse(f[cX].0, f[cX].1), x.isFinite else {
                fail(xName, "expected a finite number, got \"\(fieldText(f[cX]))\""); return
            }
            var y = Double.nan
            var side: Int8 = 0
            switch kind {
            case .balances: break
            case .positions:
                if let cY, f[cY].1 > 0 {
                    guard let e = FastNumber.parse(f[cY].0, f[cY].1) else { fail(yName, "expected a number or an empty cell, got \"\(fieldText(f[cY]))\""); return }
                    y = e
                }
                if let (field, message) = RowRules.position(size: x, entryPrice: y.isNaN ? nil : y) {
                    fail(field == "entryPrice" ? yName : xName, message); return
                }
            case .orders:
                let s = f[cSide!]
                if s.1 == 3 && s.0[0] == 66 && s.0[1] == 117 && s.0[2] == 121 { side = 1 }                       // Buy
                else if s.1 == 4 && s.0[0] == 83 && s.0[1] == 101 && s.0[2] == 108 && s.0[3] == 108 { side = -1 } // Sell
                else { fail("side", "expected Buy or Sell, got \"\(fieldText(s))\""); return }
                guard let pr = FastNumber.parse(f[cY!].0, f[cY!].1) else { fail(yName, "expected a number, got \"\(fieldText(f[cY!]))\""); return }
                y = pr
                if let (field, message) = RowRules.order(qty: x, price: y) { fail(field == "qty" ? xName : yName, message); return }
            }
            guard slot < slots.upperBound else { return }   // cannot happen: a row per line at most
            sink.account![slot] = a
            sink.ref![slot] = ref
            sink.x![slot] = x
            sink.y![slot] = y
            if kind == .orders { sink.side![slot] = side }
            slot += 1
        }
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

private let trueBytes: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 4)
    p.initialize(from: Array("true".utf8), count: 4)
    return UnsafePointer(p)
}()
private let falseBytes: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 5)
    p.initialize(from: Array("false".utf8), count: 5)
    return UnsafePointer(p)
}()
