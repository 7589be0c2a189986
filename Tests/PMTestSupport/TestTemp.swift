import Foundation

/// Where the tests put their files: one root per test process, `$TMPDIR/pm-tests-<pid>-XXXXXX/`,
/// made on first use and removed with everything in it when the process exits (`atexit`, so also
/// after a failed `#expect` or a thrown error; not when the process is killed or crashes). Every
/// test's folder is made inside it by `mkdtemp`, so names stay unique while Swift Testing runs
/// tests in parallel. Tests that have a natural end also remove their own folder (`defer`), which
/// keeps the run's peak disk use down. Before this, each `swift test` run left ~185 folders
/// (~220 MB) in the temporary directory; scripts/test-tmpclean.sh checks that a run leaves none.
/// The `pm` subprocesses the CLI tests start inherit TMPDIR and are given paths inside the root.
enum TestTemp {
    /// The per-process root (no trailing slash).
    static let root: String = {
        // NSTemporaryDirectory honours TMPDIR (scripts/test-tmpclean.sh points it at a private folder).
        var base = NSTemporaryDirectory()
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        let path = makeUnique(base + "/pm-tests-\(getpid())-")
        atexit { TestTemp.removeRoot() }
        return path
    }()

    /// A new, empty folder inside the root, named `<name>-XXXXXX` (unique even for the same name).
    static func dir(_ name: String) -> String { makeUnique(root + "/" + name + "-") }

    /// A path for a file named `<name>` in a new folder of its own inside the root (the file is not created).
    static func file(_ name: String) -> String { dir("f") + "/" + name }

    /// Removes a folder or file made under the root (a test's `defer`); never anything outside it.
    static func remove(_ path: String) {
        guard path.hasPrefix(root + "/") else { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func makeUnique(_ prefix: String) -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            fatalError("TestTemp: cannot create a folder \(prefix)XXXXXX: \(String(cString: strerror(errno)))")
        }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private static func removeRoot() {
        try? FileManager.default.removeItem(atPath: root)
    }
}
