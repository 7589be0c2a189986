#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPlatform

// The operating-system room of the Swift side: every system call the package's Swift
// code makes goes through this folder (`Support/Platform/`); the C side's room is `CPlatform/`.
//
// - What is here: thin wrappers, one per call the package needs — a file descriptor type
//   (`FileDescriptor`), file status (`FileStatus`), path operations (`FileSystem`), clocks
//   (`Clock`), process facts (`CurrentProcess`), anonymous memory (`AnonymousMemory`) and the
//   standard-error writer (`writeStandardError`). No policy: the callers word their messages.
// - Errors: a failed call throws `Errno` (the C `errno`, typed); calls on a path throw
//   `SystemError` (the `Errno` and the path). `EINTR` is retried here, once for all callers.
// - Libm (`exp`, `log`, `sqrt`, `erf`, …) is not an operating-system call: files that need it keep
//   `import Glibc` for it (Foundation would pull a whole framework into the numeric files for the
//   same functions); `Tests/UnitTests/PlatformRoomTests.swift` fails on any system call outside
//   this folder, whatever the file imports.
// - `Sources/pm` keeps only its signal handler's process-level calls (`Sources/pm/InterruptHandler.swift`:
//   `signal`, `_exit`, the signal mask — async-signal-safe code that must not go through Swift
//   wrappers that allocate); everything else there uses this room.

/// A C `errno` value: what a failed system call reported.
package struct Errno: Error, Equatable, Sendable {
    package let code: Int32
    package init(_ code: Int32) { self.code = code }
    /// The calling thread's `errno` now.
    package static var current: Errno { Errno(errno) }
    /// The system's text for it (`strerror`): "No such file or directory", "Permission denied", ….
    package var reason: String { String(cString: strerror(code)) }

    package static let noSuchFile = Errno(ENOENT)
    package static let interrupted = Errno(EINTR)
    package static let invalidArgument = Errno(EINVAL)
    package static let notPermitted = Errno(EPERM)
    package static let isADirectory = Errno(EISDIR)
    package static let notImplemented = Errno(ENOSYS)
    package static let notSupported = Errno(ENOTSUP)
}

/// A failed system call on a path: its `Errno` and the path it named.
package struct SystemError: Error, Equatable, Sendable {
    package let errno: Errno
    package let path: String
    package init(_ errno: Errno, path: String) { self.errno = errno; self.path = path }
}

/// Calls `call` until it does not fail with `EINTR`; a negative result throws the `Errno`.
@inline(__always)
private func retryingInterrupts<T: BinaryInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let r = call()
        if r >= 0 { return r }
        let e = Errno.current
        if e != .interrupted { throw e }
    }
}

// The C calls whose names the wrappers below reuse (inside a type, a member `open`, `close`,
// `read`, `write` or `rename` would shadow them).
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
private func systemRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, buf, n) }
private func systemWrite(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int) -> Int { write(fd, buf, n) }
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// What a file is and its size, device, inode and modification time (`stat`/`lstat`/`fstat`).
package struct FileStatus: Sendable {
    package enum Kind: Sendable { case regular, directory, symbolicLink, pipe, socket, device, other }
    package let kind: Kind
    package let size: Int
    package let device: UInt64
    package let inode: UInt64
    /// Modification time: seconds and nanoseconds since 1970.
    package let modifiedSeconds: Int
    package let modifiedNanoseconds: Int

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFIFO: kind = .pipe
        case S_IFSOCK: kind = .socket
        case S_IFCHR, S_IFBLK: kind = .device
        default: kind = .other
        }
        size = Int(st.st_size)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        #if canImport(Darwin)
        modifiedSeconds = Int(st.st_mtimespec.tv_sec); modifiedNanoseconds = Int(st.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int(st.st_mtim.tv_sec); modifiedNanoseconds = Int(st.st_mtim.tv_nsec)
        #endif
    }

    /// The same file (device and inode).
    package func isSameFile(as other: FileStatus) -> Bool { device == other.device && inode == other.inode }
    /// The same modification time, to the nanosecond.
    package func isSameModification(as other: FileStatus) -> Bool {
        modifiedSeconds == other.modifiedSeconds && modifiedNanoseconds == other.modifiedNanoseconds
    }
}

/// An open file descriptor. A value, not an owner: whoever opens it calls ``close()`` once.
package struct FileDescriptor: Hashable, Sendable {
    package let rawValue: Int32
    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// Standard error (descriptor 2).
    package static let standardError = FileDescriptor(rawValue: 2)

    /// How to open: the `open(2)` flags the package uses. `O_CLOEXEC` is always added (no
    /// descriptor leaks into a process `pm` starts).
    package struct Options: OptionSet, Sendable {
        package let rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }
        package static let readOnly = Options([])
        package static let writeOnly = Options(rawValue: O_WRONLY)
        package static let create = Options(rawValue: O_CREAT)
        package static let exclusive = Options(rawValue: O_EXCL)
        package static let truncate = Options(rawValue: O_TRUNC)
        /// Opening a FIFO does not wait for a writer.
        package static let nonBlocking = Options(rawValue: O_NONBLOCK)
        package static let directory = Options(rawValue: O_DIRECTORY)
    }

    /// Opens `path` (`open(2)`; `EINTR` retried); `mode` applies when `.create` makes the file.
    package static func open(_ path: String, _ options: Options, mode: UInt32 = 0o644) throws(SystemError) -> FileDescriptor {
        do {
            let fd = try retryingInterrupts { () -> Int32 in systemOpen(path, options.rawValue | O_CLOEXEC, mode_t(mode)) }
            return FileDescriptor(rawValue: fd)
        } catch { throw SystemError(error, path: path) }
    }

    /// Closes the descriptor (`close(2)`; not retried: Linux frees it even when interrupted).
    package func close() throws(Errno) {
        if systemClose(rawValue) != 0 { throw Errno.current }
    }

    /// Closes the descriptor, ignoring a failure (a read-only file, or a path already failing).
    package func closeIgnoringErrors() { _ = systemClose(rawValue) }

    /// Up to `count` bytes at the current offset into `buffer` (`read(2)`); 0 at the end of the file.
    package func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> Int {
        try retryingInterrupts { systemRead(rawValue, buffer, count) }
    }

    /// Up to `count` bytes at `offset` into `buffer` (`pread(2)`); 0 at or past the end of the file.
    package func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws(Errno) -> Int {
        try retryingInterrupts { pread(rawValue, buffer, count, off_t(offset)) }
    }

    /// Writes all of `bytes` (`write(2)`, repeated after short writes).
    package func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            done += try retryingInterrupts { systemWrite(rawValue, bytes.baseAddress! + done, bytes.count - done) }
        }
    }

    /// Writes all of `bytes`.
    package func writeAll(_ bytes: [UInt8]) throws(Errno) {
        var failure: Errno?
        bytes.withUnsafeBytes { b in
            do throws(Errno) { try writeAll(b) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Makes the file's data and metadata durable (`fsync(2)`).
    package func sync() throws(Errno) {
        if fsync(rawValue) != 0 { throw Errno.current }
    }

    /// `fstat(2)`.
    package func status() throws(Errno) -> FileStatus {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw Errno.current }
        return FileStatus(st)
    }

    /// Empties the file and moves the offset back to 0 (`ftruncate`, `lseek`).
    package func truncateAndRewind() throws(Errno) {
        guard ftruncate(rawValue, 0) == 0, lseek(rawValue, 0, SEEK_SET) == 0 else { throw Errno.current }
    }

    /// Whether the descriptor is a terminal (`isatty(3)`).
    package var isTerminal: Bool { isatty(rawValue) != 0 }
}

/// Operations on paths.
package enum FileSystem {
    /// `stat(2)`: follows a symbolic link.
    package static func status(_ path: String) throws(SystemError) -> FileStatus {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SystemError(.current, path: path) }
        return FileStatus(st)
    }

    /// `lstat(2)`: a symbolic link itself.
    package static func linkStatus(_ path: String) throws(SystemError) -> FileStatus {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw SystemError(.current, path: path) }
        return FileStatus(st)
    }

    /// False only when `path` certainly does not exist (`access(F_OK)` fails with `ENOENT`); true
    /// when it exists or when the check itself fails otherwise (the open that follows then reports).
    package static func mayExist(_ path: String) -> Bool {
        access(path, F_OK) == 0 || errno != ENOENT
    }

    /// `rename(2)`.
    package static func rename(_ from: String, to: String) throws(SystemError) {
        guard systemRename(from, to) == 0 else { throw SystemError(.current, path: from) }
    }

    /// Swaps two paths atomically (`renameat2(RENAME_EXCHANGE)`, `CPlatform/rename.c`); throws
    /// `.notImplemented`, `.invalidArgument` or `.notSupported` where the system has no such call.
    package static func exchange(_ a: String, _ b: String) throws(SystemError) {
        guard pm_rename_exchange(a, b) == 0 else { throw SystemError(.current, path: a) }
    }

    /// `unlink(2)`.
    package static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 else { throw SystemError(.current, path: path) }
    }

    /// `mkdir(2)`.
    package static func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws(SystemError) {
        guard mkdir(path, mode_t(mode)) == 0 else { throw SystemError(.current, path: path) }
    }

    /// `rmdir(2)`: an empty folder.
    package static func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 else { throw SystemError(.current, path: path) }
    }

    /// `link(2)`: a hard link `to` the file at `from`.
    package static func hardLink(_ from: String, to: String) throws(SystemError) {
        guard link(from, to) == 0 else { throw SystemError(.current, path: from) }
    }

    /// The target of the symbolic link at `path` (`readlink(2)`).
    package static func linkTarget(_ path: String) throws(SystemError) -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, Int(PATH_MAX))
        guard n >= 0 else { throw SystemError(.current, path: path) }
        buf[n] = 0
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The absolute path with no symbolic link, `.` or `..` (`realpath(3)`), nil when it cannot be resolved.
    package static func realPath(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// Makes a symbolic link at `path` pointing to `target` (`symlink(2)`).
    package static func symbolicLink(at path: String, to target: String) throws(SystemError) {
        guard symlink(target, path) == 0 else { throw SystemError(.current, path: path) }
    }
}

/// Clocks.
package enum Clock {
    /// Seconds of `CLOCK_MONOTONIC` (for durations).
    package static func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// The wall clock (`CLOCK_REALTIME`): seconds and nanoseconds since 1970 (UTC).
    package static func now() -> (seconds: Int, nanoseconds: Int) {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return (Int(t.tv_sec), Int(t.tv_nsec))
    }
}

/// Facts about this process and others.
package enum CurrentProcess {
    /// This process's id (`getpid`).
    package static var id: Int32 { getpid() }

    /// Whether process `pid` exists (`kill(pid, 0)`: succeeds, or `EPERM` — it exists, not ours).
    package static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// The machine's host name (`gethostname`), "" when it has none.
    package static var hostName: String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Raises the soft limit on open files to the hard one (`getrlimit`/`setrlimit`,
    /// `RLIMIT_NOFILE`) and returns the soft limit then in force.
    package static func raiseOpenFileLimit() -> Int {
        var lim = rlimit()
        #if canImport(Glibc)
        let nofile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let nofile = RLIMIT_NOFILE
        #endif
        getrlimit(nofile, &lim)
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max
            setrlimit(nofile, &lim)
            getrlimit(nofile, &lim)
        }
        return Int(clamping: lim.rlim_cur)
    }

    /// An environment variable's value (`getenv`), nil when unset.
    package static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Sets an environment variable (`setenv`, replacing).
    package static func setEnvironment(_ name: String, _ value: String) {
        setenv(name, value, 1)
    }

    /// Removes an environment variable (`unsetenv`).
    package static func unsetEnvironment(_ name: String) {
        unsetenv(name)
    }

    #if os(Linux)
    /// Replaces this process with a new run of its own executable (`execv` of /proc/self/exe, the
    /// same argv; C streams flushed first). Returns only when that failed, with the reason.
    package static func reexecute() -> Errno {
        fflush(nil)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        return .current
    }
    #endif
}

/// Anonymous private memory (`mmap`/`munmap`): pages the kernel zeroes on first touch.
package enum AnonymousMemory {
    /// `bytes` of read-write memory, or nil when the system refuses (the caller allocates instead).
    /// `populate`: fault every page in at once (`MAP_POPULATE`, Linux only).
    package static func map(_ bytes: Int, populate: Bool = false) -> UnsafeMutableRawPointer? {
        var flags = MAP_PRIVATE | MAP_ANONYMOUS
        #if os(Linux)
        if populate { flags |= MAP_POPULATE }
        #endif
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0), p != MAP_FAILED else { return nil }
        return p
    }

    /// Returns memory from ``map(_:populate:)``.
    package static func unmap(_ p: UnsafeMutableRawPointer, _ bytes: Int) { munmap(p, bytes) }
}

/// Writes `text` to standard error (file descriptor 2) in one `write` call, as `fputs` to the
/// unbuffered `stderr` does. Swift 6 rejects a reference to C's `stderr` (a mutable global) from
/// nonisolated code; the descriptor needs none. A failure is ignored (nowhere left to report it).
package func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { b in try? FileDescriptor.standardError.writeAll(UnsafeRawBufferPointer(b)) }
}
