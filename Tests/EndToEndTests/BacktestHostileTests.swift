import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm backtest` under hostile histories: closes and IVs that are each valid (finite, above 0) but
/// whose quotient overflows, and a hand-worked book (one perpetual, one option) whose scenario
/// losses are derived here from the history closes with an independent Black-76.
@Suite struct BacktestHostileTests {
    let dir = try! TrustTempDir()

    /// A history folder `name` with the given file texts.
    func history(_ name: String, index: String, iv: String? = nil) throws -> String {
        let f = dir.path(name)
        try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        dir.write(name + "/index-daily.csv", index)
        if let iv { dir.write(name + "/iv-daily.csv", iv) }
        return f
    }

    @Test func anOverflowingReturnIsTheHistorysOneLineError() throws {
        // 100 / 1e-320 is above the largest double: before, every account holding BTC failed with
        // "value out of range" (exit 3), blaming the accounts for the history's data.
        let input = dir.path("in")
        try CLITrustTests.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\nA2,BTCUSDT,-0.1\n")
        let m = TestSupport.path("\(CLI.fixtures)/market.json")
        let out = dir.path("o")
        for (name, closes) in [("tiny", "1e-320"), ("subnormal", "4.9e-324")] {
            let h = try history(name, index: "date,coin,close\n2025-01-01,BTC,\(closes)\n2025-01-02,BTC,100\n")
            try CLITrustTests.expectOneLineFailure(
                ["backtest", "--input", input, "--market", m, "--history", h, "--out", out, "--quiet"],
                [h + "/index-daily.csv", "close", "BTC", "2025-01-01", "2025-01-02", "not a finite number"])
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        // A fall to a tiny close is a finite −100% return, not an error.
        let fall = try History.load(directory: try history("fall", index: "date,coin,close\n2025-01-01,BTC,1e308\n2025-01-02,BTC,1e-300\n"))
        let s = try BacktestScenarios(history: fall, coins: ["BTC"], options: BacktestOptions())
        #expect(s.returns == [-1])
    }

    @Test func aHistoryWithoutTheBooksCoinNamesItsFolder() throws {
        // A header only, or closes of other coins: the error named a bare "index-daily.csv", not
        // which of the user's history folders lacks the coin.
        let input = dir.path("in2")
        try CLITrustTests.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\n")
        let m = TestSupport.path("\(CLI.fixtures)/market.json")
        for (name, text) in [("header", "date,coin,close\n"), ("headernoeol", "date,coin,close"), ("eth", "date,coin,close\n2025-01-01,ETH,1\n")] {
            let h = try history(name, index: text)
            try CLITrustTests.expectOneLineFailure(
                ["backtest", "--input", input, "--market", m, "--history", h, "--out", dir.path("o2"), "--quiet"],
                [h + "/index-daily.csv", "coin", "BTC", "no closes"])
        }
    }

    @Test func anOverflowingIvRatioIsTheHistorysError() throws {
        // IVs 1e-320 then 1: the ratio 1e320 was an infinite vol that priced options silently.
        let h = try History.load(directory: try history(
            "iv", index: "date,coin,close\n2025-01-01,BTC,100\n2025-01-02,BTC,101\n",
            iv: "date,coin,iv\n2025-01-01,BTC,1e-320\n2025-01-02,BTC,1\n"))
        do {
            _ = try BacktestScenarios(history: h, coins: ["BTC"], options: BacktestOptions())
            Issue.record("accepted an infinite IV ratio")
        } catch {
            let text = "\(error)"
            #expect(error is InputError && !text.contains("\n"))
            for w in [dir.path("iv") + "/iv-daily.csv", "iv", "BTC", "2025-01-01", "2025-01-02", "not a finite number"] {
                #expect(text.contains(w), "missing \(w): \(text)")
            }
        }
    }

    /// Black-76 (undiscounted) call, from erfc: independent of the library's kernels.
    static func call(_ f: Double, _ k: Double, _ t: Double, _ v: Double) -> Double {
        func n(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
        let d1 = (log(f / k) + 0.5 * v * v * t) / (v * t.squareRoot()), d2 = d1 - v * t.squareRoot()
        return f * n(d1) - k * n(d2)
    }

    @Test func aPerpetualAndAShortCallMatchAHandRevaluation() throws {
        // Market at 2026-01-01: BTCUSDT at 100,000 and a 100,000 call to 2026-03-27 08:00 at 50% IV,
        // its mark the Black-76 value. Account A: long 1 BTCUSDT, short 2 calls, no spot hedging.
        let t0 = (85 * 86400.0 + 8 * 3600) / (365 * 86400)
        let mark = Self.call(100_000, 100_000, t0, 0.5)
        let input = dir.path("tiny")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        dir.write("tiny/market.json", """
            {"time": "2026-01-01T00:00:00Z", "indexPrices": {"BTC": 100000, "USDT": 1, "USDC": 1}, "instruments": [
            {"symbol": "BTCUSDT", "kind": "perpetual", "baseCoin": "BTC", "settleCoin": "USDT", "markPrice": 100000},
            {"symbol": "BTC-27MAR26-100000-C-USDT", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT", "optionType": "Call",
             "strike": 100000, "expiry": "2026-03-27T08:00:00Z", "markPrice": \(mark), "underlyingPrice": 100000, "markIv": 0.5}]}
            """)
        dir.write("tiny/accounts.csv", "account_id,spot_hedging\nA,false\n")
        dir.write("tiny/balances.csv", "account_id,coin,wallet_balance\nA,USDT,1000000\n")
        dir.write("tiny/positions.csv", "account_id,symbol,size\nA,BTCUSDT,1\nA,BTC-27MAR26-100000-C-USDT,-2\n")
        let closes = [100.0, 90, 95], ivs = [0.5, 0.6, 0.6]
        let h = try history("th", index: "date,coin,close\n2024-01-01,BTC,100\n2024-01-02,BTC,90\n2024-01-03,BTC,95\n",
                            iv: "date,coin,iv\n2024-01-01,BTC,0.5\n2024-01-02,BTC,0.6\n2024-01-03,BTC,0.6\n")
        let out = dir.path("to")
        let r = try CLI.run(["backtest", "--input", input, "--market", input + "/market.json", "--history", h, "--out", out, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        // Loss in scenario k (h = 1 day): −(100,000·r − 2·(C(F(1 + r), K, t0 − 1/365, 0.5·v) − mark)).
        let losses = (0..<2).map { k -> Double in
            let ret = closes[k + 1] / closes[k] - 1, v = 0.5 * (ivs[k + 1] / ivs[k])
            return -(100_000 * ret - 2 * (Self.call(100_000 * (1 + ret), 100_000, t0 - 1.0 / 365, v) - mark))
        }
        let rows = try String(contentsOfFile: out + "/backtest.csv", encoding: .utf8).split(separator: "\n")
        let header = rows[0].split(separator: ",").map(String.init), row = rows[1].split(separator: ",", omittingEmptySubsequences: false)
        let worst = Double(row[header.firstIndex(of: "worst_loss")!])!
        #expect(TestSupport.close(worst, losses.max()!, 1e-9), "\(worst) vs \(losses)")
        #expect(row[header.firstIndex(of: "worst_date")!] == "2024-01-01")
        let scen = try String(contentsOfFile: out + "/scenarios.csv", encoding: .utf8).split(separator: "\n")
        let sh = scen[0].split(separator: ",").map(String.init)
        for k in 0..<2 {
            let f = scen[k + 1].split(separator: ",").map(String.init)
            #expect(TestSupport.close(Double(f[sh.firstIndex(of: "book_loss")!])!, losses[k], 1e-9))
            #expect(Double(f[sh.firstIndex(of: "iv_ratio_BTC")!])! == ivs[k + 1] / ivs[k])
        }
    }
}
