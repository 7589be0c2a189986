import Foundation
import CKernels

/// A CSV file with a header row, parsed in place from a memory map (FORMATS.md batch input).
///
/// Fields are comma-separated; a field may be double-quoted (with `""` for a quote inside). Lines
/// end in LF or CRLF; blank lines are skipped. Every data line must have as many fields as the
/// header — otherwise the run cannot proceed (FORMATS.md: exit 1).
struct CSVFile: @unchecked Sendable {
    let file: MappedFile
    /// The path as given, used in every message.
    var name: String { file.path }
    let columns: [String]
    /// Byte offset of the first data line.
    let dataStart: Int

    /// Opens `path` and checks that every `required` column is in its header.
    init(path: String, required: [String]) throws {
        file = try MappedFile(path: path)
        let b = file.bytes
        var end = 0
        while end < b.count, b[end] != 10 { end += 1 }
        var start = 0
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { start = 3 }   // UTF-8 BOM
        var header: [String] = []
        var headerEnd = end
        if headerEnd > start, b[headerEnd - 1] == 13 { headerEnd -= 1 }   // CRLF
        if headerEnd > start {
            var scratch: [UInt8] = []
            _ = Self.split(b.baseAddress!, start, headerEnd, &scratch) { f in
                header.append(String(decoding: UnsafeBufferPointer(start: f.0, count: f.1), as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces))
            }
        }
        columns = header
        dataStart = min(end + 1, b.count)
        if header.isEmpty { throw InputError(file: path, record: "line 1", "missing header row (expected columns \(required.joined(separator: ",")))") }
        for c in required where !header.contains(c) {
            throw InputError(file: path, record: "line 1", field: c, "missing required column (header has \(header.joined(separator: ",")))")
        }
    }

    func column(_ name: String) -> Int? { columns.firstIndex(of: name) }

    /// Splits the data into up to `n` byte ranges that start and end on line boundaries.
    func chunks(_ n: Int) -> [Range<Int>] {
        let b = file.bytes
        let total = b.count - dataStart
        guard total > 0 else { return [] }
        var out: [Range<Int>] = []
        var start = dataStart
        for k in 1...n {
            var end = k == n ? b.count : max(start, dataStart + total * k / n)
            while end < b.count, end > start, b[end - 1] != 10 { end += 1 }
            if end > start { out.append(start..<end) }
            start = end
            if start >= b.count { break }
        }
        return out
    }

    /// Calls `body(line, fields)` for each non-blank line of `range`; `line` counts from 1 at the
    /// range's first line. Throws `FieldCountError` (line = firstLine + line) when a line has the
    /// wrong number of fields, which is fatal.
    /// Returns the number of lines in the range (blank ones included).
    @discardableResult
    func forEachLine(in range: Range<Int>, firstLine: Int = 0,
                     _ body: (Int, UnsafeBufferPointer<(UnsafePointer<UInt8>, Int)>) -> Void) throws -> Int {
        let base = file.bytes.baseAddress!
        let nCols = columns.count
        var fields = [(UnsafePointer<UInt8>, Int)](repeating: (base, 0), count: nCols + 1)
        var scratch: [UInt8] = []
        var line = 0
        var p = range.lowerBound
        let end = range.upperBound
        var commas = [UInt32](repeating: 0, count: nCols + 1)
        try fields.withUnsafeMutableBufferPointer { fb in
            try commas.withUnsafeMutableBufferPointer { cb in
                let cap = fb.count
                while p < end {
                    line &+= 1
                    // The line's commas, its end and whether it has quotes (CKernels, 16 bytes a step).
                    var length = 0
                    var quoted: Int32 = 0
                    var count = pm_csv_line(base + p, end &- p, cb.baseAddress!, cb.count, &length, &quoted) &+ 1
                    let lineStart = p
                    var lineEnd = p &+ length
                    p = lineEnd &+ 1
                    if lineEnd > lineStart, base[lineEnd &- 1] == 13 { lineEnd &-= 1 }
                    if lineEnd == lineStart { continue }
                    if quoted != 0 {
                        scratch.removeAll(keepingCapacity: true)
                        count = 0
                        _ = Self.split(base, lineStart, lineEnd, &scratch) { f in
                            if count < cap { fb[count] = f }
                            count += 1
                        }
                    } else if count <= cap {
                        var s = lineStart
                        for k in 0..<(count &- 1) {
                            let c = lineStart &+ Int(cb[k])
                            fb[k] = (base + s, c &- s)
                            s = c &+ 1
                        }
                        fb[count &- 1] = (base + s, max(0, lineEnd &- s))
                    }
                    if count != nCols { throw FieldCountError(file: name, line: firstLine + line, count: count, expected: nCols) }
                    body(line, UnsafeBufferPointer(rebasing: fb[0..<nCols]))
                }
            }
        }
        return line
    }

    /// Splits one line with quoting; quoted fields are unescaped into `scratch`, which the field
    /// pointers then reference (valid until the next call).
    private static func split(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ scratch: inout [UInt8],
                              _ emit: ((UnsafePointer<UInt8>, Int)) -> Void) -> Int {
        var ranges: [(Bool, Int, Int)] = []   // (inScratch, offset, length)
        var p = start
        scratch.reserveCapacity(end - start)
        while true {
            if p < end, base[p] == 34 {
                let s = scratch.count
                p += 1
                while p < end {
                    if base[p] == 34 {
                        if p + 1 < end, base[p + 1] == 34 { scratch.append(34); p += 2; continue }
                        p += 1
                        break
                    }
                    scratch.append(base[p]); p += 1
                }
                ranges.append((true, s, scratch.count - s))
                while p < end, base[p] != 44 { p += 1 }
            } else {
                let s = p
                while p < end, base[p] != 44 { p += 1 }
                ranges.append((false, s, p - s))
            }
            if p >= end { break }
            p += 1   // the comma
            if p == end { ranges.append((false, p, 0)); break }
        }
        scratch.withUnsafeBufferPointer { sb in
            for r in ranges { emit(r.0 ? (sb.baseAddress! + r.1, r.2) : (base + r.1, r.2)) }
        }
        return ranges.count
    }
}

/// A line whose field count differs from the header's (fatal: FORMATS.md).
struct FieldCountError: Error {
    let file: String
    let line: Int
    let count: Int
    let expected: Int
    var inputError: InputError { InputError(file: file, record: "line \(line)", "has \(count) fields, the header has \(expected)") }
}

/// A field's text, for messages.
@inline(__always)
func fieldText(_ f: (UnsafePointer<UInt8>, Int)) -> String {
    String(decoding: UnsafeBufferPointer(start: f.0, count: f.1), as: UTF8.self)
}

/// A field's text as a message echoes it (`InputError.echo`: quoted, at most 80 characters,
/// control characters escaped); a huge field is decoded only as far as the echo needs.
func fieldEcho(_ f: (UnsafePointer<UInt8>, Int)) -> String {
    let cap = 4 * InputError.echoLimit   // UTF-8: at most 4 bytes a character
    if f.1 <= cap { return InputError.echo(fieldText(f)) }
    let head = String(fieldText((f.0, cap)).prefix(InputError.echoLimit))
    return "\"" + InputError.escapingControls(head) + "…\" (\(f.1) bytes)"
}
