import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm merge` and `pm split` (docs/formats.md "Scale-out"), through the real `pm`.
@Suite(.serialized) struct ScaleOutTests {
    static let market = TestSupport.path("data/sample/market.json")

    /// A book with error rows (bad spot_hedging, an unknown symbol, a duplicated id, an empty id)
    /// and a row of an id that is not in accounts.csv.
    static func book(_ name: String, errors: Bool = true, count: Int = 240) throws -> String {
        let dir = BatchFiles.tempDir(name)
        let accounts = RandomAccounts.make(count, seed: 77)
        if errors {
            try BatchFiles.write(accounts, to: dir,
                                 extraPositions: ["\(accounts[3].id),NOT-A-SYMBOL,1,", "GHOST-1,BTCUSDT,1,"],
                                 extraAccounts: ["ERR-1,maybe", "\(accounts[5].id),true", ",false"])
        } else {
            try BatchFiles.write(accounts, to: dir)
        }
        return dir
    }

    static func batch(_ input: String, _ out: String, _ extra: [String] = []) throws {
        let r = try CLI.run(["batch", "--input", input, "--market", market, "--out", out, "--quiet"] + extra)
        #expect(r.status == 0 || r.status == 3, "\(r.stderr)")
    }

    static func shards(_ input: String, _ n: Int, _ root: String) throws -> [String] {
        try (0..<n).map { i in
            let out = root + "/shard-\(i)"
            try batch(input, out, ["--shard", "\(i)/\(n)"])
            return out
        }
    }

    static func bytes(_ p: String) -> Data? { FileManager.default.contents(atPath: p) }

    static func manifestWithoutInstant(_ p: String) -> String {
        String(decoding: bytes(p) ?? Data(), as: UTF8.self).split(separator: "\n").filter { !$0.contains("\"finished\"") }.joined(separator: "\n")
    }

    /// Makes `dir`'s manifest describe its (edited) margins.csv and units.csv, as a hostile edit
    /// would, so that merge's row checks are reached (its digest check is tested apart).
    static func reseal(_ dir: String) throws {
        var m = try Manifest.load(path: dir + "/manifest.json")
        m.outputs = ["margins.csv", "units.csv"].map { ($0, InputDigest([UInt8](bytes(dir + "/" + $0)!))) }
        try Data(m.json).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }

    static func expectSame(_ a: String, _ b: String, _ what: String) {
        for f in ["margins.csv", "units.csv"] {
            let x = bytes(a + "/" + f), y = bytes(b + "/" + f)
            #expect(x != nil && x == y, "\(what): \(f) differs (\(x?.count ?? -1) vs \(y?.count ?? -1) bytes)")
        }
        #expect(manifestWithoutInstant(a + "/manifest.json") == manifestWithoutInstant(b + "/manifest.json"), "\(what): manifest")
    }

    @Test(arguments: [3, 7]) func mergeEqualsOneRun(n: Int) throws {
        let dir = try Self.book("merge-\(n)")
        try Self.batch(dir, dir + "/full")
        let full = String(decoding: Self.bytes(dir + "/full/margins.csv")!, as: UTF8.self)
        #expect(full.contains("ERR-1") && full.contains("duplicate account id") && full.contains("NOT-A-SYMBOL"))
        var outs = try Self.shards(dir, n, dir)
        outs.reverse()   // any order
        let r = try CLI.run(["merge"] + outs + ["--accounts", dir + "/accounts.csv", "--out", dir + "/merged"])
        #expect(r.status == 3, "\(r.stderr)")   // complete, some accounts with errors
        Self.expectSame(dir + "/full", dir + "/merged", "\(n) shards")
    }

    /// Every refusal exits 1, writes nothing and names the problem.
    @Test func mergeRefusals() throws {
        let dir = try Self.book("merge-refuse")
        let outs = try Self.shards(dir, 3, dir)
        let accounts = dir + "/accounts.csv"
        func refused(_ shards: [String], accounts: String = accounts, _ says: String) throws {
            let out = dir + "/merged-\(UUID().uuidString)"
            let r = try CLI.run(["merge"] + shards + ["--accounts", accounts, "--out", out])
            #expect(r.status == 1, "\(says): status \(r.status)")
            #expect(r.stderr.contains(says), "expected \"\(says)\" in: \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(says): something was written")
            #expect(Child.files(dir).allSatisfy { !$0.hasPrefix(".merged") }, "litter")
        }
        try refused([outs[0], outs[2]], "shard 1/3 is missing")
        try refused([outs[0], outs[1], outs[1]], "given twice")
        // A shard of other inputs: one balance changed.
        let other = try Self.book("merge-refuse-other")
        var bal = String(decoding: Self.bytes(other + "/balances.csv")!, as: UTF8.self)
        bal += "USDT,\(RandomAccounts.make(240, seed: 77)[0].id),1\n"
        try bal.write(toFile: other + "/balances.csv", atomically: true, encoding: .utf8)
        try Self.batch(other, other + "/shard-1", ["--shard", "1/3"])
        try refused([outs[0], other + "/shard-1", outs[2]], "shards of different inputs")
        // An accounts.csv other than the one the shards read.
        var changed = String(decoding: Self.bytes(accounts)!, as: UTF8.self)
        changed += "NEW-1,true\n"
        try changed.write(toFile: dir + "/accounts2.csv", atomically: true, encoding: .utf8)
        try refused(outs, accounts: dir + "/accounts2.csv", "is not the accounts.csv the shards read")
        // An account missing from its shard; an account present twice.
        let copy = dir + "/shard-copy"
        try FileManager.default.copyItem(atPath: outs[1], toPath: copy)
        var rows = String(decoding: Self.bytes(copy + "/margins.csv")!, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let removed = rows.remove(at: 5)
        try rows.joined(separator: "\n").write(toFile: copy + "/margins.csv", atomically: true, encoding: .utf8)
        let missingId = String(removed.split(separator: ",")[0])
        try refused([outs[0], copy, outs[2]], "the shard was changed after pm batch wrote it")
        try Self.reseal(copy)
        try refused([outs[0], copy, outs[2]], "accounts.csv line")
        rows.insert(removed, at: 5); rows.insert(removed, at: 5)
        try rows.joined(separator: "\n").write(toFile: copy + "/margins.csv", atomically: true, encoding: .utf8)
        try Self.reseal(copy)
        try refused([outs[0], copy, outs[2]], "account \"\(missingId)\" is present twice")
    }

    /// `pm batch` on split folder I computes what `--shard I/N` computes on the whole folder (byte
    /// for byte on a book without line-located errors; with them, the same rows with the error
    /// text naming the split file), and merging split shards gives one run's bytes.
    @Test func splitThenBatchEqualsShard() throws {
        let dir = try Self.book("split", errors: false)
        let r = try CLI.run(["split", "--input", dir, "--shards", "3", "--out", dir + "/split"])
        #expect(r.status == 0, "\(r.stderr)")
        let outs = try Self.shards(dir, 3, dir)
        var splitOuts: [String] = []
        for i in 0..<3 {
            let input = dir + "/split/shard-\(i)"
            // Only this shard's accounts.
            let ids = String(decoding: Self.bytes(input + "/accounts.csv")!, as: UTF8.self).split(separator: "\n").dropFirst()
            #expect(!ids.isEmpty && ids.allSatisfy { line in
                var id = Array(line.split(separator: ",", omittingEmptySubsequences: false)[0].utf8)
                return id.withUnsafeMutableBytes { ShardSpec.of(UnsafeRawBufferPointer($0), count: 3) } == i
            })
            try Self.batch(input, dir + "/split-out-\(i)")
            Self.expectSame(outs[i], dir + "/split-out-\(i)", "split \(i)")
            splitOuts.append(dir + "/split-out-\(i)")
        }
        try Self.batch(dir, dir + "/full")
        let m = try CLI.run(["merge"] + splitOuts + ["--accounts", dir + "/accounts.csv", "--out", dir + "/merged"])
        #expect(m.status == 0, "\(m.stderr)")
        Self.expectSame(dir + "/full", dir + "/merged", "merged split shards")
        // A split folder whose file changed is refused.
        try "account_id,symbol,side,qty,price\n".write(toFile: dir + "/split/shard-0/orders.csv", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["batch", "--input", dir + "/split/shard-0", "--market", Self.market, "--out", dir + "/bad"])
        #expect(bad.status == 1 && bad.stderr.contains("pm split"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad"))
    }

    @Test func splitWithErrorRowsKeepsTheRowsAndTheirPlace() throws {
        let dir = try Self.book("split-err")
        _ = try CLI.run(["split", "--input", dir, "--shards", "2", "--out", dir + "/split"])
        let outs = try Self.shards(dir, 2, dir)
        for i in 0..<2 {
            try Self.batch(dir + "/split/shard-\(i)", dir + "/split-out-\(i)")
            func rows(_ p: String) -> [String] {
                // Everything but the error text (which names the file and line it came from).
                String(decoding: Self.bytes(p)!, as: UTF8.self).split(separator: "\n").map { line in
                    let s = String(line)
                    return s.hasSuffix(",") ? s : String(s.prefix(while: { $0 != "," })) + " error"
                }
            }
            #expect(rows(outs[i] + "/margins.csv") == rows(dir + "/split-out-\(i)/margins.csv"))
            #expect(Self.bytes(outs[i] + "/units.csv") == Self.bytes(dir + "/split-out-\(i)/units.csv"))
        }
    }

    /// The Kubernetes template and the Dockerfile name the commands of the split/merge flow (they
    /// cannot be run here: no cluster, no Docker engine).
    @Test func kubernetesTemplateAndDockerfileNameTheRightCommands() throws {
        let doc = try String(contentsOfFile: TestSupport.path("docs/sharding.md"), encoding: .utf8)
        let blocks = doc.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 1)
        let yaml = blocks.joined(separator: "\n---\n")
        let flat = yaml.replacingOccurrences(of: "\", \"", with: " ")   // ["pm", "split"] → pm split
        for s in ["completionMode: Indexed", "JOB_COMPLETION_INDEX", "pm split", "pm batch", "pm merge", "--shards", "--accounts"] {
            #expect(flat.contains(s), "the YAML does not name \(s)")
        }
        #expect(!yaml.contains("\t"), "tabs in YAML")
        // It parses (when python3 with PyYAML is there) into Jobs.
        let check = try CLI.runTool("/usr/bin/python3", ["-c", "import sys, yaml; docs=[d for d in yaml.safe_load_all(sys.stdin) if d]; print(' '.join(d['kind'] for d in docs))"], stdin: yaml)
        if check.status == 0 {
            #expect(check.stdout.split(separator: " ").filter { $0.hasPrefix("Job") }.count >= 2, "\(check.stdout)")
        } else {
            #expect(check.stderr.contains("No module named") || check.status == 127, "the YAML does not parse: \(check.stderr)")
        }
        let docker = try String(contentsOfFile: TestSupport.path("Dockerfile"), encoding: .utf8)
        let stages = docker.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2, "multi-stage: \(stages)")
        for s in ["swift build -c release", "libopenblas0", "liblapacke", "COPY --from="] {
            #expect(docker.contains(s), "Dockerfile does not name \(s)")
        }
    }
}

