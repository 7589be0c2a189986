import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL of `pm batch` at several moments (docs/formats.md "Commands": all three outputs from one run
/// or none, also under SIGKILL).
@Suite(.serialized) struct OutputFaultTests {
    /// A 200,000-account book, generated once per test run.
    static let book: String = {
        let dir = BatchFiles.tempDir("fault-book")
        let r = try! CLI.run(["generate", "--accounts", "200000", "--seed", "7", "--out", dir])
        precondition(r.status == 0, r.stderr)
        return dir
    }()

    struct State: Equatable {
        var margins: Data?
        var units: Data?
        var manifest: Data?
    }

    static func state(_ out: String) -> State {
        State(margins: Child.read(out + "/margins.csv"), units: Child.read(out + "/units.csv"), manifest: Child.read(out + "/manifest.json"))
    }

    /// The three files of one complete run: both CSVs equal that run's and the manifest counts
    /// margins.csv's rows and names the same shard.
    static func isComplete(_ s: State, like ref: State) -> Bool {
        guard let m = s.margins, let u = s.units, let j = s.manifest, let manifest = try? Manifest.parse([UInt8](j), file: "manifest.json"),
              let refManifest = try? Manifest.parse([UInt8](ref.manifest!), file: "manifest.json") else { return false }
        return m == ref.margins && u == ref.units && manifest.accounts == Child.dataRows(m)
            && manifest.shard == refManifest.shard && manifest.inputsKey == refManifest.inputsKey
    }

    /// Polls until `ready` or the child exits, then SIGKILLs it. True when the kill happened.
    static func kill(_ p: Process, when ready: () -> Bool) -> Bool {
        while p.isRunning {
            if ready() {
                Glibc.kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                return p.terminationReason == .uncaughtSignal
            }
            usleep(500)
        }
        return false
    }

    static func staging(_ root: String, _ base: String) -> String? {
        Child.files(root).first { $0.hasPrefix(".\(base).pm-tmp.") }.map { root + "/" + $0 }
    }

    static func size(_ p: String) -> Int {
        var st = stat()
        return stat(p, &st) == 0 ? Int(st.st_size) : -1
    }

    @Test(.timeLimit(.minutes(5))) func sigkillLeavesThePreviousOutputsOrNoneNeverAMix() throws {
        let book = Self.book
        let root = BatchFiles.tempDir("fault-out")
        defer { TestTemp.remove(root) }
        let out = root + "/out"
        func batch(_ out: String, _ extra: [String] = []) -> [String] {
            ["batch", "--input", book, "--market", book + "/market.json", "--out", out, "--quiet"] + extra
        }
        // Killed runs compute shard 0/8 (they parse everything but compute an eighth), so their
        // outputs differ from the previous complete (unsharded) ones.
        let victim = ["--shard", "0/8"]
        func committing(_ base: String) -> () -> Bool {
            { Self.staging(root, base).map { Self.size($0 + "/manifest.json") > 0 } ?? false }
        }
        var seen: [(String, State)] = []
        // A first run (no previous outputs) killed while committing: none, or complete.
        do {
            let p = try Child.start(batch(out, victim))
            let killed = Self.kill(p, when: committing("out"))
            seen.append(("first run, while committing" + (killed ? "" : " (finished before the kill)"), Self.state(out)))
        }
        // The previous outputs: a complete unsharded run (it also removes the first run's litter).
        let full = try CLI.run(batch(out))
        #expect(full.status == 0 || full.status == 3, "\(full.stderr)")
        let previous = Self.state(out)
        #expect(previous.margins != nil && previous.manifest != nil)
        #expect(Set(Child.files(root)) == ["out"], "\(Child.files(root))")
        let moments: [(String, () -> Bool)] = [
            ("while reading", { true }),
            ("while writing", { Self.staging(root, "out").map { Self.size($0 + "/margins.csv") > 1 << 18 } ?? false }),
            ("while committing", committing("out")),
        ]
        for (name, ready) in moments {
            let p = try Child.start(batch(out, victim))
            if name == "while reading" { usleep(300_000) }
            let killed = Self.kill(p, when: ready)
            seen.append((name + (killed ? "" : " (finished before the kill)"), Self.state(out)))
            #expect(killed, "\(name): the run ended before the kill")
        }
        // The next run (the same shard, complete) removes what the killed runs left.
        let next = try CLI.run(batch(out, victim))
        #expect(next.status == 0 || next.status == 3, "\(next.stderr)")
        let shard = Self.state(out)
        #expect(Self.isComplete(shard, like: shard) && shard.margins != previous.margins)
        for (name, s) in seen {
            let none = s.margins == nil && s.units == nil && s.manifest == nil
            #expect(none || Self.isComplete(s, like: previous) || Self.isComplete(s, like: shard),
                    "\(name): a mix or a partial output (\(s.margins?.count ?? -1), \(s.units?.count ?? -1), \(s.manifest?.count ?? -1) bytes)")
            if name.hasPrefix("first run") { #expect(none || Self.isComplete(s, like: shard), "\(name)") }
            if name.hasPrefix("while reading") || name.hasPrefix("while writing") { #expect(Self.isComplete(s, like: previous), "\(name)") }
        }
        // No litter: beside OUT nothing, in OUT the three files.
        #expect(Set(Child.files(root)) == ["out"], "\(Child.files(root))")
        #expect(Set(Child.files(out)) == ["margins.csv", "units.csv", "manifest.json"])
    }

    /// SIGTERM (and SIGINT) remove the staging folder at once and exit 128 + signal.
    @Test(.timeLimit(.minutes(2))) func sigtermCleansUpAtOnce() throws {
        let book = Self.book
        let root = BatchFiles.tempDir("fault-term")
        defer { TestTemp.remove(root) }
        let p = try Child.start(["batch", "--input", book, "--market", book + "/market.json", "--out", root + "/out", "--quiet"])
        var sent = false
        while p.isRunning {
            if Self.staging(root, "out").map({ Self.size($0 + "/margins.csv") > 0 }) ?? false {
                Glibc.kill(p.processIdentifier, SIGTERM)
                sent = true
                break
            }
            usleep(500)
        }
        p.waitUntilExit()
        #expect(sent)
        #expect(p.terminationStatus == 128 + SIGTERM)
        #expect(Child.files(root).isEmpty, "\(Child.files(root))")
    }
}
