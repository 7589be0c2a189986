import Foundation
import Testing
@testable import PMTestSupport

/// The tests' temporary files (TestTemp). The whole-run check, that a `swift test` run leaves
/// nothing in the temporary directory, is scripts/test-tmpclean.sh (it sees every process).
struct TestHygieneTests {
    /// Folders are made inside the one per-process root, in the temporary directory (TMPDIR),
    /// and are distinct even for the same name asked from many tests at once.
    @Test func foldersAreUniqueAndInsideTheRoot() async throws {
        let root = TestTemp.root
        #expect(root.hasPrefix(NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"))
        #expect((root as NSString).lastPathComponent.hasPrefix("pm-tests-\(getpid())-"))
        let dirs = await withTaskGroup(of: String.self) { g in
            for _ in 0..<64 { g.addTask { TestTemp.dir("same") } }
            return await g.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(dirs).count == 64)
        for d in dirs {
            #expect(d.hasPrefix(root + "/same-"))
            var isDir: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: d, isDirectory: &isDir) && isDir.boolValue)
            #expect(try FileManager.default.contentsOfDirectory(atPath: d).isEmpty)
        }
        for d in dirs { TestTemp.remove(d) }
        #expect(dirs.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }

    /// `remove` deletes a test's folder with its contents, and nothing outside the root.
    @Test func removeStaysInsideTheRoot() throws {
        let d = TestTemp.dir("rm")
        try FileManager.default.createDirectory(atPath: d + "/a/b", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: d + "/a/b/f"))
        TestTemp.remove(d)
        #expect(!FileManager.default.fileExists(atPath: d))
        // A path outside the root (here: a sibling of it whose name extends the root's) is left alone.
        let outside = TestTemp.root + "-sibling"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        TestTemp.remove(outside)
        #expect(FileManager.default.fileExists(atPath: outside))
        TestTemp.remove(TestTemp.root)   // the root itself only goes at exit
        #expect(FileManager.default.fileExists(atPath: TestTemp.root))
    }
}
