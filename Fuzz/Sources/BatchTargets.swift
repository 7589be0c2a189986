// Targets for the CSV reader (Input/CSVFile.swift) and the whole batch path: BatchInput.load, the
// engine (BatchRunner) and the batch output formatting (Results/BatchOutput.swift).
#if canImport(Glibc)
import Glibc
#endif

/// CSVFile on the fuzz input as a file: no crash, and the fields read do not depend on how the
/// data is split into chunks (the batch reads chunks in parallel).
enum CSVTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let path = Fuzz.work + "/input.csv"
        Fuzz.write(path, data)
        let csv: CSVFile
        do { csv = try CSVFile(path: path, required: []) } catch { Fuzz.checkMessage(error, "csv"); return }
        let one = rows(csv, chunks: 1)
        let many = rows(csv, chunks: 5)
        switch (one, many) {
        case let (.success(a), .success(b)):
            if a != b { Fuzz.fail("csv: fields differ between 1 chunk (\(a.count) rows) and 5 chunks (\(b.count) rows)") }
            for r in a where r.count != csv.columns.count { Fuzz.fail("csv: a row of \(r.count) fields passed, header has \(csv.columns.count)") }
        case (.failure, .failure): break
        default: Fuzz.fail("csv: 1 chunk and 5 chunks disagree on whether the file is valid")
        }
    }

    /// A record the reader refuses as a whole (wrong field count, broken quoting): the run stops.
    struct RecordRefused: Error { let line: Int }

    static func rows(_ csv: CSVFile, chunks n: Int) -> Result<[[[UInt8]]], RecordRefused> {
        var out: [[[UInt8]]] = []
        do {
            for r in csv.chunks(n) {
                try csv.forEachLine(in: r) { _, f in out.append(f.map { Array(UnsafeBufferPointer(start: $0.0, count: $0.1)) }) }
            }
        } catch let e as CSVRecordError { return .failure(RecordRefused(line: e.line)) } catch { Fuzz.fail("csv: threw \(error)") }
        return .success(out)
    }
}

/// The batch: the first input byte picks which of the four CSV files the rest of the input
/// replaces (the others are the small valid ones of Fuzz/fixtures/batch); then load, margin and
/// format. A success must be consistent:
/// - margins.csv has one row per account of accounts.csv, in order, each id once (a duplicated id:
///   one row per line); units.csv rows belong to computed accounts;
/// - no `nan` or `inf` in any figure, except `inf` in `im_rate`/`mm_rate` (docs/formats.md);
/// - the output does not depend on the number of parse threads (chunking) or block size;
/// - pending fixes (`PM_FUZZ_PENDING=1`): ids found only in the row files get an error row; the
///   same files with every field quoted and CRLF line ends give the same bytes out.
enum BatchTarget {
    static let names = ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"]
    static let fixed: [[UInt8]] = names.map { Fuzz.read(Fuzz.root + "/Fuzz/fixtures/batch/" + $0) }
    static let dir = Fuzz.work + "/batch"
    nonisolated(unsafe) static var ready = false

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard data.count >= 1 else { return }
        if !ready {
            mkdir(dir, 0o755)
            ready = true
        }
        let which = Int(data[0] & 3)
        let noOrders = which != 3 && data[0] & 0x10 != 0
        for k in 0..<4 where k != which { Fuzz.write(dir + "/" + names[k], fixed[k]) }
        Fuzz.write(dir + "/" + names[which], UnsafeBufferPointer(rebasing: data[1...]))
        if noOrders { unlink(dir + "/orders.csv") }

        // The streaming path (docs/readings.md item 43), with read buffers from 7 bytes up so that
        // records straddle them: it falls back (nil) or writes exactly the whole-file path's bytes,
        // and never succeeds where the whole-file path refuses the input.
        let streamed = stream(dir, bufferSize: 7 + Int(data[0] >> 5) * 61, threads: 1 + Int(data[0] >> 2 & 1))
        guard let (margins, units, input) = margin(dir, threads: 1, blockSize: 2) else {
            if case .output = streamed { Fuzz.fail("batch: the streaming path succeeded where the whole-file path refuses the input") }
            return
        }
        switch streamed {
        case let .output(sm, su) where sm != margins || su != units:
            Fuzz.fail("batch: the streaming path's output differs from the whole-file path's")
        case .threw: Fuzz.fail("batch: the streaming path threw where the whole-file path succeeds")
        default: break
        }
        check(margins: margins, units: units, input: input)
        // The same files read in 12 chunks and margined in one block give the same bytes.
        guard let (m2, u2, _) = margin(dir, threads: 3, blockSize: 64) else {
            Fuzz.fail("batch: 1 parse thread succeeded, 3 threads failed")
        }
        if m2 != margins || u2 != units { Fuzz.fail("batch: output depends on the parse threads / block size") }

        if Fuzz.pending {
            checkOrphans(margins: margins, input: input)
            // RFC 4180: every field quoted, CRLF line ends — the same results. The copy replaces the
            // files in the same folder, so error texts (which name their file) read the same; a
            // second folder's path would have to be edited out of them, and the fuzzer learns to
            // put such paths into the data itself.
            var quoted: [(String, [UInt8])] = []
            for k in 0..<4 {
                let path = dir + "/" + names[k]
                guard access(path, F_OK) == 0 else { continue }
                guard let q = requoted(path) else { return }
                quoted.append((path, q))
            }
            for (path, q) in quoted { Fuzz.write(path, q) }
            guard let (m3Here, u3, _) = margin(dir, threads: 1, blockSize: 2) else { Fuzz.fail("batch: the quoted CRLF copy fails") }
            if m3Here != margins || u3 != units { Fuzz.fail("batch: quoting every field / CRLF changed the output") }
        }
    }

    enum Streamed { case output([UInt8], [UInt8]), fallback, threw }

    /// What the streaming path did: its (margins, units), a fallback to the whole-file path, or an
    /// error (which must be an InputError).
    static func stream(_ dir: String, bufferSize: Int, threads: Int) -> Streamed {
        var margins = BatchOutput.marginsHeader, units = BatchOutput.unitsHeader
        do {
            let outcome = try StreamingBatch.run(directory: dir, priced: Fuzz.priced, threads: threads, blockSize: 2,
                                                 bufferSize: bufferSize) { m, u in margins += m; units += u }
            return outcome == nil ? .fallback : .output(margins, units)
        } catch { Fuzz.checkMessage(error, "batch (streaming)"); return .threw }
    }

    /// Loads, margins and formats the folder; nil when the run cannot proceed (then the error
    /// must be an InputError).
    static func margin(_ dir: String, threads: Int, blockSize: Int) -> ([UInt8], [UInt8], BatchInput)? {
        let input: BatchInput
        do { input = try BatchInput.load(directory: dir, priced: Fuzz.priced, threads: threads) } catch {
            Fuzz.checkMessage(error, "batch"); return nil
        }
        var margins = BatchOutput.marginsHeader, units = BatchOutput.unitsHeader
        do {
            _ = try BatchRunner.run(input, priced: Fuzz.priced, threads: 1, blockSize: blockSize) { m, u in
                margins += m; units += u
            }
        } catch { Fuzz.fail("batch: the engine threw \(error)") }
        return (margins, units, input)
    }

    static func check(margins: [UInt8], units: [UInt8], input: BatchInput) {
        let m = OutputCSV.parse(margins)
        let u = OutputCSV.parse(units)
        guard m.count >= 1, u.count >= 1 else { Fuzz.fail("batch: an output has no header") }
        // The ids margined: every accounts.csv line's id, in order, once (orphans after them).
        let rows = m.dropFirst()
        guard rows.count >= input.accountIds.count else {
            Fuzz.fail("batch: \(input.accountIds.count) accounts, \(rows.count) rows in margins.csv")
        }
        var computed = Set<String>()
        for (k, r) in rows.enumerated() {
            guard r.count == 9 else { Fuzz.fail("batch: margins.csv row \(k + 1) has \(r.count) fields") }
            if k < input.accountIds.count, r[0] != input.accountIds[k] {
                Fuzz.fail("batch: margins.csv row \(k + 1) is \(r[0].debugDescription), expected \(input.accountIds[k].debugDescription)")
            }
            if r[8].isEmpty {
                for c in 1...4 { number(r[c], rate: false, "margins.csv row \(k + 1) column \(c)") }
                for c in 5...6 { number(r[c], rate: true, "margins.csv row \(k + 1) column \(c)") }
                guard Stage(rawValue: r[7]) != nil else { Fuzz.fail("batch: stage \(r[7].debugDescription)") }
                computed.insert(r[0])
            } else {
                for c in 1...7 where !r[c].isEmpty { Fuzz.fail("batch: error row \(k + 1) has figures") }
            }
        }
        var ids = Set<String>()
        var dup = Set<String>()
        for id in input.accountIds { if !ids.insert(id).inserted { dup.insert(id) } }
        for id in dup where computed.contains(id) { Fuzz.fail("batch: duplicated id \(id.debugDescription) was margined") }
        if rows.count > input.accountIds.count {
            // Rows after the accounts.csv ones: orphan ids, each once, none of accounts.csv.
            var seen = Set<String>()
            for r in rows.dropFirst(input.accountIds.count) {
                if ids.contains(r[0]) || !seen.insert(r[0]).inserted || r[8].isEmpty {
                    Fuzz.fail("batch: extra margins.csv row \(r[0].debugDescription)")
                }
            }
        }
        for (k, r) in u.dropFirst().enumerated() {
            guard r.count == 14 else { Fuzz.fail("batch: units.csv row \(k + 1) has \(r.count) fields") }
            guard computed.contains(r[0]) else { Fuzz.fail("batch: units.csv row for \(r[0].debugDescription), not a computed account") }
            for c in [2, 3, 5, 6, 7, 8, 9, 10, 11, 13] { number(r[c], rate: false, "units.csv row \(k + 1) column \(c)") }
        }
    }

    /// A figure: a finite decimal, or `inf` for a rate.
    static func number(_ s: String, rate: Bool, _ where0: String) {
        if rate && s == "inf" { return }
        guard let v = Double(s), v.isFinite, s != "nan", !s.lowercased().contains("inf") else {
            Fuzz.fail("batch: \(where0) is \(s.debugDescription)")
        }
    }

    /// Every id seen in a row file but not in accounts.csv has an error row (docs/formats.md).
    static func checkOrphans(margins: [UInt8], input: BatchInput) {
        let out = Set(OutputCSV.parse(margins).dropFirst().map { $0[0] })
        for k in 1..<4 {
            let path = dir + "/" + names[k]
            guard access(path, F_OK) == 0, let csv = try? CSVFile(path: path, required: ["account_id"]) else { continue }
            let c = csv.column("account_id")!
            for r in csv.chunks(1) {
                _ = try? csv.forEachLine(in: r) { _, f in
                    let id = fieldText(f[c])
                    if !out.contains(id) { Fuzz.fail("batch: id \(id.debugDescription) of \(names[k]) has no row in margins.csv") }
                }
            }
        }
    }

    /// The file as the reader sees it, re-written with every field quoted and CRLF line ends.
    static func requoted(_ path: String) -> [UInt8]? {
        guard let csv = try? CSVFile(path: path, required: []) else { return nil }
        var out: [UInt8] = []
        func field(_ b: UnsafeBufferPointer<UInt8>) {
            out.append(34)
            for x in b { if x == 34 { out.append(34) }; out.append(x) }
            out.append(34)
        }
        for (n, h) in csv.columns.enumerated() {
            if n > 0 { out.append(44) }
            Array(h.utf8).withUnsafeBufferPointer { field($0) }
        }
        out += [13, 10]
        // Blank lines are kept (as CRLF), so every record stays on its line: error texts name lines.
        var nextLine = 1
        do {
            for r in csv.chunks(1) {
                try csv.forEachLine(in: r) { line, f in
                    while nextLine < line { out += [13, 10]; nextLine += 1 }
                    for (n, x) in f.enumerated() {
                        if n > 0 { out.append(44) }
                        let b = UnsafeBufferPointer(start: x.0, count: x.1)
                        field(b)
                        // Line breaks inside a quoted field: LF, CRLF and a lone CR each end a line.
                        for (i, c) in b.enumerated() where c == 10 || (c == 13 && (i + 1 == b.count || b[i + 1] != 10)) { nextLine += 1 }
                    }
                    out += [13, 10]
                    nextLine += 1
                }
            }
        } catch { return nil }
        return out
    }
}

/// RFC 4180 reading of the outputs (fields may be quoted, with line breaks inside).
enum OutputCSV {
    static func parse(_ b: [UInt8]) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var i = 0
        var quoted = false
        var any = false
        while i < b.count {
            let c = b[i]
            if quoted {
                if c == 34 {
                    if i + 1 < b.count, b[i + 1] == 34 { field.append(34); i += 2; continue }
                    quoted = false
                } else { field.append(c) }
            } else if c == 34 { quoted = true; any = true }
            else if c == 44 { row.append(String(decoding: field, as: UTF8.self)); field = []; any = true }
            else if c == 10 {
                row.append(String(decoding: field, as: UTF8.self)); rows.append(row)
                row = []; field = []; any = false
            } else { field.append(c); any = true }
            i += 1
        }
        if any || !field.isEmpty { Fuzz.fail("batch: output does not end with a line break") }
        return rows
    }
}
