#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `explainargs`: the arguments of `pm explain` as the library takes them (``ExplainJob``). Bytes
/// 0–6 pick, for each of the seven paths (before folder, market, params; after folder, market,
/// params; output), a valid one or a hostile place (missing, a folder where a file belongs or a
/// file where a folder belongs, an empty file, a name with a line break, the other day's); byte 7
/// the threads, byte 8 the block size, byte 9 `top`; the rest, when present, replaces one file of
/// the after day's folder (byte 10 picks which). Invariants: a refusal is one line, and then the
/// output folder holds no output file (a file given as the output is unchanged); a success writes
/// all three files, in every row the three terms add up to the change exactly and the change is
/// after − before exactly (as texts), and one thread with blocks of one account writes the same bytes.
enum ExplainArgsTarget {
    static var serial = 0

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        serial += 1
        let dir = Fuzz.work + "/explain-\(serial)"
        mkdir(dir, 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = Array(data)
        func byte(_ k: Int) -> Int { k < b.count ? Int(b[k]) : 0 }
        let fixture = Fuzz.root + "/Fuzz/fixtures/batch"
        let small = Fuzz.root + "/Fuzz/fixtures/market-small.json"
        let sample = Fuzz.root + "/data/sample/market.json"
        let params = Fuzz.root + "/data/params/pm-params.json"
        // The after day's folder: a copy of the fixture, one file replaced by the rest of the bytes.
        let afterDir = dir + "/after"
        mkdir(afterDir, 0o755)
        for f in ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"] { Fuzz.write(afterDir + "/" + f, Fuzz.read(fixture + "/" + f)) }
        if b.count > 11 {
            let f = ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"][byte(10) % 4]
            Fuzz.write(afterDir + "/" + f, Array(b[11...]))
        }
        func odd(_ choice: Int, valid: String, folder: Bool, other: String) -> String {
            switch choice % 8 {
            case 1: return dir + "/missing"
            case 2:
                if folder { Fuzz.write(dir + "/a-file", [120]); return dir + "/a-file" }
                mkdir(dir + "/a-folder", 0o755); return dir + "/a-folder"
            case 3: Fuzz.write(dir + "/empty", []); return dir + "/empty"
            case 4: return dir + "/line\nbreak"
            case 5: return other
            default: return valid
            }
        }
        let before = ExplainJob.Day(input: odd(byte(0), valid: fixture, folder: true, other: afterDir),
                                    market: odd(byte(1), valid: small, folder: false, other: sample),
                                    parameters: .file(odd(byte(2), valid: params, folder: false, other: params)))
        let after = ExplainJob.Day(input: odd(byte(3), valid: afterDir, folder: true, other: fixture),
                                   market: odd(byte(4), valid: byte(4) & 8 == 0 ? small : sample, folder: false, other: small),
                                   parameters: .file(odd(byte(5), valid: params, folder: false, other: params)))
        var out = dir + "/out"
        var outFile: [UInt8]?
        switch byte(6) % 5 {
        case 1: out = dir + "/o"
        case 2: Fuzz.write(dir + "/taken", [1, 2, 3]); out = dir + "/taken"; outFile = [1, 2, 3]
        case 3: out = dir + "/a/b/c"
        case 4: out = dir + "/out\nx"
        default: break
        }
        var job = ExplainJob(before: before, after: after, output: out)
        job.threads = byte(7) % 5 - 1                  // −1…3: the library takes at least one
        job.blockSize = [8192, 1, 2, 3, 0, -4][byte(8) % 6]
        job.top = byte(9) % 4 - 1
        let names = ["explain.csv", "explain-units.csv", "manifest.json"]
        do {
            let report = try job.run()
            var files: [[UInt8]] = []
            for n in names {
                guard let f = try? readFile(out + "/" + n) else { Fuzz.fail("explainargs: \(n) missing after a success") }
                files.append(f)
            }
            check(files[0], units: false, report: report)
            check(files[1], units: true, report: report)
            // One thread, blocks of one account: the same bytes.
            var again = job
            again.output = dir + "/again"
            again.threads = 1
            again.blockSize = 1
            do {
                _ = try again.run()
                for n in names.prefix(2) where (try? readFile(again.output + "/" + n)) != (try? readFile(out + "/" + n)) {
                    Fuzz.fail("explainargs: \(n) differs with one thread and blocks of one account")
                }
            } catch { Fuzz.fail("explainargs: the same job with one thread failed: \(error)") }
        } catch {
            let text = "\(error)"
            if text.isEmpty || text.utf8.contains(10) || text.utf8.contains(13) { Fuzz.fail("explainargs: not one line: \(text.debugDescription)") }
            for n in names where FileManager.default.fileExists(atPath: out + "/" + n) && outFile == nil {
                Fuzz.fail("explainargs: \(n) written by a run that failed: \(text)")
            }
            if let outFile, (try? readFile(out)) != outFile { Fuzz.fail("explainargs: the file given as the output changed") }
        }
    }

    /// Every row: the terms add up to the change, the change is after − before (exactly, as texts).
    static func check(_ bytes: [UInt8], units: Bool, report: ExplainReport) {
        let rows = OutputCSV.parse(bytes)
        guard let header = rows.first else { Fuzz.fail("explainargs: an empty output") }
        func col(_ name: String) -> Int {
            guard let k = header.firstIndex(of: name) else { Fuzz.fail("explainargs: no column \(name)") }
            return k
        }
        if !units && rows.count - 1 != report.accounts { Fuzz.fail("explainargs: \(rows.count - 1) rows, report says \(report.accounts)") }
        for r in rows.dropFirst() {
            guard r.count == header.count else { Fuzz.fail("explainargs: a row of \(r.count) fields: \(r)") }
            for q in [("mm_before", "mm_after", "mm_change", "market", "parameters", "positions"),
                      ("im_before", "im_after", "im_change", "im_market", "im_parameters", "im_positions")] {
                let before = r[col(q.0)], after = r[col(q.1)], change = r[col(q.2)]
                let terms = [r[col(q.3)], r[col(q.4)], r[col(q.5)]]
                if !before.isEmpty && !after.isEmpty {
                    guard let b = ExactDecimal(text: before), let a = ExactDecimal(text: after), let c = ExactDecimal(text: change), a - b == c else {
                        Fuzz.fail("explainargs: \(q.2) \(change) is not \(after) − \(before)")
                    }
                    if !terms.contains("") {
                        let t = terms.map { ExactDecimal(text: $0) }
                        guard let x = t[0], let y = t[1], let z = t[2], x + y + z == c else { Fuzz.fail("explainargs: \(terms) do not add up to \(change)") }
                    }
                } else if !change.isEmpty {
                    Fuzz.fail("explainargs: a change \(change) without both figures")
                }
            }
        }
    }
}
