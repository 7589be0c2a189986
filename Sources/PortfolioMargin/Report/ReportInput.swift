import Foundation
import CKernels

/// One record of a report input CSV while it is read: its fields (valid only during the call),
/// the file and the physical line that names it in messages.
struct ReportRow {
    let file: String
    let line: Int
    let fields: UnsafeBufferPointer<(UnsafePointer<UInt8>, Int)>
    /// Index of each wanted column (in the order the reader asked for them) in the record.
    let columns: [Int]
    /// The wanted columns' names, for messages.
    let names: [String]

    func raw(_ k: Int) -> (UnsafePointer<UInt8>, Int) { fields[columns[k]] }

    func isEmpty(_ k: Int) -> Bool { raw(k).1 == 0 }

    /// The field's text (the file is checked to be UTF-8 before a record reaches the caller).
    func text(_ k: Int) -> String {
        let f = raw(k)
        return String(decoding: UnsafeBufferPointer(start: f.0, count: f.1), as: UTF8.self)
    }

    /// Whether the field is exactly `word` (ASCII).
    func equals(_ k: Int, _ word: StaticString) -> Bool {
        let f = raw(k)
        guard f.1 == word.utf8CodeUnitCount else { return false }
        return memcmp(f.0, word.utf8Start, f.1) == 0
    }

    /// An error naming this record and column `k`.
    func fail(_ k: Int, _ message: String) -> InputError {
        InputError(file: file, record: "line \(line)", field: names[k], message)
    }

    /// The field as a finite decimal number, nil when empty; anything else (text, `nan`, `inf`,
    /// beyond the double range) is an error naming the field.
    func number(_ k: Int) throws -> Double? {
        let f = raw(k)
        if f.1 == 0 { return nil }
        guard let v = FastNumber.parse(f.0, f.1) else {
            throw fail(k, "not a finite number: \(InputError.echo(text(k)))")
        }
        return v
    }

    /// A number that must be present (the row carries no error).
    func required(_ k: Int) throws -> Double {
        guard let v = try number(k) else { throw fail(k, "empty, but the row has no error") }
        return v
    }

    /// A present, finite number ≥ 0.
    func nonNegative(_ k: Int) throws -> Double {
        let v = try required(k)
        guard v >= 0 else { throw fail(k, "must be ≥ 0, got \(InputError.echo(text(k)))") }
        return v
    }

    /// A present whole number ≥ 0 (a count).
    func count(_ k: Int) throws -> Int {
        let v = try nonNegative(k)
        guard v == v.rounded(), v < 9.0e15 else { throw fail(k, "must be a whole number of accounts, got \(InputError.echo(text(k)))") }
        return Int(v)
    }
}

/// Reads the CSV files of an output folder forward in pieces of bounded size (a batch's
/// `margins.csv` of a million accounts is never held whole): the CSV rules and messages of the
/// batch input (`CSVFile`), the read and change checks and XXH64 digest of `StreamFile`.
enum ReportCSV {
    /// Bytes read at a time; a record longer than this grows the buffer for it.
    static let bufferSize = 4 << 20

    /// Where the bytes come from: a file, or bytes in memory (tests and the fuzz target).
    enum Source {
        case file(StreamFile)
        case memory([UInt8], Int)

        var atEnd: Bool {
            switch self {
            case .file(let f): return f.atEnd
            case .memory(let b, let at): return at >= b.count
            }
        }

        mutating func read(into dst: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int {
            switch self {
            case .file(let f):
                do { return try f.read(into: dst, capacity: capacity) } catch let e as StreamFile.ReadFailure { throw e.error }
            case .memory(let b, let at):
                let n = min(capacity, b.count - at)
                if n > 0 { b.withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + at, count: n) } }
                self = .memory(b, at + n)
                return n
            }
        }
    }

    /// Calls `body` with each non-blank data record of the CSV at `path` (or of `bytes`, named
    /// `path` in messages), whose header must hold every column of `required`; the row's columns
    /// are `required`'s, in that order. Returns the data records read and the digest of the bytes.
    /// Throws an `InputError` naming file, line and field: a missing file or column, broken
    /// quoting, a wrong field count, invalid UTF-8, or whatever `body` throws.
    @discardableResult
    static func read(path: String, bytes: [UInt8]? = nil, required: [String], bufferSize: Int = ReportCSV.bufferSize,
                     _ body: (ReportRow) throws -> Void) throws -> (records: Int, digest: InputDigest) {
        var source: Source
        if let bytes { source = .memory(bytes, 0) } else { source = .file(try StreamFile(path: path)) }
        var capacity = max(bufferSize, 64)
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 32)
        defer { buffer.deallocate() }
        var length = 0
        var carry: [UInt8] = []
        var header: CSVFile?
        var columns: [Int] = []
        var lineBase = 0
        var records = 0
        var from = 0
        while true {
            var cut = 0
            while true {
                length += try source.read(into: buffer + length, capacity: capacity - length)
                if header == nil, length >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { from = 3 }
                cut = source.atEnd ? length : StreamFile.lastRecordEnd(buffer, from: from, length)
                if cut > 0 || source.atEnd { break }
                if length < capacity { continue }
                // One record longer than the buffer: a larger buffer for it.
                let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * capacity + 32)
                larger.update(from: buffer, count: length)
                buffer.deallocate()
                buffer = larger
                capacity *= 2
            }
            carry.removeAll(keepingCapacity: true)
            carry.append(contentsOf: UnsafeBufferPointer(start: buffer + cut, count: length - cut))
            (buffer + cut).update(repeating: 0, count: 32)   // the vector scan reads past the end
            let view = InputFile(borrowing: UnsafeBufferPointer(start: buffer, count: cut), path: path)
            var start = 0
            if header == nil {
                let h = try CSVFile(file: view, required: required)
                // A wanted column named twice: which one holds the figure is not defined.
                for name in required where h.columns.lazy.filter({ $0 == name }).count > 1 {
                    throw InputError(file: path, record: "line 1", field: name, "column given twice in the header")
                }
                header = h
                columns = required.map { h.column($0) ?? 0 }
                start = h.dataStart
                lineBase = h.headerLines
                from = 0
            }
            let csv = CSVFile(chunk: view, header: header!)
            let base = lineBase
            do {
                lineBase += try csv.forEachRecord(in: start..<cut, firstLine: base) { line, fields, nonASCII in
                    if nonASCII, let k = csv.invalidUTF8Field(fields) {
                        throw InputError(file: path, record: "line \(base + line)", field: csv.columns[k], "invalid UTF-8")
                    }
                    records += 1
                    try body(ReportRow(file: path, line: base + line, fields: fields, columns: columns, names: required))
                }
            } catch let e as CSVRecordError {
                throw e.inputError(lineOffset: 0)
            }
            if source.atEnd && carry.isEmpty { break }
            length = carry.count
            carry.withUnsafeBufferPointer { if length > 0 { buffer.update(from: $0.baseAddress!, count: length) } }
        }
        let digest: InputDigest
        switch source {
        case .file(let f): digest = f.digest ?? InputDigest(size: f.size, hash: 0)
        case .memory(let b, _): digest = InputDigest(b)
        }
        return (records, digest)
    }

    /// A small file read whole (a JSON document): refused above `limit` bytes, as a folder, pipe
    /// or device, or when missing.
    static func small(path: String, limit: Int = 64 << 20) throws -> [UInt8] {
        let (fd, st) = try InputFile.openRegular(path)
        fd.closeIgnoringErrors()
        guard st.size <= limit else { throw InputError(file: path, "is larger than \(limit >> 20) MB: not a summary of this kind") }
        let f = try InputFile(path: path)
        return Array(f.bytes)
    }

    /// Whether `path` names an existing regular file (a folder, or nothing, is false).
    static func isFile(_ path: String) -> Bool {
        (try? FileSystem.status(path))?.kind == .regular
    }

    /// Whether `path` exists at all (any kind).
    static func exists(_ path: String) -> Bool {
        (try? FileSystem.linkStatus(path)) != nil
    }
}
