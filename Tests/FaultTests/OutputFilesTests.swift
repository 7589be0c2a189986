import Foundation
import Testing
@testable import PortfolioMargin
import CKernels
import CPlatform
@testable import PMTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `OutputFiles`: the folder swap, the user's other files, and the litter of killed runs.
struct OutputFilesTests {
    func write(_ out: String, _ tag: String) throws {
        let f = try OutputFiles(directory: out, names: ["a.csv", "b.csv"])
        try f.write(0, Array("a \(tag)\n".utf8))
        try f.write(1, Array("b \(tag)\n".utf8))
        try f.commit()
    }

    func text(_ p: String) -> String? { try? String(contentsOfFile: p, encoding: .utf8) }

    @Test func replacesTheFolderAndKeepsTheUsersOtherFiles() throws {
        let root = BatchFiles.tempDir("outfiles-keep")
        defer { TestTemp.remove(root) }
        let out = root + "/out"
        try write(out, "1")
        #expect(text(out + "/a.csv") == "a 1\n" && text(out + "/b.csv") == "b 1\n")
        try "mine\n".write(toFile: out + "/notes.txt", atomically: false, encoding: .utf8)
        symlink("notes.txt", out + "/link")
        try write(out, "2")
        #expect(text(out + "/a.csv") == "a 2\n" && text(out + "/b.csv") == "b 2\n")
        #expect(text(out + "/notes.txt") == "mine\n")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: out + "/link")) == "notes.txt")
        // Nothing else beside OUT: the staging folder (with the previous outputs) is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["out"])
    }

    /// Files that grow past the writeback step several times (the device writes start as they
    /// grow) commit exactly the bytes written, in order; the writeback start itself works on a
    /// regular file and refuses a bad descriptor.
    @Test func largeOutputsStartTheirWritebackAndCommitExactly() throws {
        let root = BatchFiles.tempDir("outfiles-writeback")
        defer { TestTemp.remove(root) }
        let out = root + "/out"
        let f = try OutputFiles(directory: out, names: ["a.csv", "b.csv"])
        var expected: [[UInt8]] = [[], []]
        var rng = SystemRandomNumberGenerator()
        let step = Int(OutputFiles.writebackStep)
        var k = 0
        while expected[0].count < 2 * step + step / 2 {
            // Pieces from 1 byte to 3 MB, so the step is crossed in the middle of a piece too.
            let n = Int.random(in: 1...(3 << 20), using: &rng)
            let byte = UInt8(truncatingIfNeeded: expected[k].count / 4096 + k)
            let piece = [UInt8](repeating: byte, count: n)
            try f.write(k, piece)
            expected[k] += piece
            k = expected[1].count < expected[0].count / 4 ? 1 : 0
        }
        try f.commit()
        #expect(FileManager.default.contents(atPath: out + "/a.csv") == Data(expected[0]))
        #expect(FileManager.default.contents(atPath: out + "/b.csv") == Data(expected[1]))
        #if os(Linux)
        let fd = open(out + "/a.csv", O_WRONLY)
        defer { close(fd) }
        #expect(fd >= 0 && pm_start_writeback(fd, 0, Int64(expected[0].count)) == 0)
        #endif
        #expect(pm_start_writeback(-1, 0, 1) == -1)
    }

    @Test func abandonLeavesThePreviousOutputs() throws {
        let root = BatchFiles.tempDir("outfiles-abandon")
        defer { TestTemp.remove(root) }
        let out = root + "/out"
        try write(out, "1")
        let f = try OutputFiles(directory: out, names: ["a.csv", "b.csv"])
        try f.write(0, Array("half".utf8))
        f.abandon()
        #expect(text(out + "/a.csv") == "a 1\n" && text(out + "/b.csv") == "b 1\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["out"])
    }

    @Test func refusesAnOutputFolderWithASubfolderBeforeAnyWork() throws {
        let root = BatchFiles.tempDir("outfiles-subdir")
        defer { TestTemp.remove(root) }
        let out = root + "/out"
        try write(out, "1")
        try FileManager.default.createDirectory(atPath: out + "/keep", withIntermediateDirectories: true)
        #expect(throws: InputError.self) { try OutputFiles(directory: out, names: ["a.csv", "b.csv"]) }
        #expect(text(out + "/a.csv") == "a 1\n")
        #expect(FileManager.default.fileExists(atPath: out + "/keep"))
    }

    /// What a SIGKILLed run leaves (a staging folder of a dead pid, old-style temporary files) is
    /// removed by the next run; a live process's staging folder is left alone.
    @Test func removesTheLitterOfDeadProcesses() throws {
        let root = BatchFiles.tempDir("outfiles-litter")
        defer { TestTemp.remove(root) }
        let out = root + "/out"
        try write(out, "1")
        let dead = deadPid()
        let host = OutputFiles.host
        let litter = root + "/.out.pm-tmp.\(host).\(dead)-1"
        let live = root + "/.out.pm-tmp.\(host).\(getppid())-1"
        for d in [litter, live] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try "x".write(toFile: d + "/a.csv", atomically: false, encoding: .utf8)
        }
        try "x".write(toFile: out + "/.a.csv.tmp-\(dead)", atomically: false, encoding: .utf8)
        try write(out, "2")
        #expect(!FileManager.default.fileExists(atPath: litter))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(!FileManager.default.fileExists(atPath: out + "/.a.csv.tmp-\(dead)"))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out)) == ["a.csv", "b.csv"])
    }

    /// The pid of a process that has exited (and been reaped).
    func deadPid() -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try? p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }
}
