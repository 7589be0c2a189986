import Foundation
import PortfolioMargin

/// The command-line grammar of `pm sweep`'s settings (`--set`, `--shock`, `--iv-scale`); the library
/// takes the typed `SweepSetting`s. Errors are `InputError`s naming the option and the offending text.
extension SweepSetting {
    /// Parses `--set COIN.param=v1,v2`, `--shock COIN=m1,m2` or `--iv-scale s1,s2` values.
    static func parseSet(_ text: String) throws -> SweepSetting {
        let (key, values) = try split(text, what: "--set COIN.param=v1,v2,...")
        let dot = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard dot.count == 2, !dot[0].isEmpty, CoinParameters.numericKeys.contains(dot[1]) else {
            throw InputError(record: "--set \(InputError.echo(text))", field: InputError.shortLabel(key),
                             "expected COIN.param with param one of \(CoinParameters.numericKeys.joined(separator: ", "))")
        }
        // The bounds of a parameter file apply to every swept value (FORMATS.md "Bounds"):
        // `pricePoints=9.9` is refused, not computed with 9 and reported as 9.9.
        for v in values {
            if let message = CoinParameters.valueProblem(dot[1], v) {
                throw InputError(record: "--set \(InputError.echo(text))", field: InputError.shortLabel(key), message)
            }
        }
        return SweepSetting(kind: .parameter(coin: dot[0], name: dot[1]), values: values)
    }

    static func parseShock(_ text: String) throws -> SweepSetting {
        let (coin, values) = try split(text, what: "--shock COIN=m1,m2,...")
        guard values.allSatisfy({ $0 > -1 }) else { throw InputError(record: "--shock \(InputError.echo(text))", "moves must be greater than -1") }
        return SweepSetting(kind: .shock(coin: coin), values: values)
    }

    static func parseIvScale(_ text: String) throws -> SweepSetting {
        let values = try numbers(text, record: "--iv-scale \(InputError.echo(text))")
        guard values.allSatisfy({ $0 > 0 }) else { throw InputError(record: "--iv-scale \(InputError.echo(text))", "scales must be positive") }
        return SweepSetting(kind: .ivScale, values: values)
    }

    private static func split(_ text: String, what: String) throws -> (String, [Double]) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw InputError(record: InputError.echo(text), "expected \(what)") }
        return (parts[0], try numbers(parts[1], record: InputError.echo(text)))
    }

    private static func numbers(_ text: String, record: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw InputError(record: record, "expected a comma-separated list of numbers")
        }
        return values.map { $0! }
    }
}
