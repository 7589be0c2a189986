import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The formatter's digit and layout paths (digits 8 at a time by fixed-point
/// multiplication, the digit count from the bit length, zero written in Swift) print exactly
/// `Double.description` (docs/model.md §11.17) at every boundary they introduce.
///
/// `PM_FORMAT_CHECK=N` runs the large check on N doubles of seven bit-pattern distributions
/// (a 120M run is reported in the issue-9 notes); without it, 700k run.
struct NumberFormatDigitTests {
    func mismatches(_ values: [Double]) -> [String] {
        var bad: [String] = []
        for v in values where v.isFinite {
            for x in [v, -v] {
                let want = x == 0 ? "0.0" : x.description
                let got = NumberFormat.text(x)
                if got != want { bad.append("\(want) printed \(got)") }
            }
        }
        return bad
    }

    /// Every digit count 1…17 (the 8- and 16-digit word boundaries of the digit writer) at every
    /// decimal exponent of the plain layout and around the switches to exponent notation.
    @Test func everyDigitCountAtEveryExponent() {
        var rng = SplitMix(seed: 9)
        var values: [Double] = []
        for digits in 1...17 {
            let low = Foundation.pow(10.0, Double(digits - 1)), high = Foundation.pow(10.0, Double(digits)) - 1
            for e in -30...30 {
                let scale = Foundation.pow(10.0, Double(e))
                values += [low * scale, high * scale, (low * scale).nextUp, (high * scale).nextDown]
                for _ in 0..<4 { values.append((low + Double(rng.next() % UInt64(high - low + 1))) * scale) }
            }
        }
        #expect(mismatches(values).isEmpty, "\(mismatches(values).prefix(5))")
    }

    /// Integers around 2^53 (plain up to 2^53, then exponent form) and the neighbours of 1e16 and
    /// 1e-4, the two layout switches.
    @Test func layoutSwitches() {
        var values: [Double] = []
        var v = 9007199254740992.0
        for _ in 0..<300 { values.append(v); v = v.nextDown }
        v = 9007199254740992.0
        for _ in 0..<300 { v = v.nextUp; values.append(v) }
        for edge in [1e16, 1e15, 1e-4, 1e-5, 1e-3, 0.1, 1, 10] {
            var up = edge, down = edge
            for _ in 0..<200 { values += [up, down]; up = up.nextUp; down = down.nextDown }
        }
        for i in 0..<100_000 { values.append(Double(i)); values.append(Double(i) * 1e10) }
        #expect(mismatches(values).isEmpty, "\(mismatches(values).prefix(5))")
        #expect(NumberFormat.text(-0.0) == "0.0" && NumberFormat.text(0) == "0.0")
        #expect(NumberFormat.text(9007199254740992) == "9007199254740992.0")
        #expect(NumberFormat.text(9007199254740994) == "9.007199254740994e+15")
        #expect(NumberFormat.text(12345678.9) == "12345678.9" && NumberFormat.text(123456789.1) == "123456789.1")
    }

    /// Random doubles of seven distributions: uniform bit patterns, 1e-21…1e21, subnormals,
    /// money-like decimals, few mantissa bits, integers of every size, neighbours of powers of 10.
    @Test func largeCheckAgainstDescription() {
        let total = ProcessInfo.processInfo.environment["PM_FORMAT_CHECK"].flatMap { Int($0) } ?? 700_000
        var rng = SplitMix(seed: 2026)
        let p10: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10]
        var bad: [String] = []
        for i in 0..<total {
            var b = rng.next()
            switch i % 7 {
            case 0: break
            case 1: b = (b & 0x800f_ffff_ffff_ffff) | (UInt64(1023 - 70 + Int(rng.next() % 140)) << 52)
            case 2: b &= 0x800f_ffff_ffff_ffff
            case 3: b = (Double(Int64(bitPattern: rng.next()) % 100_000_000_000_000) / p10[Int(rng.next() % 11)]).bitPattern
            case 4: b = (b & 0x8000_0000_0000_0000) | (b & (0x7ff << 52)) | ((rng.next() & 0xfff) << 40)
            case 5: b = Double(Int64(bitPattern: rng.next()) >> Int(rng.next() % 64)).bitPattern
            default: b = Foundation.pow(10.0, Double(Int(rng.next() % 60) - 30)).bitPattern &+ (rng.next() % 9) &- 4
            }
            let v = Double(bitPattern: b)
            guard v.isFinite else { continue }
            let want = v == 0 ? "0.0" : v.description
            if NumberFormat.text(v) != want, bad.count < 5 { bad.append("\(want) printed \(NumberFormat.text(v))") }
        }
        #expect(bad.isEmpty, "\(bad)")
    }
}
