import Foundation
import Testing
@testable import PMTestSupport

/// The library's layers, enforced: a file may name the types of its own layer and of the layers
/// below it, never of a layer above. The folders of `Sources/PortfolioMargin`, lowest first:
///
/// - `Support` — concurrency and process plumbing every layer may use;
/// - `Input` — readers of bytes: files, CSV, JSON, numbers, instants, digests, input errors;
/// - `Model` — accounts, markets, parameters (their loaders use the readers below);
/// - `Engine` — the book and the margin engine;
/// - `Results` — results as files and tables (batch rows, JSON, text, all-or-nothing outputs);
/// - `ScaleOut` — shards, manifests, split and merge;
/// - `Batch` — the batch pipeline (`BatchJob`);
/// - the tools, one layer: `WhatIf` (what-if, sweeps, smiles), `Bybit`, and the tools added
///   beside them. They may use every layer below, and one another.
///
/// A folder not in this list fails the test: a new room must be placed in the order.
struct LayerTests {
    static let layers: [[String]] = [
        ["Support"], ["Input"], ["Model"], ["Engine"], ["Results"], ["ScaleOut"], ["Batch"],
        ["WhatIf", "Bybit", "Backtest", "Explain", "Report", "Decisions"],
    ]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/PortfolioMargin").path

    /// Every Swift file of the library with its top folder (a file at the top belongs to `Support`).
    static func files() throws -> [(folder: String, path: String)] {
        let all = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }
        return all.sorted().map { rel in
            let parts = rel.split(separator: "/")
            return (parts.count > 1 ? String(parts[0]) : "Support", root + "/" + rel)
        }
    }

    /// The code of a file without comments and string literals (names in prose are not uses).
    static func code(_ text: String) -> String {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let rest = text[i...]
            if rest.hasPrefix("//") {
                i = text[i...].firstIndex(of: "\n") ?? text.endIndex
            } else if rest.hasPrefix("/*") {
                i = text.range(of: "*/", range: i..<text.endIndex)?.upperBound ?? text.endIndex
            } else if rest.hasPrefix("\"\"\"") {
                let after = text.index(i, offsetBy: 3)
                i = text.range(of: "\"\"\"", range: after..<text.endIndex)?.upperBound ?? text.endIndex
                out += "\"\""
            } else if text[i] == "\"" {
                var j = text.index(after: i)
                while j < text.endIndex && text[j] != "\"" && text[j] != "\n" {
                    if text[j] == "\\" { j = text.index(after: j); if j == text.endIndex { break } }
                    j = text.index(after: j)
                }
                i = j < text.endIndex ? text.index(after: j) : j
                out += "\"\""
            } else {
                out.append(text[i]); i = text.index(after: i)
            }
        }
        return out
    }

    /// The type names a file declares at its top level (column 0, after attributes and modifiers),
    /// but private ones, which no other file can name.
    static func declaredTypes(_ code: String) -> [String] {
        let pattern = #"(?m)^(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|final|indirect)\s+)*(?:struct|class|enum|protocol|typealias|actor)\s+([A-Z]\w*)"#
        let re = try! NSRegularExpression(pattern: pattern)
        return re.matches(in: code, range: NSRange(code.startIndex..., in: code)).map {
            String(code[Range($0.range(at: 1), in: code)!])
        }
    }

    static func identifiers(_ code: String) -> Set<String> {
        var ids = Set<String>(), cur = ""
        for ch in code.unicodeScalars {
            if CharacterSet.alphanumerics.contains(ch) || ch == "_" { cur.unicodeScalars.append(ch) } else if !cur.isEmpty { ids.insert(cur); cur = "" }
        }
        if !cur.isEmpty { ids.insert(cur) }
        return ids
    }

    static func rank(_ folder: String) -> Int? { layers.firstIndex { $0.contains(folder) } }

    /// Every top folder has a place in the order, and no file names a type of a higher layer.
    @Test func noLayerNamesAHigherOne() throws {
        let files = try Self.files()
        #expect(files.count > 40, "the library's sources were not found at \(Self.root)")
        let codes = try files.map { Self.code(try String(contentsOfFile: $0.path, encoding: .utf8)) }
        var owner: [String: String] = [:]   // type → folder
        for (f, c) in zip(files, codes) { for t in Self.declaredTypes(c) { owner[t] = owner[t] ?? f.folder } }
        var problems: [String] = []
        for folder in Set(files.map(\.folder)) where Self.rank(folder) == nil {
            problems.append("Sources/PortfolioMargin/\(folder) is in no layer (LayerTests.layers)")
        }
        for (f, c) in zip(files, codes) {
            guard let mine = Self.rank(f.folder) else { continue }
            for id in Self.identifiers(c).sorted() {
                guard let folder = owner[id], let theirs = Self.rank(folder), theirs > mine else { continue }
                problems.append("\(f.path.dropFirst(Self.root.count + 1)) (\(f.folder)) names \(id) of \(folder)")
            }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// The check itself: comments and strings are not uses, declarations are found, and a lower
    /// layer naming a higher one's type is caught.
    @Test func theCheckSeesUsesNotProse() {
        let text = """
        /// Uses `Sweep` in prose only.
        public final class Holder { let s = "Sweep"; let b: BatchJob }
        @usableFromInline struct Inner {}
        private struct Hidden {}
        """
        let c = Self.code(text)
        #expect(Self.declaredTypes(c) == ["Holder", "Inner"])
        #expect(Self.identifiers(c).contains("BatchJob"))
        #expect(!Self.identifiers(c).contains("Sweep"))
        #expect(Self.rank("Engine")! < Self.rank("Batch")!)
        #expect(Self.rank("Input")! < Self.rank("Model")!)
    }
}
