import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm smile` (docs/formats.md "Smiles"): CSV columns and values, an interpolated expiry with extra
/// strikes, the SVG plot, and refusals.
struct SmileCommandTests {
    @Test func csvMatchesTheSurface() throws {
        let o = try CLI.run(["smile", "--market", "data/sample/market.json", "--coin", "BTC", "--format", "csv", "--strikes", "95500"])
        #expect(o.status == 0, "\(o.stderr)")
        let lines = o.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "expiry,strike,forward,log_moneyness,fitted_iv,listed_iv,outlier")
        let surface = try VolSurface(market: TestSupport.sampleMarket, baseCoin: "BTC")
        // Every listed strike of every expiry, plus 95500 on each expiry (never listed).
        #expect(lines.count - 1 == surface.slices.reduce(0) { $0 + $1.strikeCount + ($1.listedStrikes.contains(95500) ? 0 : 1) })
        var extra = 0
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(f.count == 7)
            let expiry = ISO8601.seconds(f[0])!, strike = Double(f[1])!
            let slice = surface.slices.first { $0.expiry == expiry }!
            #expect(TestSupport.near(Double(f[2])!, slice.forward, within: 1e-9 * slice.forward))
            #expect(TestSupport.near(Double(f[3])!, log(strike / slice.forward), within: 1e-12))
            #expect(TestSupport.near(Double(f[4])!, (try surface.impliedVol(strike: strike, expiry: expiry)), within: 1e-12))
            if strike == 95500 { extra += 1; #expect(f[5].isEmpty && f[6].isEmpty) } else {
                #expect(f[6] == "0")   // the sample market's marks are all kept
                let i = slice.listedStrikes.firstIndex(of: strike)!
                #expect(Double(f[5])! == slice.listedVols[i])
                #expect(TestSupport.near(Double(f[4])!, Double(f[5])!, within: 0.005))   // within 0.5 vol point
            }
        }
        #expect(extra == surface.slices.count)
    }

    @Test func interpolatedExpiryJSONAndPlot() throws {
        let dir = TestTemp.dir("smile")
        defer { TestTemp.remove(dir) }
        let svg = dir + "/smile.svg"
        let o = try CLI.run(["smile", "--market", "data/sample/market.json", "--coin", "BTC", "--expiry", "2026-12-11T08:00:00Z",
                             "--strikes", "95500,120000", "--format", "json", "--plot", svg])
        #expect(o.status == 0, "\(o.stderr)")
        let doc = try JSON.parse(Array(o.stdout.utf8))
        guard case let .object(top) = doc, case let .array(smiles)? = top.first(where: { $0.0 == "smiles" })?.1 else {
            Issue.record("no smiles array"); return
        }
        #expect(smiles.count == 1)
        let text = o.stdout
        #expect(text.contains("\"listed\": false") && text.contains("\"svi\": null") && text.contains("\"strike\": 95500"))
        let surface = try VolSurface(market: TestSupport.sampleMarket, baseCoin: "BTC")
        let e = ISO8601.seconds("2026-12-11T08:00:00Z")!
        let iv = try surface.impliedVol(strike: 95500, expiry: e)
        #expect(text.contains("\"fittedIv\": \(NumberFormat.text(iv))"))
        let plot = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(plot.hasPrefix("<svg") && plot.contains("<polyline") && plot.contains("log-moneyness ln(K/F)")
                && plot.contains("implied vol (%)") && plot.contains("2026-12-11"))
    }

    @Test func refusals() throws {
        let past = try CLI.run(["smile", "--market", "data/sample/market.json", "--expiry", "2026-11-01T08:00:00Z"])
        #expect(past.status == 1 && past.stderr.contains("at or before the snapshot time") && past.stdout.isEmpty, "\(past.stderr)")
        let bad = try CLI.run(["smile", "--market", "data/sample/market.json", "--expiry", "tomorrow"])
        #expect(bad.status == 1 && bad.stderr.contains("--expiry") && bad.stderr.contains("\"tomorrow\""), "\(bad.stderr)")
        let strikes = try CLI.run(["smile", "--market", "data/sample/market.json", "--strikes", "1,x"])
        #expect(strikes.status != 0 && strikes.stderr.contains("--strikes"), "\(strikes.stderr)")
        let coin = try CLI.run(["smile", "--market", "data/sample/market.json", "--coin", "DOGE"])
        #expect(coin.status == 1 && coin.stderr.contains("DOGE"), "\(coin.stderr)")
    }
}
