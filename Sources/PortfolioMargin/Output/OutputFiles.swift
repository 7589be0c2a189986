import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output files written whole or not at all (MODEL.md §10): each is written to a temporary file
/// beside its final name and renamed into place by `commit()`; `abandon()`, an error, or SIGINT /
/// SIGTERM remove the temporary files and leave any previous outputs untouched.
public final class OutputPair: @unchecked Sendable {
    public let finalPaths: [String]
    private let tempPaths: [String]
    private var fds: [Int32]
    private var done = false

    /// Creates `directory` (and its parents) if needed and opens a temporary file for each of `names`.
    public init(directory: String, names: [String]) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw InputError(file: directory, "cannot create the output folder (\(error.localizedDescription))")
        }
        finalPaths = names.map { directory + "/" + $0 }
        tempPaths = names.map { directory + "/.\($0).tmp-\(getpid())" }
        fds = []
        for t in tempPaths {
            let fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if fd < 0 {
                let reason = String(cString: strerror(errno))
                for f in fds { close(f) }
                for p in tempPaths { unlink(p) }
                throw InputError(file: t, "cannot be written (\(reason))")
            }
            fds.append(fd)
        }
        InterruptCleanup.register(tempPaths)
    }

    /// Appends bytes to file `k`.
    public func write(_ k: Int, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fds[k], raw.baseAddress! + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw InputError(file: finalPaths[k], "write failed (\(String(cString: strerror(errno))))")
                }
                off += n
            }
        }
    }

    /// Flushes and renames every file into place.
    public func commit() throws {
        for (k, fd) in fds.enumerated() {
            if fsync(fd) != 0 && errno != EINVAL { throw InputError(file: finalPaths[k], "cannot be flushed") }
            close(fd)
        }
        fds = []
        for (t, f) in zip(tempPaths, finalPaths) where rename(t, f) != 0 {
            throw InputError(file: f, "cannot be renamed into place (\(String(cString: strerror(errno))))")
        }
        done = true
        InterruptCleanup.unregister(tempPaths)
    }

    /// Removes the temporary files.
    public func abandon() {
        for fd in fds { close(fd) }
        fds = []
        for t in tempPaths { unlink(t) }
        InterruptCleanup.unregister(tempPaths)
        done = true
    }

    deinit { if !done { abandon() } }
}

/// Removes registered temporary files when the process is interrupted (SIGINT, SIGTERM, SIGHUP),
/// then exits with the conventional 128 + signal status.
enum InterruptCleanup {
    nonisolated(unsafe) private static var paths: [UnsafeMutablePointer<CChar>] = []
    nonisolated(unsafe) private static var installed = false
    private static let lock = NSLockLite()

    static func register(_ list: [String]) {
        lock.locked {
            for p in list { paths.append(strdup(p)) }
            if !installed {
                installed = true
                for s in [SIGINT, SIGTERM, SIGHUP] { signal(s, interruptHandler) }
            }
        }
    }

    static func unregister(_ list: [String]) {
        lock.locked {
            paths.removeAll { p in
                let hit = list.contains(String(cString: p))
                if hit { free(p) }
                return hit
            }
        }
    }

    fileprivate static func removeAll() {
        for p in paths { unlink(p) }
    }
}

private func interruptHandler(_ signal: Int32) {
    InterruptCleanup.removeAll()
    _exit(128 + signal)
}

/// A minimal mutex (pthread), so the library needs no Foundation lock here.
final class NSLockLite: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
