import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The shipped parameter set is compiled into the library (a SwiftPM resource), so `pm` finds it
/// from any folder (its bytes: UnitTests' ShippedParameterTests).
@Suite struct ShippedParameterTests {
    static let file = TestSupport.path(ParameterSet.shippedName)

    /// A `pm` copied outside the package and run from an empty folder (no `data/` above it or
    /// above the executable) still margins with the shipped set: the same bytes, manifest included,
    /// as with `--params data/params/pm-params.json`.
    @Test func pmOutsideThePackageUsesTheCompiledInSet() throws {
        let dir = TestTemp.dir("shipped-params")
        defer { TestTemp.remove(dir) }
        let exe = dir + "/pm"
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: exe)
        let input = TestSupport.path("data/sample/accounts"), market = TestSupport.path("data/sample/market.json")
        let cwd = URL(fileURLWithPath: dir)
        let shipped = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir + "/a"], executable: exe, cwd: cwd)
        #expect(shipped.status == 0, "\(shipped.stderr)")
        let explicit = try CLI.run(["batch", "--input", input, "--market", market, "--params", Self.file, "--out", dir + "/b"], executable: exe, cwd: cwd)
        #expect(explicit.status == 0, "\(explicit.stderr)")
        for name in ["margins.csv", "units.csv", "manifest.json"] {
            // The manifest's one clock field (`finished`) aside, byte for byte.
            func bytes(_ run: String) -> [String]? {
                (try? String(contentsOfFile: dir + "/\(run)/" + name, encoding: .utf8))?
                    .split(separator: "\n").map(String.init).filter { !$0.contains("\"finished\"") }
            }
            #expect(bytes("a") != nil && bytes("a") == bytes("b"), "\(name) differs between the compiled-in set and the shipped file")
        }
    }
}
