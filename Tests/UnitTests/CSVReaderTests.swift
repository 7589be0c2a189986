import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The batch CSV reader: line splitting, quoting, line endings, and the fast number parser.
struct CSVReaderTests {
    func lines(_ text: String, columns: [String]) throws -> [[String]] {
        let dir = TestTemp.dir("csv")
        defer { TestTemp.remove(dir) }
        let path = dir + "/lines.csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let csv = try CSVFile(path: path, required: columns)
        var out: [[String]] = []
        try csv.forEachLine(in: csv.dataStart..<csv.file.bytes.count, firstLine: 1) { _, f in out.append(f.map(fieldText)) }
        return out
    }

    @Test func splitsPlainQuotedAndLongLines() throws {
        let long = String(repeating: "x", count: 70)
        let text = "\u{FEFF}a,b,c\r\n1,2,3\r\n\n\"q,1\",\"say \"\"hi\"\"\",\(long)\n,,\n4,5,6"
        let rows = try lines(text, columns: ["a", "b", "c"])
        #expect(rows == [["1", "2", "3"], ["q,1", "say \"hi\"", long], ["", "", ""], ["4", "5", "6"]])
    }

    @Test func commasAcrossSixteenByteBoundaries() throws {
        // Field widths that put commas at every offset of a 16-byte step.
        var text = "a,b,c,d\n"
        var expected: [[String]] = []
        for w in 0..<40 {
            let f = [String(repeating: "1", count: w), String(repeating: "2", count: (w * 7) % 19), "3", String(repeating: "4", count: 33 - w % 33)]
            text += f.joined(separator: ",") + "\n"
            expected.append(f)
        }
        #expect(try lines(text, columns: ["a", "b", "c", "d"]) == expected)
    }

    @Test func wrongFieldCountNamesTheLine() throws {
        do {
            _ = try lines("a,b\n1,2\n1,2,3\n", columns: ["a", "b"])
            Issue.record("expected an error")
        } catch let e as FieldCountError {
            #expect(e.line == 3 && e.count == 3 && e.expected == 2)
        }
    }

    @Test func fastNumberParsesExactlyLikeTheStandardLibrary() {
        var rng = SplitMix(seed: 99)
        var texts = ["0", "-0", "1", "0.1", "-12.5", "1e-7", "3.0E+2", "123456789012345678901234", "0.30000000000000004",
                     "91250.37", "-0.000001", "4.9406564584124654e-324", "1.7976931348623157e308", ".5", "5."]
        for _ in 0..<2000 {
            let v = (rng.unit() - 0.5) * pow(10, Double(Int(rng.next() % 20)) - 8)
            texts.append("\(v)")
            texts.append(String(format: "%.6f", v))
        }
        for t in texts {
            let bytes = Array(t.utf8)
            let got = bytes.withUnsafeBufferPointer { FastNumber.parse($0.baseAddress!, $0.count) }
            #expect(got == Double(t), "\(t)")
        }
        for bad in ["", "-", "abc", "1.2.3", "1e", "--1", "1,5"] {
            let bytes = Array(bad.utf8) + [0]
            #expect(bytes.withUnsafeBufferPointer { FastNumber.parse($0.baseAddress!, bad.utf8.count) } == nil, "\(bad)")
        }
    }
}
