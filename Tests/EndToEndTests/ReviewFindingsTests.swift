import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// What a hostile review of today's surfaces found, each as the case that failed before its fix.
@Suite struct ReviewFindingsTests {
    let dir = try! TrustTempDir()

    /// `pm smile --plot` renames its page into place: over a pipe or a symbolic link that would
    /// put a plain file where the node or the link was. Such a path is refused (exit 1, one line)
    /// and left as it was, as `pm report --out` does.
    @Test func plotReplacesOnlyARegularFile() throws {
        let fifo = dir.path("pipe")
        #expect(mkfifo(fifo, 0o644) == 0)
        let target = dir.write("target.svg", "kept")
        let link = dir.path("link.svg")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        for (path, what) in [(fifo, "a pipe"), (link, "a symbolic link")] {
            try CLITrustTests.expectOneLineFailure(["smile", "--market", "data/sample/market.json", "--coin", "BTC", "--plot", path],
                                                   [path, what, "regular file"])
        }
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        #expect(lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "kept")
        // A regular file is replaced whole.
        let svg = dir.write("old.svg", "old")
        let ok = try CLI.run(["smile", "--market", "data/sample/market.json", "--coin", "BTC", "--plot", svg])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try String(contentsOfFile: svg, encoding: .utf8).hasPrefix("<svg"))
    }

    /// A `pm` found through `PATH` (argv[0] is the bare name) finds the shipped history beside
    /// its own folder, as one run by its path does.
    @Test func backtestFindsTheShippedHistoryFromPath() throws {
        let bin = dir.path("install/bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: bin + "/pm")
        try FileManager.default.createDirectory(atPath: dir.path("install/data"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path("install/data/history"), withDestinationPath: TestSupport.path("data/history"))
        let elsewhere = dir.path("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let gen = try CLI.run(["generate", "--accounts", "30", "--seed", "5", "--out", dir.path("book")])
        #expect(gen.status == 0, "\(gen.stderr)")
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        let r = try CLI.run(["pm", "backtest", "--input", dir.path("book"), "--market", dir.path("book/market.json"), "--out", "out",
                             "--quiet", "--from", "2025-01-01", "--to", "2025-01-10"],
                            executable: "/usr/bin/env", cwd: URL(fileURLWithPath: elsewhere), environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/out/summary.json"))
    }

    /// Number arguments are decimal as the CSV files write them: no spaces around them (the
    /// batch refuses `" 1000"` in a file; `--add "BTCUSDT: 1"` was accepted).
    @Test func numberArgumentsTakeNoSpaces() throws {
        for text in [" 1", "1 ", " 1 ", "1\t"] { #expect(TradeArguments.decimal(text) == nil, "\(text)") }
        #expect(TradeArguments.decimal("1.5e-3") == 1.5e-3)
        let account = "data/examples/short-strangle.json", market = "data/sample/market.json"
        try CLITrustTests.expectOneLineFailure(["whatif", account, "--market", market, "--add", "BTCUSDT: 1"], ["SIZE"])
        try CLITrustTests.expectOneLineFailure(["whatif", account, "--market", market, "--add", "BTCUSDT:1@ 70000"], ["PRICE"])
        try CLITrustTests.expectOneLineFailure(["whatif", account, "--market", market, "--max-size", "BTCUSDT", "--step", " 1"], ["--step"])
    }

    /// An empty `--params` is refused naming the option (it said only "no such file").
    @Test func anEmptyParamsArgumentNamesTheOption() throws {
        let out = dir.path("o")
        try CLITrustTests.expectOneLineFailure(["batch", "--input", "data/sample/accounts", "--market", "data/sample/market.json",
                                                "--params", "", "--out", out], ["--params", "empty"])
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
