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

    /// `pm report` reads what `pm backtest` writes: a stage no unit of the book is in has coverage
    /// `null` in summary.json (docs/formats.md "c or null"), shown as — (it was refused as "expected
    /// a number or an object, got null").
    @Test func reportShowsAStageWithoutUnits() throws {
        let gen = try CLI.run(["generate", "--accounts", "40", "--seed", "1", "--out", dir.path("book")])
        #expect(gen.status == 0, "\(gen.stderr)")
        let bt = try CLI.run(["backtest", "--input", dir.path("book"), "--market", dir.path("book/market.json"), "--out", dir.path("bt"),
                              "--quiet", "--from", "2025-01-01", "--to", "2025-01-20"])
        #expect(bt.status == 0, "\(bt.stderr)")
        let summary = try String(contentsOfFile: dir.path("bt/summary.json"), encoding: .utf8)
        let stages = try #require(summary.split(separator: "\n").first { $0.contains("coverageByStage") })
        #expect(stages.contains("null"), "the book was meant to leave a stage empty: \(stages)")
        let r = try CLI.run(["report", dir.path("bt"), "--out", dir.path("bt.html")])
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOfFile: dir.path("bt.html"), encoding: .utf8)
        let section = try #require(page.range(of: "stage-coverage")).upperBound
        let table = page[section...].prefix(4000)
        for stage in Stage.allCases.map(\.rawValue) where stages.contains("\"\(stage)\": null") {
            let row = try #require(table.range(of: ">\(stage)<"), "no row for \(stage)")
            #expect(table[row.upperBound...].prefix(200).contains("—"), "\(stage) is not shown as —")
        }
    }

    /// `pm merge` refuses a pipe where a shard's file should be, at once (an open without
    /// O_NONBLOCK waited for a writer forever), as the batch readers do.
    @Test func mergeRefusesAPipeAtOnce() throws {
        let gen = try CLI.run(["generate", "--accounts", "40", "--seed", "1", "--out", dir.path("in")])
        #expect(gen.status == 0, "\(gen.stderr)")
        for i in 0..<2 {
            let b = try CLI.run(["batch", "--input", dir.path("in"), "--market", dir.path("in/market.json"), "--out", dir.path("s\(i)"),
                                 "--shard", "\(i)/2", "--quiet"])
            #expect(b.status == 0, "\(b.stderr)")
        }
        for file in ["manifest.json", "margins.csv"] {
            let node = dir.path("s1/" + file)
            let saved = try Data(contentsOf: URL(fileURLWithPath: node))
            try FileManager.default.removeItem(atPath: node)
            #expect(mkfifo(node, 0o644) == 0)
            // Under `timeout`: the old code never returned (exit 124 after 60 s).
            let r = try CLI.run(["60", CLI.binary, "merge", dir.path("s0"), dir.path("s1"), "--accounts", dir.path("in/accounts.csv"),
                                 "--out", dir.path("m")], executable: "/usr/bin/timeout")
            #expect(r.status == 1, "\(file): status \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(node) && r.stderr.contains("pipe"), "\(file): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("m/margins.csv")))
            try FileManager.default.removeItem(atPath: node)
            try saved.write(to: URL(fileURLWithPath: node))
        }
    }

    /// `pm split` names a broken row's line as `pm batch` does (the header is line 1; it said
    /// "line 1" for the first data row) and words broken quoting as one line (it printed the
    /// error's debug description).
    @Test func splitNamesTheLinesAsTheBatchDoes() throws {
        let header = "account_id,symbol,size,entry_price\n"
        for (name, body, words) in [
            ("short", header + "A,BTCUSDT\n", ["positions.csv", "line 2", "has 2 fields"]),
            ("quote", header + "A,BTCUSDT,1,100\nB,\"BTCUSDT,1,100\n", ["positions.csv", "line 3"]),
        ] {
            let input = dir.path("split-\(name)")
            try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
            dir.write("split-\(name)/accounts.csv", "account_id,spot_hedging\nA,false\nB,false\n")
            dir.write("split-\(name)/balances.csv", "account_id,coin,wallet_balance\nA,USDT,1000\nB,USDT,1000\n")
            dir.write("split-\(name)/positions.csv", body)
            try CLITrustTests.expectOneLineFailure(["split", "--input", input, "--shards", "2", "--out", dir.path("out-\(name)")], words)
            let batch = try CLI.run(["batch", "--input", input, "--market", "data/sample/market.json", "--out", dir.path("b-\(name)")])
            #expect(batch.status == 1)
            for w in words { #expect(batch.stderr.contains(w), "pm batch: \(batch.stderr)") }
        }
    }

    /// A folder named like an output (OUT/margins.csv) was swapped away with the previous OUT into
    /// the staging folder, which is removed file by file only: the run succeeded and left
    /// `.OUT.pm-tmp.*` beside OUT holding the user's folder. It is refused before anything is
    /// computed, OUT and the folder left as they were, nothing beside OUT.
    @Test func aFolderNamedLikeAnOutputIsRefusedAndLeftAsItWas() throws {
        let out = dir.path("out")
        try FileManager.default.createDirectory(atPath: out + "/margins.csv", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: out + "/margins.csv/note.txt"))
        // OUT given through a symbolic link and with a trailing slash: named as given, not by its real path.
        let link = dir.path("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: out)
        let r = try CLI.run(["batch", "--input", "data/sample/accounts", "--market", "data/sample/market.json", "--out", link + "/", "--quiet"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("\(link)/margins.csv: exists and is not a plain file") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out)) == ["margins.csv"])
        #expect(try String(contentsOfFile: out + "/margins.csv/note.txt", encoding: .utf8) == "keep")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains("pm-tmp") }.isEmpty)
    }
}
