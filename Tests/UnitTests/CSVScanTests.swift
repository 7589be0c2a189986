import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// The whole-buffer field scan (`pm_csv_scan`) under `CSVFile.forEachRecord`: clean lines (no
/// quote, ASCII only) are split from its separators, every other line (a quote, a byte ≥ 0x80, a
/// very long line, the range's last bytes) the per-line way — the records, line numbers, non-ASCII
/// flags and the first fatal error are what a record-by-record reading with the quoting grammar
/// (`CSVFile.parseQuotedRecord`) gives, on texts long enough to take the scan and with the lines
/// that leave it.
struct CSVScanTests {
    /// One record as the reader reports it: line, field texts (bytes), non-ASCII flag.
    struct Record: Equatable {
        var line: Int
        var fields: [[UInt8]]
        var nonASCII: Bool
    }

    /// What `forEachRecord` gives over the data of `text` (header `columns` prepended): the records
    /// and the first error's text, or nil.
    static func read(_ data: [UInt8], columns: Int) -> (records: [Record], error: String?, lines: Int) {
        let header = Array((0..<columns).map { "c\($0)" }.joined(separator: ",").utf8) + [10]
        let bytes = header + data
        return bytes.withUnsafeBufferPointer { buf in
            var records: [Record] = []
            do {
                let csv = try CSVFile(file: InputFile(borrowing: buf, path: "t.csv"), required: [])
                let lines = try csv.forEachRecord(in: csv.dataStart..<bytes.count, firstLine: csv.headerLines) { line, f, nonASCII in
                    records.append(Record(line: csv.headerLines + line, fields: f.map { Array(UnsafeBufferPointer(start: $0.0, count: $0.1)) }, nonASCII: nonASCII))
                }
                return (records, nil, lines)
            } catch let e as CSVRecordError {
                return (records, e.inputError(lineOffset: 0).description, -1)
            } catch {
                return (records, "\(error)", -1)
            }
        }
    }

    /// The same reading record by record with the quoting grammar alone (no scanner): a blank line
    /// is skipped; a record's non-ASCII flag is whether its first physical line has a quote or a
    /// byte ≥ 0x80 (a quoted record may go on past it, so it is flagged).
    static func reference(_ data: [UInt8], columns: Int) -> (records: [Record], error: String?, lines: Int) {
        data.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress ?? UnsafePointer(bitPattern: 1)!
            var records: [Record] = []
            var p = 0, line = 1   // line 1 is the header
            while p < data.count {
                if data[p] == 10 || data[p] == 13 {
                    p += data[p] == 13 && p + 1 < data.count && data[p + 1] == 10 ? 2 : 1
                    line += 1
                    continue
                }
                line += 1
                var firstLineEnd = p
                while firstLineEnd < data.count, data[firstLineEnd] != 10, data[firstLineEnd] != 13 { firstLineEnd += 1 }
                let flagged = data[p..<firstLineEnd].contains { $0 == 34 || $0 >= 0x80 }
                var scratch = CSVFile.Scratch()
                defer { scratch.free() }
                var ranges: [CSVFile.FieldRange] = []
                do {
                    let (next, breaks) = try CSVFile.parseQuotedRecord(base, p, data.count, &scratch, &ranges, file: "t.csv", line: line)
                    if ranges.count != columns {
                        return (records, FieldCountError(file: "t.csv", line: line, count: ranges.count, expected: columns).inputError.description, -1)
                    }
                    records.append(Record(line: line, fields: ranges.map { r in
                        let f = r.field(base, scratch)
                        return Array(UnsafeBufferPointer(start: f.0, count: f.1))
                    }, nonASCII: flagged))
                    p = next
                    line += breaks
                } catch let e as CSVRecordError {
                    return (records, e.inputError(lineOffset: 0).description, -1)
                } catch {
                    return (records, "\(error)", -1)
                }
            }
            return (records, nil, line - 1)
        }
    }

    /// Random files of many lines: mostly clean rows of `columns` fields, with now and then a
    /// quoted field (holding commas, line breaks, doubled quotes), a non-ASCII or invalid UTF-8
    /// byte, a blank line, CRLF or CR line ends, a short or long record, a very long line, a stray
    /// quote, no final line end. The reader and the reference agree on every one.
    @Test func randomFilesReadAsRecordByRecord() {
        var g = SplitMix(seed: 21)
        var scanned = 0
        for trial in 0..<600 {
            let columns = 1 + g.below(6)
            let rare = 1 + g.below(trial % 3 == 0 ? 400 : 40)   // how often a line is unusual
            var data: [UInt8] = []
            let rows = g.below(trial % 10 == 0 ? 3000 : 120)
            for _ in 0..<rows {
                let unusual = g.below(rare) == 0
                var count = columns
                if unusual && g.below(8) == 0 { count += g.below(2) == 0 ? -1 : 1 }
                if unusual && g.below(10) == 0 { data += [] }   // a blank line
                else {
                    for k in 0..<max(count, 1) {
                        if k > 0 { data.append(44) }
                        let width = unusual && g.below(12) == 0 ? 200 + g.below(300) : g.below(14)
                        let kind = unusual ? g.below(6) : 9
                        switch kind {
                        case 0: data += Array("\"a,b\nc\"\"d\"".utf8)
                        case 1: data += [0xC3, 0xA9]
                        case 2: data += [0xFF]
                        case 3: data += Array("x\"y".utf8)
                        default: for _ in 0..<width { data.append(UInt8(97 + g.below(26))) }
                        }
                    }
                }
                switch unusual ? g.below(3) : 0 {
                case 1: data += [13, 10]
                case 2: data += [13]
                default: data += [10]
                }
            }
            if g.below(3) == 0, !data.isEmpty { data.removeLast() }
            let got = Self.read(data, columns: columns)
            let want = Self.reference(data, columns: columns)
            #expect(got.records == want.records, "trial \(trial)")
            #expect(got.error == want.error, "trial \(trial): \(got.error ?? "-") vs \(want.error ?? "-")")
            if want.error == nil { #expect(got.lines == want.lines, "trial \(trial)") }
            if data.count >= 64 { scanned += 1 }
        }
        #expect(scanned > 300)
    }

    /// A clean file long enough to be scanned: a record with too many or too few fields is named by
    /// its line, with the per-line reader's message (the scan takes the line; it is not left to
    /// the per-line path).
    @Test func wrongFieldCountOnAScannedLine() throws {
        var data = Array(String(repeating: "acct,BTCUSDT,1.5,\n", count: 40).utf8)
        data += Array("acct,BTCUSDT,1.5\n".utf8) + Array(String(repeating: "acct,BTCUSDT,1.5,\n", count: 40).utf8)
        var seps = [UInt32](repeating: 0, count: CSVFile.scanCapacity)
        let n = data.withUnsafeBufferPointer { pm_csv_scan($0.baseAddress!, $0.count, &seps, seps.count) }
        #expect(n > 41 * 4)   // the scan took the short line (line 42 of the file)
        let got = Self.read(data, columns: 4)
        #expect(got.records.count == 40)
        #expect(got.error == "t.csv: line 42: has 3 fields, the header has 4")
        data = Array(String(repeating: "a,b,c,d\n", count: 30).utf8) + Array("a,b,c,d,e\n".utf8) + Array(String(repeating: "a,b,c,d\n", count: 30).utf8)
        #expect(Self.read(data, columns: 4).error == "t.csv: line 32: has 5 fields, the header has 4")
    }

    /// The two entry points (AVX2 where the CPU has it, and the byte-built masks) agree, and stop
    /// before a line with a quote or a byte ≥ 0x80 wherever it falls around the 64-byte blocks.
    @Test func scanEntryPointsAgreeAndStopBeforeUnusualLines() {
        for at in 0..<200 {
            for special in [UInt8(34), 0x80, 0xC3, 0xFF] {
                var data = Array(String(repeating: "ab,cd,e\n", count: 40).utf8)
                data[at] = data[at] == 10 ? 10 : special
                var a = [UInt32](repeating: 0, count: 512), b = a
                let n = data.withUnsafeBufferPointer { pm_csv_scan($0.baseAddress!, $0.count, &a, a.count) }
                let m = data.withUnsafeBufferPointer { pm_csv_scan_plain($0.baseAddress!, $0.count, &b, b.count) }
                #expect(n == m && a[0..<n] == b[0..<m], "at \(at)")
                // Whole lines before the special byte's line only: 3 separators a line.
                let lineOfSpecial = data[at] == 10 ? Int.max : at / 8
                #expect(n % 3 == 0 && n / 3 <= lineOfSpecial, "at \(at): \(n)")
                if n > 0 { #expect(a[n - 1] & PM_CSV_SEP_END != 0) }
            }
        }
    }
}
