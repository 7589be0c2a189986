import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Error messages stay one line and echo at most 80 characters of a value (docs/formats.md).
struct InputErrorTests {
    @Test func controlCharactersAreEscapedSoAMessageIsOneLine() {
        let e = InputError(file: "positions.csv", record: "line 3", field: "symbol", "unknown instrument \"BTC\u{0}USDT\nX\"")
        #expect(e.description == "positions.csv: line 3: symbol: unknown instrument \"BTC\\0USDT\\nX\"")
        #expect(!e.description.contains("\n"))
    }

    @Test func longValuesAreCutTo80Characters() {
        let big = String(repeating: "9", count: 1_000_000)
        let echoed = InputError.echo(big)
        #expect(echoed == "\"" + String(repeating: "9", count: 80) + "…\" (1000000 characters)")
        #expect(InputError.echo("short") == "\"short\"")
        #expect(InputError.echo(String(repeating: "x", count: 80)) == "\"" + String(repeating: "x", count: 80) + "\"")
    }

    @Test func fieldEchoDecodesOnlyTheHeadOfAHugeField() {
        let bytes = [UInt8](repeating: 65, count: 5000)
        let echoed = bytes.withUnsafeBufferPointer { fieldEcho(($0.baseAddress!, $0.count)) }
        #expect(echoed == "\"" + String(repeating: "A", count: 80) + "…\" (5000 bytes)")
    }
}
