import Foundation

/// Daily market history for the coverage backtest (docs/model.md §13, docs/formats.md "Coverage
/// backtest"): a folder with `index-daily.csv` (`date,coin,close`, USD) and, optionally,
/// `iv-daily.csv` (`date,coin,iv`, decimal).
///
/// Both files follow the batch input's CSV rules (header row, any column order, RFC 4180 quoting).
/// Dates are `YYYY-MM-DD` (UTC days) and must exist in the calendar; a duplicate (date, coin), a
/// close or IV that is not a finite number above 0, or a missing column is an ``InputError``
/// naming the file, line and field.
public struct History: Sendable {
    /// The coins with closes, alphabetical.
    public let coins: [String]
    /// The coins with an IV history, alphabetical.
    public let ivCoins: [String]
    /// Closes per coin: day number (days since 1970-01-01) → close.
    let closes: [String: [Int: Double]]
    /// IVs per coin: day number → IV.
    let ivs: [String: [Int: Double]]
    /// The files read and their digests, for `manifest.json` (`index-daily.csv`, and
    /// `iv-daily.csv` when present).
    public let digests: [(name: String, digest: InputDigest)]
    /// The folder read (empty for a history built in memory): errors found later name its files.
    var folder = ""

    /// The path of the history file `name` (`index-daily.csv`, `iv-daily.csv`), for messages.
    func path(_ name: String) -> String { folder.isEmpty ? name : folder + "/" + name }

    /// The file names inside a history folder.
    public static let indexFile = "index-daily.csv"
    /// The optional IV file.
    public static let ivFile = "iv-daily.csv"

    /// The close of `coin` on day `day` (days since 1970-01-01), or nil.
    public func close(_ coin: String, day: Int) -> Double? { closes[coin]?[day] }
    /// The IV of `coin` on day `day`, or nil.
    public func iv(_ coin: String, day: Int) -> Double? { ivs[coin]?[day] }

    /// Reads the history folder `directory`. `iv-daily.csv` may be absent (then no coin has an IV
    /// history); `index-daily.csv` is required.
    public static func load(directory: String) throws -> History {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw InputError(file: directory, "history folder not found")
        }
        guard isDir.boolValue else {
            throw InputError(file: directory, "is a file, not a history folder (expected a folder with \(indexFile) and optionally \(ivFile))")
        }
        let indexPath = directory + "/" + indexFile
        let (closes, indexDigest) = try readSeries(path: indexPath, value: "close")
        var digests = [(name: indexFile, digest: indexDigest)]
        var ivs: [String: [Int: Double]] = [:]
        let ivPath = directory + "/" + ivFile
        if FileManager.default.fileExists(atPath: ivPath) {
            let (v, d) = try readSeries(path: ivPath, value: "iv")
            ivs = v
            digests.append((name: ivFile, digest: d))
        }
        return History(coins: closes.keys.sorted(), ivCoins: ivs.keys.sorted(), closes: closes, ivs: ivs, digests: digests, folder: directory)
    }

    /// The day number of a `YYYY-MM-DD` text (days since 1970-01-01), or the reason it is not one.
    public static func day(_ text: String) -> Result<Int, InputError> {
        let shape = InputError("expected a date YYYY-MM-DD, got \(InputError.echo(text))")
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == 45, b[7] == 45 else { return .failure(shape) }
        do {
            let secs = try ISO8601.parse(text)
            return .success(Int((secs / 86400).rounded(.down)))
        } catch let e as ISO8601.Invalid {
            return .failure(InputError("\(e.reason), got \(InputError.echo(text))"))
        } catch {
            return .failure(shape)
        }
    }

    /// The `YYYY-MM-DD` text of a day number.
    public static func dateText(_ day: Int) -> String {
        String(ISO8601.format(Double(day) * 86400).prefix(10))
    }

    /// One series file: coin → day → value (> 0, finite), and its digest.
    static func readSeries(path: String, value: String) throws -> ([String: [Int: Double]], InputDigest) {
        let csv: CSVFile
        // Broken quoting in the header is a CSV record error of line 1: an InputError like the rest.
        do { csv = try CSVFile(path: path, required: ["date", "coin", value]) } catch let e as CSVRecordError {
            throw e.inputError(lineOffset: 0)
        }
        let digest = InputDigest(csv.file.bytes)
        let cDate = csv.column("date")!, cCoin = csv.column("coin")!, cValue = csv.column(value)!
        var out: [String: [Int: Double]] = [:]
        var firstLine: [String: [Int: Int]] = [:]
        let b = csv.file.bytes
        guard b.count > csv.dataStart else { return (out, digest) }
        do { try csv.forEachLine(in: csv.dataStart..<b.count) { relative, f in
            let line = csv.headerLines + relative   // physical line in the file (the header is line 1)
            let record = "line \(line)"
            if !csv.isValidUTF8, let k = csv.invalidUTF8Field(f) {
                throw InputError(file: path, record: record, field: csv.columns[k], "invalid UTF-8: \(fieldEcho(f[k]))")
            }
            let dateText = fieldText(f[cDate]).trimmingCharacters(in: .whitespaces)
            let day: Int
            switch Self.day(dateText) {
            case .success(let d): day = d
            case .failure(let e): throw InputError(file: path, record: record, field: "date", e.message)
            }
            let coin = fieldText(f[cCoin]).trimmingCharacters(in: .whitespaces)
            guard !coin.isEmpty else { throw InputError(file: path, record: record, field: "coin", "empty coin") }
            let text = fieldText(f[cValue]).trimmingCharacters(in: .whitespaces)
            guard let v = text.utf8.withContiguousStorageIfAvailable({ FastNumber.parse($0.baseAddress!, $0.count) }) ?? Double(text),
                  v.isFinite else {
                throw InputError(file: path, record: record, field: value, "expected a finite number, got \(InputError.echo(text))")
            }
            guard v > 0 else {
                throw InputError(file: path, record: record, field: value, "must be above 0, got \(InputError.echo(text))")
            }
            if let earlier = firstLine[coin]?[day] {
                throw InputError(file: path, record: record, field: "date",
                                 "duplicate (date, coin) (\(dateText), \(InputError.echo(coin))): already on line \(earlier)")
            }
            firstLine[coin, default: [:]][day] = line
            out[coin, default: [:]][day] = v
        } } catch let e as CSVRecordError { throw e.inputError(lineOffset: csv.headerLines) }
        return (out, digest)
    }
}
