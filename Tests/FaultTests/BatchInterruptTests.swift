import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT to `pm batch` while it works: no partial output.
struct BatchInterruptTests {
    /// An interrupted run leaves no output files (and no temporary ones).
    @Test func anInterruptedRunLeavesNoPartialOutput() throws {
        let dir = BatchFiles.tempDir("interrupt")
        defer { TestTemp.remove(dir) }
        // Enough accounts that a debug build takes well over the time it takes to interrupt it.
        let base = RandomAccounts.make(50, seed: 6)
        var many: [Account] = []
        for k in 0..<4000 { for var a in base { a.id += "-\(k)"; many.append(a) } }
        try BatchFiles.write(many, to: dir)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["batch", "--input", dir, "--market", TestSupport.path("data/sample/market.json"),
                       "--params", TestSupport.path("data/params/pm-params.json"), "--out", dir + "/out", "--threads", "1"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for the staging folder beside OUT to appear, then interrupt.
        var started = false
        for _ in 0..<2000 {
            if let items = try? FileManager.default.contentsOfDirectory(atPath: dir), items.contains(where: { $0.hasPrefix(".out.pm-tmp.") }) {
                started = true
                break
            }
            usleep(5000)
        }
        p.interrupt()
        p.waitUntilExit()
        #expect(started)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out")) ?? []
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.hasPrefix(".") }, "staging folder left")
        if p.terminationStatus == 128 + SIGINT {
            #expect(left.isEmpty, "left behind: \(left)")
        } else {
            // The run finished before the signal: then all three files are complete.
            #expect(left.sorted() == ["manifest.json", "margins.csv", "units.csv"])
        }
    }
}
