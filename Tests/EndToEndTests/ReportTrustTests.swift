import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Hostile inputs and arguments to `pm report`: every refusal is exit 1 with one line naming the
/// file, line and field (or the argument), and writes nothing; a page is written whole or not at all.
@Suite struct ReportTrustTests {
    typealias F = ReportFolders

    func fails(_ args: [String], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try CLITrustTests.expectOneLineFailure(["report"] + args, words, sourceLocation: sourceLocation)
    }

    /// A batch folder whose margins.csv is `margins` (header included) and units.csv `units`.
    func batch(_ margins: String, units: String? = nil, accounts: Int = 1, errors: Int = 0) throws -> String {
        let dir = TestTemp.dir("report-hostile")
        try F.write(dir + "/margins.csv", margins)
        try F.write(dir + "/units.csv", units ?? BatchReportData.unitColumns.joined(separator: ",") + "\n")
        try F.write(dir + "/manifest.json", F.manifest(accounts: accounts, errors: errors))
        return dir
    }

    static let header = BatchReportData.marginColumns.joined(separator: ",") + "\n"
    static let good = "A,100.0,0.0,12.0,10.0,0.12,0.1,healthy,\n"

    @Test func foldersThatAreNotOutputFolders() throws {
        let dir = TestTemp.dir("report-folders")
        defer { TestTemp.remove(dir) }
        let page = dir + "/p.html"
        try fails([dir + "/missing", "--out", page], [dir + "/missing", "no such folder"])
        try fails([dir, "--out", page], [dir, "neither a batch output folder"])
        try F.write(dir + "/plain", "x")
        try fails([dir + "/plain", "--out", page], [dir + "/plain", "is not a folder"])
        // margins.csv is a folder, or empty, or not CSV of this kind.
        let sub = TestTemp.dir("report-sub")
        try FileManager.default.createDirectory(atPath: sub + "/margins.csv", withIntermediateDirectories: false)
        try F.write(sub + "/manifest.json", F.manifest(accounts: 0, errors: 0))
        try F.write(sub + "/units.csv", BatchReportData.unitColumns.joined(separator: ",") + "\n")
        try fails([sub, "--out", page], [sub + "/margins.csv", "is a directory"])
        let empty = try batch("")
        try fails([empty, "--out", page], [empty + "/margins.csv", "line 1", "missing header"])
        let other = try batch("date,coin,close\n2024-01-01,BTC,1\n")
        try fails([other, "--out", page], [other + "/margins.csv", "line 1", "account_id", "missing required column"])
        let noManifest = try batch(Self.header + Self.good)
        try FileManager.default.removeItem(atPath: noManifest + "/manifest.json")
        try fails([noManifest, "--out", page], [noManifest + "/manifest.json", "no such file"])
        let noUnits = try batch(Self.header + Self.good)
        try FileManager.default.removeItem(atPath: noUnits + "/units.csv")
        try fails([noUnits, "--out", page], [noUnits + "/units.csv", "no such file"])
        #expect(!FileManager.default.fileExists(atPath: page))
    }

    @Test func badFieldsNameFileLineAndField() throws {
        let page = TestTemp.file("p.html")
        let cases: [(String, [String])] = [
            ("A,100,0,12,abc,0.12,0.1,healthy,\n", ["line 2", "total_mm", "not a finite number", "\"abc\""]),
            ("A,100,0,12,nan,0.12,0.1,healthy,\n", ["line 2", "total_mm", "not a finite number"]),
            ("A,100,0,12,inf,0.12,0.1,healthy,\n", ["line 2", "total_mm", "not a finite number"]),
            ("A,100,0,12,1e999,0.12,0.1,healthy,\n", ["line 2", "total_mm", "not a finite number"]),
            ("A,100,0,12,-3,0.12,0.1,healthy,\n", ["line 2", "total_mm", "must be ≥ 0"]),
            ("A,100,0,12,10,0.12,NaN,healthy,\n", ["line 2", "mm_rate", "not a finite number"]),
            ("A,100,0,12,10,0.12,0.1,sleepy,\n", ["line 2", "stage", "\"sleepy\""]),
            ("A,,0,12,10,0.12,0.1,healthy,\n", ["line 2", "margin_balance", "empty"]),
            ("A,100,0,12,10,0.12,0.1,healthy\n", ["line 2", "has 8 fields"]),
            ("\"A,100,0,12,10,0.12,0.1,healthy,\n", ["line 2", "unterminated quoted field"]),
            ("A,1e308,0,12,10,0.12,0.1,healthy,\nB,1e308,0,12,10,0.12,0.1,healthy,\n", ["line 3", "margin_balance", "exceeds the range"]),
        ]
        for (body, words) in cases {
            let n = body.split(separator: "\n").count
            let dir = try batch(Self.header + Self.good + body, accounts: n + 1)
            try fails([dir, "--out", page], [dir + "/margins.csv"] + words.map { $0 == "line 2" ? "line 3" : ($0 == "line 3" ? "line 4" : $0) })
            TestTemp.remove(dir)
        }
        var bytes = Array((Self.header + "A").utf8) + [0xFF] + Array(",1,0,1,1,1,1,healthy,\n".utf8)
        let dir = TestTemp.dir("report-utf8")
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/margins.csv"))
        try F.write(dir + "/units.csv", BatchReportData.unitColumns.joined(separator: ",") + "\n")
        try F.write(dir + "/manifest.json", F.manifest(accounts: 1, errors: 0))
        try fails([dir, "--out", page], [dir + "/margins.csv", "line 2", "account_id", "invalid UTF-8"])
        bytes.removeAll()
        #expect(!FileManager.default.fileExists(atPath: page))
    }

    @Test func hugeAndInfiniteValuesThatAreValidAreDrawn() throws {
        // An infinite rate is what pm batch writes for no positive equity; a huge finite amount is a number.
        let dir = try batch(Self.header + "A,-5,0,12,10,inf,inf,liquidation,\nB,1e300,0,1.2e299,1e299,0.12,0.1,healthy,\n", accounts: 2)
        defer { TestTemp.remove(dir) }
        let page = dir + "-page.html"
        let out = try CLI.run(["report", dir, "--out", page])
        #expect(out.status == 0, "\(out.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let rates = ReportPageReader.bars(ReportPageReader.element("svg", id: "mm-rates", in: html))
        #expect(rates[10]["data-value"] == "1" && rates[1]["data-value"] == "1")
        #expect(html.contains("1.000e+299") && html.contains("∞"))
        try? FileManager.default.removeItem(atPath: page)
    }

    @Test func theManifestMustDescribeTheFiles() throws {
        let page = TestTemp.file("p.html")
        let dir = try batch(Self.header + Self.good, accounts: 2)
        try fails([dir, "--out", page], [dir + "/manifest.json", "accounts", "says 2", "has 1"])
        let errs = try batch(Self.header + Self.good, accounts: 1, errors: 1)
        try fails([errs, "--out", page], [errs + "/manifest.json", "errors"])
        let changed = try batch(Self.header + Self.good)
        try F.write(changed + "/manifest.json", F.manifest(accounts: 1, errors: 0,
            outputs: " \"outputs\": {\"margins.csv\": {\"size\": 5, \"hash\": \"0123456789abcdef\"}},"))
        try fails([changed, "--out", page], [changed + "/margins.csv", "does not match manifest.json"])
        try F.write(changed + "/manifest.json", "{\"shard\": null, \"accounts\": 1")
        try fails([changed, "--out", page], [changed + "/manifest.json", "not valid JSON"])
    }

    @Test func backtestFilesAreChecked() throws {
        let page = TestTemp.file("p.html")
        func variant(_ file: String, _ change: (String) -> String) throws -> String {
            let dir = try F.backtestCopy()
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            try F.write(dir + "/" + file, change(text))
            return dir
        }
        var d = try variant("scenarios.csv") { t in
            var lines = t.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines[5] = lines[4]
            return lines.joined(separator: "\n")
        }
        try fails([d, "--out", page], [d + "/scenarios.csv", "line 6", "date", "also on line 5"])
        d = try variant("scenarios.csv") { $0.replacingOccurrences(of: "2023-02-01,", with: "2023-02-30,") }
        try fails([d, "--out", page], [d + "/scenarios.csv", "date", "\"2023-02-30\""])
        d = try variant("scenarios.csv") { t in
            var lines = t.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var f = lines[3].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            f[f.count - 2] = "Infinity"
            lines[3] = f.joined(separator: ",")
            return lines.joined(separator: "\n")
        }
        try fails([d, "--out", page], [d + "/scenarios.csv", "line 4", "shortfall", "not a finite number"])
        d = try variant("backtest.csv") { $0.replacingOccurrences(of: ",green,\n", with: ",blue,\n") }
        try fails([d, "--out", page], [d + "/backtest.csv", "zone", "\"blue\""])
        d = try variant("summary.json") { $0.replacingOccurrences(of: "\"confidence\": 0.99", with: "\"confidence\": \"high\"") }
        try fails([d, "--out", page], [d + "/summary.json", "confidence", "expected a finite number"])
        d = try variant("summary.json") { $0.replacingOccurrences(of: "\"breachRate\"", with: "\"breach\"") }
        try fails([d, "--out", page], [d + "/summary.json", "breachRate", "missing"])
        d = try variant("summary.json") { $0.replacingOccurrences(of: "\"green\": 15", with: "\"green\": 16") }
        try fails([d, "--out", page], [d + "/summary.json", "zones.green", "says 16"])
        d = try variant("summary.json") { _ in "" }
        try fails([d, "--out", page], [d + "/summary.json"])
        d = try F.backtestCopy()
        try FileManager.default.removeItem(atPath: d + "/backtest-units.csv")
        try fails([d, "--out", page], [d + "/backtest-units.csv", "missing"])
        #expect(!FileManager.default.fileExists(atPath: page))
    }

    @Test func outArgumentsAreChecked() throws {
        let (dir, _, _) = try F.batch(40)
        defer { TestTemp.remove(dir) }
        let work = TestTemp.dir("report-out")
        defer { TestTemp.remove(work) }
        let cwd = URL(fileURLWithPath: work)
        // A one-letter relative --out, and the default, land in the current folder.
        var out = try CLI.run(["report", dir, "--out", "r"], cwd: cwd)
        #expect(out.status == 0 && out.stdout.isEmpty && out.stderr.isEmpty, "\(out.stderr)")
        let r = try String(contentsOfFile: work + "/r", encoding: .utf8)
        #expect(r.hasPrefix("<!DOCTYPE html>") && r.hasSuffix("</html>\n"))
        out = try CLI.run(["report", dir], cwd: cwd)
        #expect(out.status == 0)
        #expect(try String(contentsOfFile: work + "/report.html", encoding: .utf8) == r)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).sorted() == ["r", "report.html"])
        // A file where the folder of --out belongs; a folder as --out; an input as --out.
        try F.write(work + "/file", "keep")
        try fails([dir, "--out", work + "/file/p.html"], ["--out", work + "/file/p.html", "Not a directory"])
        try fails([dir, "--out", work], ["--out", work, "is a directory"])
        try fails([dir, "--out", work + "/"], ["--out", "folder"])
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/margins.csv"))
        try fails([dir, "--out", dir + "/margins.csv"], ["--out", "margins.csv", "which the report reads"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/margins.csv")) == before)
        // Repeated, empty and missing arguments.
        try fails([dir, "--out", "a.html", "--out", "b.html"], ["--out given twice"])
        try fails([dir, "--out", ""], ["--out", "empty"])
        try fails(["", "--out", "a.html"], ["OUT", "empty"])
        try fails(["--out", "a.html"], ["Missing expected argument"])
        try fails([dir, dir, "--out", "a.html"], ["Unexpected argument"])
        try fails([dir, "--out"], ["Missing value for '--out"])
        // A failed run leaves the previous page as it was.
        try F.write(work + "/keep.html", "previous")
        try fails([work + "/nothing", "--out", work + "/keep.html"], ["no such folder"])
        #expect(try String(contentsOfFile: work + "/keep.html", encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).sorted() == ["file", "keep.html", "r", "report.html"])
    }
}
