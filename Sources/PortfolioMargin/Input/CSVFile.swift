import Foundation
import CKernels

/// A CSV file with a header row, parsed in place from the bytes of an `InputFile` (docs/formats.md
/// batch input; "CSV is RFC 4180").
///
/// Fields are comma-separated; a field may be double-quoted (with `""` for a quote inside), and a
/// quoted field may hold commas and line breaks; it means exactly its unquoted text. Lines end in
/// LF, CRLF or CR (CRLF is one line end, for line numbers too); blank lines are skipped; an
/// optional UTF-8 BOM starts the file. Every data record must have as many fields as the header,
/// and quoting must be well formed (a closing quote followed by a comma or a line end) — otherwise
/// the run cannot proceed (docs/formats.md: exit 1). Line numbers are physical lines: a record that
/// spans lines is named by its first line.
///
/// Unquoted lines — nearly all of a batch — take a vector fast path (`pm_csv_line`); a line with a
/// `"` is parsed byte by byte. The data splits into chunks for parallel parsing at record starts:
/// by line ends alone when the data has no `"` at all, else by a serial quote-aware scan
/// (`pm_csv_next_record`), so a chunk never starts inside a quoted field.
struct CSVFile: Sendable {
    let file: InputFile
    /// The path as given, used in every message.
    var name: String { file.path }
    let columns: [String]
    /// Byte offset of the first data line.
    let dataStart: Int
    /// Physical lines the header takes (1 unless a quoted header field holds a line break).
    let headerLines: Int
    /// Whether the data has a `"` anywhere (then chunk boundaries need the quote-aware scan).
    let hasQuotes: Bool
    /// Whether the whole file is valid UTF-8 (checked once). When it is not, callers check each
    /// record's fields with `invalidUTF8Field` and report the line (docs/formats.md).
    let isValidUTF8: Bool

    /// Opens `path` and checks that every `required` column is in its header.
    init(path: String, required: [String]) throws {
        try self.init(file: InputFile(path: path), required: required)
    }

    init(file: InputFile, required: [String]) throws {
        self.file = file
        let path = file.path
        let b = file.bytes
        let base = b.baseAddress!
        isValidUTF8 = file.isASCII || pm_utf8_valid(base, b.count) != 0
        var start = 0
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { start = 3 }   // UTF-8 BOM
        var header: [String] = []
        var next = start
        var breaks = 0
        if start < b.count, b[start] != 10, b[start] != 13 {
            var scratch = Scratch()
            defer { scratch.free() }
            var ranges: [FieldRange] = []
            (next, breaks) = try Self.parseQuotedRecord(base, start, b.count, &scratch, &ranges, file: path, line: 1)
            for r in ranges {
                let f = r.field(base, scratch)
                if !isValidUTF8, pm_utf8_valid(f.0, f.1) == 0 {
                    throw InputError(file: path, record: "line 1", "invalid UTF-8 in the header: \(fieldEcho(f))")
                }
                header.append(fieldText(f).trimmingCharacters(in: .whitespaces))
            }
        } else if start < b.count {
            next = start + (b[start] == 13 && start + 1 < b.count && b[start + 1] == 10 ? 2 : 1)
        }
        columns = header
        dataStart = next
        headerLines = 1 + breaks
        hasQuotes = next < b.count && memchr(base + next, 34, b.count - next) != nil
        if header.isEmpty { throw InputError(file: path, record: "line 1", "missing header row (expected columns \(required.joined(separator: ",")))") }
        for c in required where !header.contains(c) {
            throw InputError(file: path, record: "line 1", field: c, "missing required column (header has \(header.joined(separator: ",")))")
        }
    }

    /// A chunk of a file's data (whole records, no header) read as the file `header` heads.
    /// Nothing is scanned up front (the streaming path's buffers): `isValidUTF8` is false (not
    /// known valid; a reader validates the fields of each record `forEachRecord` flags as
    /// non-ASCII) and `hasQuotes` true (`chunks` would split by the quote-aware scan).
    init(chunk: InputFile, header: CSVFile) {
        file = chunk
        columns = header.columns
        dataStart = 0
        headerLines = 0
        hasQuotes = true
        isValidUTF8 = false
    }

    func column(_ name: String) -> Int? { columns.firstIndex(of: name) }

    /// The index of the first field of a record that is not valid UTF-8, or nil.
    func invalidUTF8Field(_ f: UnsafeBufferPointer<(UnsafePointer<UInt8>, Int)>) -> Int? {
        for k in 0..<f.count where pm_utf8_valid(f[k].0, f[k].1) == 0 { return k }
        return nil
    }

    /// Splits the data into up to `n` byte ranges that start and end on record boundaries.
    func chunks(_ n: Int) -> [Range<Int>] {
        let b = file.bytes
        let base = b.baseAddress!
        let total = b.count - dataStart
        guard total > 0 else { return [] }
        var out: [Range<Int>] = []
        var start = dataStart
        for k in 1...n {
            var end: Int
            if k == n {
                end = b.count
            } else {
                let target = max(start, dataStart + total * k / n)
                if hasQuotes {
                    end = target > start ? pm_csv_next_record(base, b.count, start, target) : start
                } else {
                    // A record starts after '\n', or after a '\r' that is not the first half of a CRLF.
                    end = target
                    while end < b.count, end > start, !(b[end - 1] == 10 || (b[end - 1] == 13 && b[end] != 10)) { end += 1 }
                }
            }
            if end > start { out.append(start..<end) }
            start = end
            if start >= b.count { break }
        }
        return out
    }

    /// Calls `body(line, fields)` for each non-blank record of `range` (which must start on a
    /// record boundary); `line` counts physical lines from 1 at the range's first line and names
    /// the record's first line. Throws a `CSVRecordError` (line = firstLine + line) when a record
    /// has the wrong number of fields or broken quoting, which is fatal; `body` may throw too.
    /// Field pointers are valid during the call only (a quoted field is unescaped into a scratch
    /// buffer the next record reuses).
    /// Returns the number of physical lines in the range (blank ones included).
    @discardableResult
    func forEachLine(in range: Range<Int>, firstLine: Int = 0,
                     _ body: (Int, UnsafeBufferPointer<(UnsafePointer<UInt8>, Int)>) throws -> Void) throws -> Int {
        try forEachRecord(in: range, firstLine: firstLine) { line, fields, _ in try body(line, fields) }
    }

    /// `forEachLine`, also telling `body` whether the record may hold a byte ≥ 0x80 (false: every
    /// field is ASCII, so valid UTF-8 — no need to validate it). Found by the same vector scan that
    /// splits the line, so a file need not be validated as a whole before it is parsed; a quoted
    /// record is always reported as possibly non-ASCII.
    @discardableResult
    @inline(__always)
    func forEachRecord(in range: Range<Int>, firstLine: Int = 0,
                       _ body: (Int, UnsafeBufferPointer<(UnsafePointer<UInt8>, Int)>, Bool) throws -> Void) throws -> Int {
        let base = file.bytes.baseAddress!
        let nCols = columns.count
        var fields = [(UnsafePointer<UInt8>, Int)](repeating: (base, 0), count: nCols + 1)
        var scratch = Scratch()
        defer { scratch.free() }
        var ranges: [FieldRange] = []
        var line = 0
        var p = range.lowerBound
        let end = range.upperBound
        var commas = [UInt32](repeating: 0, count: nCols + 1)
        // The whole-buffer scan's separators (`pm_csv_scan`): `batchBase` is the offset they count
        // from, `next ..< scanned` the ones not yet read, always whole lines.
        var separators = [UInt32](repeating: 0, count: Self.scanCapacity)
        try fields.withUnsafeMutableBufferPointer { fb in
            try commas.withUnsafeMutableBufferPointer { cb in
            try separators.withUnsafeMutableBufferPointer { sb in
                let cap = fb.count
                var batchBase = p, next = 0, scanned = 0
                while p < end {
                    if next == scanned {
                        batchBase = p
                        next = 0
                        scanned = pm_csv_scan(base + p, end &- p, sb.baseAddress!, sb.count)
                    }
                    line &+= 1
                    let recordLine = line
                    let lineStart = p
                    var count: Int
                    var nonASCII = false
                    if next < scanned {
                        // A clean line (no quote, ASCII only) from the scan: its fields lie between
                        // its separators, the last one its line end.
                        var s = p, k = 0, lineEnd = p
                        while true {
                            let v = sb[next]
                            next &+= 1
                            let q = batchBase &+ Int(v & ~PM_CSV_SEP_END)
                            if v & PM_CSV_SEP_END != 0 { lineEnd = q; break }
                            if k < cap { fb[k] = (base + s, q &- s) }
                            s = q &+ 1
                            k &+= 1
                        }
                        // Past the line end (within the range: the scan takes only ended lines); CRLF is one.
                        p = lineEnd &+ (base[lineEnd] == 13 && lineEnd &+ 1 < end && base[lineEnd &+ 1] == 10 ? 2 : 1)
                        if lineEnd == lineStart { continue }
                        count = k &+ 1
                        if k < cap { fb[k] = (base + s, lineEnd &- s) }
                    } else {
                        // A line the scan leaves (a quote, a byte ≥ 0x80, a very long line, the
                        // range's last bytes): its commas, its end and whether it has quotes.
                        var length = 0
                        var flags: Int32 = 0
                        count = pm_csv_line(base + p, end &- p, cb.baseAddress!, cb.count, &length, &flags) &+ 1
                        let lineEnd = p &+ length
                        nonASCII = flags & PM_CSV_NON_ASCII != 0
                        if flags & PM_CSV_QUOTE == 0 {
                            // Past the line end: CRLF is one line end.
                            p = lineEnd < end ? lineEnd &+ (base[lineEnd] == 13 && lineEnd &+ 1 < end && base[lineEnd &+ 1] == 10 ? 2 : 1) : end
                            if lineEnd == lineStart { continue }
                            if count <= cap {
                                var s = lineStart
                                for k in 0..<(count &- 1) {
                                    let c = lineStart &+ Int(cb[k])
                                    fb[k] = (base + s, c &- s)
                                    s = c &+ 1
                                }
                                fb[count &- 1] = (base + s, lineEnd &- s)
                            }
                        } else {
                            // Quoting: the record may go on past this line end.
                            scratch.count = 0
                            ranges.removeAll(keepingCapacity: true)
                            let (after, breaks) = try Self.parseQuotedRecord(base, lineStart, end, &scratch, &ranges,
                                                                             file: name, line: firstLine + recordLine)
                            p = after
                            line &+= breaks
                            count = ranges.count
                            for (k, r) in ranges.prefix(cap).enumerated() { fb[k] = r.field(base, scratch) }
                            nonASCII = true   // the record may go on past the line the scan saw
                        }
                    }
                    if count != nCols { throw FieldCountError(file: name, line: firstLine + recordLine, count: count, expected: nCols) }
                    try body(recordLine, UnsafeBufferPointer(rebasing: fb[0..<nCols]), nonASCII)
                }
            }
            }
        }
        return line
    }

    /// Separators a `pm_csv_scan` call may write: ~1000 lines of four fields, 16 kB.
    static var scanCapacity: Int { 4096 }

    /// A field of a quoted record: bytes of the file, or unescaped bytes in the scratch buffer.
    struct FieldRange {
        var inScratch: Bool
        var offset: Int
        var length: Int
        func field(_ base: UnsafePointer<UInt8>, _ scratch: Scratch) -> (UnsafePointer<UInt8>, Int) {
            (inScratch ? UnsafePointer(scratch.base) + offset : base + offset, length)
        }
    }

    /// A growable byte buffer whose address changes only while it grows (fields point into it
    /// after the record is parsed).
    struct Scratch {
        var base: UnsafeMutablePointer<UInt8> = .allocate(capacity: 256)
        var capacity = 256
        var count = 0
        mutating func append(_ p: UnsafePointer<UInt8>, _ n: Int) {
            if count + n > capacity {
                var c = capacity * 2
                while c < count + n { c *= 2 }
                let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
                grown.update(from: base, count: count)
                base.deallocate()
                base = grown
                capacity = c
            }
            (base + count).update(from: p, count: n)
            count += n
        }
        func free() { base.deallocate() }
    }

    /// Parses the record at `start` with RFC 4180 quoting (the grammar `pm_csv_next_record` scans
    /// by): a field is quoted when its first byte is `"`; inside, `""` is a quote and commas and
    /// line breaks are text; the closing quote must be followed by a comma, a line end or the end.
    /// Quoted fields are unescaped into `scratch`. Returns the next record's start and the line
    /// breaks inside quoted fields (CRLF counts one).
    static func parseQuotedRecord(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                                  _ scratch: inout Scratch, _ ranges: inout [FieldRange],
                                  file: String, line: Int) throws -> (Int, Int) {
        var p = start
        var breaks = 0
        while true {
            if p < end, base[p] == 34 {
                let s = scratch.count
                p += 1
                while true {
                    guard p < end else {
                        throw CSVSyntaxError(file: file, line: line, "unterminated quoted field (field \(ranges.count + 1): its closing quote is missing)")
                    }
                    // The run up to the next quote is text, copied at once.
                    let q = memchr(base + p, 34, end - p).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? end
                    if q > p {
                        for i in p..<q where base[i] == 10 || (base[i] == 13 && !(i + 1 < end && base[i + 1] == 10)) { breaks += 1 }
                        scratch.append(base + p, q - p)
                        p = q
                        continue
                    }
                    // base[p] is a quote: doubled, it is text; alone, it closes the field.
                    if p + 1 < end, base[p + 1] == 34 { scratch.append(base + p, 1); p += 2; continue }
                    p += 1
                    break
                }
                ranges.append(FieldRange(inScratch: true, offset: s, length: scratch.count - s))
                if p < end, base[p] != 44, base[p] != 10, base[p] != 13 {
                    throw CSVSyntaxError(file: file, line: line, "text after the closing quote of field \(ranges.count) (a quote inside a quoted field must be doubled)")
                }
            } else {
                let s = p
                while p < end, base[p] != 44, base[p] != 10, base[p] != 13 { p += 1 }
                ranges.append(FieldRange(inScratch: false, offset: s, length: p - s))
            }
            if p >= end { return (end, breaks) }
            if base[p] == 44 { p += 1; continue }
            return (p + (base[p] == 13 && p + 1 < end && base[p + 1] == 10 ? 2 : 1), breaks)
        }
    }
}

/// A fatal problem of one record, located by a line counted from its chunk's start.
protocol CSVRecordError: Error {
    var line: Int { get }
    /// The error with the chunk's first line added.
    func inputError(lineOffset: Int) -> InputError
}

/// A line whose field count differs from the header's (fatal: docs/formats.md).
struct FieldCountError: CSVRecordError {
    let file: String
    let line: Int
    let count: Int
    let expected: Int
    var inputError: InputError { inputError(lineOffset: 0) }
    func inputError(lineOffset: Int) -> InputError {
        InputError(file: file, record: "line \(line + lineOffset)", "has \(count) fields, the header has \(expected)")
    }
}

/// Broken quoting, or a field that makes the record unusable (an account id that is not UTF-8):
/// fatal, with the line of the record's start.
struct CSVSyntaxError: CSVRecordError {
    let file: String
    let line: Int
    var field = ""
    let message: String
    init(file: String, line: Int, field: String = "", _ message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }
    func inputError(lineOffset: Int) -> InputError {
        InputError(file: file, record: "line \(line + lineOffset)", field: field, message)
    }
}

/// A field's text, for messages.
@inline(__always)
func fieldText(_ f: (UnsafePointer<UInt8>, Int)) -> String {
    String(decoding: UnsafeBufferPointer(start: f.0, count: f.1), as: UTF8.self)
}

/// A field's text as a message echoes it (`InputError.echo`: quoted, at most 80 characters,
/// control characters escaped); a huge field is decoded only as far as the echo needs. Bytes that
/// are not UTF-8 show as `\xFF` escapes (never as U+FFFD, so two different bad values never print
/// the same).
func fieldEcho(_ f: (UnsafePointer<UInt8>, Int)) -> String {
    let cap = 4 * InputError.echoLimit   // UTF-8: at most 4 bytes a character
    if f.1 <= cap { return InputError.echo(textEscapingInvalidUTF8(f)) }
    let head = String(textEscapingInvalidUTF8((f.0, cap)).prefix(InputError.echoLimit))
    return "\"" + InputError.escapingControls(head) + "…\" (\(f.1) bytes)"
}

/// The field's text with every byte that is not part of a valid UTF-8 sequence written `\xHH`.
func textEscapingInvalidUTF8(_ f: (UnsafePointer<UInt8>, Int)) -> String {
    if pm_utf8_valid(f.0, f.1) != 0 { return fieldText(f) }
    var out = ""
    var i = 0
    while i < f.1 {
        let b = f.0[i]
        let want = b < 0x80 ? 1 : (b >= 0xC2 && b <= 0xDF ? 2 : (b >= 0xE0 && b <= 0xEF ? 3 : (b >= 0xF0 && b <= 0xF4 ? 4 : 0)))
        if want > 0, i + want <= f.1, pm_utf8_valid(f.0 + i, want) != 0 {
            out += fieldText((f.0 + i, want))
            i += want
        } else {
            let h = String(b, radix: 16, uppercase: true)
            out += "\\x" + (h.count == 1 ? "0" + h : h)
            i += 1
        }
    }
    return out
}
