// Targets for `pm bybit import` and `pm bybit reconcile`: the library entries the commands call
// (BybitImport.run + BybitImport.write; BybitReconcile.loadResponse + compare).
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Byte 0 picks the shape, the rest is the response file(s):
/// - bit 0: alone (0) or with the example's market responses (`data/examples/bybit`: option and
///   linear tickers, instruments-info pages) — so a fuzzed position, wallet or order file meets
///   market data;
/// - bit 1: one file (0) or two, split at the first NUL byte (JSON text never holds one).
///
/// Invariant: no crash; either an `InputError` of one line that starts with the name of one of the
/// files given (or says no tickers were given at all), and no output folder; or `market.json` and
/// `account.json` both written, which `MarketSnapshot.load` and `Account.load` read back, the
/// account margined against that market with finite figures — and no instrument the account
/// holds among the market's problem instruments (an import never writes an account `pm margin`
/// refuses for its market data; instruments nobody holds may be bad, lazily).
enum BybitImportTarget {
    static let marketFiles: [(path: String, bytes: [UInt8])] = {
        ["tickers-option.json", "tickers-linear.json", "instruments-option-page1.json", "instruments-option-page2.json", "instruments-linear.json"]
            .map { ("example/\($0)", Fuzz.read(Fuzz.root + "/data/examples/bybit/\($0)")) }
    }()

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard let mode = data.first else { return }
        let rest = Array(data.dropFirst())
        var files: [(path: String, bytes: [UInt8])] = []
        if mode & 2 != 0, let nul = rest.firstIndex(of: 0) {
            files = [("fuzz-a.json", Array(rest[..<nul])), ("fuzz-b.json", Array(rest[(nul + 1)...]))]
        } else {
            files = [("fuzz-a.json", rest)]
        }
        if mode & 1 != 0 { files = marketFiles + files }
        let out = Fuzz.work + "/out"
        let marketPath = out + "/market.json", accountPath = out + "/account.json"
        for p in [marketPath, accountPath] { unlink(p) }
        rmdir(out)
        let output: BybitImport.Output
        do {
            output = try BybitImport.run(files, accountId: "fuzz")
        } catch {
            check(error, files)
            return
        }
        do { try BybitImport.write(output, to: out) } catch { Fuzz.fail("bybit: the scratch output cannot be written: \(error)") }
        guard access(marketPath, F_OK) == 0, access(accountPath, F_OK) == 0 else { Fuzz.fail("bybit: one output without the other") }
        let market: MarketSnapshot
        let accounts: [Result<Account, AccountError>]
        do {
            market = try MarketSnapshot.load(path: marketPath)
            accounts = try Account.load(path: accountPath).accounts
        } catch {
            Fuzz.fail("bybit: an imported document does not read back: \(error)")
        }
        guard accounts.count == 1, case let .success(account) = accounts[0] else { Fuzz.fail("bybit: the imported account does not read back: \(accounts)") }
        for s in account.positions.map(\.symbol) + account.orders.map(\.symbol) {
            if let p = market.instrumentProblems[s] { Fuzz.fail("bybit: the account holds \(s.debugDescription), which the market refuses: \(p)") }
        }
        Fuzz.margin(accounts, priced: PricedMarket(market: market, parameters: Fuzz.parameters), "bybit")
    }

    static func check(_ error: Error, _ files: [(path: String, bytes: [UInt8])]) {
        guard let e = error as? InputError else { Fuzz.fail("bybit: threw \(type(of: error)), not an InputError: \(error)") }
        let d = e.description
        if d.utf8.contains(10) || d.utf8.contains(13) { Fuzz.fail("bybit: error message is not one line: \(d.debugDescription)") }
        guard files.contains(where: { d.hasPrefix($0.path + ": ") }) || d.hasPrefix("no market tickers among the responses") else {
            Fuzz.fail("bybit: the error names none of the files: \(d.debugDescription)")
        }
        if access(Fuzz.work + "/out", F_OK) == 0 { Fuzz.fail("bybit: an output folder after an error") }
    }
}

/// A portfolio-margin response compared with this engine's result for the example account
/// (`data/examples/bybit/account.json` and `market.json`, shipped params).
///
/// Invariant: no crash; an `InputError` of one line naming the file, or a report with
/// `matched + differing == fields.count` in which no field with a NaN, or with a non-finite
/// value on exactly one side, matches.
enum BybitReconcileTarget {
    static let ours: (doc: JSON, params: ParameterSet) = {
        let dir = Fuzz.root + "/data/examples/bybit"
        do {
            let market = try MarketSnapshot.load(path: dir + "/market.json")
            let priced = PricedMarket(market: market, parameters: Fuzz.parameters)
            let account = try Account.load(path: dir + "/account.json").accounts[0].get()
            let result = try MarginEngine.margin(account, priced: priced).get()
            return (BybitFormat.portfolioMargin(result, account: account, priced: priced), Fuzz.parameters)
        } catch {
            Fuzz.fail("reconcile fixture: \(error)")
        }
    }()

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let path = Fuzz.work + "/portfolio-margin.json"
        Fuzz.write(path, data)
        let report: BybitReconcile.Report
        do {
            let theirs = try BybitReconcile.loadResponse(path: path)
            report = try BybitReconcile.compare(ours: ours.doc, theirs: theirs, tolerance: 0.01, parameters: ours.params, file: path)
        } catch {
            guard let e = error as? InputError else { Fuzz.fail("reconcile: threw \(type(of: error)), not an InputError: \(error)") }
            let d = e.description
            if d.utf8.contains(10) || d.utf8.contains(13) { Fuzz.fail("reconcile: error message is not one line: \(d.debugDescription)") }
            if !d.hasPrefix(path + ": ") { Fuzz.fail("reconcile: the error does not name the file: \(d.debugDescription)") }
            return
        }
        if report.matched + report.differing != report.fields.count { Fuzz.fail("reconcile: matched + differing ≠ fields") }
        for f in report.fields where f.match {
            if f.ours.isNaN || f.theirs.isNaN || f.ours.isFinite != f.theirs.isFinite {
                Fuzz.fail("reconcile: \(f.path) matches with ours \(f.ours), theirs \(f.theirs)")
            }
        }
        _ = report.json.render()
        _ = report.table()
    }
}
