import Foundation

/// The command-line grammar of `pm sweep`'s settings (`--set`, `--shock`, `--iv-scale`); `Sweep`
/// takes the typed `SweepSetting`s. Errors are one-line `InputError`s naming the option and the
/// offending text. In the library (not the `pm` target) so that the fuzzers parse the same way.
extension SweepSetting {
    /// The most combinations one sweep may have (every combination is a priced market held at once).
    public static let maxCombinations = 10_000

    /// Every setting of one `pm sweep` invocation: the `--set` values, then the `--shock` values,
    /// then the `--iv-scale` values (each option's texts in the order given). A setting given twice
    /// (`--set BTC.priceRange` twice, `--shock BTC` twice, `--iv-scale` twice) is refused: two
    /// `sweep.csv` columns of one name, of which only the last would count, would be ambiguous.
    /// So is a sweep of more than `maxCombinations` combinations.
    public static func parseAll(set: [String], shock: [String], ivScale: [String]) throws -> [SweepSetting] {
        if ivScale.count > 1 {
            throw InputError("--iv-scale given twice (give one list of values: s1,s2,...)")
        }
        let parsed = try set.map { (option: "--set", setting: try parseSet($0)) }
            + shock.map { (option: "--shock", setting: try parseShock($0)) }
            + ivScale.map { (option: "--iv-scale", setting: try parseIvScale($0)) }
        var seen = Set<String>()
        for (option, s) in parsed where !seen.insert(s.name).inserted {
            let what: String
            switch s.kind {
            case let .parameter(coin, name): what = " \(InputError.shortLabel("\(coin).\(name)"))"
            case let .shock(coin): what = " \(InputError.shortLabel(coin))"
            case .ivScale: what = ""
            }
            throw InputError("\(option)\(what) given twice (give one list of values: v1,v2,...)")
        }
        var combinations = 1
        for (_, s) in parsed {
            combinations *= s.values.count
            if combinations > maxCombinations {
                throw InputError(record: "sweep", "the settings give more than \(maxCombinations) combinations (the product of their value counts)")
            }
        }
        return parsed.map(\.setting)
    }

    /// Parses one `--set COIN.param=v1,v2,...` value. Every value must lie within the parameter's
    /// bounds (docs/formats.md "Bounds"), as in a parameter file.
    public static func parseSet(_ text: String) throws -> SweepSetting {
        let (key, values) = try split(text, option: "--set", what: "--set COIN.param=v1,v2,...")
        let dot = key.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard dot.count == 2, !dot[0].isEmpty, CoinParameters.numericKeys.contains(dot[1]) else {
            throw InputError(record: "--set \(InputError.echo(text))", field: InputError.shortLabel(key),
                             "expected COIN.param with param one of \(CoinParameters.numericKeys.joined(separator: ", "))")
        }
        // `pricePoints=9.9` is refused, not computed with 9 and reported as 9.9.
        for v in values {
            if let message = CoinParameters.valueProblem(dot[1], v) {
                throw InputError(record: "--set \(InputError.echo(text))", field: InputError.shortLabel(key), message)
            }
        }
        return SweepSetting(kind: .parameter(coin: dot[0], name: dot[1]), values: values)
    }

    /// Parses one `--shock COIN=m1,m2,...` value (each move > −1).
    public static func parseShock(_ text: String) throws -> SweepSetting {
        let (coin, values) = try split(text, option: "--shock", what: "--shock COIN=m1,m2,...")
        guard values.allSatisfy({ $0 > -1 }) else {
            throw InputError(record: "--shock \(InputError.echo(text))", "moves must be greater than -1")
        }
        return SweepSetting(kind: .shock(coin: coin), values: values)
    }

    /// Parses the `--iv-scale s1,s2,...` value (each factor > 0).
    public static func parseIvScale(_ text: String) throws -> SweepSetting {
        let values = try numbers(text, record: "--iv-scale \(InputError.echo(text))")
        guard values.allSatisfy({ $0 > 0 }) else {
            throw InputError(record: "--iv-scale \(InputError.echo(text))", "scales must be positive")
        }
        return SweepSetting(kind: .ivScale, values: values)
    }

    private static func split(_ text: String, option: String, what: String) throws -> (String, [Double]) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw InputError(record: "\(option) \(InputError.echo(text))", "expected \(what)")
        }
        return (parts[0], try numbers(parts[1], record: "\(option) \(InputError.echo(text))"))
    }

    private static func numbers(_ text: String, record: String) throws -> [Double] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw InputError(record: record, "expected a comma-separated list of finite numbers")
        }
        // A value given twice would be two identical combinations.
        let list = values.map { $0! }
        if let i = list.indices.first(where: { i in list[..<i].contains(list[i]) }) {
            throw InputError(record: record, "the value \(CoinParameters.number(list[i])) is given twice")
        }
        return list
    }
}
