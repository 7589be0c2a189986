import Foundation
import Testing
@testable import PortfolioMargin

/// The shipped parameter set is compiled into the library (a SwiftPM resource): the same bytes as
/// `data/params/pm-params.json`, and found by `pm` from any folder.
@Suite struct ShippedParameterTests {
    static let file = TestSupport.path(ParameterSet.shippedName)

    @Test func theCompiledInBytesAreTheShippedFile() throws {
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.file)))
        #expect(ParameterSet.shippedBytes == onDisk)
        #expect(try ParameterSet.shipped() == ParameterSet.load(path: Self.file))
        let (_, digest) = try ParameterSource.shipped.loadWithDigest()
        #expect(digest == (try InputDigest(path: Self.file)))
        #expect(ParameterSource.shipped.description.contains(ParameterSet.shippedName))
        #expect(ParameterSource.file("x.json").description == "x.json")
    }

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
