import Foundation
@testable import PortfolioMargin
import CKernels

/// Paths and small hand-made markets shared by the tests.
enum TestSupport {
    /// The repository root (this file is `<root>/Tests/PMTestSupport/TestSupport.swift`).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// Loading it also runs OpenBLAS single-threaded for this test process, as `pm` does at start
    /// (`BLASKernel.runSingleThreaded()`: the library leaves that process-wide choice to programs);
    /// most tests that build books come through here first (the figures do not depend on it).
    static let shippedParams: ParameterSet = {
        BLASKernel.runSingleThreaded()
        return try! ParameterSet.load(path: path("data/params/pm-params.json"))
    }()
    static let sampleMarket: MarketSnapshot = try! MarketSnapshot.load(path: path("data/sample/market.json"))

    /// 2026-01-01T00:00:00Z
    static let t0 = ISO8601.seconds("2026-01-01T00:00:00Z")!
    static let day = 86400.0

    static func b76(_ f: Double, _ k: Double, _ t: Double, _ s: Double, call: Bool) -> (price: Double, delta: Double, vega: Double) {
        var p = 0.0, d = 0.0, v = 0.0
        pm_black76_greeks(f, k, t, s, call ? 1 : 0, &p, &d, &v)
        return (p, d, v)
    }

    /// An option marked at its own Black-76 price (so the unchanged, zero-move scenario is 0).
    static func option(_ symbol: String, coin: String = "BTC", settle: String = "USDC", call: Bool, strike: Double,
                       days: Double, forward: Double, iv: Double, time: Double = t0) -> Instrument {
        let mark = b76(forward, strike, days / 365, iv, call: call).price
        return Instrument(symbol: symbol, kind: .option, baseCoin: coin, settleCoin: settle, markPrice: mark,
                          expiry: time + days * day, optionType: call ? .call : .put, strike: strike,
                          underlyingPrice: forward, markIv: iv)
    }

    /// A hand-checkable BTC market: index 50,000, stablecoins at 1.
    static func smallMarket(extra: [Instrument] = [], index: [String: Double] = [:]) -> MarketSnapshot {
        var instruments: [Instrument] = [
            Instrument(symbol: "BTCUSDT", kind: .perpetual, baseCoin: "BTC", settleCoin: "USDT", markPrice: 50000),
            Instrument(symbol: "BTCUSDC", kind: .perpetual, baseCoin: "BTC", settleCoin: "USDC", markPrice: 50000),
            Instrument(symbol: "BTCUSD", kind: .perpetual, baseCoin: "BTC", settleCoin: "BTC", markPrice: 50000),
            Instrument(symbol: "BTCUSDC-F90", kind: .future, baseCoin: "BTC", settleCoin: "USDC", markPrice: 52000, expiry: t0 + 90 * day),
            Instrument(symbol: "BTCUSDC-F90X", kind: .future, baseCoin: "BTC", settleCoin: "USDC", markPrice: 55000, expiry: t0 + 90 * day),
            Instrument(symbol: "ETHUSDT", kind: .perpetual, baseCoin: "ETH", settleCoin: "USDT", markPrice: 2000),
            Instrument(symbol: "XRPUSDT", kind: .perpetual, baseCoin: "XRP", settleCoin: "USDT", markPrice: 2),
            option("C50-30", call: true, strike: 50000, days: 30, forward: 50500, iv: 0.5),
            option("P50-30", call: false, strike: 50000, days: 30, forward: 50500, iv: 0.5),
            option("C50-30-USDT", settle: "USDT", call: true, strike: 50000, days: 30, forward: 50500, iv: 0.5),
            option("C55-90", call: true, strike: 55000, days: 90, forward: 51500, iv: 0.55),
        ]
        instruments += extra
        var idx: [String: Double] = ["BTC": 50000, "ETH": 2000, "XRP": 2, "USDT": 1, "USDC": 1]
        for (k, v) in index { idx[k] = v }
        return try! MarketSnapshot(time: t0, indexPrices: idx, instruments: instruments)
    }

    /// Margins one account; fails the test run loudly if the account is rejected.
    static func margin(_ account: Account, market: MarketSnapshot = smallMarket(), params: ParameterSet = shippedParams) -> MarginResult {
        switch MarginEngine.margin(account, priced: PricedMarket(market: market, parameters: params)) {
        case let .success(r): return r
        case let .failure(e): fatalError("account rejected: \(e)")
        }
    }

    /// The tests' approximate equalities, relative (`close`) and absolute (`near`); both hold for
    /// equal values, equal infinities included, and never for a NaN.
    ///
    /// |a − b| ≤ tol · max(1, |a|, |b|)
    static func close(_ a: Double, _ b: Double, _ tol: Double = 1e-9) -> Bool {
        if a == b { return true }
        return abs(a - b) <= tol * max(1, abs(a), abs(b))
    }

    /// |a − b| ≤ tolerance (absolute).
    static func near(_ a: Double, _ b: Double, within tolerance: Double) -> Bool {
        if a == b { return true }
        return abs(a - b) <= tolerance
    }
}

/// SplitMix64: a small, seeded, deterministic generator for test data.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }
    mutating func chance(_ p: Double) -> Bool { unit() < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs[Int(next() % UInt64(xs.count))] }
    mutating func int(_ a: Int, _ b: Int) -> Int { a + Int(next() % UInt64(b - a + 1)) }
    /// Uniform in 0 ..< n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

extension TestSupport {
    /// Everything a pipe delivers until end of file, read with read(2) and retried on EINTR.
    /// (`FileHandle.readDataToEndOfFile` traps on EINTR, which a signal to the test process — a
    /// child's SIGCHLD, say — can cause while many CLI tests run in parallel.)
    static func readAll(_ handle: FileHandle) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let fd = handle.fileDescriptor
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]) } else if n == 0 || errno != EINTR { break }
        }
        return data
    }

    /// A child's stdout and stderr, read at the same time so that a child filling one pipe never
    /// blocks on it while the other is read.
    static func drain(_ out: Pipe, _ err: Pipe) -> (stdout: Data, stderr: Data) {
        final class Box: @unchecked Sendable { var data = Data() }   // written by one thread, read after wait()
        let e = Box()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { e.data = readAll(err.fileHandleForReading) }
        let o = readAll(out.fileHandleForReading)
        group.wait()
        return (o, e.data)
    }
}
