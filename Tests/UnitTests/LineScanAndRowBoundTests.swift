import Foundation
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// The cheaper input side of `pm batch` : the line scan flags non-ASCII lines (so files
/// and stream buffers are no longer validated as UTF-8 up front), and a stream buffer's rows go
/// into storage sized from a bound instead of a count of its lines.
struct LineScanAndRowBoundTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// `pm_csv_line`'s flags against a byte-by-byte reading: a quote or a byte ≥ 0x80 before the
    /// line end sets its bit, one after it does not — at every position around the 16-byte steps.
    @Test func lineScanFlagsQuotesAndNonASCIIBeforeTheLineEndOnly() {
        var commas = [UInt32](repeating: 0, count: 64)
        for length in [0, 1, 5, 15, 16, 17, 31, 32, 33, 47, 70] {
            for special in [UInt8(0x80), 0xC3, 0xFF, 34] {
                for at in 0..<(length + 20) {
                    // `length` bytes of "ab,", a line end, then more text; `special` at `at`.
                    var line = (0..<length).map { k -> UInt8 in k % 3 == 2 ? 44 : 97 }
                    line += [10] + Array("xyz,qq,r".utf8) + [UInt8](repeating: 98, count: 16)
                    if at < line.count, at != length { line[at] = special }
                    let beforeEnd = at < length
                    // The dispatching entry (AVX2 where the CPU has it) and the SSE2/byte path.
                    for baseline in [false, true] {
                        var lineLength = 0
                        var flags: Int32 = -1
                        commas = [UInt32](repeating: 0, count: 64)
                        let n = line.withUnsafeBufferPointer {
                            baseline ? pm_csv_line_baseline($0.baseAddress!, $0.count, &commas, commas.count, &lineLength, &flags)
                                     : pm_csv_line($0.baseAddress!, $0.count, &commas, commas.count, &lineLength, &flags)
                        }
                        let what = "length \(length), byte \(special) at \(at), baseline \(baseline)"
                        #expect(lineLength == length, "\(what)")
                        let expected = line[0..<length].indices.filter { line[$0] == 44 }.map { UInt32($0) }
                        #expect(n == expected.count && Array(commas[0..<n]) == expected, "\(what)")
                        let quote = special == 34 && beforeEnd, high = special >= 0x80 && beforeEnd
                        #expect((flags & PM_CSV_QUOTE != 0) == quote, "\(what)")
                        #expect((flags & PM_CSV_NON_ASCII != 0) == high, "\(what)")
                    }
                }
            }
        }
    }

    /// `forEachRecord` flags exactly the records with a byte ≥ 0x80 (and every quoted record), so
    /// a reader that validates only those finds every invalid field.
    @Test func recordsWithNonASCIIBytesAreFlagged() throws {
        let text: [UInt8] = Array("a,b\nplain,ascii\nvalid,caf".utf8) + [0xC3, 0xA9] + Array("\nbad,x".utf8) + [0xFF]
            + Array("\n\"quoted\",y\nlast,z".utf8)
        var seen: [(String, Bool)] = []
        try text.withUnsafeBufferPointer { buf in
            let csv = try CSVFile(file: InputFile(borrowing: buf, path: "t.csv"), required: ["a", "b"])
            #expect(!csv.isValidUTF8)
            try csv.forEachRecord(in: csv.dataStart..<text.count) { _, f, nonASCII in seen.append((textEscapingInvalidUTF8(f[1]), nonASCII)) }
        }
        #expect(seen.map(\.0) == ["ascii", "caf\u{E9}", "x\\xFF", "y", "z"])
        #expect(seen.map(\.1) == [false, true, true, true, false])
    }

    /// Invalid and valid non-ASCII text in the same stream buffer: only the invalid field is an
    /// error, with the whole-file path's message, line and field, whatever the buffer size.
    @Test func invalidUTF8AmongValidNonASCIIStreamsAsTheWholeFilePathReadsIt() throws {
        let dir = BatchFiles.tempDir("parse-utf8")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let accounts = RandomAccounts.make(12, seed: 3)
        try BatchFiles.write(accounts, to: dir)
        // Positions of three accounts get a symbol that is valid non-ASCII (unknown instrument),
        // invalid UTF-8, and a valid one with an accent in an extra column.
        var lines = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        lines[0] += Array(",note".utf8)
        for k in 1..<lines.count { lines[k] += Array(",n".utf8) }
        let ids = accounts.map(\.id)
        lines += [Array("\(ids[2]),BTC€USDT,1,,n".utf8), Array("\(ids[5]),BTC".utf8) + [0xE2, 0x82] + Array("USDT,1,,n".utf8),
                  Array("\(ids[7]),BTCUSDT,1,,é".utf8)]
        // Grouped in accounts.csv order, as the streaming path wants.
        let order = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        let header = lines[0]
        let body = lines.dropFirst().enumerated().sorted { a, b in
            let ka = order[String(decoding: a.element.prefix { $0 != 44 }, as: UTF8.self)]!
            let kb = order[String(decoding: b.element.prefix { $0 != 44 }, as: UTF8.self)]!
            return (ka, a.offset) < (kb, b.offset)
        }.map(\.element)
        try Data(([header] + body).joined(separator: [10]) + [10]).write(to: URL(fileURLWithPath: dir + "/positions.csv"))

        let input = try BatchInput.load(directory: dir, priced: priced, threads: 2)
        var m: [UInt8] = [], u: [UInt8] = []
        _ = try BatchRunner.run(input, priced: priced, threads: 2, blockSize: 4, options: EngineOptions(aggregation: .sparse)) { a, b in m += a; u += b }
        let text = String(decoding: m, as: UTF8.self)
        #expect(text.contains("unknown instrument \"\"BTC€USDT\"\""), "\(text)")
        #expect(text.contains("symbol: invalid UTF-8: \"\"BTC\\xE2\\x82USDT\"\""), "\(text)")
        #expect(text.components(separatedBy: "invalid UTF-8").count == 2, "\(text)")   // only the one bad field
        for buffer in [40, 100, 4096] {
            var sm: [UInt8] = [], su: [UInt8] = []
            let o = try StreamingBatch.run(directory: dir, priced: priced, threads: 2, blockSize: 4, options: EngineOptions(aggregation: .sparse),
                                           bufferSize: buffer, sink: { a, b in sm += a; su += b })
            #expect(o != nil, "buffer \(buffer)")
            #expect(sm == m && su == u, "buffer \(buffer)")
        }
    }

    /// The row bound holds for the densest rows a file can have: one-byte ids, fields, and
    /// numbers, no trailing line end — every row lands in storage of exactly `rowBound` slots.
    @Test func theDensestChunkFitsTheRowBound() throws {
        // accounts "a".."e" and a coin of the market; the market's coins are at least 3 letters,
        // so the densest balances row is `a,BTC,1`; a four-column file with an empty column
        // is denser relative to its columns: `a,,BTC,1` has 8 bytes for 4 columns.
        let coin = TestSupport.sampleMarket.indexPrices.keys.min { $0.utf8.count < $1.utf8.count }!
        let ids = ["a", "b", "c", "d", "e"]
        for columns in [3, 4, 6] {
            let extra = String(repeating: ",", count: columns - 3)
            var text = "account_id,coin" + (0..<(columns - 3)).map { ",x\($0)" }.joined() + ",wallet_balance\n"
            var rows = 0
            for (k, id) in ids.enumerated() {
                for _ in 0..<(50 + k) { text += "\(id),\(coin)\(extra),1\n"; rows += 1 }
            }
            text.removeLast()   // no final line end: the last record is a byte shorter
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBufferPointer { buf in
            let csv = try CSVFile(file: InputFile(borrowing: buf, path: "balances.csv"), required: ["account_id", "coin", "wallet_balance"])
            var table = ByteKeyTable(capacity: 8)
            for id in ids { table.insert(id) }
            let context = BatchInput.RowContext(priced: priced, ids: table, keep: ids.indices.map { Int32($0) })
            let range = csv.dataStart..<bytes.count
            let bound = StreamingBatch.rowBound(bytes: range.count, columns: columns)
            #expect(bound >= rows, "\(columns) columns: bound \(bound), rows \(rows)")
            let store = RowStore(capacity: bound)
            let sink = BatchInput.RowSink(account: store.account, ref: store.ref, x: store.x, y: store.y, side: store.side)
            let chunk = try BatchInput.parseChunk(csv, range, kind: .balances, context: context, sink: sink, slots: 0..<bound)
            #expect(chunk.rows == rows && chunk.errors.isEmpty, "\(columns) columns")
            #expect(store.account[rows - 1] == 4 && store.x[rows - 1] == 1)
            }
        }
        // The bound itself: no record of `columns` fields with a number in one of them is shorter
        // than `columns` bytes, so n bytes never hold more than n / columns + 1 such records.
        for columns in 1...8 {
            let minimal = String(repeating: ",", count: columns - 1) + "1"   // every other field empty
            for n in 1...40 {
                let records = (n + 1) / (minimal.utf8.count + 1)   // records with a line end between them
                #expect(records <= StreamingBatch.rowBound(bytes: n, columns: columns), "\(columns) columns, \(n) bytes")
            }
        }
    }

    /// Row storage is recycled: a long run holds a few stores, not one per buffer.
    @Test func rowStoresAreRecycled() {
        let pool = RowStorePool(standard: 100)
        let a = pool.take(capacity: 50)
        #expect(a.capacity == 100)
        pool.give(a)
        let b = pool.take(capacity: 80)
        #expect(b === a)
        let big = pool.take(capacity: 500)   // a buffer grown for a long record
        #expect(big.capacity == 500 && big !== a)
        pool.give(big)
        pool.give(b)
        #expect(pool.take(capacity: 300) === big)
        // Writable over the whole capacity, each column apart from the others.
        for k in 0..<500 { big.account[k] = Int32(k); big.ref[k] = -Int32(k); big.x[k] = Double(k); big.y[k] = -Double(k); big.side[k] = Int8(k % 3) - 1 }
        #expect((0..<500).allSatisfy { big.account[$0] == Int32($0) && big.ref[$0] == -Int32($0) && big.x[$0] == Double($0)
                                        && big.y[$0] == -Double($0) && big.side[$0] == Int8($0 % 3) - 1 })
    }

    /// The key hash and compare read a key's last bytes with overlapping loads instead of a byte
    /// loop: the hash is the byte-by-byte one's value for every length, and keys differing in any
    /// one byte never compare equal.
    @Test func keyHashAndCompareMatchTheByteByByteReadings() {
        func reference(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
            var h: UInt64 = 0x9E3779B97F4A7C15 ^ UInt64(truncatingIfNeeded: n)
            var i = 0
            while i + 8 <= n {
                var w: UInt64 = 0
                for k in 0..<8 { w |= UInt64(p[i + k]) << UInt64(k * 8) }
                h = (h ^ w) &* 0xbf58476d1ce4e5b9
                h ^= h >> 29
                i += 8
            }
            if i < n {
                var w: UInt64 = 0
                for k in 0..<(n - i) { w |= UInt64(p[i + k]) << UInt64(k * 8) }
                h = (h ^ w) &* 0x94d049bb133111eb
            }
            return h ^ (h >> 31)
        }
        var rng = SystemRandomNumberGenerator()
        for n in 0...40 {
            for _ in 0..<20 {
                let a = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                a.withUnsafeBufferPointer { pa in
                    let p = pa.baseAddress ?? UnsafePointer(bitPattern: 8)!
                    #expect(ByteKeyTable.wordHash(p, n) == reference(p, n), "length \(n)")
                    #expect(memEqual(p, p, n))
                    for k in 0..<n {
                        var b = a
                        b[k] ^= UInt8(1 << (k % 8))
                        b.withUnsafeBufferPointer { pb in #expect(!memEqual(p, pb.baseAddress!, n), "length \(n), byte \(k)") }
                    }
                }
            }
        }
        // Through the table: every key found at its own index, a near miss not at all.
        var table = ByteKeyTable(capacity: 4)
        let keys = (0...30).map { String(repeating: "k", count: $0) + "x" } + ["BTCUSDT", "BTCUSDC", "ETH-26MAR27-2250-P-USDC", "ETH-26MAR27-2350-P-USDC"]
        for k in keys { table.insert(k) }
        for (i, k) in keys.enumerated() { #expect(table.find(k) == Int32(i), "\(k)") }
        #expect(table.find("ETH-26MAR27-2450-P-USDC") == -1 && table.find("BTCUSDX") == -1 && table.find("") == -1)
    }
}
