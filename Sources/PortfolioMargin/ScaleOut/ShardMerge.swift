#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pm merge` (docs/formats.md "Scale-out"): the outputs of the N shards of one run joined into one
/// `margins.csv` / `units.csv` / `manifest.json`, byte for byte what one unsharded run writes.
///
/// Streaming, memory bounded: `accounts.csv` is read in order (memory-mapped); each id's shard is
/// its FNV-1a hash modulo N (docs/model.md §11.16), and that shard's next `margins.csv` row must be this
/// id — it is copied, then the shard's `units.csv` rows of the id. Each shard's rows are already in
/// `accounts.csv` order, so one pass interleaves them with a read buffer per file.
///
/// Refused (exit 1, nothing written), naming what: a folder without a manifest; shards of different
/// inputs, versions or shard counts; a shard missing or given twice; an `accounts.csv` that is not
/// the one the shards read; an account missing from its shard, present twice, or in the wrong
/// shard; a `units.csv` row of an account that has no such rows in the merged order, or that
/// repeats a unit (base coin) of its account; a `margins.csv` or `units.csv` whose size or XXH64
/// is not the one its manifest records (the shard was changed after `pm batch` wrote it); orphan
/// rows that do not match the manifest's `orphans`.
///
/// Rows after the `accounts.csv` rows (ids seen only in balances/positions/orders, docs/formats.md):
/// each shard lists its own, and its manifest where each one's id first appears (row file, line);
/// the merge writes them all sorted by that, the order of first appearance one run writes them in.
/// (Shards of split folders key them by lines of their own files, whose texts these rows also name:
/// for them the merge keeps the rows but not one run's order or texts.)
/// These rows are held in memory (they are few: rows no account owns).
public enum ShardMerge {
    /// What a merge wrote.
    public struct Outcome: Sendable {
        /// The merged run's manifest (no shard; accounts and errors summed; the shards' common inputs).
        public var manifest: Manifest
    }

    /// Merges the shard output folders `dirs` into `out`, in the order of the `accounts` file
    /// (`accounts.csv` of the whole input), as `pm merge` does.
    ///
    /// - Throws: ``InputError`` when no folder is given, a manifest is missing or malformed, the
    ///   shards are of different runs, versions or inputs, a shard is missing or repeated, or a
    ///   file cannot be read or written. Nothing is written then.
    public static func merge(shards dirs: [String], accounts: String, out: String) throws -> Outcome {
        guard !dirs.isEmpty else { throw InputError("no shard output folder given") }
        // Manifests: one run, every shard once.
        let manifests = try dirs.map { try Manifest.load(path: $0 + "/manifest.json") }
        let n = manifests[0].shard?.count ?? 1
        var byIndex = [Int?](repeating: nil, count: n)
        for (k, m) in manifests.enumerated() {
            let s = m.shard ?? ShardSpec(index: 0, count: 1)
            guard s.count == n else {
                throw InputError(file: dirs[k] + "/manifest.json", field: "shard",
                                 "is \(s) but \(dirs[0]) is a shard of \(n): shards of different splits")
            }
            if let other = byIndex[s.index] {
                throw InputError(file: dirs[k], "is shard \(s), which \(dirs[other]) already is: a shard given twice")
            }
            byIndex[s.index] = k
            if m.inputsKey != manifests[0].inputsKey {
                let diff = zip(m.inputs, manifests[0].inputs).first { $0.0.name != $0.1.name || $0.0.digest != $0.1.digest }
                let what = diff.map { "\($0.0.name): \($0.0.digest) vs \($0.1.digest)" } ?? "a different list of inputs"
                throw InputError(file: dirs[k] + "/manifest.json", field: "inputs",
                                 "differ from \(dirs[0])'s (\(what)): shards of different inputs")
            }
            if m.pm != manifests[0].pm {
                throw InputError(file: dirs[k] + "/manifest.json", field: "pm", "is \(InputError.echo(m.pm)), \(dirs[0])'s is \(InputError.echo(manifests[0].pm))")
            }
        }
        if let missing = byIndex.firstIndex(where: { $0 == nil }) {
            let absent = byIndex.indices.filter { byIndex[$0] == nil }
            throw InputError("shard \(missing)/\(n) is missing (shards \(absent.prefix(10).map { "\($0)/\(n)" }.joined(separator: ", ")) not given)")
        }
        let order = byIndex.map { $0! }   // shard index → position in dirs
        let accountsFile = try CSVFile(path: accounts, required: ["account_id"])
        let d = InputDigest(accountsFile.file.bytes)
        if let want = manifests[0].inputs.first(where: { $0.name == "accounts.csv" })?.digest, want != d {
            throw InputError(file: accounts, "is not the accounts.csv the shards read (\(d), the manifests say \(want))")
        }

        // Each shard's outputs must be the ones its manifest describes: the sizes now, the hashes
        // once every byte has gone through the readers (below).
        func recorded(_ k: Int, _ name: String) throws -> InputDigest {
            guard let d = manifests[k].outputs.first(where: { $0.name == name })?.digest else {
                throw InputError(file: dirs[k] + "/manifest.json", field: "outputs.\(name)",
                                 "is missing (not the manifest of a pm \(PMVersion.string) batch run)")
            }
            return d
        }
        func reader(_ k: Int, _ name: String, _ header: [UInt8]) throws -> RecordReader {
            let want = try recorded(k, name)
            let r = try RecordReader(path: dirs[k] + "/" + name, header: header)
            if r.fileSize != want.size {
                throw InputError(file: r.path, "is \(r.fileSize) bytes, but \(dirs[k])/manifest.json says \(want.size): the shard was changed after pm batch wrote it")
            }
            return r
        }
        let margins = try order.map { try reader($0, "margins.csv", BatchOutput.marginsHeader) }
        let units = try order.map { try reader($0, "units.csv", BatchOutput.unitsHeader) }
        let files = try OutputFiles(directory: out, names: ["margins.csv", "units.csv", "manifest.json"])
        do {
            var m = ByteBuffer(capacity: 1 << 20), u = ByteBuffer(capacity: 1 << 20)
            m.bytes.append(contentsOf: BatchOutput.marginsHeader)
            u.bytes.append(contentsOf: BatchOutput.unitsHeader)
            var rows = 0, errors = 0
            var failure: Error?
            let cId = accountsFile.column("account_id")!
            let range = accountsFile.file.bytes.count > accountsFile.dataStart ? accountsFile.dataStart..<accountsFile.file.bytes.count : 0..<0
            do { try accountsFile.forEachLine(in: range) { line, f in
                guard failure == nil else { return }
                do {
                    let id = UnsafeRawBufferPointer(start: f[cId].0, count: f[cId].1)
                    let s = ShardSpec.of(id, count: n)
                    let r = margins[s]
                    guard let row = try r.next() else {
                        throw InputError(file: r.path, "ends before account \(fieldEcho(f[cId])) (accounts.csv line \(line + 1)): the account is missing from shard \(s)/\(n)")
                    }
                    guard r.firstFieldEquals(row, id) else {
                        let found = r.firstFieldText(row)
                        let twice = r.firstField(row) == r.lastId
                        throw InputError(file: r.path, record: "row \(r.count)",
                                         twice ? "account \(InputError.echo(found)) is present twice"
                                               : "has account \(InputError.echo(found)) where accounts.csv line \(line + 1) has \(fieldEcho(f[cId])) (shard \(s)/\(n)): an account missing, present twice or in the wrong shard")
                    }
                    r.lastId.removeAll(keepingCapacity: true)
                    r.lastId.append(contentsOf: id)
                    r.copy(row, to: &m)
                    rows += 1
                    if r.isErrorRow(row) { errors += 1 }
                    let ur = units[s]
                    // One row per unit (base coin) of the account.
                    var coins: [[UInt8]] = []
                    while let unit = try ur.peek(), ur.firstFieldEquals(unit, id) {
                        let coin = ur.secondField(unit)
                        if coins.contains(coin) {
                            throw InputError(file: ur.path, record: "line \(ur.recordLine)",
                                             "repeats the \(InputError.echo(String(decoding: coin, as: UTF8.self))) unit of account \(fieldEcho(f[cId])) (one row per unit)")
                        }
                        coins.append(coin)
                        ur.copy(unit, to: &u)
                        ur.consume()
                    }
                    if m.bytes.count >= 1 << 20 { try files.write(0, m.bytes); m.bytes.removeAll(keepingCapacity: true) }
                    if u.bytes.count >= 1 << 20 { try files.write(1, u.bytes); u.bytes.removeAll(keepingCapacity: true) }
                } catch { failure = error }
            } } catch let e as FieldCountError { throw e.inputError }
            if let failure { throw failure }
            // Every units.csv row belongs to an account just merged.
            for (s, ur) in units.enumerated() {
                if let extra = try ur.peek() {
                    throw InputError(file: ur.path, record: "row \(ur.count + 1)",
                                     "units of account \(InputError.echo(ur.firstFieldText(extra))), which has no margins.csv row in this place (shard \(s)/\(n))")
                }
            }
            // The rows after accounts.csv's (ids only in the row files), each shard's keyed by where
            // its id first appears (its manifest's orphans), sorted: one run's order.
            var tail: [(key: Manifest.OrphanKey, row: [UInt8])] = []
            for (s, r) in margins.enumerated() {
                let keys = manifests[order[s]].orphans
                var count = 0
                while let row = try r.next() {
                    guard count < keys.count else {
                        throw InputError(file: r.path, record: "line \(r.recordLine)",
                                         "is an orphan row beyond the \(keys.count) that \(dirs[order[s]])/manifest.json lists (orphans)")
                    }
                    // The row's error names where its id first appears: it must be the key's place.
                    let key = keys[count], bytes = r.bytes(row)
                    let place = Array("\(Manifest.OrphanKey.files[key.file]): line \(key.line): ".utf8)
                    guard bytes.firstRange(of: place) != nil else {
                        throw InputError(file: dirs[order[s]] + "/manifest.json", field: "orphans[\(count)]",
                                         "says \(Manifest.OrphanKey.files[key.file]) line \(key.line), which \(r.path) line \(r.recordLine) does not name")
                    }
                    tail.append((key, bytes))
                    count += 1
                }
                if count != keys.count {
                    throw InputError(file: dirs[order[s]] + "/manifest.json", field: "orphans",
                                     "lists \(keys.count) ids not in accounts.csv, but \(r.path) has \(count) rows after the accounts.csv ones")
                }
            }
            // Keys are unique in shards of one input; split folders key by their own files' lines,
            // so ties keep shard order (the position in `tail`).
            let sorted = tail.indices.sorted { (tail[$0].key, $0) < (tail[$1].key, $1) }.map { tail[$0] }
            for (_, row) in sorted {
                m.bytes.append(contentsOf: row)
                rows += 1
                if row.count >= 2, row[row.count - 2] != 44 { errors += 1 }
            }
            // Every byte of every shard file has been read: the hashes must be the manifests'.
            for (s, k) in order.enumerated() {
                for (r, name) in [(margins[s], "margins.csv"), (units[s], "units.csv")] {
                    let want = try recorded(k, name), got = r.digest
                    if got != want {
                        throw InputError(file: r.path, "does not match \(dirs[k])/manifest.json (xxh64 \(got.hex), the manifest says \(want.hex)): the shard was changed after pm batch wrote it")
                    }
                }
            }
            try files.write(0, m.bytes)
            try files.write(1, u.bytes)
            let manifest = Manifest(shard: nil, accounts: rows, errors: errors, inputs: manifests[0].inputs,
                                    outputs: [("margins.csv", files.digest(0)), ("units.csv", files.digest(1))],
                                    orphans: sorted.map(\.key), pm: manifests[0].pm)
            try files.write(2, manifest.json)
            try files.commit()
            return Outcome(manifest: manifest)
        } catch {
            files.abandon()
            throw error
        }
    }
}

/// Reads the records of a CSV file `pm batch` wrote (LF line ends; a quoted field may hold a
/// newline), one buffer at a time.
final class RecordReader {
    let path: String
    private let fd: FileDescriptor
    private var buf: [UInt8]
    private var start = 0, end = 0
    private var eof = false
    private var pending: Range<Int>?
    /// Records returned so far.
    private(set) var count = 0
    /// The id of the last row merged from this file, for the "present twice" message.
    var lastId: [UInt8] = []
    /// The file's size when opened.
    private(set) var fileSize = 0
    /// XXH64 of every byte read so far (the whole file once `next` or `peek` returned nil).
    private var hash = XXH64Stream()
    /// The line (1-based, the header is line 1) on which the record `record()` last produced starts.
    private(set) var recordLine = 0
    /// The line on which the next record starts.
    private var nextLine = 1

    init(path: String, header: [UInt8]) throws {
        self.path = path
        // A regular file only: a pipe would block the open until a writer came (docs/formats.md).
        let opened = try InputFile.openRegular(path)
        fd = opened.0
        fileSize = opened.1.size
        buf = [UInt8](repeating: 0, count: 1 << 20)
        guard let h = try next(), bytes(h) == header else {
            throw InputError(file: path, record: "line 1", "is not the header pm batch writes")
        }
        count = 0
    }

    deinit { fd.closeIgnoringErrors() }

    /// The next record (range in the buffer, newline included; valid until the next call).
    func next() throws -> Range<Int>? {
        if let p = pending { pending = nil; count += 1; return p }
        guard let r = try record() else { return nil }
        count += 1
        return r
    }

    func peek() throws -> Range<Int>? {
        if pending == nil { pending = try record() }
        return pending
    }

    func consume() { if pending != nil { pending = nil; count += 1 } }

    /// The digest of the bytes read so far.
    var digest: InputDigest { hash.digest }

    private func record() throws -> Range<Int>? {
        var scan = start
        var quotes = 0, lines = 0
        while true {
            while scan < end {
                let b = buf[scan]
                if b == 34 { quotes += 1 } else if b == 10 {
                    lines += 1
                    if quotes % 2 == 0 {
                        let r = start..<(scan + 1)
                        start = scan + 1
                        recordLine = nextLine
                        nextLine += lines
                        return r
                    }
                }
                scan += 1
            }
            if eof {
                guard start < end else { return nil }
                throw InputError(file: path, "ends in the middle of a row (not a complete pm batch output)")
            }
            // Move the partial record to the front, grow if one record fills the buffer, read more.
            let keep = end - start
            if start > 0 {
                buf.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + start, keep) }
                scan -= start; start = 0; end = keep
            }
            if end == buf.count { buf.append(contentsOf: [UInt8](repeating: 0, count: buf.count)) }
            let n: Int
            do { n = try buf.withUnsafeMutableBytes { b throws(Errno) in try fd.read(into: b.baseAddress! + end, count: b.count - end) } } catch {
                throw InputError(file: path, "cannot be read")
            }
            if n == 0 { eof = true } else {
                buf.withUnsafeBytes { b in hash.update(UnsafeRawBufferPointer(rebasing: b[end..<(end + n)])) }
                end += n
            }
        }
    }

    func bytes(_ r: Range<Int>) -> [UInt8] { Array(buf[r]) }

    func copy(_ r: Range<Int>, to out: inout ByteBuffer) { out.bytes.append(contentsOf: buf[r]) }

    /// The record's first field, unquoted.
    func firstField(_ r: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        var p = r.lowerBound
        if p < r.upperBound, buf[p] == 34 {
            p += 1
            while p < r.upperBound {
                if buf[p] == 34 {
                    if p + 1 < r.upperBound, buf[p + 1] == 34 { out.append(34); p += 2; continue }
                    break
                }
                out.append(buf[p]); p += 1
            }
            return out
        }
        while p < r.upperBound, buf[p] != 44, buf[p] != 10 { out.append(buf[p]); p += 1 }
        return out
    }

    /// The record's second field as written (quotes included, if any): a `units.csv` row's base coin.
    func secondField(_ r: Range<Int>) -> [UInt8] {
        var p = r.lowerBound, quoted = false
        while p < r.upperBound {
            if buf[p] == 34 { quoted.toggle() } else if buf[p] == 44 && !quoted { break }
            p += 1
        }
        var q = p + 1, quotedEnd = false
        while q < r.upperBound {
            if buf[q] == 34 { quotedEnd.toggle() } else if (buf[q] == 44 || buf[q] == 10) && !quotedEnd { break }
            q += 1
        }
        return p + 1 <= min(q, r.upperBound) ? Array(buf[(p + 1)..<min(q, r.upperBound)]) : []
    }

    func firstFieldText(_ r: Range<Int>) -> String { String(decoding: firstField(r), as: UTF8.self) }

    /// Whether the first field is `id` (compared in place when unquoted).
    func firstFieldEquals(_ r: Range<Int>, _ id: UnsafeRawBufferPointer) -> Bool {
        let n = id.count
        if buf[r.lowerBound] == 34 { return firstField(r).elementsEqual(id) }
        guard r.count > n else { return false }
        let sep = buf[r.lowerBound + n]
        guard sep == 44 || sep == 10 else { return false }
        return n == 0 || buf.withUnsafeBytes { b in memcmp(b.baseAddress! + r.lowerBound, id.baseAddress!, n) == 0 }
    }

    /// A `margins.csv` row with an error: its last field (error) is not empty.
    func isErrorRow(_ r: Range<Int>) -> Bool { r.count >= 2 && buf[r.upperBound - 2] != 44 }
}
