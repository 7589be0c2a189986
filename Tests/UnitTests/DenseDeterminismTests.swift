import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// BLAS `dgemm` rows give the same bits whatever else shares their block (OpenBLAS picks other
/// kernels, with another summation order, for calls of other shapes): the dense path always calls
/// it on full panels, so a batch's bytes do not depend on its block size or thread count.
struct DenseDeterminismTests {
    @Test func denseRowsAreTheSameForEveryBlockSize() throws {
        let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
        let btc = TestSupport.sampleMarket.instruments.filter { $0.baseCoin == "BTC" && TestSupport.sampleMarket.instrumentProblems[$0.symbol] == nil }
        // Dense portfolios (every BTC instrument) among sparse ones.
        var accounts: [Account] = []
        var rng = SplitMix(seed: 5)
        for a in 0..<300 {
            var acc = Account(id: "D\(a)", balances: [Balance(coin: "USDC", walletBalance: 1e7)])
            let k = a % 3 == 0 ? btc.count : 3
            for j in 0..<k {
                acc.positions.append(Position(symbol: btc[(j * 7 + a) % btc.count].symbol, size: Double(rng.next() % 9) / 4 - 1))
            }
            accounts.append(acc)
        }
        func run(blockSize: Int) -> [Double] {
            var out: [Double] = []
            for start in stride(from: 0, to: accounts.count, by: blockSize) {
                let book = Book(priced: priced, accounts: Array(accounts[start..<min(accounts.count, start + blockSize)]))
                let r = MarginEngine.run(book, options: EngineOptions(aggregation: .dense))
                out += r.totalMM
            }
            return out
        }
        let reference = run(blockSize: 300)
        for size in [1, 7, 64, 299] {
            let got = run(blockSize: size)
            let differing = zip(got, reference).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(got.count == reference.count && differing == 0, "block size \(size): \(differing) accounts differ")
        }
    }
}
