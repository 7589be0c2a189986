import Foundation
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// The output number formatter (CKernels `pm_format_double`, Dragonbox's digits; Ryu's before) prints exactly what
/// `Double.description` prints (docs/model.md §11.17), so moving to it changed no byte of any output.
struct NumberFormatTests {
    func ours(_ v: Double) -> String { NumberFormat.text(v) }

    @Test func layoutMatchesSwift() {
        let cases: [(Double, String)] = [
            (1, "1.0"), (0.1, "0.1"), (100, "100.0"), (1e15, "1000000000000000.0"), (1e16, "1e+16"),
            (9007199254740992, "9007199254740992.0"), (9007199254740994, "9.007199254740994e+15"),
            (1e-4, "0.0001"), (1e-5, "1e-05"), (0.00012345, "0.00012345"), (2.5e-7, "2.5e-07"),
            (.leastNonzeroMagnitude, "5e-324"), (.greatestFiniteMagnitude, "1.7976931348623157e+308"), (1e100, "1e+100"),
            (-1.5e-5, "-1.5e-05"), (2.0 / 3.0, "0.6666666666666666"), (123456789012.5, "123456789012.5"),
            (0, "0.0"), (-0.0, "0.0"), (.infinity, "inf"), (-.infinity, "-inf"), (.nan, "nan"),
        ]
        for (v, text) in cases { #expect(ours(v) == text, "\(v)") }
    }

    /// Every power of two and of ten with its neighbours, integers, cents, and random bit patterns
    /// (bench and a one-off run checked hundreds of millions more; see README).
    @Test func agreesWithDescriptionOnEdgesAndRandomDoubles() {
        var values: [Double] = [.leastNonzeroMagnitude, .leastNormalMagnitude, .leastNormalMagnitude.nextDown]
        for e in -1074...1023 { let v = Foundation.pow(2.0, Double(e)); values += [v, v.nextUp, v.nextDown] }
        for e in -323...308 {
            for m in [1.0, 1.5, 2, 5, 9.999] { let v = m * Foundation.pow(10.0, Double(e)); values += [v, v.nextUp, v.nextDown] }
        }
        for i in 0..<20_000 { values += [Double(i), Double(i) / 100, Double(i) / 1000 + 0.5] }
        var rng = SplitMix(seed: 42)
        for _ in 0..<200_000 { values.append(Double(bitPattern: rng.next() & 0x7fef_ffff_ffff_ffff)) }
        var mismatches: [String] = []
        for v in values where v.isFinite && v != 0 {
            for x in [v, -v] where ours(x) != x.description {
                mismatches.append("\(x.description) printed \(ours(x))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func byteBufferWritesTheSameText() {
        var b = ByteBuffer()
        for v in [0.1, -2.5e-7, 1e300, 42] { b.number(v); b.byte(44) }
        #expect(String(decoding: b.bytes, as: UTF8.self) == "0.1,-2.5e-07,1e+300,42.0,")
    }
}
