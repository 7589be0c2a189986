import Foundation
@testable import PortfolioMargin

/// Runs the real `pm` command built beside the tests.
enum CLI {
    static let binary: String = {
        // Children take the same aggregation path as the test process (its in-process results
        // are compared with theirs): the documented threshold, pinned. DeterminismTests runs
        // children without it.
        setenv(DenseCrossover.environmentVariable, "0.75", 0)
        var dirs = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        dirs += dirs.map { $0.deletingLastPathComponent() }
        for d in dirs {
            let p = d.appendingPathComponent("pm").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return TestSupport.path(".build/debug/pm")
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable` (default `pm`) with `args` in `cwd` (default the repository root), with
    /// `environment` (default this process's), and collects its status and output.
    static func run(_ args: [String], executable: String = binary, cwd: URL = TestSupport.root,
                    environment: [String: String]? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = cwd
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let (o, e) = TestSupport.drain(out, err)
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// The shared test fixtures (relative to the repository root).
    static let fixtures = "Tests/Fixtures"
}

extension CLI {
    /// Runs another program with `stdin`.
    static func runTool(_ path: String, _ args: [String], stdin: String) throws -> Output {
        guard FileManager.default.isExecutableFile(atPath: path) else { return Output(status: 127, stdout: "", stderr: "") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let i = Pipe(), out = Pipe(), err = Pipe()
        p.standardInput = i; p.standardOutput = out; p.standardError = err
        try p.run()
        i.fileHandleForWriting.write(Data(stdin.utf8))
        try i.fileHandleForWriting.close()
        let (o, e) = TestSupport.drain(out, err)
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

/// Compares two JSON documents field by field: same keys, same strings, numbers to 1e-9 relative.
func sameJSON(_ a: JSON, _ b: JSON, path: String = "$") -> [String] {
    switch (a, b) {
    case let (.number(x), .number(y)):
        return TestSupport.close(x, y) ? [] : ["\(path): \(x) vs \(y)"]
    case let (.string(x), .string(y)) where x != y && Double(x) != nil && Double(y) != nil:
        // Numbers written as decimal strings (Bybit's shapes): the same tolerance as numbers. A
        // child process may aggregate through BLAS where the test process gathered (rounding).
        return TestSupport.close(Double(x)!, Double(y)!) ? [] : ["\(path): \(x) vs \(y)"]
    case let (.array(x), .array(y)):
        guard x.count == y.count else { return ["\(path): \(x.count) items vs \(y.count)"] }
        return zip(x, y).enumerated().flatMap { sameJSON($1.0, $1.1, path: "\(path)[\($0)]") }
    case let (.object(x), .object(y)):
        let kx = x.map(\.0), ky = y.map(\.0)
        guard Set(kx) == Set(ky) else { return ["\(path): keys \(kx) vs \(ky)"] }
        return x.flatMap { k, v in sameJSON(v, b[k]!, path: "\(path).\(k)") }
    default:
        return a == b ? [] : ["\(path): \(a) vs \(b)"]
    }
}

/// Helpers for tests that run `pm` as a child process and signal it.
enum Child {
    static func start(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = args
        p.currentDirectoryURL = TestSupport.root
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func files(_ dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    }

    static func read(_ p: String) -> Data? { FileManager.default.contents(atPath: p) }

    static func dataRows(_ d: Data) -> Int { d.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } - 1 }
}
