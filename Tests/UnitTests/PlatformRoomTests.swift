import Foundation
import Testing

/// The operating-system room (`Sources/PortfolioMargin/Support/Platform/`), enforced: outside it,
/// no Swift file of `Sources/` calls a system call. The room's wrappers (`FileDescriptor`,
/// `FileSystem`, `Clock`, `CurrentProcess`, `AnonymousMemory`) are the only way in.
///
/// The scan works on a file's code with comments and string literals removed (but string
/// interpolations kept: `"\(strerror(errno))"` is a call). It flags
/// - a free call `name(` of a listed function: not after `.` (a method call like `fd.write(` or
///   `handle.close()`), not a declaration (`func read(`); `Glibc.write(` / `Darwin.write(` always;
/// - a use of `errno` (not `x.errno`, not the label `errno:`).
///
/// One exemption: a file that declares `func NAME(` itself may call `NAME(` unqualified — inside
/// the declaring type that call is the member (Swift's member lookup shadows the C function; the
/// C one then has to be written `Glibc.NAME(`, which is flagged). Known limit: a top-level
/// syscall `NAME(` in a file that also declares a method `NAME` elsewhere is not seen.
/// `Sources/pm/InterruptHandler.swift` keeps its signal-handler calls (`signal`, `sigprocmask`,
/// `_exit`: not in the list; see the room's comment in `Support/Platform/Platform.swift`).
struct PlatformRoomTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources").path
    static let room = "PortfolioMargin/Support/Platform/"

    /// The system calls (and libc wrappers that are one) no file outside the room may call.
    static let calls: Set<String> = [
        "open", "openat", "creat", "pread", "pwrite", "read", "write", "readv", "writev", "close",
        "fsync", "fdatasync", "sync", "syncfs", "rename", "renameat", "renameat2", "unlink", "unlinkat",
        "mkdir", "mkdirat", "rmdir", "fstat", "stat", "lstat", "fstatat", "statx", "opendir", "readdir",
        "closedir", "ftruncate", "truncate", "lseek", "posix_fadvise", "madvise", "mmap", "munmap",
        "mprotect", "clock_gettime", "gettimeofday", "time", "nanosleep", "usleep", "isatty", "getpid",
        "kill", "access", "realpath", "readlink", "symlink", "link", "dup", "dup2", "pipe", "fcntl",
        "ioctl", "execv", "execve", "execvp", "fork", "getenv", "setenv", "unsetenv", "getrlimit",
        "setrlimit", "gethostname", "strerror", "sendfile", "copy_file_range", "chmod", "fchmod",
    ]

    /// `text` without comments and string literals, line breaks kept (line numbers stay right);
    /// a string's interpolations `\( … )` stay as code.
    static func code(_ text: String) -> String {
        let c = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func at(_ k: Int, _ s: StaticString) -> Bool {
            var k = k
            for b in UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount) {
                guard k < c.count, c[k].value == UInt32(b) else { return false }
                k += 1
            }
            return true
        }
        while i < c.count {
            if at(i, "//") {
                while i < c.count && c[i] != "\n" { i += 1 }
            } else if at(i, "/*") {
                i += 2
                while i < c.count && !at(i, "*/") { if c[i] == "\n" { out.append("\n") }; i += 1 }
                i += 2
            } else if c[i] == "\"" {
                let triple = at(i, "\"\"\"")
                i += triple ? 3 : 1
                out.append(contentsOf: "\"\"".unicodeScalars)
                while i < c.count {
                    if triple ? at(i, "\"\"\"") : (c[i] == "\"" || c[i] == "\n") {
                        if c[i] == "\n" && !triple { break }
                        i += triple ? 3 : 1
                        break
                    }
                    if at(i, "\\(") {
                        // An interpolation: its code, to the matching parenthesis.
                        i += 2
                        var depth = 1
                        out.append(" ")
                        while i < c.count && depth > 0 {
                            if c[i] == "(" { depth += 1 } else if c[i] == ")" { depth -= 1 }
                            if depth > 0 { out.append(c[i]) }
                            i += 1
                        }
                        out.append(" ")
                        continue
                    }
                    if c[i] == "\\" { i += 1 }
                    if i < c.count && c[i] == "\n" { out.append("\n") }
                    i += 1
                }
            } else {
                out.append(c[i])
                i += 1
            }
        }
        return String(out)
    }

    /// The offending lines of one file's `text`: "LINE: what". A byte scan (Swift's `Regex` took
    /// minutes over `Sources/` in the address-sanitized test build): identifiers not after `.`, `$`
    /// or another identifier byte, followed (spaces allowed) by `(`.
    static func violations(_ text: String) -> [String] {
        let code = Array(code(text).utf8)
        func isStart(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
        func isWord(_ b: UInt8) -> Bool { isStart(b) || (b >= 48 && b <= 57) }
        func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 }
        /// The identifiers of `line` (its bytes `lo ..< hi`) that may start a call, each with the
        /// index after it; `$`, `.` or a word byte before one makes it a member or part of a name.
        func tokens(_ lo: Int, _ hi: Int) -> [(name: String, end: Int, start: Int)] {
            var out: [(String, Int, Int)] = []
            var i = lo
            while i < hi {
                if isStart(code[i]) {
                    var j = i + 1
                    while j < hi && isWord(code[j]) { j += 1 }
                    let free = i == lo || !(isWord(code[i - 1]) || code[i - 1] == 46 || code[i - 1] == 36)
                    if free { out.append((String(decoding: code[i..<j], as: UTF8.self), j, i)) }
                    i = j
                } else if code[i] >= 48 && code[i] <= 57 {
                    while i < hi && isWord(code[i]) { i += 1 }   // a number literal, not a name
                } else {
                    i += 1
                }
            }
            return out
        }
        func skipSpaces(_ k: Int, _ hi: Int) -> Int { var k = k; while k < hi && isSpace(code[k]) { k += 1 }; return k }
        /// The identifier starting at `k` (after spaces), and the index after it.
        func name(at k: Int, _ hi: Int) -> (String, Int)? {
            let k = skipSpaces(k, hi)
            guard k < hi, isStart(code[k]) else { return nil }
            var j = k + 1
            while j < hi && isWord(code[j]) { j += 1 }
            return (String(decoding: code[k..<j], as: UTF8.self), j)
        }
        var lines: [(Int, Int)] = []
        var start = 0
        for (i, b) in code.enumerated() where b == 10 { lines.append((start, i)); start = i + 1 }
        lines.append((start, code.count))
        // Functions the file declares (`func NAME(` or `func NAME<`).
        var declared: Set<String> = []
        for (lo, hi) in lines {
            for t in tokens(lo, hi) where t.name == "func" {
                if let (n, e) = name(at: t.end, hi) {
                    let k = skipSpaces(e, hi)
                    if k < hi && (code[k] == 40 || code[k] == 60) { declared.insert(n) }
                }
            }
        }
        var found: [String] = []
        for (n, (lo, hi)) in lines.enumerated() {
            var usesErrno = false
            var previous = ""   // the token before, when only spaces lie between
            var previousEnd = -1
            var qualifiedEnd = -1   // the end of `Glibc . NAME`: NAME is not a call of its own
            for t in tokens(lo, hi) where t.start >= qualifiedEnd {
                defer { previous = t.name; previousEnd = t.end }
                let afterFunc = previous == "func" && skipSpaces(previousEnd, hi) == t.start
                if t.name == "errno" {
                    let k = skipSpaces(t.end, hi)
                    if !(k < hi && code[k] == 58) { usesErrno = true }
                    continue
                }
                if t.name == "Glibc" || t.name == "Darwin" {
                    let dot = skipSpaces(t.end, hi)
                    if dot < hi && code[dot] == 46, let (call, e) = name(at: dot + 1, hi) {
                        qualifiedEnd = e
                        let paren = skipSpaces(e, hi)
                        if paren < hi && code[paren] == 40 && calls.contains(call) { found.append("\(n + 1): \(t.name).\(call)(") }
                    }
                    continue
                }
                let paren = skipSpaces(t.end, hi)
                guard paren < hi, code[paren] == 40, calls.contains(t.name), !afterFunc, !declared.contains(t.name) else { continue }
                found.append("\(n + 1): \(t.name)(")
            }
            if usesErrno { found.append("\(n + 1): errno") }
        }
        return found
    }

    @Test func noSystemCallOutsideThePlatformRoom() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.sources)
            .filter { $0.hasSuffix(".swift") }.sorted()
        #expect(files.count > 100)   // the scan found the sources
        #expect(files.contains { $0.hasPrefix(Self.room) })
        var offences: [String] = []
        for rel in files where !rel.hasPrefix(Self.room) {
            let text = try String(contentsOfFile: Self.sources + "/" + rel, encoding: .utf8)
            offences += Self.violations(text).map { "Sources/\(rel):\($0)" }
        }
        #expect(offences == [], "system calls outside Sources/\(Self.room) (use its wrappers):\n\(offences.joined(separator: "\n"))")
    }

    /// The scanner on a fixture: what it must flag and what it must not.
    @Test func scannerFlagsFreeCallsOnly() {
        let fixture = #"""
        import Glibc
        let n = write(fd, p, 3)
        let m = Glibc.read(fd, p, 3)
        handle.write(contents)
        try fd.close()
        // close(fd) in a comment
        let s = "open(path) in a string"
        let e = "cannot be read (\(String(cString: strerror(errno))))"
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        let t = Darwin . unlink (path)
        throw SystemError(errno: e, path: p)
        let c = error.errno.code
        /* mkdir(a, 0o755)
           rmdir(a) */ let r = rename(a, b)
        let w = rewrite(x); let q = myopen(x); let z = $open(x)
        """#
        #expect(Self.violations(fixture) == [
            "2: write(", "3: Glibc.read(", "8: strerror(", "8: errno", "9: stat(", "10: lstat(",
            "11: Darwin.unlink(", "15: rename(",
        ])
    }

    /// A file declaring `func read` calls its own member unqualified; `Glibc.read` stays flagged.
    @Test func aDeclaredMemberIsNotASystemCall() {
        let fixture = """
        struct Reader {
            func read(_ k: Int) -> Int { k }
            func close() {}
            func both() -> Int { close(); return read(1) + Glibc.read(0, nil, 0) }
        }
        """
        #expect(Self.violations(fixture) == ["4: Glibc.read("])
    }
}
