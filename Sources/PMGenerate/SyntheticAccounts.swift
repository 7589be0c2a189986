import CKernels
import Foundation
import PortfolioMargin

/// Synthetic Portfolio Margin accounts against a market snapshot, streamed as the four batch CSV
/// files of docs/formats.md (`accounts.csv`, `balances.csv`, `positions.csv`, `orders.csv`).
///
/// Deterministic: account n draws from its own SynthSplitMix64 stream keyed by (seed, n), so the bytes
/// depend only on the seed, the account count and the market — not on the machine, the number of
/// threads or the block size. The per-account draws use only exact IEEE operations (+ − × ÷ √ and
/// rounding); the libm functions (Black-76 risk estimates and deltas) run once per instrument when
/// the generator is created. Account ids are `ACC-0000001`, `ACC-0000002`, …
///
/// ## The mix (share of accounts)
///
/// | archetype | share | what it holds |
/// |---|---|---|
/// | `directional` | 34% | 1–3 perpetuals (≈20% of legs inverse), leverage 0.3–6×, entry prices on 65%, a take-profit order on 15% |
/// | `futures` | 8% | dated futures: cash-and-carry (future vs perpetual), future calendars, outright futures |
/// | `optionBuyer` | 14% | 1–6 long, mostly out-of-the-money options; sometimes a perpetual and resting bids |
/// | `shortStrangle` | 9% | 1–3 short strangles on one coin, sometimes delta-hedged with a perpetual, sometimes orders on both sides |
/// | `calendarSpread` | 5% | 1–4 option calendars (short near, long far, same strike), sometimes a futures calendar |
/// | `volBook` | 14% | 10–100 option legs on one or two coins, delta-hedged on 60%, two-sided orders on 35% |
/// | `marketMaker` | 0.5% | 100–400 option legs on every option coin, delta-hedged, 20–150 two-sided quotes, $1M+ equity |
/// | `basis` | 5% | spot hedging on: spot coin vs a short perpetual/future (70%), or a borrowed coin (liability) vs a long perpetual (30%) |
/// | `crossStablecoin` | 3% | a USDT perpetual against the USDC perpetual (or USDC future) of the same coin, sometimes an inverse leg |
/// | `twoSidedOrders` | 3% | grid traders: 0–2 perpetuals and 4–16 orders, buys below and sells above the mark |
/// | `nearLimit` | 0.8% | distressed, sized to an estimated MM rate of 0.55–0.78 (healthy, close to IM) |
/// | `imBreach` | 1.2% | distressed, estimated MM rate 0.87–0.95, no liability (IM rate ≥ 1) |
/// | `autoRepay` | 1.0% | distressed, a USDC (or coin) liability, estimated MM rate 0.88–0.96 |
/// | `liquidation` | 1.5% | distressed, estimated MM rate 1.05–3 (a tenth with a non-positive margin balance, 30% with a liability, 30% with resting orders) |
///
/// Distressed accounts hold one-directional exposure (1–2 linear perpetuals, an inverse perpetual,
/// or 1–3 short options on the same side) whose scenario losses add up exactly, so their collateral
/// can be set to a chosen fraction of their risk: the generator estimates each instrument's
/// maintenance risk with the parameter set it is given (shipped: BTC/ETH ±10% price range, IV shocks +24%/−20%,
/// other coins ±15%, +30%/−25%; borrowing 5% on stablecoins, 2% on BTC/ETH) and tops the wallet up so
/// that margin balance = estimated MM / target rate. Unrealised losses (entry prices away from mark)
/// and option values are part of that margin balance.
///
/// Account sizes are heavy-tailed (equity = base · 2^k · U[1, 2), k geometric): lots of small
/// accounts, few big ones. Collateral is mostly USDT and/or USDC, with BTC/ETH on about a tenth of
/// the accounts (and most coin-margined inverse traders). Sizes are whole lots (BTC 0.001 for
/// linear contracts, 0.01 for options; ETH 0.01/0.1; SOL 0.1/1; inverse contracts 1 USD), prices
/// whole ticks (5–6 significant digits), balances cents or satoshis. Order quantities are > 0 and
/// limit prices within a few percent of mark. Only usable instruments of the market (no problem,
/// not expired) are referenced, and a symbol appears at most once among an account's positions.
/// Mean ≈ 11 position rows per account.
public struct SyntheticAccounts: Sendable {
    /// The four output files.
    public enum File: Int, CaseIterable, Sendable {
        case accounts, balances, positions, orders
        /// `accounts.csv`, …
        public var fileName: String { ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"][rawValue] }
        /// The header row (with its newline).
        public var header: String {
            ["account_id,spot_hedging\n", "account_id,coin,wallet_balance\n",
             "account_id,symbol,size,entry_price\n", "account_id,symbol,side,qty,price\n"][rawValue]
        }
    }

    /// Data rows written per file (headers excluded).
    public struct RowCounts: Equatable, Sendable {
        /// Rows per file: `accounts.csv`, `balances.csv`, `positions.csv`, `orders.csv`.
        public var accounts = 0, balances = 0, positions = 0, orders = 0
        /// All counts 0.
        public init() {}
        /// The row count of `file`.
        public subscript(file: File) -> Int {
            switch file {
            case .accounts: return accounts
            case .balances: return balances
            case .positions: return positions
            case .orders: return orders
            }
        }
        mutating func add(_ o: RowCounts) {
            accounts += o.accounts; balances += o.balances; positions += o.positions; orders += o.orders
        }
    }

    /// The kinds of account generated (see the table of the type's documentation).
    public enum Archetype: Int, CaseIterable, Sendable {
        case directional, futures, optionBuyer, shortStrangle, calendarSpread, volBook, marketMaker
        case basis, crossStablecoin, twoSidedOrders, nearLimit, imBreach, autoRepay, liquidation
    }

    /// The share of each archetype (sums to 1).
    public static let mix: [(Archetype, Double)] = [
        (.directional, 0.34), (.futures, 0.08), (.optionBuyer, 0.14), (.shortStrangle, 0.09),
        (.calendarSpread, 0.05), (.volBook, 0.14), (.marketMaker, 0.005), (.basis, 0.05),
        (.crossStablecoin, 0.03), (.twoSidedOrders, 0.03), (.nearLimit, 0.008), (.imBreach, 0.012),
        (.autoRepay, 0.010), (.liquidation, 0.015),
    ]

    /// A market the generator cannot use.
    public struct GenerateError: Error, CustomStringConvertible {
        /// What is wrong with the market.
        public let description: String
    }

    /// The seed: the same seed, market and account count give byte-identical files.
    public let seed: UInt64
    let catalog: SynthCatalog

    /// Prepares generation against `market` (its usable instruments, lots, ticks and risk
    /// estimates). Throws when the market has no usable perpetual, future or option, or no
    /// collateral coin with an index price.
    public init(market: MarketSnapshot, parameters: ParameterSet, seed: UInt64) throws {
        self.seed = seed
        self.catalog = try SynthCatalog(market, parameters: parameters)
    }

    /// The id of account number `n` (0-based): `ACC-0000001` for n = 0.
    public static func accountId(_ n: Int) -> String {
        let s = String(n + 1)
        return "ACC-" + String(repeating: "0", count: max(0, 7 - s.count)) + s
    }

    /// The archetype of account number `n` (0-based) for this seed.
    public func archetype(of n: Int) -> Archetype {
        var rng = SynthRng(key: seed, account: UInt64(n))
        return Self.pickArchetype(rng.unit())
    }

    static let cumulativeMix: [Double] = {
        var acc = 0.0
        return mix.map { acc += $0.1; return acc }
    }()

    static func pickArchetype(_ u: Double) -> Archetype {
        for (n, c) in cumulativeMix.enumerated() where u < c { return mix[n].0 }
        return mix[mix.count - 1].0
    }

    /// Generates accounts `0 ..< count` and hands the bytes to `sink`, in order: first each file's
    /// header, then chunks of whole rows. Blocks of `blockSize` accounts are generated in parallel
    /// (the output does not depend on `blockSize` or on the number of processors).
    public func generate(count: Int, blockSize: Int = 16384,
                         sink: (File, UnsafeRawBufferPointer) throws -> Void) rethrows -> RowCounts {
        for f in File.allCases {
            let h = Array(f.header.utf8)
            try h.withUnsafeBytes { try sink(f, $0) }
        }
        var total = RowCounts()
        let blocks = (count + blockSize - 1) / blockSize
        let wave = max(1, ProcessInfo.processInfo.activeProcessorCount) * 2
        var first = 0
        while first < blocks {
            let n = min(wave, blocks - first)
            let writers = UnsafeMutableBufferPointer<SynthWriter?>.allocate(capacity: n)
            writers.initialize(repeating: nil)
            defer { writers.deinitialize(); writers.deallocate() }
            let start = first
            let slots = DisjointSlots(writers)   // worker b writes only slot b
            DispatchQueue.concurrentPerform(iterations: n) { b in
                let lo = (start + b) * blockSize
                let hi = min(count, lo + blockSize)
                var gen = SynthBlock(catalog: catalog, seed: seed, expectedAccounts: hi - lo)
                for a in lo..<hi { gen.account(a) }
                slots[b] = gen.w
            }
            for b in 0..<n {
                let w = writers[b]!
                for f in File.allCases {
                    let buf = w.buffers[f.rawValue]
                    try sink(f, UnsafeRawBufferPointer(start: buf.base, count: buf.count))
                }
                total.add(w.counts)
                writers[b] = nil
            }
            first += n
        }
        return total
    }

    /// Writes the four CSV files into `directory` (created if needed). Each file is written as
    /// `NAME.tmp` and renamed into place once complete.
    @discardableResult
    public func write(count: Int, to directory: String) throws -> RowCounts {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        var handles: [FileHandle] = []
        var tmps: [String] = []
        defer { for h in handles { try? h.close() } }
        for f in File.allCases {
            let tmp = dir.appendingPathComponent(f.fileName + ".tmp").path
            guard fm.createFile(atPath: tmp, contents: nil), let h = FileHandle(forWritingAtPath: tmp) else {
                throw GenerateError(description: "\(tmp): cannot create the file")
            }
            handles.append(h)
            tmps.append(tmp)
        }
        do {
            let counts = try generate(count: count) { f, bytes in
                guard bytes.count > 0 else { return }
                try handles[f.rawValue].write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!),
                                                              count: bytes.count, deallocator: .none))
            }
            for h in handles { try h.close() }
            handles = []
            for (n, f) in File.allCases.enumerated() {
                let final = dir.appendingPathComponent(f.fileName).path
                do throws(SystemError) { try FileSystem.rename(tmps[n], to: final) } catch {
                    throw GenerateError(description: "\(final): cannot rename \(tmps[n]) into place (errno \(error.errno.code))")
                }
            }
            return counts
        } catch {
            for t in tmps { try? fm.removeItem(atPath: t) }
            throw error
        }
    }
}

// MARK: - Random numbers

/// SynthSplitMix64 (Steele, Lea, Flood 2014): the seeded generator of the synthetic data.
struct SynthSplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in [0, 1), 53 bits.
    @inline(__always)
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// The per-account random stream and the draws the archetypes use. Only exact IEEE operations
/// (+ − × ÷ √) are applied to the draws, so every machine produces the same numbers.
struct SynthRng {
    var g: SynthSplitMix64

    init(key: UInt64, account: UInt64) {
        g = SynthSplitMix64(seed: SynthSplitMix64.mix(SynthSplitMix64.mix(key ^ 0x5EED_0F_ACC0_0000) ^ SynthSplitMix64.mix(account &+ 0x632B_E59B_D9B4_E019)))
    }

    @inline(__always) mutating func unit() -> Double { g.nextUnit() }
    /// Uniform integer in 0 ..< n (n < 2³²).
    @inline(__always) mutating func int(_ n: Int) -> Int { Int(((g.next() >> 32) &* UInt64(n)) >> 32) }
    /// Uniform integer in lo ... hi.
    @inline(__always) mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + int(hi - lo + 1) }
    @inline(__always) mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }
    @inline(__always) mutating func chance(_ p: Double) -> Bool { unit() < p }
    /// Roughly standard normal (sum of four uniforms, rescaled; support ±3.46).
    mutating func normal() -> Double {
        (unit() + unit() + unit() + unit() - 2) * 1.7320508075688772
    }
    /// Heavy-tailed size: base · 2^k · U[1, 2), k geometric (P(k+1 | k) = q), k ≤ maxK.
    mutating func scale(_ base: Double, q: Double = 0.55, maxK: Int = 14) -> Double {
        var k = 0
        while k < maxK && unit() < q { k += 1 }
        return base * Double(1 << k) * (1 + unit())
    }
}

// MARK: - The market, prepared

let synthPow10: [Double] = (0...18).map { var v = 1.0; for _ in 0..<$0 { v *= 10 }; return v }

/// The market's usable instruments with everything generation needs: symbol bytes, lots, ticks,
/// USD notional, delta, value and estimated maintenance risk per unit, grouped per base coin.
// @unchecked Sendable: its `var`s are filled only in `init` (the one instance is made by
// `SyntheticAccounts.init` before any worker starts) and never written after; workers only read.
final class SynthCatalog: @unchecked Sendable {
    struct Chain {
        var settle: String
        var expiry: Double
        var forward: Double
        var atmIv: Double
        var years: Double
        /// The strike whose option set `atmIv` (the listed strike nearest the forward).
        var atmStrike = Double.nan
        var strikes: [Double] = []
        var calls: [Int32] = []
        var puts: [Int32] = []
    }

    struct Coin {
        var name: String
        var index: Double
        var major: Bool            // BTC or ETH: the archetypes' preferred coins
        var params: CoinParameters  // this coin's entry of the parameter set (docs/model.md §9)
        var weight: Double
        var linearPerps: [Int] = []
        var inversePerps: [Int] = []
        var linearFutures: [Int] = []    // by expiry
        var inverseFutures: [Int] = []
        var options: [Int] = []
        var chains: [Chain] = []
        var balanceSlot = -1             // its slot in `balanceCoins`
        var usdtLinear: [Int] = []       // USDT-settled perpetuals, then futures
        var usdcLinear: [Int] = []       // USDC-settled perpetuals, then futures
        var hedgeEligible: Bool { params.spotHedgeEligible }
        var hasLinear: Bool { !linearPerps.isEmpty || !linearFutures.isEmpty }
    }

    /// A coin that can be held as a balance: stablecoins (2 decimals) and base coins (8).
    struct BalanceCoin {
        var name: [UInt8]
        var index: Double
        var decimals: Int
        var collateralRatio: Double      // from the parameter set
        var borrowMMRate: Double
    }

    let time: Double
    var symStart: [Int] = []
    var symBytes: [UInt8] = []
    var usable: [Bool] = []
    var isOption: [Bool] = []
    var isInverse: [Bool] = []
    var isCall: [Bool] = []
    var coinOf: [Int] = []
    var settleOf: [String] = []
    var mark: [Double] = []
    var strike: [Double] = []
    /// USD index of the settle coin (the base coin for inverse instruments).
    var settleIndex: [Double] = []
    var priceDec: [Int] = []
    var sizeDec: [Int] = []
    /// USD notional of one unit of size (linear: mark · settle index; inverse: 1; option: base index).
    var unitUSD: [Double] = []
    /// USD value of one unit in the margin balance (options: mark · settle index; others 0).
    var valueUSD: [Double] = []
    /// Coin delta of one unit.
    var delta: [Double] = []
    /// Estimated maintenance risk (USD, ≥ 0) of one unit long and one unit short.
    var riskLong: [Double] = []
    var riskShort: [Double] = []
    var coins: [Coin] = []
    var balanceCoins: [BalanceCoin] = []
    var usdt = -1, usdc = -1
    var instrumentCount: Int { mark.count }

    init(_ market: MarketSnapshot, parameters: ParameterSet) throws {
        time = market.time
        var coinSlot: [String: Int] = [:]
        for inst in market.instruments {
            symStart.append(symBytes.count)
            symBytes += Array(inst.symbol.utf8)
            let ok = market.instrumentProblems[inst.symbol] == nil && market.index(of: inst.baseCoin) != nil
                && market.index(of: inst.settleCoin) != nil
            usable.append(ok)
            isOption.append(inst.kind == .option)
            isInverse.append(inst.isInverse)
            isCall.append(inst.optionType == .call)
            settleOf.append(inst.settleCoin)
            mark.append(inst.markPrice)
            strike.append(inst.strike ?? 0)
            var c = -1
            if ok {
                if let s = coinSlot[inst.baseCoin] { c = s } else {
                    c = coins.count
                    coinSlot[inst.baseCoin] = c
                    let major = inst.baseCoin == "BTC" || inst.baseCoin == "ETH"
                    coins.append(Coin(name: inst.baseCoin, index: market.index(of: inst.baseCoin)!, major: major,
                                      params: parameters.parameters(for: inst.baseCoin),
                                      weight: inst.baseCoin == "BTC" ? 0.5 : inst.baseCoin == "ETH" ? 0.3 : 0))
                }
            }
            coinOf.append(c)
        }
        symStart.append(symBytes.count)
        guard !coins.isEmpty else { throw SyntheticAccounts.GenerateError(description: "the market has no usable instrument") }
        let minors = coins.filter { $0.weight == 0 }.count
        for n in coins.indices where coins[n].weight == 0 { coins[n].weight = 0.2 / Double(minors) }
        let totalWeight = coins.reduce(0) { $0 + $1.weight }
        for n in coins.indices { coins[n].weight /= totalWeight }

        // Balance coins: the stablecoins, then the base coins, each with a usable index price.
        for s in ["USDT", "USDC"] {
            if let idx = market.index(of: s) {
                if s == "USDT" { usdt = balanceCoins.count } else { usdc = balanceCoins.count }
                let p = parameters.parameters(for: s)
                balanceCoins.append(BalanceCoin(name: Array(s.utf8), index: idx, decimals: 2,
                                                collateralRatio: p.collateralValueRatio, borrowMMRate: p.borrowMMRate))
            }
        }
        for n in coins.indices {
            coins[n].balanceSlot = balanceCoins.count
            balanceCoins.append(BalanceCoin(name: Array(coins[n].name.utf8), index: coins[n].index, decimals: 8,
                                            collateralRatio: coins[n].params.collateralValueRatio,
                                            borrowMMRate: coins[n].params.borrowMMRate))
        }

        let count = market.instruments.count
        priceDec = [Int](repeating: 0, count: count)
        sizeDec = [Int](repeating: 0, count: count)
        unitUSD = [Double](repeating: 0, count: count)
        valueUSD = [Double](repeating: 0, count: count)
        delta = [Double](repeating: 0, count: count)
        riskLong = [Double](repeating: 0, count: count)
        riskShort = [Double](repeating: 0, count: count)
        settleIndex = [Double](repeating: 0, count: count)
        var chainKey: [String: Int] = [:]
        var chainsOf: [[Chain]] = Array(repeating: [], count: coins.count)
        for (i, inst) in market.instruments.enumerated() where usable[i] {
            let c = coinOf[i]
            let coin = coins[c]
            let settleIndex = inst.isInverse ? coin.index : market.index(of: inst.settleCoin)!
            self.settleIndex[i] = settleIndex
            // Ticks: 5–6 significant digits; lots: about 10–100 USD (options ten times that).
            var dec = 0, v = inst.markPrice
            while v < 1e5 && dec < 8 { v *= 10; dec += 1 }
            priceDec[i] = dec
            var sdec = 0
            v = coin.index
            while v > 100 && sdec < 8 { v /= 10; sdec += 1 }
            let range = coin.params.priceRange
            let futuresFactor = coin.params.futuresRiskFactor
            switch inst.kind {
            case .option:
                sizeDec[i] = max(0, sdec - 1)
                unitUSD[i] = coin.index
                valueUSD[i] = inst.markPrice * settleIndex
                let r = Self.optionRisk(inst, time: time, settleIndex: settleIndex, index: coin.index, params: coin.params)
                riskLong[i] = r.long; riskShort[i] = r.short; delta[i] = r.delta
                let key = "\(c)|\(inst.settleCoin)|\(inst.expiry!)"
                var slot = chainKey[key] ?? -1
                if slot < 0 {
                    slot = chainsOf[c].count
                    chainKey[key] = slot
                    let years = (inst.expiry! - time) / (365 * 86400)
                    chainsOf[c].append(Chain(settle: inst.settleCoin, expiry: inst.expiry!, forward: inst.underlyingPrice!,
                                             atmIv: inst.markIv!, years: years))
                }
                var ch = chainsOf[c][slot]
                let k = inst.strike!
                var pos = ch.strikes.firstIndex(of: k) ?? -1
                if pos < 0 { ch.strikes.append(k); ch.calls.append(-1); ch.puts.append(-1); pos = ch.strikes.count - 1 }
                if inst.optionType == .call { ch.calls[pos] = Int32(i) } else { ch.puts[pos] = Int32(i) }
                if ch.atmStrike.isNaN || abs(k / ch.forward - 1) < abs(ch.atmStrike / ch.forward - 1) {
                    ch.atmIv = inst.markIv!; ch.atmStrike = k
                }
                chainsOf[c][slot] = ch
                coins[c].options.append(i)
            case .perpetual, .future:
                if inst.isInverse {
                    sizeDec[i] = 0
                    unitUSD[i] = 1
                    delta[i] = 1 / inst.markPrice
                    riskLong[i] = range + futuresFactor
                } else {
                    sizeDec[i] = sdec
                    unitUSD[i] = inst.markPrice * settleIndex
                    delta[i] = 1
                    riskLong[i] = range * inst.markPrice * settleIndex + futuresFactor * coin.index
                }
                riskShort[i] = riskLong[i]
                switch (inst.kind, inst.isInverse) {
                case (.perpetual, false): coins[c].linearPerps.append(i)
                case (.perpetual, true): coins[c].inversePerps.append(i)
                case (_, false): coins[c].linearFutures.append(i)
                case (_, true): coins[c].inverseFutures.append(i)
                }
            }
        }
        for c in coins.indices {
            // Deterministic orders: futures and chains by expiry (then settle), strikes ascending.
            let exp = { (i: Int) in market.instruments[i].expiry ?? 0 }
            coins[c].linearFutures.sort { (exp($0), $0) < (exp($1), $1) }
            coins[c].inverseFutures.sort { (exp($0), $0) < (exp($1), $1) }
            var chains = chainsOf[c].sorted { ($0.expiry, $0.settle) < ($1.expiry, $1.settle) }
            for n in chains.indices {
                let order = chains[n].strikes.indices.sorted { chains[n].strikes[$0] < chains[n].strikes[$1] }
                chains[n].strikes = order.map { chains[n].strikes[$0] }
                chains[n].calls = order.map { chains[n].calls[$0] }
                chains[n].puts = order.map { chains[n].puts[$0] }
            }
            coins[c].chains = chains
            for i in coins[c].linearPerps + coins[c].linearFutures {
                if settleOf[i] == "USDT" { coins[c].usdtLinear.append(i) }
                if settleOf[i] == "USDC" { coins[c].usdcLinear.append(i) }
            }
        }
        guard !balanceCoins.isEmpty else { throw SyntheticAccounts.GenerateError(description: "the market has no collateral coin") }
    }

    /// Estimated maintenance risk per unit long and short (worst scenario loss over the coin's
    /// grid of docs/model.md §2 — shipped: BTC/ETH ±10%, IV ×(1 + 0.24 s) / ×(1 − 0.20 s); others ±15%,
    /// +30% / −25% — plus the short-option add-on of §5A), and the Black-76 delta.
    static func optionRisk(_ inst: Instrument, time: Double, settleIndex: Double, index: Double, params: CoinParameters) -> (long: Double, short: Double, delta: Double) {
        let F = inst.underlyingPrice!, K = inst.strike!, iv = inst.markIv!
        let secs = inst.expiry! - time
        let T = secs / (365 * 86400)
        let dte = secs / 86400
        let call: Int32 = inst.optionType == .call ? 1 : 0
        var p = 0.0, d = 0.0, vg = 0.0
        pm_black76_greeks(F, K, T, iv, call, &p, &d, &vg)
        let range = params.priceRange
        let up = params.ivUp, down = params.ivDown
        let s = pow(30 / max(dte, params.minDTE), dte < 30 ? params.vegaPowerShort : params.vegaPowerLong)
        let vols = [iv * (1 + up * s), iv, max(iv * (1 - down * s), params.minShockedIv)]
        let shrink = secs < params.decaySeconds ? secs / params.decaySeconds : 1
        let half = (params.pricePoints - 1) / 2
        var lo = Double.infinity, hi = -Double.infinity
        for k in 0..<params.pricePoints {
            let move = (-range + Double(k) * range / Double(half)) * shrink
            for v in vols {
                var q = 0.0
                pm_black76_greeks(F * (1 + move), K, T, v, call, &q, &d, &vg)
                let pnl = (q - inst.markPrice) * settleIndex
                lo = min(lo, pnl); hi = max(hi, pnl)
            }
        }
        pm_black76_greeks(F, K, T, iv, call, &p, &d, &vg)
        return (max(0, -lo), max(0, hi) + params.shortOptionFactor * index, d)
    }

    @inline(__always) func symbol(_ i: Int) -> Range<Int> { symStart[i]..<symStart[i + 1] }
}


// MARK: - Output buffers

/// A growable byte buffer with the CSV primitives (no per-value allocation).
final class SynthBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) func reserve(_ n: Int) { if count + n > capacity { grow(count + n) } }

    private func grow(_ need: Int) {
        let cap = max(need, capacity * 2)
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        nb.update(from: base, count: count)
        base.deallocate()
        base = nb
        capacity = cap
    }

    @inline(__always) func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always) func bytes(_ p: UnsafePointer<UInt8>, _ n: Int) {
        reserve(n)
        (base + count).update(from: p, count: n)
        count += n
    }

    func text(_ s: StaticString) { bytes(s.utf8Start, s.utf8CodeUnitCount) }

    /// The decimal `m / 10^dec` without trailing fractional zeros (`123450, 2` → `1234.5`;
    /// `5, 3` → `0.005`; `0, _` → `0`).
    func fixed(_ m: Int64, _ dec: Int) {
        reserve(24)
        var v = m.magnitude
        var d = dec
        while d > 0 && v % 10 == 0 { v /= 10; d -= 1 }
        if m < 0 && v != 0 { base[count] = 45; count += 1 }
        var digits = 1
        var t = v
        while t >= 10 { t /= 10; digits += 1 }
        let len = d > 0 ? max(digits, d + 1) + 1 : digits
        var p = count + len - 1
        if d > 0 {
            for _ in 0..<d { base[p] = UInt8(48 + v % 10); v /= 10; p -= 1 }
            base[p] = 46
            p -= 1
        }
        repeat { base[p] = UInt8(48 + v % 10); v /= 10; p -= 1 } while p >= count
        count += len
    }
}

/// One block's output: the four files' bytes and row counts.
final class SynthWriter {
    let buffers: [SynthBuffer]
    var counts = SyntheticAccounts.RowCounts()
    init(expectedAccounts n: Int) {
        buffers = [SynthBuffer(capacity: n * 20), SynthBuffer(capacity: n * 60),
                   SynthBuffer(capacity: n * 520), SynthBuffer(capacity: n * 80)]
    }
}

// MARK: - The archetypes

/// Generates accounts into one `SynthWriter`. Every draw of account n comes from its own `SynthRng`.
struct SynthBlock {
    let cat: SynthCatalog
    let seed: UInt64
    let w: SynthWriter
    let accountsBuf: SynthBuffer, balancesBuf: SynthBuffer, positionsBuf: SynthBuffer, ordersBuf: SynthBuffer
    var rng = SynthRng(key: 0, account: 0)
    /// `stamp[i] == current`: instrument i is already a position of the current account.
    var stamp: [Int32]
    var current: Int32 = 0
    var id: [UInt8] = []
    var spotHedging = false
    /// Margin-balance contributions of the positions so far (option value, unrealised P&L), USD.
    var mtm = 0.0
    /// Value of the option positions so far (Σ size · mark · settle index), USD.
    var optionValue = 0.0
    /// Estimated maintenance risk of the positions so far (sum over positions), USD.
    var risk = 0.0
    /// Coin delta per base coin of the positions so far.
    var deltaOf: [Double]
    var pending: [(slot: Int, mantissa: Int64)] = []
    var hasBuy = false, hasSell = false

    init(catalog: SynthCatalog, seed: UInt64, expectedAccounts: Int) {
        cat = catalog
        self.seed = seed
        w = SynthWriter(expectedAccounts: expectedAccounts)
        accountsBuf = w.buffers[0]; balancesBuf = w.buffers[1]; positionsBuf = w.buffers[2]; ordersBuf = w.buffers[3]
        stamp = [Int32](repeating: 0, count: catalog.instrumentCount)
        deltaOf = [Double](repeating: 0, count: catalog.coins.count)
        id.reserveCapacity(24)
    }

    // MARK: Account frame

    mutating func account(_ n: Int) {
        rng = SynthRng(key: seed, account: UInt64(n))
        current &+= 1
        id.removeAll(keepingCapacity: true)
        id += [65, 67, 67, 45]  // "ACC-"
        var digits: [UInt8] = []
        var v = n + 1
        repeat { digits.append(UInt8(48 + v % 10)); v /= 10 } while v > 0
        for _ in digits.count..<max(7, digits.count) { id.append(48) }
        id += digits.reversed()
        spotHedging = false
        mtm = 0
        optionValue = 0
        risk = 0
        for c in deltaOf.indices { deltaOf[c] = 0 }
        pending.removeAll(keepingCapacity: true)
        hasBuy = false; hasSell = false

        switch SyntheticAccounts.pickArchetype(rng.unit()) {
        case .directional: directional()
        case .futures: futures()
        case .optionBuyer: optionBuyer()
        case .shortStrangle: shortStrangle()
        case .calendarSpread: calendarSpread()
        case .volBook: volBook()
        case .marketMaker: marketMaker()
        case .basis: basis()
        case .crossStablecoin: crossStablecoin()
        case .twoSidedOrders: twoSidedOrders()
        case .nearLimit: distressed(rate: rng.uniform(0.55, 0.78), liability: false)
        case .imBreach: distressed(rate: rng.uniform(0.87, 0.95), liability: false)
        case .autoRepay: distressed(rate: rng.uniform(0.88, 0.96), liability: true)
        case .liquidation:
            distressed(rate: rng.chance(0.1) ? -rng.uniform(0.02, 0.5) : rng.uniform(1.05, 3.0), liability: rng.chance(0.3))
        }
        if pending.isEmpty { fund(rng.scale(1000)) }

        for (slot, m) in pending where m != 0 {
            writeId(balancesBuf)
            let name = cat.balanceCoins[slot].name
            name.withUnsafeBufferPointer { balancesBuf.bytes($0.baseAddress!, $0.count) }
            balancesBuf.byte(44)
            balancesBuf.fixed(m, cat.balanceCoins[slot].decimals)
            balancesBuf.byte(10)
            w.counts.balances += 1
        }
        writeId(accountsBuf)
        if spotHedging { accountsBuf.text("true\n") } else { accountsBuf.text("false\n") }
        w.counts.accounts += 1
    }

    @inline(__always) func writeId(_ b: SynthBuffer) {
        id.withUnsafeBufferPointer { b.bytes($0.baseAddress!, $0.count) }
        b.byte(44)
    }

    @inline(__always) func writeSymbol(_ i: Int, _ b: SynthBuffer) {
        let r = cat.symbol(i)
        cat.symBytes.withUnsafeBufferPointer { b.bytes($0.baseAddress! + r.lowerBound, r.count) }
        b.byte(44)
    }

    // MARK: Rows

    /// Adds a position of `lots` lots (signed), with an entry price in ticks; false (nothing
    /// written) when `lots` is 0, `i` is −1 or the account already holds `i`.
    @discardableResult
    mutating func position(_ i: Int, lots: Int64, entry: Int64? = nil) -> Bool {
        guard i >= 0, lots != 0, stamp[i] != current else { return false }
        stamp[i] = current
        let b = positionsBuf
        writeId(b)
        writeSymbol(i, b)
        let sdec = cat.sizeDec[i]
        b.fixed(lots, sdec)
        b.byte(44)
        let size = Double(lots) / synthPow10[sdec]
        if let e = entry {
            let pdec = cat.priceDec[i]
            b.fixed(e, pdec)
            if !cat.isOption[i] {
                let ep = Double(e) / synthPow10[pdec]
                let m = cat.mark[i]
                if cat.isInverse[i] {
                    mtm += size * (1 / ep - 1 / m) * cat.settleIndex[i]
                } else {
                    mtm += size * (m - ep) * cat.settleIndex[i]
                }
            }
        }
        b.byte(10)
        w.counts.positions += 1
        mtm += size * cat.valueUSD[i]
        optionValue += size * cat.valueUSD[i]
        risk += abs(size) * (lots > 0 ? cat.riskLong[i] : cat.riskShort[i])
        deltaOf[cat.coinOf[i]] += size * cat.delta[i]
        return true
    }

    /// Adds an order of `lots` lots (> 0) at mark · (1 + offset), rounded to the tick.
    mutating func order(_ i: Int, buy: Bool, lots: Int64, offset: Double) {
        guard i >= 0, lots > 0 else { return }
        let b = ordersBuf
        writeId(b)
        writeSymbol(i, b)
        if buy { b.text("Buy,") } else { b.text("Sell,") }
        b.fixed(lots, cat.sizeDec[i])
        b.byte(44)
        b.fixed(ticks(i, offset), cat.priceDec[i])
        b.byte(10)
        w.counts.orders += 1
        if buy { hasBuy = true } else { hasSell = true }
    }

    /// mark · (1 + offset) in whole ticks (≥ 1 tick).
    @inline(__always) func ticks(_ i: Int, _ offset: Double) -> Int64 {
        guard i >= 0 else { return 1 }
        let v = (cat.mark[i] * (1 + offset) * synthPow10[cat.priceDec[i]]).rounded()
        return max(1, Int64(min(v, 1e17)))
    }

    /// Lots of `i` for a USD notional (≥ 1).
    @inline(__always) func lots(_ i: Int, usd: Double) -> Int64 {
        guard i >= 0 else { return 0 }
        let v = (usd / cat.unitUSD[i] * synthPow10[cat.sizeDec[i]]).rounded()
        return max(1, Int64(min(v, 1e13)))
    }

    /// Lots of `i` whose estimated risk is `usd` (≥ 1), at most `maxUSD` of notional.
    @inline(__always) func lots(_ i: Int, risk usd: Double, short: Bool, maxUSD: Double) -> Int64 {
        guard i >= 0 else { return 0 }
        let perUnit = short ? cat.riskShort[i] : cat.riskLong[i]
        let byRisk = perUnit > 0 ? usd / perUnit : .infinity
        let units = min(byRisk, maxUSD / cat.unitUSD[i])
        return max(1, Int64(min((units * synthPow10[cat.sizeDec[i]]).rounded(), 1e13)))
    }

    /// A balance of `usd` worth of margin in slot `slot` (a positive amount is divided by the
    /// collateral value ratio; a negative one is a liability at full value).
    mutating func deposit(usd: Double, slot: Int) {
        let bc = cat.balanceCoins[slot]
        let amount = usd / (bc.index * (usd > 0 ? bc.collateralRatio : 1))
        let m = (amount * synthPow10[bc.decimals]).rounded()
        deposit(mantissa: Int64(max(-1e17, min(m, 1e17))), slot: slot)
    }

    mutating func deposit(mantissa: Int64, slot: Int) {
        for n in pending.indices where pending[n].slot == slot {
            pending[n].mantissa += mantissa
            return
        }
        pending.append((slot, mantissa))
    }

    /// The preferred stablecoin slot (USDT, else USDC, else the first base coin).
    func stable(usdc preferUSDC: Bool = false) -> Int {
        if preferUSDC && cat.usdc >= 0 { return cat.usdc }
        if cat.usdt >= 0 { return cat.usdt }
        if cat.usdc >= 0 { return cat.usdc }
        return cat.coins[0].balanceSlot
    }

    /// The wallet that gives a margin balance of `equity`: option premiums were paid from it
    /// (long) or credited to it (short), so it is `equity − option value` (at least 5% of `equity`).
    func wallet(_ equity: Double) -> Double { max(equity * 0.05, equity - optionValue) }

    /// Collateral worth `usd` of margin balance (option value included): USDT (55%), USDC (20%),
    /// both (15%), or partly BTC/ETH (10%).
    mutating func fund(_ equity: Double) {
        let usd = wallet(equity)
        let u = rng.unit()
        if u < 0.55 {
            deposit(usd: usd, slot: stable())
        } else if u < 0.75 {
            deposit(usd: usd, slot: stable(usdc: true))
        } else if u < 0.90 {
            let f = rng.uniform(0.2, 0.8)
            deposit(usd: usd * f, slot: stable())
            deposit(usd: usd * (1 - f), slot: stable(usdc: true))
        } else {
            let c = pickCoin { $0.major }
            let f = rng.uniform(0.3, 1.0)
            deposit(usd: usd * f, slot: cat.coins[c >= 0 ? c : 0].balanceSlot)
            if f < 1 { deposit(usd: usd * (1 - f), slot: stable()) }
        }
    }

    // MARK: Picks

    /// A base coin satisfying `pred`, drawn by weight (BTC 50%, ETH 30%, the others share 20%); −1 if none.
    mutating func pickCoin(_ pred: (SynthCatalog.Coin) -> Bool) -> Int {
        var total = 0.0
        for c in cat.coins where pred(c) { total += c.weight }
        guard total > 0 else { return -1 }
        var u = rng.unit() * total
        var last = -1
        for (n, c) in cat.coins.enumerated() where pred(c) {
            last = n
            if u < c.weight { return n }
            u -= c.weight
        }
        return last
    }

    mutating func pick(_ list: [Int]) -> Int { list.isEmpty ? -1 : list[rng.int(list.count)] }

    /// A linear perpetual of coin c (USDT-settled 75%), else an inverse one, else −1.
    mutating func linearPerp(_ c: Int) -> Int {
        let coin = cat.coins[c]
        if coin.linearPerps.isEmpty { return pick(coin.inversePerps) }
        let usdt = coin.linearPerps.filter { cat.settleOf[$0] == "USDT" }
        if !usdt.isEmpty && rng.chance(0.75) { return usdt[0] }
        return pick(coin.linearPerps)
    }

    /// The option of chain `ch` of coin c nearest `z` standard deviations from the forward
    /// (K = F(1 + zσ√T) for z ≥ 0, F / (1 − zσ√T) below), of the wanted type when listed.
    func option(_ c: Int, chain ch: Int, z: Double, call: Bool) -> Int {
        let chain = cat.coins[c].chains[ch]
        let x = z * chain.atmIv * chain.years.squareRoot()
        let k = z >= 0 ? chain.forward * (1 + x) : chain.forward / (1 - x)
        let strikes = chain.strikes
        var lo = 0, hi = strikes.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if strikes[mid] < k { lo = mid + 1 } else { hi = mid }
        }
        if lo > 0 && k - strikes[lo - 1] < strikes[lo] - k { lo -= 1 }
        for d in 0..<strikes.count {
            for p in [lo + d, lo - d] where p >= 0 && p < strikes.count {
                let i = call ? chain.calls[p] : chain.puts[p]
                if i >= 0 { return Int(i) }
                let other = call ? chain.puts[p] : chain.calls[p]
                if d > 3 && other >= 0 { return Int(other) }
            }
        }
        return -1
    }

    /// The same-strike option (of the same type when listed) in chain `ch`, else the nearest.
    func sameStrike(_ c: Int, chain ch: Int, as i: Int) -> Int {
        let chain = cat.coins[c].chains[ch]
        let k = cat.strike[i]
        if let p = chain.strikes.firstIndex(of: k) {
            let j = cat.isCall[i] ? chain.calls[p] : chain.puts[p]
            if j >= 0 { return Int(j) }
        }
        let z = (k / chain.forward - 1) / max(1e-9, chain.atmIv * chain.years.squareRoot())
        return option(c, chain: ch, z: z, call: cat.isCall[i])
    }

    /// Delta-hedges coin c's positions with its linear (else inverse) perpetual.
    mutating func hedge(_ c: Int) {
        let coin = cat.coins[c]
        let i = coin.usdtLinear.first ?? coin.linearPerps.first ?? coin.inversePerps.first ?? -1
        guard i >= 0 else { return }
        let units = -deltaOf[c] / cat.delta[i]
        position(i, lots: Int64((units * synthPow10[cat.sizeDec[i]]).rounded()), entry: entry(i, drift: rng.uniform(-0.02, 0.02)))
    }

    /// An entry price mark · (1 + drift) in ticks.
    @inline(__always) func entry(_ i: Int, drift: Double) -> Int64 { ticks(i, drift) }

    // MARK: Archetypes

    mutating func directional() {
        let equity = rng.scale(1000)
        let u = rng.unit()
        let legs = u < 0.6 ? 1 : u < 0.88 ? 2 : 3
        let v = rng.unit()
        let leverage = 0.3 + 5.7 * v * v
        var coinMargined = -1
        for _ in 0..<legs {
            let c = pickCoin { !$0.linearPerps.isEmpty || !$0.inversePerps.isEmpty }
            guard c >= 0 else { break }
            let coin = cat.coins[c]
            var i: Int
            if !coin.inversePerps.isEmpty && (coin.linearPerps.isEmpty || rng.chance(0.2)) {
                i = pick(coin.inversePerps)
                coinMargined = c
            } else {
                i = linearPerp(c)
            }
            let long = rng.chance(0.6)
            let n = lots(i, usd: equity * leverage / Double(legs) * rng.uniform(0.5, 1.5))
            let e: Int64? = rng.chance(0.65) ? entry(i, drift: rng.uniform(-0.06, 0.06)) : nil
            if position(i, lots: long ? n : -n, entry: e) && rng.chance(0.15) {
                let tp = rng.uniform(0.02, 0.10)
                order(i, buy: !long, lots: max(1, Int64((Double(n) * rng.uniform(0.2, 1.0)).rounded())), offset: long ? tp : -tp)
            }
        }
        if coinMargined >= 0 && rng.chance(0.6) {
            deposit(usd: equity, slot: cat.coins[coinMargined].balanceSlot)
        } else {
            fund(equity)
        }
        spotHedging = rng.chance(0.05)
    }

    mutating func futures() {
        let c = pickCoin { !$0.linearFutures.isEmpty || !$0.inverseFutures.isEmpty }
        guard c >= 0 else { return directional() }
        let coin = cat.coins[c]
        let equity = rng.scale(3000)
        let inverse = coin.linearFutures.isEmpty || (!coin.inverseFutures.isEmpty && rng.chance(0.3))
        let futs = inverse ? coin.inverseFutures : coin.linearFutures
        let perps = inverse ? coin.inversePerps : coin.linearPerps
        let u = rng.unit()
        let drift = { (g: inout SynthRng) -> Double in g.uniform(-0.03, 0.03) }
        if u < 0.5 && !perps.isEmpty {
            // Cash and carry: short the future, long the perpetual (or the reverse).
            let f = pick(futs), p = pick(perps)
            let n = lots(f, usd: equity * rng.uniform(1, 8))
            let sign: Int64 = rng.chance(0.7) ? 1 : -1
            position(f, lots: -sign * n, entry: rng.chance(0.5) ? entry(f, drift: drift(&rng)) : nil)
            position(p, lots: sign * lots(p, usd: Double(n) / synthPow10[cat.sizeDec[f]] * cat.unitUSD[f]),
                     entry: rng.chance(0.5) ? entry(p, drift: drift(&rng)) : nil)
        } else if u < 0.8 && futs.count >= 2 {
            let a = rng.int(futs.count)
            var b = rng.int(futs.count - 1)
            if b >= a { b += 1 }
            let n = lots(futs[a], usd: equity * rng.uniform(1, 8))
            let sign: Int64 = rng.chance(0.5) ? 1 : -1
            position(futs[a], lots: sign * n, entry: rng.chance(0.5) ? entry(futs[a], drift: drift(&rng)) : nil)
            position(futs[b], lots: -sign * n, entry: rng.chance(0.5) ? entry(futs[b], drift: drift(&rng)) : nil)
        } else {
            let f = pick(futs)
            let n = lots(f, usd: equity * rng.uniform(0.3, 4))
            position(f, lots: rng.chance(0.6) ? n : -n, entry: rng.chance(0.6) ? entry(f, drift: drift(&rng)) : nil)
        }
        if rng.chance(0.1), let f = futs.first {
            let buy = rng.chance(0.5)
            let off = rng.uniform(0.005, 0.04)
            order(f, buy: buy, lots: lots(f, usd: equity * rng.uniform(0.2, 1)), offset: buy ? -off : off)
        }
        if inverse && rng.chance(0.6) { deposit(usd: equity, slot: coin.balanceSlot) } else { fund(equity) }
        spotHedging = rng.chance(0.05)
    }

    mutating func optionBuyer() {
        let c = pickCoin { !$0.chains.isEmpty }
        guard c >= 0 else { return directional() }
        let coin = cat.coins[c]
        let equity = rng.scale(1000)
        let legs = rng.int(1, 6)
        let premium = equity * rng.uniform(0.05, 0.4) / Double(legs)
        for _ in 0..<legs {
            let ch = rng.int(coin.chains.count)
            let call = rng.chance(0.55)
            let z = rng.uniform(-0.3, 2.0)
            let i = option(c, chain: ch, z: call ? z : -z, call: call)
            guard i >= 0 else { continue }
            let per = cat.valueUSD[i] / synthPow10[cat.sizeDec[i]]
            let byPremium = per > 0 ? (premium / per).rounded() : 1
            let cap = Double(lots(i, usd: equity * 3))
            position(i, lots: max(1, Int64(min(byPremium, cap))))
        }
        if rng.chance(0.2) {
            let p = linearPerp(c)
            if p >= 0 { position(p, lots: (rng.chance(0.5) ? 1 : -1) * lots(p, usd: equity * rng.uniform(0.2, 2)), entry: entry(p, drift: rng.uniform(-0.04, 0.04))) }
        }
        if rng.chance(0.1) {
            for _ in 0..<rng.int(1, 3) {
                let i = option(c, chain: rng.int(coin.chains.count), z: rng.uniform(-1.5, 1.5), call: rng.chance(0.5))
                order(i, buy: true, lots: Int64(rng.int(1, 10)), offset: -rng.uniform(0.01, 0.08))
            }
        }
        fund(equity)
        spotHedging = rng.chance(0.05)
    }

    mutating func shortStrangle() {
        let c = pickCoin { !$0.chains.isEmpty }
        guard c >= 0 else { return directional() }
        let coin = cat.coins[c]
        let equity = rng.scale(5000)
        let strangles = rng.int(1, 3)
        let budget = equity * rng.uniform(0.15, 0.7) / Double(strangles)
        var legs: [Int] = []
        for _ in 0..<strangles {
            let ch = rng.int(coin.chains.count)
            let call = option(c, chain: ch, z: rng.uniform(0.5, 1.8), call: true)
            let put = option(c, chain: ch, z: -rng.uniform(0.5, 1.8), call: false)
            for i in [call, put] where i >= 0 {
                if position(i, lots: -lots(i, risk: budget * 0.9, short: true, maxUSD: equity * 10)) { legs.append(i) }
            }
        }
        if rng.chance(0.3) { hedge(c) }
        if rng.chance(0.2) && !legs.isEmpty {
            // Both sides: buy back part of one leg below mark, offer another strangle leg above mark.
            let i = legs[rng.int(legs.count)]
            order(i, buy: true, lots: Int64(rng.int(1, 5)), offset: -rng.uniform(0.02, 0.10))
            let j = option(c, chain: rng.int(coin.chains.count), z: rng.uniform(0.8, 2.0) * (rng.chance(0.5) ? 1 : -1), call: rng.chance(0.5))
            order(j, buy: false, lots: Int64(rng.int(1, 5)), offset: rng.uniform(0.01, 0.08))
        }
        fund(equity)
        spotHedging = rng.chance(0.1)
    }

    mutating func calendarSpread() {
        let c = pickCoin { $0.chains.count >= 2 }
        guard c >= 0 else { return shortStrangle() }
        let coin = cat.coins[c]
        let equity = rng.scale(5000)
        let pairs = rng.int(1, 4)
        let budget = equity * rng.uniform(0.1, 0.5) / Double(pairs)
        for _ in 0..<pairs {
            var a = rng.int(coin.chains.count - 1)
            var b = a + 1 + rng.int(coin.chains.count - a - 1)
            for _ in 0..<3 where coin.chains[a].settle != coin.chains[b].settle {
                a = rng.int(coin.chains.count - 1)
                b = a + 1 + rng.int(coin.chains.count - a - 1)
            }
            let near = option(c, chain: a, z: rng.uniform(-0.3, 0.3), call: rng.chance(0.5))
            guard near >= 0 else { continue }
            let far = sameStrike(c, chain: b, as: near)
            guard far >= 0 else { continue }
            let perLot = max(cat.riskShort[near], cat.riskLong[far]) / synthPow10[cat.sizeDec[near]]
            let n = max(1, Int64(min((budget * 3 / max(perLot, 1e-9)).rounded(), Double(lots(near, usd: equity * 5)))))
            let sellNear: Int64 = rng.chance(0.8) ? 1 : -1
            position(near, lots: -sellNear * n)
            position(far, lots: sellNear * n)
        }
        if rng.chance(0.3) && coin.linearFutures.count >= 2 {
            let f1 = coin.linearFutures[0], f2 = coin.linearFutures[coin.linearFutures.count - 1]
            let n = lots(f1, usd: equity * rng.uniform(0.5, 3))
            position(f2, lots: n, entry: entry(f2, drift: rng.uniform(-0.02, 0.02)))
            position(f1, lots: -n, entry: entry(f1, drift: rng.uniform(-0.02, 0.02)))
        }
        fund(equity)
        spotHedging = rng.chance(0.1)
    }

    mutating func volBook() {
        let c1 = pickCoin { !$0.chains.isEmpty }
        guard c1 >= 0 else { return directional() }
        var used = [c1]
        if rng.chance(0.3) {
            let c2 = pickCoin { !$0.chains.isEmpty }
            if c2 >= 0 && c2 != c1 { used.append(c2) }
        }
        let legs = rng.int(10, 100)
        let equity = max(rng.scale(10000), Double(legs) * 500)
        let legBudget = equity * rng.uniform(0.1, 0.6) / Double(legs).squareRoot()
        for k in 0..<legs {
            let c = used[k % used.count]
            for _ in 0..<3 {
                let z = rng.normal() * 1.2
                let call = z > 0 ? rng.chance(0.75) : rng.chance(0.25)
                let i = option(c, chain: rng.int(cat.coins[c].chains.count), z: z, call: call)
                guard i >= 0, stamp[i] != current else { continue }
                let short = rng.chance(0.55)
                let f = rng.uniform(0.3, 1.7)
                let n = lots(i, risk: legBudget * f, short: short, maxUSD: equity * 3 * f / Double(legs).squareRoot())
                position(i, lots: short ? -n : n)
                break
            }
        }
        if rng.chance(0.6) { for c in used { hedge(c) } }
        if rng.chance(0.35) {
            let n = rng.int(2, 10)
            for k in 0..<n {
                let c = used[rng.int(used.count)]
                let i = option(c, chain: rng.int(cat.coins[c].chains.count), z: rng.normal(), call: rng.chance(0.5))
                let buy = k == 0 ? true : k == 1 ? false : rng.chance(0.5)
                let off = rng.uniform(0.005, 0.06)
                order(i, buy: buy, lots: Int64(rng.int(1, 20)), offset: buy ? -off : off)
            }
        }
        spotHedging = rng.chance(0.15)
        if spotHedging && cat.coins[c1].hedgeEligible {
            let f = rng.uniform(0.2, 0.6)
            deposit(usd: wallet(equity) * f, slot: cat.coins[c1].balanceSlot)
            deposit(usd: wallet(equity) * (1 - f), slot: stable())
        } else {
            fund(equity)
        }
    }

    mutating func marketMaker() {
        guard pickCoin({ !$0.chains.isEmpty }) >= 0 else { return volBook() }
        let equity = rng.scale(1_000_000, q: 0.5, maxK: 5)
        let available = cat.coins.reduce(0) { $0 + $1.options.count }
        let legs = min(rng.int(100, 400), available * 4 / 5)
        let legBudget = equity * rng.uniform(0.1, 0.5) / Double(max(legs, 1)).squareRoot()
        var used: [Int] = []
        var placed = 0, tries = 0
        while placed < legs && tries < legs * 6 {
            tries += 1
            let c = pickCoin { !$0.chains.isEmpty }
            let i = option(c, chain: rng.int(cat.coins[c].chains.count), z: rng.normal() * 1.5, call: rng.chance(0.5))
            guard i >= 0, stamp[i] != current else { continue }
            let short = rng.chance(0.5)
            let f = rng.uniform(0.3, 1.7)
            let n = lots(i, risk: legBudget * f, short: short, maxUSD: legBudget * 20 * f)
            position(i, lots: short ? -n : n)
            placed += 1
            if !used.contains(c) { used.append(c) }
        }
        for c in used { hedge(c) }
        let quotes = rng.int(10, 75)
        for _ in 0..<quotes {
            let c = used.isEmpty ? 0 : used[rng.int(used.count)]
            guard !cat.coins[c].chains.isEmpty else { continue }
            let i = option(c, chain: rng.int(cat.coins[c].chains.count), z: rng.normal() * 1.2, call: rng.chance(0.5))
            let n = lots(i, risk: legBudget * 0.2, short: true, maxUSD: legBudget * 4)
            order(i, buy: true, lots: n, offset: -rng.uniform(0.003, 0.04))
            order(i, buy: false, lots: n, offset: rng.uniform(0.003, 0.04))
        }
        let u = rng.unit()
        let cash = wallet(equity)
        if u < 0.5 {
            deposit(usd: cash, slot: stable(usdc: true))
        } else if u < 0.8 {
            deposit(usd: cash, slot: stable())
        } else {
            let c = pickCoin { $0.major }
            deposit(usd: cash * 0.5, slot: cat.coins[c >= 0 ? c : 0].balanceSlot)
            deposit(usd: cash * 0.5, slot: stable(usdc: true))
        }
    }

    mutating func basis() {
        let c = pickCoin { $0.hedgeEligible && !($0.linearPerps.isEmpty && $0.linearFutures.isEmpty) }
        guard c >= 0 else { return directional() }
        let coin = cat.coins[c]
        spotHedging = true
        let notional = rng.scale(20000)
        let i = (coin.linearFutures.isEmpty || (!coin.linearPerps.isEmpty && rng.chance(0.65))) ? pick(coin.linearPerps) : pick(coin.linearFutures)
        let n = lots(i, usd: notional)
        let spot = n * Int64(synthPow10[8 - min(8, cat.sizeDec[i])])
        if rng.chance(0.7) {
            // Long spot, short derivative.
            deposit(mantissa: spot, slot: coin.balanceSlot)
            position(i, lots: -n, entry: rng.chance(0.7) ? entry(i, drift: rng.uniform(-0.01, 0.01)) : nil)
            deposit(usd: notional * rng.uniform(0.02, 0.2), slot: stable(usdc: rng.chance(0.3)))
        } else {
            // Borrowed coin (sold spot) hedging a long derivative.
            deposit(mantissa: -spot, slot: coin.balanceSlot)
            position(i, lots: n, entry: rng.chance(0.7) ? entry(i, drift: rng.uniform(-0.01, 0.01)) : nil)
            deposit(usd: notional * rng.uniform(1.05, 1.6), slot: stable(usdc: rng.chance(0.3)))
        }
        if rng.chance(0.2) {
            let off = rng.uniform(0.005, 0.03)
            order(i, buy: false, lots: max(1, n / 5), offset: off)
        }
    }

    mutating func crossStablecoin() {
        let c = pickCoin { !$0.usdtLinear.isEmpty && !$0.usdcLinear.isEmpty }
        guard c >= 0 else { return directional() }
        let coin = cat.coins[c]
        let equity = rng.scale(5000)
        let a = coin.usdtLinear[0]
        let b = rng.chance(0.7) ? coin.usdcLinear[0] : pick(coin.usdcLinear)
        let n = lots(a, usd: equity * rng.uniform(2, 10))
        let sign: Int64 = rng.chance(0.5) ? 1 : -1
        position(a, lots: sign * n, entry: entry(a, drift: rng.uniform(-0.03, 0.03)))
        position(b, lots: -sign * n, entry: entry(b, drift: rng.uniform(-0.03, 0.03)))
        if rng.chance(0.3), !coin.inversePerps.isEmpty {
            let i = pick(coin.inversePerps)
            position(i, lots: (rng.chance(0.5) ? 1 : -1) * lots(i, usd: equity * rng.uniform(0.2, 1)), entry: entry(i, drift: rng.uniform(-0.03, 0.03)))
        }
        let f = rng.uniform(0.3, 0.7)
        deposit(usd: equity * f, slot: stable())
        deposit(usd: equity * (1 - f), slot: stable(usdc: true))
    }

    mutating func twoSidedOrders() {
        let c = pickCoin { !$0.linearPerps.isEmpty || !$0.inversePerps.isEmpty }
        guard c >= 0 else { return optionBuyer() }
        let equity = rng.scale(2000)
        let i = linearPerp(c)
        let held = rng.int(0, 2)
        if held >= 1 {
            position(i, lots: (rng.chance(0.5) ? 1 : -1) * lots(i, usd: equity * rng.uniform(0.3, 3)), entry: entry(i, drift: rng.uniform(-0.03, 0.03)))
        }
        if held >= 2 {
            let c2 = pickCoin { !$0.linearPerps.isEmpty }
            if c2 >= 0 {
                let j = linearPerp(c2)
                position(j, lots: (rng.chance(0.5) ? 1 : -1) * lots(j, usd: equity * rng.uniform(0.3, 2)), entry: entry(j, drift: rng.uniform(-0.03, 0.03)))
            }
        }
        let n = rng.int(2, 8)
        let step = rng.uniform(0.003, 0.01)
        let per = lots(i, usd: equity * rng.uniform(0.1, 1.0) / Double(n))
        for k in 0..<n {
            order(i, buy: true, lots: per, offset: -step * Double(k + 1))
            order(i, buy: false, lots: per, offset: step * Double(k + 1))
        }
        if rng.chance(0.3), !cat.coins[c].chains.isEmpty {
            let o = option(c, chain: rng.int(cat.coins[c].chains.count), z: rng.normal(), call: rng.chance(0.5))
            let off = rng.uniform(0.01, 0.05)
            order(o, buy: true, lots: Int64(rng.int(1, 10)), offset: -off)
            order(o, buy: false, lots: Int64(rng.int(1, 10)), offset: off)
        }
        fund(equity)
    }

    /// A distressed account: one-directional exposure with margin balance = estimated MM / `rate`
    /// (a negative `rate` gives a margin balance of `rate` · estimated MM, i.e. ≤ 0). With
    /// `liability`, part of the collateral is borrowed (a negative USDC balance, or a negative coin
    /// balance when only one stablecoin is listed), and its borrowing margin counts in the estimate.
    mutating func distressed(rate: Double, liability: Bool) {
        var c = pickCoin { $0.major }
        if c < 0 { c = pickCoin { _ in true } }
        let coin = cat.coins[c]
        let equity0 = rng.scale(2000)
        let long = rng.chance(0.5)
        let adverse = { (g: inout SynthRng) -> Double in (long ? 1 : -1) * g.uniform(0.01, 0.12) }
        let u = rng.unit()
        let notional = equity0 * rng.uniform(3, 12)
        if u < 0.55 && !(coin.usdtLinear.isEmpty && coin.usdcLinear.isEmpty) {
            var legs: [Int] = []
            if let a = coin.usdtLinear.first { legs.append(a) }
            if let b = coin.usdcLinear.first, legs.isEmpty || rng.chance(0.4) { legs.append(b) }
            for i in legs {
                let n = lots(i, usd: notional / Double(legs.count))
                position(i, lots: long ? n : -n, entry: rng.chance(0.8) ? entry(i, drift: adverse(&rng)) : nil)
            }
        } else if u < 0.75 && !coin.inversePerps.isEmpty {
            let i = coin.inversePerps[0]
            let n = lots(i, usd: notional)
            position(i, lots: long ? n : -n, entry: rng.chance(0.8) ? entry(i, drift: adverse(&rng)) : nil)
        } else if !coin.chains.isEmpty {
            let legs = rng.int(1, 3)
            let call = rng.chance(0.5)
            for _ in 0..<legs {
                let i = option(c, chain: rng.int(coin.chains.count), z: rng.uniform(0.2, 1.5) * (call ? 1 : -1), call: call)
                guard i >= 0 else { continue }
                position(i, lots: -lots(i, usd: notional / Double(legs) * rng.uniform(0.3, 1)))
            }
        } else {
            let i = linearPerp(c)
            let n = lots(i, usd: notional)
            position(i, lots: long ? n : -n, entry: entry(i, drift: adverse(&rng)))
        }
        var borrowed = 0.0, borrowSlot = -1
        if liability {
            borrowed = equity0 * rng.uniform(0.2, 1.0)
            borrowSlot = cat.usdc >= 0 && cat.usdt >= 0 ? cat.usdc : coin.balanceSlot
        }
        let mm = risk + borrowed * (borrowSlot >= 0 ? cat.balanceCoins[borrowSlot].borrowMMRate : 0)
        let equity = rate > 0 ? mm / rate : rate * mm
        if borrowSlot >= 0 {
            deposit(usd: -borrowed, slot: borrowSlot)
            deposit(usd: equity - mtm + borrowed, slot: stable())
        } else {
            deposit(usd: equity - mtm, slot: stable(usdc: rng.chance(0.3)))
        }
        if rate > 1 && rng.chance(0.3) {
            // Resting orders, cancelled first when liquidated.
            if let i = coin.usdtLinear.first ?? coin.linearPerps.first {
                order(i, buy: true, lots: lots(i, usd: equity0), offset: -rng.uniform(0.01, 0.05))
                order(i, buy: false, lots: lots(i, usd: equity0), offset: rng.uniform(0.01, 0.05))
            }
        }
    }
}
