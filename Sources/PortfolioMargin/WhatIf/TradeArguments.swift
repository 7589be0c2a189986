/// The arguments of `pm whatif --max-size` and `pm hedge`, read from their command-line text.
/// Every error is one line whose record is the option (`--step`, `--kinds`, …).
public enum TradeArguments {
    /// The largest `--step`: a million coins or USD contracts.
    public static let maxStep = 1e6
    /// The smallest `--step`: 10^-8, a satoshi — finer than any exchange's lot size. A finer grid
    /// would only spend the search on sizes too small to trade (and, without `--max`, shrink the
    /// default cap of 10^6 steps to nothing).
    public static let minStep = 1e-8
    /// The largest `--max`.
    public static let maxCap = 1e12
    /// The largest `--top`.
    public static let maxTop = 1_000_000

    /// The value of a decimal number argument: an optional sign, digits with at most one `.`, an
    /// optional exponent `e±N`, as the CSV files write numbers (no spaces around it, as there);
    /// nil for anything else — hex (`0x10`, which `Double(_:)` would read as 16), `nan`, `inf`,
    /// `" 1"` — and for a value beyond the double range.
    public static func decimal(_ text: some StringProtocol) -> Double? {
        var s = String(text)
        return s.withUTF8 { $0.isEmpty ? nil : FastNumber.parse($0.baseAddress!, $0.count) }
    }

    /// A finite decimal number `0 < x ≤ bound` for `option`.
    public static func positive(_ text: String, option: String, bound: Double) throws -> Double {
        guard let x = decimal(text) else {
            throw InputError(record: option, "expected a finite decimal number, got \(InputError.echo(text))")
        }
        guard x > 0 && x <= bound else {
            throw InputError(record: option, "must be greater than 0 and at most \(NumberFormat.text(bound)), got \(InputError.echo(text))")
        }
        return x
    }

    /// `--step` and `--max` together: each in range, and at most `MaxSize.maxGridPoints` grid points.
    ///
    /// - Parameter defaultStep: the step used when `--step` is not given (the instrument's,
    ///   `MaxSize.defaultStep`); nil when the instrument is not known yet, and then the number of
    ///   grid points is checked only for a given `--step`.
    public static func grid(step: String?, max: String?, defaultStep: Double? = nil) throws -> (step: Double?, max: Double?) {
        let s = try step.map { try positive($0, option: "--step", bound: maxStep) }
        if let s, s < minStep {
            throw InputError(record: "--step", "must be at least \(NumberFormat.text(minStep)), got \(InputError.echo(step!))")
        }
        let m = try max.map { try positive($0, option: "--max", bound: maxCap) }
        // The grid is counted with the step it will use: an inverse instrument's default is 1 USD
        // contract, a linear one's 0.001 coin.
        if let m, let used = s ?? defaultStep {
            let points = m / used
            guard points <= Double(MaxSize.maxGridPoints) else {
                throw InputError(record: "--max", "--max / --step must be at most \(MaxSize.maxGridPoints) grid points, got \(NumberFormat.text(points.rounded(.up)))")
            }
        }
        return (s, m)
    }

    /// `buy` or `sell`.
    public static func side(_ text: String) throws -> Side {
        switch text {
        case "buy": return .buy
        case "sell": return .sell
        default: throw InputError(record: "--side", "expected buy or sell, got \(InputError.echo(text))")
        }
    }

    /// `buy` or `sell`, as the outputs write a side.
    public static func word(_ side: Side) -> String { side == .buy ? "buy" : "sell" }

    /// A size for a table: a whole number without a decimal point (`14`, not `14.0`), otherwise
    /// the shortest decimal that reads back (`14.54`).
    public static func sizeText(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : NumberFormat.text(x)
    }

    /// `n · step`, written as the decimal it stands for: with a step of d ≤ 12 decimals, the nearest
    /// double to n·step rounded to d decimals (14.54, not 14.540000000000001), else `n · step`.
    public static func gridSize(_ n: Double, step: Double) -> Double {
        let x = n * step
        var scale = 1.0
        for _ in 0...12 {
            let scaled = step * scale
            if scaled == scaled.rounded() {
                let y = (x * scale).rounded() / scale
                return y.isFinite ? y : x
            }
            scale *= 10
        }
        return x
    }

    /// `im`, `mm` or `stage`.
    public static func limit(_ text: String) throws -> MarginLimit {
        guard let l = MarginLimit(rawValue: text) else {
            throw InputError(record: "--limit", "expected im, mm or stage, got \(InputError.echo(text))")
        }
        return l
    }

    /// A comma list of `perpetual`, `future`, `option`, `spot`, each at most once.
    public static func kinds(_ text: String) throws -> Set<HedgeKind> {
        var out = Set<HedgeKind>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let k = HedgeKind(rawValue: String(part)) else {
                throw InputError(record: "--kinds", "expected a comma list of perpetual, future, option, spot, got \(InputError.echo(String(part)))")
            }
            guard out.insert(k).inserted else { throw InputError(record: "--kinds", "\(k.rawValue) listed twice") }
        }
        return out
    }

    /// `--top`: a whole number 1…`maxTop`.
    public static func top(_ text: String) throws -> Int {
        guard let n = Int(text.trimmingSpaces), n >= 1, n <= maxTop else {
            throw InputError(record: "--top", "expected a whole number from 1 to \(maxTop), got \(InputError.echo(text))")
        }
        return n
    }

    /// `--coin`: a base coin the market prices.
    public static func coin(_ text: String, priced: PricedMarket) throws -> String {
        guard priced.coinSlotByName[text] != nil else {
            throw InputError(record: "--coin", "\(InputError.echo(text)) is not a base coin of the market (its instruments: \(priced.baseCoins.joined(separator: ", ")))")
        }
        return text
    }

    /// `--max-size SYMBOL`: a listed instrument that can be margined.
    public static func symbol(_ text: String, priced: PricedMarket) throws -> Instrument {
        guard let i = priced.market.indexOf(text) else {
            throw InputError(record: "--max-size", "\(InputError.echo(text)) is not in the market")
        }
        if let problem = priced.problem[i] {
            throw InputError(record: "--max-size", "\(InputError.echo(text)) cannot be margined: \(problem.message)")
        }
        return priced.market.instruments[i]
    }
}

extension String {
    /// Without leading and trailing spaces (not other whitespace: `Double` refuses those itself).
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
