import ArgumentParser
import Foundation
import PortfolioMargin

/// Integer options and their bounds (docs/formats.md "Bounds": `--threads` 1…256, `--block-size`
/// 1…10^7, `--shard I/N` with 0 ≤ I < N ≤ 10^6, `--top` ≥ 1, `pm generate --accounts` 1…10^8).
///
/// Integer options are declared with `parsing: .unconditional` and `transform: CLIBounds.integer`:
/// the parser then takes `-5` as the option's value instead of an unknown flag ("Missing value"),
/// and any whole number — also one beyond `Int`, which saturates — reaches `validate()`, which
/// states the range in one line ("--threads must be between 1 and 256").
enum CLIBounds {
    static let threads = 1...256
    static let blockSize = 1...10_000_000
    static let maxShards = 1_000_000
    /// `pm generate --accounts`: far above the largest book measured (README "Performance").
    static let generatedAccounts = 1...100_000_000

    /// The default worker count: every core, within `threads`.
    static var defaultThreads: Int { min(max(ProcessInfo.processInfo.activeProcessorCount, threads.lowerBound), threads.upperBound) }

    /// A whole number in decimal with an optional sign; beyond `Int` it saturates to `Int.min`/`Int.max`
    /// (always out of every range, so `validate()` refuses it). Anything else is not a number.
    static func integer(_ text: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        var digits = Substring(t)
        var negative = false
        if let c = digits.first, c == "-" || c == "+" { negative = c == "-"; digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw ValidationError("expected a whole number")
        }
        return Int(t) ?? (negative ? Int.min : Int.max)
    }

    /// Throws the one-line range message when `value` is outside `range`.
    static func check(_ option: String, _ value: Int, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be between \(range.lowerBound) and \(range.upperBound)\(got(value))")
        }
    }

    /// `, got V`, left out for a saturated value (its text was beyond Int; V would not be what was typed).
    static func got(_ value: Int) -> String { value == .max || value == .min ? "" : ", got \(value)" }

    /// The options that may be given more than once: each occurrence adds a value.
    static let repeatable: Set<String> = ["--set", "--shock", "--add", "--index"]

    /// The first option of `arguments` (the words after the program name) given more than once
    /// that takes one value: the parser would keep the last silently, so it is refused instead
    /// ("--out given twice"). Words after a bare `--` are positionals.
    static func repeatedOption(_ arguments: [String]) -> String? {
        var seen = Set<String>()
        for word in arguments {
            if word == "--" { break }
            guard word.hasPrefix("--"), word.count > 2 else { continue }
            let name = String(word.prefix { $0 != "=" })
            if repeatable.contains(name) { continue }
            if !seen.insert(name).inserted { return name }
        }
        return nil
    }

    /// `--shard I/N` with 0 ≤ I < N ≤ 10^6 (docs/model.md §11.16).
    static func shard(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = try? integer(String(parts[0])), let n = try? integer(String(parts[1])) else {
            throw ValidationError("--shard expects I/N with 0 ≤ I < N ≤ \(maxShards), got \(InputError.echo(text))")
        }
        guard n >= 1 && n <= maxShards else {
            throw ValidationError("--shard I/N: N must be between 1 and \(maxShards)\(got(n))")
        }
        guard i >= 0 && i < n else {
            throw ValidationError("--shard I/N: I must be between 0 and N − 1 = \(n - 1)\(got(i))")
        }
        return (i, n)
    }
}
