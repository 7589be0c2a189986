import Foundation
import CPlatform
import Synchronization

// @unchecked Sendable: the mutable state (`fds`, `done`, `written`, `hashes`, `writebackStarted`) is
// read and written only inside `lock.withLock` (`write`, `digest`, `commit`, `abandon`; `init` and
// `deinit` run before and after any sharing); every other stored property is a Sendable `let`.
/// Output files that appear together or not at all, also under SIGKILL or power loss (docs/formats.md
/// "Commands": `margins.csv`, `units.csv` and `manifest.json` all from one run or none).
///
/// Layout — the output folder itself is the unit that is replaced:
/// 1. A fresh hidden staging folder `.<OUT>.pm-tmp.<host>.<pid>-<n>` is made beside `OUT` (same parent,
///    so the same file system). Every output file is written there.
/// 2. `commit()` fsyncs the files and the staging folder, then gives the staging folder every other
///    file the user keeps in `OUT` as a hard link (same inode: no copy, nothing lost), swaps the two
///    folders in one step — `renameat2(RENAME_EXCHANGE)` — and fsyncs the parent. `OUT` now is the
///    new folder; the staging name holds the previous one, which is then removed (a file the user
///    added to `OUT` during the run is moved across first).
///
/// Why a folder swap and not one rename per file: a kill between two renames mixes a new
/// `margins.csv` with an old `units.csv`. A directory entry changes in one atomic step, so a reader
/// of `OUT` sees the complete previous outputs or the complete new ones, never a mix, whenever the
/// process dies. Why not a symlink `OUT → .OUT.v2`: `OUT` would have to stop being a real folder,
/// which breaks an existing `OUT` and users who keep files in it.
///
/// Where the exchange is unsupported (a kernel or file system without `RENAME_EXCHANGE`, macOS), the
/// fallback is two renames: `OUT` → the staging name, then staging → `OUT`. A kill between them
/// leaves no `OUT` at all (the previous outputs sit in the hidden folder until the next run removes
/// it): "none", which the contract allows, never a mix.
///
/// Other files in `OUT` are kept (hard-linked into the new folder before the swap). A subfolder,
/// FIFO or socket in `OUT` cannot be carried over atomically, so `init` refuses such an `OUT` (exit 1,
/// naming the entry) before any work is done: nothing is destroyed silently.
///
/// Litter: every `init` first removes the staging folders that a dead process of this host left
/// beside `OUT` (its pid no longer exists) and the `.NAME.tmp-PID` files of older versions inside
/// `OUT`; staging folders of another host are removed when older than a day. SIGINT, SIGTERM and
/// SIGHUP remove the staging folder at once.
public final class OutputFiles: @unchecked Sendable {
    /// The output folder as given.
    public let directory: String
    /// Where the files will be: `directory/name`.
    public let finalPaths: [String]
    /// The file names, in the order given (`margins.csv`, `units.csv`, …).
    public let names: [String]
    /// The folder that is swapped (the real path when `directory` is a symlink to a folder).
    let target: String
    let staging: String
    private let stagingPaths: [String]
    private var fds: [FileDescriptor]
    /// Per file: bytes written, and up to where their writeback was started (`write`).
    private var written: [Int64] = []
    /// Per file: the digest of the bytes written so far (``digest(_:)``, `manifest.json`'s outputs).
    private var hashes: [XXH64Stream] = []
    private var writebackStarted: [Int64] = []
    /// Per file: where the writeback had been started one step before `writebackStarted`, and up
    /// to where the written pages were dropped from the page cache (`write`).
    private var writebackBefore: [Int64] = []
    private var dropped: [Int64] = []
    private var done = false
    /// Guards `fds` and `done`: writers on several threads are serialized, and a commit or abandon
    /// never races a write.
    private let lock = Locked(())

    /// `path`'s parent folder and last component, by its last `/` (trailing `/`s already
    /// removed): `o` → ("", "o"), `a/b` → ("a", "b"), `a//b` → ("a", "b"), `/o` → ("/", "o"),
    /// `/` → ("/", ""). Plain string work: Foundation's path helpers trapped on a one-character
    /// relative path, and they also normalize (`..`, `.`) which must be refused here, not resolved.
    static func splitPath(_ path: String) -> (parent: String, base: String) {
        let bytes = Array(path.utf8)
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return ("", path) }
        let base = String(decoding: bytes[(slash + 1)...], as: UTF8.self)
        var end = slash
        while end > 0, bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        return (end == 0 ? "/" : String(decoding: bytes[..<end], as: UTF8.self), base)
    }

    /// Cleans up what killed runs left, checks `directory`, creates the staging folder and opens a
    /// file in it for each of `names`.
    public init(directory: String, names: [String]) throws {
        self.directory = directory
        self.names = names
        finalPaths = names.map { directory + "/" + $0 }
        var path = directory
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        // `.`, `..` (or `a/..`) name a folder only through the current one: refused as given, before
        // the real path would turn them into an ordinary name (and swap the working folder away).
        let given = Self.splitPath(path).base
        guard given != ".", given != ".." else {
            throw InputError(file: directory, "cannot be replaced as a whole (name the folder itself, not . or ..)")
        }
        // An existing OUT (or a symlink to one) is swapped by its real path, so a symlink the user
        // set up stays a symlink.
        if let real = FileSystem.realPath(path) { path = real }
        let (parent, base) = Self.splitPath(path)
        guard !base.isEmpty, base != "/", base != ".", base != ".." else {
            throw InputError(file: directory, "cannot be replaced as a whole (use a folder below /)")
        }
        do {
            try FileManager.default.createDirectory(atPath: parent.isEmpty ? "." : parent, withIntermediateDirectories: true)
        } catch {
            throw InputError(file: directory, "cannot create the parent folder (\(error.localizedDescription))")
        }
        let parentDir = parent.isEmpty ? "." : parent
        Self.removeLitter(parent: parentDir, base: base, target: path)
        try Self.checkCarriable(path, names: names, shownAs: directory)
        // pid and a counter: two writers of one process never share a staging folder.
        let stage = parentDir + "/" + Self.stagingPrefix(base) + Self.host + "." + String(CurrentProcess.id) + "-" + String(Self.nextSerial())
        Self.removeTree(stage)   // a previous process of this pid (reused) left it: it is dead
        target = path
        staging = stage
        stagingPaths = names.map { stage + "/" + $0 }
        fds = []
        // Registered before the folder exists: a signal that arrives right after `mkdir` must
        // find it on the list (removing a folder that is not there yet is harmless).
        InterruptCleanup.register(stagingPaths, directory: staging)
        do throws(SystemError) { try FileSystem.makeDirectory(stage, mode: 0o755) } catch {
            let reason = error.errno.reason
            InterruptCleanup.unregister(stagingPaths, directory: staging)
            done = true
            throw InputError(file: stage, "cannot create the staging folder (\(reason))")
        }
        for t in stagingPaths {
            do throws(SystemError) { fds.append(try FileDescriptor.open(t, [.writeOnly, .create, .truncate], mode: 0o644)) } catch {
                abandon()
                throw InputError(file: t, "cannot be written (\(error.errno.reason))")
            }
        }
        written = [Int64](repeating: 0, count: fds.count)
        hashes = [XXH64Stream](repeating: XXH64Stream(), count: fds.count)
        writebackStarted = written
        writebackBefore = written
        dropped = written
    }

    /// Appends bytes to file `k`.
    public func write(_ k: Int, _ bytes: [UInt8]) throws {
        try lock.withLock { _ in
            bytes.withUnsafeBytes { hashes[k].update($0) }
            do throws(Errno) { try fds[k].writeAll(bytes) } catch {
                throw InputError(file: finalPaths[k], "write failed (\(error.reason))")
            }
            // Start the device writes as the file grows (8 MB at a time) instead of leaving all of
            // them to the `fsync` in `commit`: the disk then works while the engine does, and the run
            // does not end waiting for it. Durability still comes from `commit`'s fsync.
            // Pages whose writeback was started two steps ago (normally on the device by now) are
            // dropped from the page cache: the run never reads its outputs back, and at millions of
            // accounts they would push out what the run and its neighbours use. The `fsync` is
            // unaffected (they are clean).
            written[k] += Int64(bytes.count)
            if written[k] - writebackStarted[k] >= Self.writebackStep {
                if writebackBefore[k] > dropped[k] {
                    _ = pm_drop_written(fds[k].rawValue, dropped[k], writebackBefore[k] - dropped[k])
                    dropped[k] = writebackBefore[k]
                }
                writebackBefore[k] = writebackStarted[k]
                _ = pm_start_writeback(fds[k].rawValue, writebackStarted[k], written[k] - writebackStarted[k])
                writebackStarted[k] = written[k]
            }
        }
    }

    /// Size and XXH64 of everything written to file `k` so far (docs/formats.md "Scale-out": the
    /// `outputs` of `manifest.json`).
    public func digest(_ k: Int) -> InputDigest {
        return lock.withLock { _ in
            hashes[k].digest
        }
    }

    /// How many written bytes of a file start their writeback together (`write`).
    static let writebackStep: Int64 = 8 << 20

    /// Makes the files durable and swaps them into place together. On a throw nothing visible
    /// changed: `directory` still holds the previous outputs (or does not exist).
    public func commit() throws {
        try lock.withLock { _ in
            for (k, fd) in fds.enumerated() {
                do throws(Errno) { try fd.sync() } catch {
                    if error != .invalidArgument { throw InputError(file: finalPaths[k], "cannot be flushed (\(error.reason))") }
                }
                // Clean now: the rest of the file leaves the page cache too (see `write`).
                if written[k] > dropped[k] { _ = pm_drop_cached(fd.rawValue, dropped[k], 0) }
                fd.closeIgnoringErrors()
            }
            fds = []
            // Carry over the user's other files (hard links, no copy); refuse what cannot be carried.
            var exists = false
            if let st = try? FileSystem.linkStatus(target) {
                guard st.kind == .directory else { throw InputError(file: directory, "exists and is not a folder") }
                exists = true
                try Self.checkCarriable(target, names: names, shownAs: directory)
                for name in Self.entries(target) where !names.contains(name) && !Self.isLegacyLitter(name) {
                    try Self.carry(from: target + "/" + name, to: staging + "/" + name)
                }
            }
            try Self.syncDirectory(staging)
            let parent = Self.splitPath(target).parent
            if !exists {
                do throws(SystemError) { try FileSystem.rename(staging, to: target) } catch {
                    throw InputError(file: directory, "cannot be put in place (\(error.errno.reason))")
                }
            } else {
                do throws(SystemError) { try FileSystem.exchange(staging, target) } catch {
                    guard [Errno.notImplemented, .invalidArgument, .notSupported].contains(error.errno) else {
                        throw InputError(file: directory, "cannot be swapped in place (\(error.errno.reason))")
                    }
                    // No atomic exchange here: two renames, with a moment of no OUT at all (never a mix).
                    let old = staging + ".old"
                    do throws(SystemError) { try FileSystem.rename(target, to: old) } catch {
                        throw InputError(file: directory, "cannot be moved aside (\(error.errno.reason))")
                    }
                    do throws(SystemError) { try FileSystem.rename(staging, to: target) } catch {
                        try? FileSystem.rename(old, to: target)   // put the previous outputs back
                        throw InputError(file: directory, "cannot be put in place (\(error.errno.reason))")
                    }
                    try? FileSystem.rename(old, to: staging)
                }
            }
            done = true
            try? Self.syncDirectory(parent.isEmpty ? "." : parent)
            // The staging name now holds the previous folder: files added to OUT during the run go to
            // the new folder; the rest (old outputs, links to carried files) is removed.
            if exists {
                for name in Self.entries(staging) where !names.contains(name) && !Self.isLegacyLitter(name) {
                    let from = staging + "/" + name, to = target + "/" + name
                    if let b = try? FileSystem.linkStatus(to) {
                        if let a = try? FileSystem.linkStatus(from), a.isSameFile(as: b) { try? FileSystem.remove(from) }
                    } else {
                        try? FileSystem.rename(from, to: to)
                    }
                }
                Self.removeTree(staging)
            }
            InterruptCleanup.unregister(stagingPaths, directory: staging)
        }
    }

    /// Empties every staged file (same staging folder, same files): a run whose output must start
    /// again from its first byte. Their digests start again too.
    public func rewind() throws {
        try lock.withLock { _ in
            for (k, fd) in fds.enumerated() {
                do throws(Errno) { try fd.truncateAndRewind() } catch {
                    throw InputError(file: finalPaths[k], "cannot be emptied (\(error.reason))")
                }
                hashes[k] = XXH64Stream()
                written[k] = 0
                writebackStarted[k] = 0
            }
        }
    }

    /// Removes the staging folder; `directory` is untouched.
    public func abandon() {
        lock.withLock { _ in
            for fd in fds { fd.closeIgnoringErrors() }
            fds = []
            if !done { Self.removeTree(staging) }
            InterruptCleanup.unregister(stagingPaths, directory: staging)
            done = true
        }
    }

    deinit { if !done { abandon() } }

    // MARK: - Helpers

    static func stagingPrefix(_ base: String) -> String { "." + base + ".pm-tmp." }

    private static let serial = Atomic<Int>(0)
    static func nextSerial() -> Int { serial.wrappingAdd(1, ordering: .relaxed).newValue }

    static let host: String = {
        let h = CurrentProcess.hostName.replacingOccurrences(of: "/", with: "_")
        return h.isEmpty ? "host" : h
    }()

    static func entries(_ dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    }

    /// `.margins.csv.tmp-PID`-style files of older versions (any pid: the old scheme never reused them
    /// once its process was gone; a live one is only possible during an upgrade and is then harmless
    /// to drop from the new folder).
    static func isLegacyLitter(_ name: String) -> Bool {
        guard name.hasPrefix("."), let r = name.range(of: ".tmp-", options: .backwards) else { return false }
        let pid = name[r.upperBound...]
        guard !pid.isEmpty, let p = Int32(pid) else { return false }
        return !processAlive(p)
    }

    static func processAlive(_ pid: Int32) -> Bool { CurrentProcess.isAlive(pid) }

    /// Refuses an OUT that holds entries that cannot be carried over by a hard link, or a
    /// non-file under an output's name; the errors name OUT as `shown` (as the user gave it).
    static func checkCarriable(_ dir: String, names: [String], shownAs shown: String) throws {
        var shown = shown
        while shown.count > 1, shown.hasSuffix("/") { shown.removeLast() }
        guard let st = try? FileSystem.linkStatus(dir) else { return }
        guard st.kind == .directory else {
            throw InputError(file: shown, "exists and is not a folder")
        }
        for name in entries(dir) {
            guard let e = try? FileSystem.linkStatus(dir + "/" + name), e.kind != .regular, e.kind != .symbolicLink else { continue }
            // Not a plain file or a link. Under an output's own name, swapping OUT would move it into
            // the staging folder, which is removed file by file only, and leave it there.
            if names.contains(name) {
                throw InputError(file: shown + "/" + name, "exists and is not a plain file (an output of this run goes there); move it elsewhere")
            }
            throw InputError(file: shown, record: name,
                             "the output folder is replaced as a whole when the run completes, and this entry (not a plain file) cannot be carried over; move it elsewhere")
        }
    }

    /// A plain file by a hard link; a symlink by a new symlink with the same target.
    static func carry(from: String, to: String) throws {
        guard let st = try? FileSystem.linkStatus(from) else { return }   // removed meanwhile
        if st.kind == .symbolicLink {
            guard let target = try? FileSystem.linkTarget(from) else { return }
            do throws(SystemError) { try FileSystem.symbolicLink(at: to, to: target) } catch {
                throw InputError(file: from, "cannot be carried into the new output folder (\(error.errno.reason))")
            }
            return
        }
        do throws(SystemError) { try FileSystem.hardLink(from, to: to) } catch {
            throw InputError(file: from, "cannot be carried into the new output folder by a hard link (\(error.errno.reason))")
        }
    }

    static func syncDirectory(_ dir: String) throws {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(dir, [.readOnly, .directory]) } catch { throw InputError(file: dir, "cannot be opened to flush") }
        defer { fd.closeIgnoringErrors() }
        do throws(Errno) { try fd.sync() } catch { if error != .invalidArgument { throw InputError(file: dir, "cannot be flushed") } }
    }

    /// Removes a staging folder: its plain files and symlinks, and the folder when then empty.
    /// Never recurses into a subfolder (a staging folder has none; anything else is not ours).
    static func removeTree(_ dir: String) {
        for name in entries(dir) {
            let p = dir + "/" + name
            if let st = try? FileSystem.linkStatus(p), st.kind != .directory { try? FileSystem.remove(p) }
        }
        try? FileSystem.removeDirectory(dir)
    }

    /// Staging folders of `base` left beside it by dead processes (see the type's comment), and
    /// legacy temporary files inside `target`.
    static func removeLitter(parent: String, base: String, target: String) {
        let prefix = stagingPrefix(base)
        for name in entries(parent) where name.hasPrefix(prefix) {
            var rest = String(name.dropFirst(prefix.count))
            if rest.hasSuffix(".old") { rest.removeLast(4) }
            guard let dot = rest.lastIndex(of: "."), let dash = rest.lastIndex(of: "-"), dash > dot,
                  let pid = Int32(rest[rest.index(after: dot)..<dash]) else { continue }
            let host = String(rest[..<dot])
            let path = parent + "/" + name
            if host == Self.host {
                if pid == CurrentProcess.id || processAlive(pid) { continue }
            } else {
                guard let st = try? FileSystem.linkStatus(path), Double(Clock.now().seconds) - Double(st.modifiedSeconds) > 86_400 else { continue }
            }
            removeTree(path)
        }
        for name in entries(target) where isLegacyLitter(name) { try? FileSystem.remove(target + "/" + name) }
    }
}

/// The earlier name: the sweep writes its two files the same way.
public typealias OutputPair = OutputFiles

extension OutputFiles {
    /// Removes the staging files and folders of every `OutputFiles` not yet committed or discarded.
    /// Async-signal-safe (C: unlink and rmdir over a list published beforehand, no lock): an
    /// embedder's signal handler calls it before exiting, as `pm`'s SIGINT/SIGTERM/SIGHUP handler
    /// does, so that an interrupted run leaves no staging folder. The library installs no handler.
    public static func removeStagingAfterInterrupt() { pm_interrupt_cleanup_remove_all() }
}

/// The staging files and folders in flight, for `OutputFiles.removeStagingAfterInterrupt()`. The
/// removal is C (`CPlatform/interrupt_cleanup.c`): it reads an immutable copy of the lists,
/// published atomically after every change, and calls only async-signal-safe functions.
enum InterruptCleanup {
    /// The staging files and folders in flight; the signal handler never reads them, only the C
    /// copy `publish` hands over.
    private static let lists = Locked<(paths: [String], directories: [String])>(([], []))

    static func register(_ list: [String], directory: String? = nil) {
        lists.withLock {
            $0.paths += list
            if let directory { $0.directories.append(directory) }
            publish($0.paths, $0.directories)
        }
    }

    static func unregister(_ list: [String], directory: String? = nil) {
        lists.withLock {
            $0.paths.removeAll { list.contains($0) }
            if let directory { $0.directories.removeAll { $0 == directory } }
            publish($0.paths, $0.directories)
        }
    }

    /// Hands the handler a C copy of both lists (and installs it the first time). Under `lists`' lock.
    private static func publish(_ paths: [String], _ directories: [String]) {
        let f = paths.map { UnsafePointer(strdup($0)) }, d = directories.map { UnsafePointer(strdup($0)) }
        defer { for p in f + d { free(UnsafeMutablePointer(mutating: p)) } }
        _ = f.withUnsafeBufferPointer { fb in
            d.withUnsafeBufferPointer { db in pm_interrupt_cleanup_publish(fb.baseAddress, fb.count, db.baseAddress, db.count) }
        }
    }
}
