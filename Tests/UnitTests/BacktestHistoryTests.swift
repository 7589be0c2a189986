import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The history reader (docs/formats.md "Coverage backtest") on good and hostile folders: every
/// refusal is one `InputError` naming the file, line and field.
@Suite struct BacktestHistoryTests {
    let dir = try! TrustTempDir()

    func folder(_ name: String, index: String?, iv: String? = nil) throws -> String {
        let f = dir.path(name)
        try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        if let index { dir.write(name + "/index-daily.csv", index) }
        if let iv { dir.write(name + "/iv-daily.csv", iv) }
        return f
    }

    func refusal(_ f: String, _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try History.load(directory: f)
            Issue.record("accepted \(f)", sourceLocation: sourceLocation)
        } catch {
            let text = "\(error)"
            #expect(error is InputError, sourceLocation: sourceLocation)
            #expect(!text.contains("\n"), sourceLocation: sourceLocation)
            for w in words { #expect(text.contains(w), "missing \(w): \(text)", sourceLocation: sourceLocation) }
        }
    }

    @Test func readsAnyColumnOrderQuotesAndOptionalIv() throws {
        let f = try folder("ok", index: "close,date,coin\n100,2024-01-01,BTC\n\"101.5\",2024-01-02,\"BTC\"\r\n2000,2024-01-01,ETH\n")
        let h = try History.load(directory: f)
        #expect(h.coins == ["BTC", "ETH"] && h.ivCoins.isEmpty)
        #expect(h.close("BTC", day: ISO8601.daysFromCivil(2024, 1, 2)) == 101.5)
        #expect(h.digests.map(\.name) == ["index-daily.csv"])
        let g = try folder("iv", index: "date,coin,close\n2024-01-01,BTC,1\n", iv: "iv,coin,date\n0.5,BTC,2024-01-01\n")
        let hi = try History.load(directory: g)
        #expect(hi.ivCoins == ["BTC"] && hi.iv("BTC", day: ISO8601.daysFromCivil(2024, 1, 1)) == 0.5)
        #expect(hi.digests.map(\.name) == ["index-daily.csv", "iv-daily.csv"])
    }

    @Test func theShippedHistoryLoads() throws {
        let h = try History.load(directory: TestSupport.path("data/history"))
        #expect(h.coins == ["BTC", "ETH", "SOL"] && h.ivCoins == ["BTC", "ETH"])
        #expect(h.close("BTC", day: ISO8601.daysFromCivil(2017, 8, 17)) == 4285.08)
    }

    @Test func hostileHistoriesAreOneLineErrors() throws {
        refusal(dir.path("absent"), ["absent", "not found"])
        refusal(dir.write("afile", "x"), ["afile", "not a history folder"])
        refusal(try folder("noindex", index: nil), ["index-daily.csv"])
        refusal(try folder("empty", index: ""), ["index-daily.csv", "header"])
        refusal(try folder("notcsv", index: "{\"json\": true}\n"), ["index-daily.csv", "line 1", "date", "missing required column"])
        refusal(try folder("nocol", index: "date,coin\n2024-01-01,BTC\n"), ["index-daily.csv", "close", "missing required column"])
        refusal(try folder("dup", index: "date,coin,close\n2024-01-01,BTC,1\n2024-01-02,BTC,2\n2024-01-01,BTC,3\n"),
                ["index-daily.csv", "line 4", "date", "duplicate", "line 2"])
        for (bad, what) in [("nan", "finite"), ("inf", "finite"), ("-1", "above 0"), ("0", "above 0"), ("1e999", "finite"), ("abc", "finite"), ("", "finite")] {
            refusal(try folder("v\(what)\(bad.count)\(bad.hashValue & 0xffff)", index: "date,coin,close\n2024-01-01,BTC,\(bad)\n"),
                    ["index-daily.csv", "line 2", "close", what])
        }
        for bad in ["2024-02-30", "2023-02-29", "2024-13-01", "2024-1-01", "24-01-01", "2024-01-01T00:00:00Z", "", "0000-00-00"] {
            refusal(try folder("d\(bad.hashValue & 0xffffff)", index: "date,coin,close\n\(bad),BTC,1\n"), ["index-daily.csv", "line 2", "date"])
        }
        refusal(try folder("ivbad", index: "date,coin,close\n2024-01-01,BTC,1\n", iv: "date,coin,iv\n2024-01-01,BTC,-0.5\n"),
                ["iv-daily.csv", "line 2", "iv", "above 0"])
        refusal(try folder("ivdup", index: "date,coin,close\n2024-01-01,BTC,1\n", iv: "date,coin,iv\n2024-01-01,BTC,0.5\n2024-01-01,BTC,0.6\n"),
                ["iv-daily.csv", "line 3", "duplicate"])
        let ivFolder = try folder("ivdir", index: "date,coin,close\n2024-01-01,BTC,1\n")
        try FileManager.default.createDirectory(atPath: ivFolder + "/iv-daily.csv", withIntermediateDirectories: true)
        refusal(ivFolder, ["iv-daily.csv"])
        refusal(try folder("emptycoin", index: "date,coin,close\n2024-01-01,,1\n"), ["line 2", "coin"])
        refusal(try folder("fields", index: "date,coin,close\n2024-01-01,BTC\n"), ["index-daily.csv", "line 2"])
        // Unterminated quotes, in the header and in a record (the header case found by the history fuzz target).
        refusal(try folder("quotehead", index: "date,coin,\"close\n2024-01-01,BTC,1\n"), ["index-daily.csv", "line 1", "quote"])
        refusal(try folder("quoterow", index: "date,coin,close\n2024-01-01,BTC,\"1\n"), ["index-daily.csv", "line 2", "quote"])
    }
}
