import Foundation
import Testing
@testable import PMTestSupport

/// Every `@unchecked Sendable` and `nonisolated(unsafe)` in the sources carries its proof: a `//`
/// comment naming the escape hatch and saying why it is safe (`// @unchecked Sendable: …`), in the
/// comment block right above the declaration or on the first line of its body. The compiler cannot
/// check these promises, so each one is written where a reader of the declaration sees it.
@Suite struct UnsafeProofTests {
    /// The places that lack the proof, as `file:line`.
    static func unproven(in root: String) throws -> [String] {
        var missing: [String] = []
        let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted() ?? []
        for file in files {
            let lines = try String(contentsOfFile: root + "/" + file, encoding: .utf8).components(separatedBy: "\n")
            for (i, line) in lines.enumerated() {
                let code = line.components(separatedBy: "//")[0]
                for hatch in ["@unchecked Sendable", "nonisolated(unsafe)"] where code.contains(hatch) {
                    // The comment block above (doc comments, `//` lines, attributes), then the next line.
                    var proof = false, j = i - 1
                    while j >= 0 {
                        let t = lines[j].trimmingCharacters(in: .whitespaces)
                        guard t.hasPrefix("//") || t.hasPrefix("@") || t.hasPrefix("#") else { break }
                        if t.hasPrefix("//") && (t.contains(hatch + ":") || t.contains("`" + hatch + "`")) { proof = true }
                        j -= 1
                    }
                    if i + 1 < lines.count, lines[i + 1].trimmingCharacters(in: .whitespaces).hasPrefix("// " + hatch + ":") { proof = true }
                    if !proof { missing.append("\(file):\(i + 1)") }
                }
            }
        }
        return missing
    }

    @Test func everyEscapeHatchSaysWhyItIsSafe() throws {
        let root = TestSupport.path("Sources")
        #expect(try Self.unproven(in: root) == [])
    }

    /// The check itself finds a hatch without its proof, and accepts one with it.
    @Test func theCheckFindsAMissingProof() throws {
        let dir = TestTemp.dir("unsafe-proof")
        defer { TestTemp.remove(dir) }
        try "final class A: @unchecked Sendable {}\n\n// @unchecked Sendable: only read.\n/// Doc.\nfinal class B: @unchecked Sendable {}\nfinal class C: @unchecked Sendable {\n    // @unchecked Sendable: under the lock.\n}\n/// A table written once.\nnonisolated(unsafe) let d = 0\n"
            .write(toFile: dir + "/x.swift", atomically: true, encoding: .utf8)
        #expect(try Self.unproven(in: dir) == ["x.swift:1", "x.swift:10"])
    }
}
