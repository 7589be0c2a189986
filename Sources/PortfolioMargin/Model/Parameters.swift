import Foundation

/// The Portfolio Margin parameters of one coin (docs/model.md §9). Every number of the model is one of these.
public struct CoinParameters: Equatable, Sendable {
    /// Largest price move of the grid, R (docs/model.md §2, §9): moves run `s_k = −R + k·2R/(N−1)`, from −R to +R
    /// (0.10 = ±10%). Must lie in (0, 1). BTC/ETH 0.10, others 0.15.
    public var priceRange: Double
    /// Number of price points N of the grid (docs/model.md §2, §9); each has three vol shocks, so 3N scenarios.
    /// Odd (the middle move is the unmoved price), 3…``maxPricePoints``. Shipped 11.
    public var pricePoints: Int
    /// Relative up-shock of implied vol at 30 days (docs/model.md §2, §9): `σ_up = σ·(1 + ivUp·scale(DTE))`
    /// (0.24 = +24%). ≥ 0; 0 leaves vol unchanged in the `up` scenarios. BTC/ETH 0.24, others 0.30.
    public var ivUp: Double
    /// Relative down-shock of implied vol at 30 days (docs/model.md §2, §9):
    /// `σ_down = max(σ·(1 − ivDown·scale(DTE)), minShockedIv)`. ≥ 0. BTC/ETH 0.20, others 0.25.
    public var ivDown: Double
    /// Vega power p of the shock scaling `scale(DTE) = (30 / max(DTE, minDTE))^p` for DTE < 30
    /// (docs/model.md §2, §9); 0 makes the shock flat in tenor. Shipped 0.30.
    public var vegaPowerShort: Double
    /// Vega power p of the shock scaling for DTE ≥ 30 (docs/model.md §2, §9). Shipped 0.30 (Deribit documents 0.13).
    public var vegaPowerLong: Double
    /// Floor of DTE in the shock scaling, days (docs/model.md §2, §9, §11.13): an option closer to expiry is
    /// shocked as if it had `minDTE` days left. > 0. Shipped 1.
    public var minDTE: Double
    /// Lower bound of the down-shocked vol, absolute (0.01 = 1 vol point; docs/model.md §2, §11.13). Bounds
    /// only the down shock. > 0.
    public var minShockedIv: Double
    /// Near-expiry window, seconds (docs/model.md §2, §11.13): an option with fewer seconds left has its price
    /// moves shrunk linearly, `s_k · secondsToExpiry / decaySeconds`. > 0. Shipped 1800.
    public var decaySeconds: Double
    /// `IM = MM · imFactor` per unit (docs/model.md §7, §9). ≥ 0. BTC/ETH 1.2 (verified), others 1.25.
    public var imFactor: Double
    /// Factor of the short option contingency A, per coin of net short per (expiry, strike), times the
    /// index (docs/model.md §5A, §9). ≥ 0; 0 turns A off. BTC/ETH 0.01, others 0.015.
    public var shortOptionFactor: Double
    /// Factor of the vega spread contingency B, per day of tenor mismatch (docs/model.md §5B, §9). ≥ 0.
    /// BTC/ETH 0.0003, others 0.0005.
    public var vegaSpreadFactor: Double
    /// Factor of the USDT–USDC–USD settlement spread contingency C (docs/model.md §5C, §9). ≥ 0. Shipped 0.001.
    public var stablecoinSpreadFactor: Double
    /// Factor of the maturity-mismatch delta spread D1, per day (docs/model.md §5D, §9). ≥ 0.
    /// BTC/ETH 0.0003, others 0.0005.
    public var deltaSpreadFactor: Double
    /// Factor of the spot–derivative basis part D2 (docs/model.md §5D, §9, §11.9), applied to
    /// `max(0, |basis| − basisThreshold)`. ≥ 0. BTC/ETH 0.45, others 0.60.
    public var basisFactor: Double
    /// Basis (as a fraction of the index) below which D2 is 0 (docs/model.md §5D, §9). ≥ 0. Shipped 0.05.
    public var basisThreshold: Double
    /// Factor of the perpetual and futures contingency E: `Σ |δ_i| · futuresRiskFactor · index`
    /// (docs/model.md §5E, §9). ≥ 0. BTC 0.0003 (verified), others 0.0005.
    public var futuresRiskFactor: Double
    /// Whether this coin's spot balance may hedge its derivatives when the account has `spotHedging`
    /// on (docs/model.md §6, §9). BTC, ETH, SOL, ADA, AVAX, DOT in the shipped file.
    public var spotHedgeEligible: Bool
    /// Collateral value ratio of a positive balance in the margin balance (docs/model.md §8, §9), in [0, 1];
    /// liabilities always count at full value. BTC/ETH 0.95, USDT/USDC 1.0, others 0.90.
    public var collateralValueRatio: Double
    /// Tiered collateral ratios by quantity (docs/model.md §8, `CollateralTier`); nil for one ratio.
    public var collateralTiers: [CollateralTier]? = nil
    /// Maintenance margin rate on a liability: `MM_borrow = Σ liability · index · borrowMMRate`
    /// (docs/model.md §8, §9). ≥ 0. BTC/ETH 0.02, others 0.05.
    public var borrowMMRate: Double
    /// Initial margin rate on a liability, as `borrowMMRate` for IM (docs/model.md §8, §9). ≥ 0.
    /// BTC/ETH 0.05, others 0.10.
    public var borrowIMRate: Double
    /// Where each value comes from, keyed by parameter name.
    public var sources: [String: String]

    /// Makes a coin's parameters from every value of docs/model.md §9 (not validated: call
    /// ``validationProblem()``); `collateralTiers` starts `nil` (one ratio).
    public init(priceRange: Double, pricePoints: Int, ivUp: Double, ivDown: Double,
                vegaPowerShort: Double, vegaPowerLong: Double, minDTE: Double, minShockedIv: Double,
                decaySeconds: Double, imFactor: Double, shortOptionFactor: Double,
                vegaSpreadFactor: Double, stablecoinSpreadFactor: Double, deltaSpreadFactor: Double,
                basisFactor: Double, basisThreshold: Double, futuresRiskFactor: Double,
                spotHedgeEligible: Bool, collateralValueRatio: Double, borrowMMRate: Double,
                borrowIMRate: Double, sources: [String: String] = [:]) {
        self.priceRange = priceRange; self.pricePoints = pricePoints; self.ivUp = ivUp; self.ivDown = ivDown
        self.vegaPowerShort = vegaPowerShort; self.vegaPowerLong = vegaPowerLong; self.minDTE = minDTE
        self.minShockedIv = minShockedIv; self.decaySeconds = decaySeconds; self.imFactor = imFactor
        self.shortOptionFactor = shortOptionFactor; self.vegaSpreadFactor = vegaSpreadFactor
        self.stablecoinSpreadFactor = stablecoinSpreadFactor; self.deltaSpreadFactor = deltaSpreadFactor
        self.basisFactor = basisFactor; self.basisThreshold = basisThreshold
        self.futuresRiskFactor = futuresRiskFactor; self.spotHedgeEligible = spotHedgeEligible
        self.collateralValueRatio = collateralValueRatio; self.borrowMMRate = borrowMMRate
        self.borrowIMRate = borrowIMRate; self.sources = sources
    }

    /// The parameter names, as in the parameter file (docs/formats.md), in `CoinParameter.table` order.
    public static let allKeys = CoinParameter.table.map(\.name)
    /// The numeric parameter names (every one but the `spotHedgeEligible` flag).
    public static let numericKeys = CoinParameter.table.filter(\.isNumeric).map(\.name)

    /// Reads or writes a numeric parameter by its file name (for sweeps: `BTC.priceRange=0.15`);
    /// nil for a name that is not one.
    public subscript(numeric key: String) -> Double? {
        get { CoinParameter.named(key).flatMap { $0.isNumeric ? $0.value(self) : nil } }
        set {
            guard let v = newValue, let parameter = CoinParameter.named(key), parameter.isNumeric else { return }
            parameter.set(&self, v)
        }
    }

    /// The largest number of price points (docs/formats.md "Bounds"): the scenario grid and every risk
    /// array are allocated from it, so it must be bounded (1e8 points would ask for hundreds of GB).
    public static let maxPricePoints = 101

    /// Checks each parameter's `CoinParameter.Rule` (docs/model.md §9 and docs/formats.md "Bounds"):
    /// pricePoints an odd whole number 3…101, priceRange in (0, 1), every other value finite and
    /// ≥ 0 (minShockedIv, minDTE and decaySeconds > 0, collateralValueRatio ≤ 1). Returns the first
    /// problem in table order as (parameter, message), or nil.
    public func validationProblem() -> (String, String)? {
        for parameter in CoinParameter.table where parameter.isNumeric {
            if let message = parameter.rule.problem(parameter.value(self)) { return (parameter.name, message) }
        }
        return nil
    }

    /// Why `value` cannot be parameter `key` (one of `numericKeys`; another name is held to
    /// "finite and ≥ 0"), or nil. Checked before a value is stored, so that neither a parameter
    /// file nor a sweep's `--set` can truncate or trap.
    public static func valueProblem(_ key: String, _ v: Double) -> String? {
        (CoinParameter.named(key)?.rule ?? .nonNegative).problem(v)
    }

    /// A number as a message shows it (integers without `.0`; NaN and infinities as JSON tokens).
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(v)"
    }
}

/// One parameter of a coin (docs/model.md §9), declared once in ``table``: the parameter file's loader,
/// validation (``CoinParameters/validationProblem()``, ``CoinParameters/valueProblem(_:_:)``), the
/// sweep's `--set` (``CoinParameters/subscript(numeric:)``), ``CoinParameters/allKeys`` and the
/// parameter table of docs/formats.md (``markdownTable``, checked by a test) all read it.
public struct CoinParameter: Sendable {
    /// Where the value lives in ``CoinParameters``.
    public enum Field: Sendable {
        /// A number.
        case real(WritableKeyPath<CoinParameters, Double> & Sendable)
        /// A whole number (stored as `Int`; a value that is no `Int` is stored as 0, which its rule refuses).
        case whole(WritableKeyPath<CoinParameters, Int> & Sendable)
        /// `collateralValueRatio`: one number, or tiers (`CollateralTier`); setting the number drops the tiers.
        case collateralRatio
        /// A yes/no flag (not numeric: no rule, no `--set`).
        case flag(WritableKeyPath<CoinParameters, Bool> & Sendable)
    }

    /// What a value must be; each case's message is the loader's and the sweep's error text.
    public enum Rule: Sendable {
        /// Finite and ≥ 0.
        case nonNegative
        /// Finite and > 0; `unit` follows the 0 in the message (`" days"`).
        case positive(unit: String)
        /// In [0, 1].
        case fraction
        /// In (0, 1).
        case openFraction
        /// An odd whole number from 3 to ``CoinParameters/maxPricePoints``.
        case oddCount
        /// `true` or `false`.
        case flag

        /// Why `v` breaks the rule, or nil.
        public func problem(_ v: Double) -> String? {
            let n = CoinParameters.number(v)
            switch self {
            case .oddCount:
                let max = CoinParameters.maxPricePoints
                guard v.isFinite, v == v.rounded(), v >= 3, v <= Double(max), Int(v) % 2 == 1 else {
                    return "must be an odd whole number from 3 to \(max), got \(n)"
                }
            case .openFraction:
                guard v > 0 && v < 1 else { return "must be in (0, 1), got \(n)" }
            case .nonNegative, .positive, .fraction, .flag:
                guard v.isFinite, v >= 0 else { return "must be a finite number ≥ 0, got \(n)" }
                if case let .positive(unit) = self, v <= 0 { return "must be > 0\(unit), got \(n)" }
                if case .fraction = self, v > 1 { return "must be at most 1, got \(n)" }
            }
            return nil
        }

        /// The rule as docs/formats.md's table states it.
        public var text: String {
            switch self {
            case .nonNegative: return "≥ 0"
            case let .positive(unit): return "> 0" + unit
            case .fraction: return "in [0, 1], or tiers"
            case .openFraction: return "in (0, 1)"
            case .oddCount: return "odd, 3 to \(CoinParameters.maxPricePoints)"
            case .flag: return "true or false"
            }
        }
    }

    /// Its key in the parameter file and in `--set COIN.name=…`.
    public let name: String
    /// Where its value lives.
    public let field: Field
    /// What its value must be.
    public let rule: Rule
    /// The sections of docs/model.md that read it (`§5A`); a parameter of a `§5` section is read by
    /// the contingencies, so it is part of a sweep's contingency key (`ContingencyCalculator.inputsKey`).
    public let model: String
    /// One line for the docs' table.
    public let doc: String

    /// Whether it is a number (every parameter but a flag).
    public var isNumeric: Bool { if case .flag = field { return false } else { return true } }

    /// Whether the contingencies of docs/model.md §5 read it.
    public var isContingencyFactor: Bool { model.hasPrefix("§5") }

    /// Its value in `p` as a number (a flag as 0 or 1).
    public func value(_ p: CoinParameters) -> Double {
        switch field {
        case let .real(path): return p[keyPath: path]
        case let .whole(path): return Double(p[keyPath: path])
        case .collateralRatio: return p.collateralValueRatio
        case let .flag(path): return p[keyPath: path] ? 1 : 0
        }
    }

    /// Stores `v` in `p` (unchecked: the caller checks `rule` first).
    public func set(_ p: inout CoinParameters, _ v: Double) {
        switch field {
        case let .real(path): p[keyPath: path] = v
        // Never traps: a value that is no Int (9.9, 1e19, NaN) becomes 0, which `validationProblem`
        // refuses; loaders and sweeps check `rule` first.
        case let .whole(path): p[keyPath: path] = Int(exactly: v) ?? 0
        case .collateralRatio: p.collateralValueRatio = v; p.collateralTiers = nil
        case let .flag(path): p[keyPath: path] = v != 0
        }
    }

    /// The parameters the contingencies read (``isContingencyFactor``), in table order.
    static let contingencyFactors = table.filter(\.isContingencyFactor)

    /// The parameter called `name`, or nil.
    public static func named(_ name: String) -> CoinParameter? { table.first { $0.name == name } }

    /// Every parameter of a coin, in the parameter file's order (validation reports the first
    /// problem in this order). Their values and sources are in docs/model.md §9.
    public static let table: [CoinParameter] = [
        .init(name: "priceRange", field: .real(\.priceRange), rule: .openFraction, model: "§2",
              doc: "largest price move R of the grid (0.10 = ±10%)"),
        .init(name: "pricePoints", field: .whole(\.pricePoints), rule: .oddCount, model: "§2",
              doc: "price points N of the grid, each with three vol shocks"),
        .init(name: "ivUp", field: .real(\.ivUp), rule: .nonNegative, model: "§2",
              doc: "relative up-shock of implied vol at 30 days"),
        .init(name: "ivDown", field: .real(\.ivDown), rule: .nonNegative, model: "§2",
              doc: "relative down-shock of implied vol at 30 days"),
        .init(name: "vegaPowerShort", field: .real(\.vegaPowerShort), rule: .nonNegative, model: "§2",
              doc: "power of the shock scaling below 30 days"),
        .init(name: "vegaPowerLong", field: .real(\.vegaPowerLong), rule: .nonNegative, model: "§2",
              doc: "power of the shock scaling from 30 days"),
        .init(name: "minDTE", field: .real(\.minDTE), rule: .positive(unit: " days"), model: "§2, §11.13",
              doc: "floor of days to expiry in the shock scaling"),
        .init(name: "minShockedIv", field: .real(\.minShockedIv), rule: .positive(unit: ""), model: "§2, §11.13",
              doc: "lower bound of the down-shocked vol (0.01 = 1 vol point)"),
        .init(name: "decaySeconds", field: .real(\.decaySeconds), rule: .positive(unit: " seconds"), model: "§2, §11.13",
              doc: "near-expiry window in which price moves shrink linearly"),
        .init(name: "imFactor", field: .real(\.imFactor), rule: .nonNegative, model: "§7",
              doc: "IM = MM · imFactor per unit"),
        .init(name: "shortOptionFactor", field: .real(\.shortOptionFactor), rule: .nonNegative, model: "§5A",
              doc: "short option contingency per coin of net short per (expiry, strike)"),
        .init(name: "vegaSpreadFactor", field: .real(\.vegaSpreadFactor), rule: .nonNegative, model: "§5B",
              doc: "vega spread contingency per day of tenor mismatch"),
        .init(name: "stablecoinSpreadFactor", field: .real(\.stablecoinSpreadFactor), rule: .nonNegative, model: "§5C",
              doc: "USDT–USDC–USD settlement spread contingency"),
        .init(name: "deltaSpreadFactor", field: .real(\.deltaSpreadFactor), rule: .nonNegative, model: "§5D",
              doc: "maturity-mismatch delta spread D1 per day"),
        .init(name: "basisFactor", field: .real(\.basisFactor), rule: .nonNegative, model: "§5D",
              doc: "spot–derivative basis part D2, on the basis above basisThreshold"),
        .init(name: "basisThreshold", field: .real(\.basisThreshold), rule: .nonNegative, model: "§5D",
              doc: "basis (fraction of the index) below which D2 is 0"),
        .init(name: "futuresRiskFactor", field: .real(\.futuresRiskFactor), rule: .nonNegative, model: "§5E",
              doc: "perpetual and futures contingency per coin of absolute delta"),
        .init(name: "collateralValueRatio", field: .collateralRatio, rule: .fraction, model: "§8",
              doc: "share of a positive balance counted in the margin balance"),
        .init(name: "borrowMMRate", field: .real(\.borrowMMRate), rule: .nonNegative, model: "§8",
              doc: "maintenance margin rate on a liability"),
        .init(name: "borrowIMRate", field: .real(\.borrowIMRate), rule: .nonNegative, model: "§8",
              doc: "initial margin rate on a liability"),
        .init(name: "spotHedgeEligible", field: .flag(\.spotHedgeEligible), rule: .flag, model: "§6",
              doc: "whether the coin's spot balance may hedge its derivatives"),
    ]

    /// The parameter table of docs/formats.md, from ``table`` (a test checks the file holds it).
    public static var markdownTable: String {
        var out = "| parameter | rule | docs/model.md | meaning |\n|---|---|---|---|\n"
        for p in table { out += "| `\(p.name)` | \(p.rule.text) | \(p.model) | \(p.doc) |\n" }
        return out
    }
}

/// The account-level thresholds of docs/model.md §8 (liquidation staging and the liquidation plan).
///
/// Read from the parameter file's optional `stages` object; absent keys take docs/model.md's values.
public struct StagePolicy: Equatable, Sendable {
    /// `liquidation` at mmRate ≥ this (1.00).
    public var liquidationMMRate = 1.0
    /// `autoRepay` at mmRate ≥ this when the account has liabilities (0.85).
    public var autoRepayMMRate = 0.85
    /// `imBreach` at imRate ≥ this (1.00).
    public var imBreachIMRate = 1.0
    /// The liquidation plan reduces positions until mmRate ≤ this (0.90).
    public var liquidationTargetMMRate = 0.9
    /// Largest fraction of a position one plan step reduces (0.10).
    public var liquidationStepFraction = 0.1
    /// Where each value comes from, keyed by threshold name (the `stages` object's `sources`).
    public var sources: [String: String] = [:]

    /// docs/model.md §8's thresholds: liquidation at 1.00, auto-repay at 0.85, IM breach at 1.00, plan target
    /// 0.90, plan step 10%.
    public init() {}

    static let keys = ["liquidationMMRate", "autoRepayMMRate", "imBreachIMRate", "liquidationTargetMMRate", "liquidationStepFraction"]
}

/// A parameter file: per-coin entries over a `default` entry (docs/model.md §9, docs/formats.md).
public struct ParameterSet: Equatable, Sendable {
    /// The file's `name`.
    public var name: String
    /// Account-level thresholds (docs/model.md §8).
    public var stages = StagePolicy()
    /// The `default` entry: every coin without its own entry uses it.
    public var defaults: CoinParameters
    /// Coins with their own entry, fully resolved (missing keys taken from `default`).
    public var coins: [String: CoinParameters]

    /// A parameter set from its `default` entry and resolved per-coin entries; `stages` take docs/model.md's values.
    public init(name: String, defaults: CoinParameters, coins: [String: CoinParameters]) {
        self.name = name
        self.defaults = defaults
        self.coins = coins
    }

    /// The parameters of `coin` (its own entry, else `default`).
    public func parameters(for coin: String) -> CoinParameters { coins[coin] ?? defaults }

    /// Loads and validates a parameter file.
    public static func load(path: String) throws -> ParameterSet {
        try loadWithDigest(path: path).parameters
    }

    /// Loads and validates a parameter file and gives the digest of the bytes read
    /// (`manifest.json`, docs/formats.md "Scale-out").
    public static func loadWithDigest(path: String) throws -> (parameters: ParameterSet, digest: InputDigest) {
        let (bytes, digest) = try InputFile.readArray(path)
        do {
            return (try parse(JSON.parse(bytes)), InputDigest(digest))
        } catch let e as InputError {
            throw e.inFile(path)
        }
    }

    /// The keys a parameter document may hold at its top level.
    static let topLevelKeys = ["name", "stages", "coins"]

    /// Parses a parameter document (`{"name", "coins": {COIN: {...}, "default": {...}}}`).
    public static func parse(_ doc: JSON) throws -> ParameterSet {
        let top = JSONRecord(value: doc, file: "", record: "")
        guard case let .object(members) = doc else { throw InputError("expected a JSON object with `coins`") }
        // A misspelt top-level key (`coin`, `stage`) would otherwise leave its values unread.
        if let unknown = members.first(where: { !topLevelKeys.contains($0.0) }) {
            throw top.fail(InputError.shortLabel(unknown.0), "unknown key (expected one of \(topLevelKeys.joined(separator: ", ")))")
        }
        let name = try top.optionalString("name") ?? "unnamed"
        guard let coinsValue = top.optional("coins"), case let .object(entries) = coinsValue else {
            throw top.fail("coins", "missing or not an object")
        }
        guard let defaultValue = entries.first(where: { $0.0 == "default" })?.1 else {
            throw InputError(record: "coins", field: "default", "missing the `default` entry")
        }
        let defaults = try entry(defaultValue, coin: "default", base: nil)
        var coins: [String: CoinParameters] = [:]
        for (coin, value) in entries where coin != "default" {
            coins[coin] = try entry(value, coin: coin, base: defaults)
        }
        var set = ParameterSet(name: name, defaults: defaults, coins: coins)
        if let st = top.optional("stages") {
            let r = JSONRecord(value: st, file: "", record: "stages")
            guard case let .object(members) = st else { throw r.fail("", "expected an object") }
            for (k, _) in members where !StagePolicy.keys.contains(k) && k != "sources" {
                throw r.fail(InputError.shortLabel(k), "unknown threshold (expected one of \(StagePolicy.keys.joined(separator: ", ")))")
            }
            func read(_ k: String, _ v: inout Double) throws {
                // optionalNumber refuses NaN and ±Infinity; a threshold must also be positive.
                guard let x = try r.optionalNumber(k) else { return }
                guard x > 0 else { throw r.fail(k, "must be > 0, got \(CoinParameters.number(x))") }
                v = x
            }
            try read("liquidationMMRate", &set.stages.liquidationMMRate)
            try read("autoRepayMMRate", &set.stages.autoRepayMMRate)
            try read("imBreachIMRate", &set.stages.imBreachIMRate)
            try read("liquidationTargetMMRate", &set.stages.liquidationTargetMMRate)
            try read("liquidationStepFraction", &set.stages.liquidationStepFraction)
            if set.stages.liquidationStepFraction > 1 {
                throw r.fail("liquidationStepFraction", "must be at most 1, got \(CoinParameters.number(set.stages.liquidationStepFraction))")
            }
            if let s = r.optional("sources") {
                guard case let .object(srcs) = s else { throw r.fail("sources", "expected an object") }
                for (k, v) in srcs {
                    guard case let .string(text) = v else { throw r.fail("sources.\(InputError.shortLabel(k))", "expected a string") }
                    set.stages.sources[k] = text
                }
            }
        }
        return set
    }

    private static func entry(_ value: JSON, coin: String, base: CoinParameters?) throws -> CoinParameters {
        let r = JSONRecord(value: value, file: "", record: "coins.\(InputError.shortLabel(coin))")
        guard case let .object(members) = value else { throw r.fail("", "expected an object") }
        let known = Set(CoinParameters.allKeys + ["sources"])
        if let unknown = members.first(where: { !known.contains($0.0) }) {
            throw r.fail(InputError.shortLabel(unknown.0), "unknown parameter (expected one of \(CoinParameters.allKeys.joined(separator: ", ")))")
        }
        var p: CoinParameters
        if let base { p = base } else {
            // The default entry must be complete.
            for key in CoinParameters.allKeys where r.optional(key) == nil { throw r.fail(key, "missing") }
            p = CoinParameters(priceRange: 0, pricePoints: 0, ivUp: 0, ivDown: 0, vegaPowerShort: 0,
                               vegaPowerLong: 0, minDTE: 0, minShockedIv: 0, decaySeconds: 0, imFactor: 0,
                               shortOptionFactor: 0, vegaSpreadFactor: 0, stablecoinSpreadFactor: 0,
                               deltaSpreadFactor: 0, basisFactor: 0, basisThreshold: 0, futuresRiskFactor: 0,
                               spotHedgeEligible: false, collateralValueRatio: 0, borrowMMRate: 0, borrowIMRate: 0)
        }
        for parameter in CoinParameter.table where parameter.isNumeric {
            let key = parameter.name
            if case .collateralRatio = parameter.field, case .array? = r.optional(key) { continue }   // tiers: read below
            guard let v = try r.optionalNumber(key) else { continue }
            // Checked before it is stored: `pricePoints` of 9.9 must not become 9, nor 1e19 trap.
            if let message = parameter.rule.problem(v) { throw r.fail(key, message) }
            parameter.set(&p, v)
        }
        try CollateralTier.read(r, into: &p)
        for parameter in CoinParameter.table {
            guard case let .flag(path) = parameter.field, r.optional(parameter.name) != nil else { continue }
            p[keyPath: path] = try r.bool(parameter.name, default: false)
        }
        if let s = r.optional("sources") {
            guard case let .object(srcs) = s else { throw r.fail("sources", "expected an object") }
            var merged = base?.sources ?? [:]
            for (k, v) in srcs {
                guard case let .string(text) = v else { throw r.fail("sources.\(InputError.shortLabel(k))", "expected a string") }
                merged[k] = text
            }
            p.sources = merged
        }
        if let (key, message) = p.validationProblem() { throw r.fail(key, message) }
        return p
    }
}

/// Reads a whole file, with an `InputError` naming it when it cannot be read. The batch reader's
/// `InputFile` does the reading: only regular files (a pipe is refused, not waited on), a file that
/// changes while read is an error.
func readFile(_ path: String) throws -> [UInt8] {
    try InputFile.readArray(path).bytes
}
