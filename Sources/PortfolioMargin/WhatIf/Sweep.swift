import Foundation
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// One varied setting of a sweep and the values it takes.
public struct SweepSetting: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A parameter of a coin's entry (`COIN.param`; `default.param` changes the default entry).
        case parameter(coin: String, name: String)
        /// A relative move of one coin's index, marks and forwards (`shock.COIN`).
        case shock(coin: String)
        /// A factor on every implied vol (`ivScale`).
        case ivScale
    }
    public var kind: Kind
    public var values: [Double]

    public init(kind: Kind, values: [Double]) { self.kind = kind; self.values = values }

    /// The column name in `sweep.csv`: `BTC.priceRange`, `shock.BTC`, `ivScale`.
    public var name: String {
        switch kind {
        case let .parameter(coin, name): return "\(coin).\(name)"
        case let .shock(coin): return "shock.\(coin)"
        case .ivScale: return "ivScale"
        }
    }

    /// Parses `--set COIN.param=v1,v2`, `--shock COIN=m1,m2` or `--iv-scale s1,s2` values.
    public static func parseSet(_ text: String) throws -> SweepSetting {
        let (key, values) = try split(text, what: "--set COIN.param=v1,v2,...")
        let dot = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard dot.count == 2, !dot[0].isEmpty, CoinParameters.numericKeys.contains(dot[1]) else {
            throw InputError(record: "--set \(text)", field: key,
                             "expected COIN.param with param one of \(CoinParameters.numericKeys.joined(separator: ", "))")
        }
        return SweepSetting(kind: .parameter(coin: dot[0], name: dot[1]), values: values)
    }

    public static func parseShock(_ text: String) throws -> SweepSetting {
        let (coin, values) = try split(text, what: "--shock COIN=m1,m2,...")
        guard values.allSatisfy({ $0 > -1 }) else { throw InputError(record: "--shock \(text)", "moves must be greater than -1") }
        return SweepSetting(kind: .shock(coin: coin), values: values)
    }

    public static func parseIvScale(_ text: String) throws -> SweepSetting {
        let values = try numbers(text, record: "--iv-scale \(text)")
        guard values.allSatisfy({ $0 > 0 }) else { throw InputError(record: "--iv-scale \(text)", "scales must be positive") }
        return SweepSetting(kind: .ivScale, values: values)
    }

    private static func split(_ text: String, what: String) throws -> (String, [Double]) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw InputError(record: text, "expected \(what)") }
        return (parts[0], try numbers(parts[1], record: text))
    }

    private static func numbers(_ text: String, record: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw InputError(record: record, "expected a comma-separated list of numbers")
        }
        return values.map { $0! }
    }
}

/// What one combination of a sweep gives.
public struct SweepCombination: Sendable {
    public var index: Int
    /// The value of each setting (for combination 0, the unmodified base values).
    public var values: [Double]
    public var totalIM = 0.0
    public var totalMM = 0.0
    /// Accounts per stage, in `Stage.allCases` order.
    public var stages = [Int](repeating: 0, count: Stage.allCases.count)
    public var errors = 0
    /// The accounts whose MM rises most against the base: (account, base MM, MM).
    public var top: [(account: Int, mmBase: Double, mm: Double)] = []
}

/// Sweeps (FORMATS.md `pm sweep`): the book is parsed once; per combination only the market and
/// parameters change, so only the risk arrays, the aggregation and the account figures are redone.
public enum Sweep {
    /// Every combination: 0 is the unmodified base, then the cartesian product of the settings'
    /// values (the first setting varying slowest).
    public static func combinations(_ settings: [SweepSetting]) -> [[Double]] {
        var out: [[Double]] = [[]]
        for s in settings { out = out.flatMap { prefix in s.values.map { prefix + [$0] } } }
        return out
    }

    /// The value a setting has in the unmodified base.
    public static func baseValue(_ s: SweepSetting, parameters: ParameterSet) -> Double {
        switch s.kind {
        case let .parameter(coin, name):
            return (coin == "default" ? parameters.defaults : parameters.parameters(for: coin))[numeric: name] ?? .nan
        case .shock: return 0
        case .ivScale: return 1
        }
    }

    /// The parameters and market of one combination.
    public static func scenario(_ settings: [SweepSetting], values: [Double], base: PricedMarket) throws -> PricedMarket {
        var params = base.parameters
        var shocks: [String: Double] = [:]
        var ivScale = 1.0
        for (s, v) in zip(settings, values) {
            switch s.kind {
            case let .parameter(coin, name):
                if coin == "default" {
                    params.defaults[numeric: name] = v
                } else {
                    var p = params.parameters(for: coin)
                    p[numeric: name] = v
                    params.coins[coin] = p
                }
            case let .shock(coin): shocks[coin] = v
            case .ivScale: ivScale = v
            }
        }
        for (coin, p) in params.coins.map({ ($0.key, $0.value) }) + [("default", params.defaults)] {
            if let (key, message) = p.validationProblem() {
                throw InputError(record: "sweep", field: "\(coin).\(key)", message)
            }
        }
        let market = shocks.isEmpty && ivScale == 1 ? base.market : try shocked(base.market, moves: shocks, ivScale: ivScale)
        return PricedMarket(market: market, parameters: params)
    }

    /// The snapshot moved by `moves[coin]` (index, marks and forwards of that coin × (1 + m)) with
    /// every implied vol × `ivScale`. Option marks are repriced with Black-76 at the moved forward
    /// and scaled vol, keeping each option's original difference between mark and model price.
    public static func shocked(_ m: MarketSnapshot, moves: [String: Double], ivScale: Double) throws -> MarketSnapshot {
        var index = m.indexPrices
        for (coin, move) in moves { if let v = index[coin] { index[coin] = v * (1 + move) } }
        let instruments = m.instruments.map { inst -> Instrument in
            guard m.instrumentProblems[inst.symbol] == nil else { return inst }
            var i = inst
            let f = 1 + (moves[inst.baseCoin] ?? 0)
            switch inst.kind {
            case .perpetual, .future:
                i.markPrice *= f
            case .option:
                let t = (inst.expiry! - m.time) / TimeUnit.secondsPerYear
                let call: Int32 = inst.optionType == .call ? 1 : 0
                var p0 = 0.0, p1 = 0.0, d = 0.0, v = 0.0
                pm_black76_greeks(inst.underlyingPrice!, inst.strike!, t, inst.markIv!, call, &p0, &d, &v)
                i.underlyingPrice = inst.underlyingPrice! * f
                i.markIv = inst.markIv! * ivScale
                pm_black76_greeks(i.underlyingPrice!, inst.strike!, t, i.markIv!, call, &p1, &d, &v)
                // Keep the mark positive (MODEL.md §10) if the model offset would push it to 0.
                i.markPrice = max(p1 + (inst.markPrice - p0), inst.markPrice * 1e-6)
            }
            return i
        }
        return try MarketSnapshot(time: m.time, indexPrices: index, instruments: instruments)
    }

    /// Runs every combination over `input`. `progress(k, total)` is called after each combination.
    public static func run(_ input: BatchInput, base: PricedMarket, settings: [SweepSetting], top: Int, threads: Int = 2,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> [SweepCombination] {
        let combos = combinations(settings)
        let baseValues = settings.map { baseValue($0, parameters: base.parameters) }
        var results: [SweepCombination] = []
        // Books are built once; each combination only reprices them.
        let books = BatchRunner.books(input, priced: base, threads: threads)
        let baseline = BatchRunner.accountFigures(books, priced: base, accounts: input.accountCount, threads: threads)
        var first = SweepCombination(index: 0, values: baseValues)
        baseline.summarize(into: &first)
        results.append(first)
        progress(1, combos.count + 1)
        for (k, values) in combos.enumerated() where !settings.isEmpty {
            let priced = try scenario(settings, values: values, base: base)
            let figures = BatchRunner.accountFigures(books, priced: priced, accounts: input.accountCount, threads: threads)
            var c = SweepCombination(index: k + 1, values: values)
            figures.summarize(into: &c)
            c.top = figures.largestIncreases(over: baseline, count: top)
            results.append(c)
            progress(k + 2, combos.count + 1)
        }
        return results
    }
}
