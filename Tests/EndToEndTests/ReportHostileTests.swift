import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Hostile folders and `--out` paths for `pm report` found by attacking the command: each case
/// failed before its fix (a wrong bin or sum drawn without a word, or a node replaced by a file).
@Suite struct ReportHostileTests {
    typealias F = ReportFolders

    static let marginHeader = BatchReportData.marginColumns.joined(separator: ",") + "\n"
    static let unitHeader = BatchReportData.unitColumns.joined(separator: ",") + "\n"

    /// A batch folder of these files' bodies (headers added) and a manifest of `accounts` rows.
    func folder(margins: String, units: String = "", accounts: Int, marginHeader: String = marginHeader) throws -> String {
        let dir = TestTemp.dir("report-hostile2")
        try F.write(dir + "/margins.csv", marginHeader + margins)
        try F.write(dir + "/units.csv", Self.unitHeader + units)
        try F.write(dir + "/manifest.json", F.manifest(accounts: accounts, errors: 0))
        return dir
    }

    func unit(_ coin: String, mm: String, im: String) -> String {
        "A,\(coin),0,0,up,0,0,0,0,0,\(mm),\(im),positions,0\n"
    }

    @Test func aRateJustBelowAnEdgeIsInTheBinBelowIt() throws {
        // rate × 10 rounds the double just below 0.9 up to 9.0; the bin must still be 0.8–0.9.
        var rates: [Double] = [(0.9).nextDown, 0.9, (0.3).nextDown, 0.3, (0.7).nextDown, (1.0).nextDown, 1.0, (1.0).nextUp, 0, (0.1).nextDown]
        rates += (1...9).map { (Double($0) / 10).nextDown }
        var text = Self.marginHeader
        for (k, r) in rates.enumerated() { text += "A\(k),100,0,12,10,0.12,\(r),healthy,\n" }
        var d = BatchReportData()
        try d.readMargins(path: "margins.csv", bytes: Array(text.utf8))
        // Independently: a rate's bin is the number of inner edges k/10 (k = 1…9) at or below it;
        // above 1 is the overflow bin 10.
        var expected = [Int](repeating: 0, count: 11)
        for r in rates { expected[r > 1 ? 10 : (1...9).filter { Double($0) / 10 <= r }.count] += 1 }
        #expect(d.rateBins == expected)
        // The double just below 0.9 (given twice) in 0.8–0.9; 0.9, the double below 1 and 1 in 0.9–1.0.
        #expect(d.rateBins[8] == 2 && d.rateBins[9] == 3)
    }

    @Test func coinsThatDifferInBytesAreTwoCoins() throws {
        // A precomposed é and e + combining acute are equal Swift Strings but different names.
        let units = Self.unitHeader + unit("\u{E9}", mm: "10", im: "12") + unit("e\u{301}", mm: "20", im: "24")
        var d = BatchReportData()
        try d.readUnits(path: "units.csv", bytes: Array(units.utf8))
        #expect(d.coins.count == 2)
        #expect(d.coins.map { Array($0.coin.utf8) } == [[0x65, 0xCC, 0x81], [0xC3, 0xA9]])
        #expect(d.coins.map(\.mm) == [20, 10] && d.coins.map(\.im) == [24, 12] && d.coins.map(\.units) == [1, 1])
    }

    @Test func coinSumsBeyondTheDoubleRangeAreRefused() throws {
        // Each coin's sum is finite, but the coins past the 12th are drawn as their sum ("other"),
        // which was infinite and drawn as a zero-length bar with data-value 0.00.
        var units = ""
        for k in 1...30 { units += unit("C\(k)", mm: "1.5e307", im: "1.5e307") }
        let dir = try folder(margins: "A,1e308,0,1e308,1e308,1,1,liquidation,\n", units: units, accounts: 1)
        defer { TestTemp.remove(dir) }
        let page = dir + "-page.html"
        // 12 × 1.5e307 = 1.8e308 exceeds the largest double (≈ 1.797e308): the 12th row, line 13.
        try CLITrustTests.expectOneLineFailure(["report", dir, "--out", page],
                                               [dir + "/units.csv", "line 13", "mm", "the sum over all coins exceeds the range of a double"])
        #expect(!FileManager.default.fileExists(atPath: page))
    }

    @Test func aColumnGivenTwiceIsRefused() throws {
        let header = Self.marginHeader.dropLast() + ",total_mm\n"
        let dir = try folder(margins: "A,100,0,12,10,0.12,0.1,healthy,,5\n", accounts: 1, marginHeader: String(header))
        defer { TestTemp.remove(dir) }
        let page = dir + "-page.html"
        try CLITrustTests.expectOneLineFailure(["report", dir, "--out", page],
                                               [dir + "/margins.csv", "line 1", "total_mm", "column given twice"])
        #expect(!FileManager.default.fileExists(atPath: page))
    }

    @Test func outThatIsAPipeOrALinkIsRefusedAndLeftAsItWas() throws {
        let dir = try folder(margins: "A,100,0,12,10,0.12,0.1,healthy,\n", accounts: 1)
        defer { TestTemp.remove(dir) }
        let work = TestTemp.dir("report-nodes")
        defer { TestTemp.remove(work) }
        // A pipe (and so a device such as /dev/null) was replaced by a regular file.
        let pipe = work + "/pipe"
        #expect(mkfifo(pipe, 0o644) == 0)
        try CLITrustTests.expectOneLineFailure(["report", dir, "--out", pipe], ["--out", pipe, "is a pipe", "only a regular file"])
        var st = stat()
        #expect(lstat(pipe, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        // A symbolic link was replaced by a file, leaving its target as it was.
        try F.write(work + "/target.html", "previous")
        let link = work + "/link.html"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: work + "/target.html")
        try CLITrustTests.expectOneLineFailure(["report", dir, "--out", link], ["--out", link, "is a symbolic link"])
        #expect(lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
        #expect(try String(contentsOfFile: work + "/target.html", encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).sorted() == ["link.html", "pipe", "target.html"])
    }

    @Test func thePageIsNeverWrittenIntoTheFolderItDescribes() throws {
        let dir = try folder(margins: "A,100,0,12,10,0.12,0.1,healthy,\n", accounts: 1)
        defer { TestTemp.remove(dir) }
        try CLITrustTests.expectOneLineFailure(["report", dir, "--out", dir + "/report.html"], ["--out", dir + "/report.html", "is inside", dir])
        try CLITrustTests.expectOneLineFailure(["report", dir, "--out", dir + "/./r.html"], ["is inside"])
        // The default (report.html in the current folder) when the current folder is OUT.
        let out = try CLI.run(["report", "."], cwd: URL(fileURLWithPath: dir))
        #expect(out.status == 1 && out.stderr.contains("--out \"report.html\" is inside \".\""), "\(out.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["manifest.json", "margins.csv", "units.csv"])
    }

    /// A copy of the backtest fixture with `file`'s text changed.
    func backtest(_ file: String, _ change: (String) -> String) throws -> String {
        let dir = try F.backtestCopy()
        let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
        try F.write(dir + "/" + file, change(text))
        return dir
    }

    @Test func backtestPartsThatDisagreeAreRefused() throws {
        let page = TestTemp.file("bt.html")
        // A coverage of 7.5 was drawn as 750.00% with a full bar, −2 as −200.00%.
        var d = try backtest("summary.json") { $0.replacingOccurrences(of: "\"coverage\": 0.983065693430657", with: "\"coverage\": 7.5") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page],
                                               [d + "/summary.json", "coverageByStage.healthy.coverage", "between 0 and 1", "7.5"])
        d = try backtest("summary.json") { $0.replacingOccurrences(of: "\"coverage\": 0.9816504460665044", with: "\"coverage\": -2") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/summary.json", "coverageByCoin.BTC.coverage", "between 0 and 1"])
        // A window that ends before it starts.
        d = try backtest("summary.json") { $0.replacingOccurrences(of: "\"to\": \"2025-12-31\"", with: "\"to\": \"2001-01-01\"") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/summary.json", "window", "is after"])
        // The manifest of another run: its counts and settings against the files and the summary.
        d = try backtest("manifest.json") { $0.replacingOccurrences(of: "\"accounts\": 40", with: "\"accounts\": 41") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/manifest.json", "accounts", "40 rows"])
        d = try backtest("manifest.json") { $0.replacingOccurrences(of: "\"scenarios\": 1096", with: "\"scenarios\": 1095") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/manifest.json", "scenarios", "1096 dates"])
        d = try backtest("manifest.json") { $0.replacingOccurrences(of: "\"confidence\": 0.99", with: "\"confidence\": 0.95") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/manifest.json", "confidence"])
        d = try backtest("manifest.json") { $0.replacingOccurrences(of: "\"from\": \"2023-01-01\"", with: "\"from\": \"2022-01-01\"") }
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/manifest.json", "window.from"])
        // backtest-units.csv as a pipe is named for what it is, not "missing".
        d = try F.backtestCopy()
        try FileManager.default.removeItem(atPath: d + "/backtest-units.csv")
        #expect(mkfifo(d + "/backtest-units.csv", 0o644) == 0)
        try CLITrustTests.expectOneLineFailure(["report", d, "--out", page], [d + "/backtest-units.csv", "is a pipe"])
        #expect(!FileManager.default.fileExists(atPath: page))
        // The fixture itself (manifest, summary and files agreeing) is still drawn.
        let ok = try CLI.run(["report", try F.backtestCopy(), "--out", page])
        #expect(ok.status == 0, "\(ok.stderr)")
    }
}
