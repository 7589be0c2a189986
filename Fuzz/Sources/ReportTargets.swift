// Target for `pm report`'s readers and page (Sources/PortfolioMargin/Report): arbitrary bytes as
// one file of a batch or backtest output folder.
import Foundation

/// Byte 0 picks the file the rest of the input is (mod 5: 0 margins.csv, 1 units.csv, 2 backtest.csv,
/// 3 scenarios.csv, 4 summary.json) and, in its high bits, a small read buffer (16 to 1024 bytes,
/// so records cross the buffer's end). The file is read twice — with that buffer and with one larger
/// than the input — and, when accepted, drawn as a page.
///
/// Invariant: no crash; a refusal is an `InputError` of one line, the same with either buffer; an
/// accepted file gives the same data with either buffer (the streaming cut never changes a value),
/// histogram bins that sum to the rows read, and a page that has no `<script` (any case) and in
/// which every text of the file appears only escaped (no `<` of the input outside a tag we write:
/// checked by the page holding no `<` followed by a byte the page's own tags never start with).
enum ReportTarget {
    static let files = ["margins.csv", "units.csv", "backtest.csv", "scenarios.csv", "summary.json"]

    enum Read: Equatable {
        case batch(BatchReportData)
        case backtest(BacktestReportData)
        case refused(String)
    }

    static func read(_ kind: Int, _ bytes: [UInt8], buffer: Int) -> Read {
        let name = files[kind]
        do {
            switch kind {
            case 0:
                var d = BatchReportData(folder: "f")
                try d.readMargins(path: name, bytes: bytes, bufferSize: buffer)
                return .batch(d)
            case 1:
                var d = BatchReportData(folder: "f")
                try d.readUnits(path: name, bytes: bytes, bufferSize: buffer)
                return .batch(d)
            case 2:
                var d = BacktestReportData(folder: "f")
                try d.readAccounts(path: name, bytes: bytes, bufferSize: buffer)
                return .backtest(d)
            case 3:
                var d = BacktestReportData(folder: "f")
                try d.readScenarios(path: name, bytes: bytes, bufferSize: buffer)
                return .backtest(d)
            default:
                var d = BacktestReportData(folder: "f")
                try d.readSummary(bytes, path: name)
                return .backtest(d)
            }
        } catch {
            Fuzz.checkMessage(error, "report")
            let text = "\(error)"
            if text.utf8.contains(10) || text.utf8.contains(13) { Fuzz.fail("report: message is not one line: \(text.debugDescription)") }
            return .refused(text)
        }
    }

    /// The tags the page writes start with one of these after `<`.
    static let tagStarts: Set<UInt8> = Set("!/abcdefghijklmnopqrstuvwxyz".utf8)

    static func checkPage(_ page: String) {
        let b = Array(page.utf8)
        if page.lowercased().contains("<script") { Fuzz.fail("report: the page contains <script") }
        for i in 0..<b.count where b[i] == UInt8(ascii: "<") {
            guard i + 1 < b.count, tagStarts.contains(b[i + 1]) else { Fuzz.fail("report: a bare < in the page at byte \(i)") }
        }
    }

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard let head = data.first else { return }
        let kind = Int(head) % files.count
        let buffer = 16 << Int((head / 5) % 7)
        let bytes = Array(data.dropFirst())
        let small = read(kind, bytes, buffer: buffer)
        // Larger than any input (maxlen 8192): one piece, as the default 4 MB buffer reads it, without
        // clearing 4 MB under the address sanitizer for every execution.
        let big = read(kind, bytes, buffer: 1 << 16)
        guard small == big else { Fuzz.fail("report: \(files[kind]) read differently with a \(buffer)-byte buffer: \(small) vs \(big)") }
        switch big {
        case .batch(let d):
            if kind == 0 {
                let bins = d.rateBins.reduce(0, +) + d.errors
                guard bins == d.accounts, d.stageCounts.reduce(0, +) + d.errors == d.accounts else {
                    Fuzz.fail("report: MM-rate bins \(d.rateBins) + errors \(d.errors) ≠ accounts \(d.accounts)")
                }
            }
            checkPage(Report.html(d))
        case .backtest(let d):
            if kind == 2, d.coverageBins.reduce(0, +) + d.errors != d.accounts || d.zoneCounts.reduce(0, +) + d.errors != d.accounts {
                Fuzz.fail("report: coverage bins \(d.coverageBins) + errors \(d.errors) ≠ accounts \(d.accounts)")
            }
            checkPage(Report.html(d))
        case .refused: break
        }
    }
}
