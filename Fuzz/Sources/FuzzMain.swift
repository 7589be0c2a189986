// libFuzzer entry points. This file is compiled together with the library's sources into one module
// (`-module-name PortfolioMargin`, see scripts/fuzz.sh), so the targets reach `internal` APIs
// (CSVFile, FastNumber, ISO8601, BatchOutput …) without making them public. It is not part of the
// SwiftPM package: `swift build` never sees it.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The target this process runs, chosen once from `PM_FUZZ_TARGET` (one binary holds them all, so
/// the library is compiled once).
nonisolated(unsafe) private var selected: ((UnsafeBufferPointer<UInt8>) -> Void)?

let fuzzTargets: [String: (UnsafeBufferPointer<UInt8>) -> Void] = [
    "number": NumberTarget.run,
    "date": DateTarget.run,
    "json": JSONTarget.run,
    "csv": CSVTarget.run,
    "batch": BatchTarget.run,
    "market": MarketTarget.run,
    "params": ParamsTarget.run,
    "account": AccountTarget.run,
    "bybit": BybitImportTarget.run,
    "reconcile": BybitReconcileTarget.run,
    "sweep": SweepTarget.run,
    "whatif": WhatIfTarget.run,
    "smile": SmileTarget.run,
    "smileargs": SmileArgsTarget.run,
    "manifest": ManifestTarget.run,
    "report": ReportTarget.run,
    "maxsize": MaxSizeArgsTarget.run,
    "hedgeargs": HedgeArgsTarget.run,
    "explainargs": ExplainArgsTarget.run,
    "history": HistoryTarget.run,
    "backtestargs": BacktestArgsTarget.run,
]

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = Fuzz.env("PM_FUZZ_TARGET") ?? ""
    guard let t = fuzzTargets[name] else {
        Fuzz.say("PM_FUZZ_TARGET must be one of \(fuzzTargets.keys.sorted().joined(separator: ", ")), got \"\(name)\"")
        exit(2)
    }
    selected = t
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
    selected!(bytes)
    return 0
}

/// Shared helpers of the targets.
enum Fuzz {
    static func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    static func say(_ s: String) { fputs(s + "\n", stderr) }

    /// An invariant broke: say which, then abort so libFuzzer keeps the input as a finding.
    static func fail(_ what: String) -> Never {
        say("FUZZ INVARIANT BROKEN: " + what)
        abort()
    }

    /// The repository root (fixtures and data), from `PM_FUZZ_ROOT` or the current directory.
    static let root: String = env("PM_FUZZ_ROOT") ?? "."

    /// A private scratch folder for files a target writes, inside `PM_FUZZ_WORK` (made by
    /// scripts/fuzz.sh) or else TMPDIR or /tmp; removed when the process exits normally (the end
    /// of a run, a run of single inputs), not after a crash (scripts/fuzz.sh removes its
    /// PM_FUZZ_WORK then).
    static let work: String = {
        let base = env("PM_FUZZ_WORK") ?? env("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/pm-fuzz-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            fail("cannot create a scratch folder under \(base)")
        }
        let path = String(cString: template)
        atexit { try? FileManager.default.removeItem(atPath: Fuzz.work) }
        return path
    }()

    /// Contract checks that today's code is known to break until other branches' fixes of issue 7
    /// merge (see Fuzz/README.md). Off unless `PM_FUZZ_PENDING=1`; turn on once those merge.
    static let pending: Bool = env("PM_FUZZ_PENDING") == "1"

    static func write(_ path: String, _ bytes: UnsafeBufferPointer<UInt8>) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { fail("cannot write \(path)") }
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            guard n > 0 else { fail("cannot write \(path)") }
            off += n
        }
        close(fd)
    }

    static func write(_ path: String, _ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { write(path, $0) }
    }

    static func read(_ path: String) -> [UInt8] {
        guard let b = try? readFile(path) else { fail("cannot read fixture \(path)") }
        return b
    }

    /// The small fixed market and the shipped parameters, priced once.
    static let smallMarket: MarketSnapshot = {
        do { return try MarketSnapshot.load(path: root + "/Fuzz/fixtures/market-small.json") } catch { fail("fixture market: \(error)") }
    }()
    static let parameters: ParameterSet = {
        do { return try ParameterSet.load(path: root + "/data/params/pm-params.json") } catch { fail("shipped params: \(error)") }
    }()
    static let priced: PricedMarket = PricedMarket(market: smallMarket, parameters: parameters)

    /// Fixed valid accounts (data/examples), margined by the market and params targets.
    static let exampleAccounts: [Account] = {
        var out: [Account] = []
        for name in ["short-strangle", "basis-trade", "calendar-spread", "cross-stablecoin", "mixed-units", "orders-both-sides", "liquidation"] {
            guard let doc = try? Account.load(path: root + "/data/examples/\(name).json") else { fail("example \(name)") }
            for case let .success(a) in doc.accounts { out.append(a) }
        }
        return out
    }()

    /// An error message must be one line (docs/formats.md: errors go to stderr, one line each).
    static func checkMessage(_ e: Error, _ target: String) {
        guard let ie = e as? InputError else {
            if let ae = e as? AccountError { checkMessage(ae.error, target); return }
            // A chunk's fatal CSV error (broken quoting, wrong field count): the reader turns it into
            // an InputError with the file's line number; a target reading one chunk sees it as is.
            if let re = e as? CSVRecordError { checkMessage(re.inputError(lineOffset: 0), target); return }
            fail("\(target): threw \(type(of: e)), not an InputError: \(e)")
        }
        if pending {
            let d = ie.description
            if d.utf8.contains(10) || d.utf8.contains(13) || d.utf8.contains(0) {
                fail("\(target): error message is not one line: \(d.debugDescription)")
            }
        }
    }

    /// Every result of a margined account: amounts finite, rates never NaN nor −∞ (+∞ is the
    /// documented infinite rate, docs/formats.md), per-unit figures and scenario P&L finite.
    static func checkResult(_ r: MarginResult, _ target: String) {
        func finite(_ v: Double, _ name: String) {
            if !v.isFinite { fail("\(target): account \(r.accountId.debugDescription): \(name) = \(v)") }
        }
        func rate(_ v: Double, _ name: String) {
            if v.isNaN || v == -.infinity { fail("\(target): account \(r.accountId.debugDescription): \(name) = \(v)") }
        }
        finite(r.marginBalance, "marginBalance"); finite(r.orderLoss, "orderLoss")
        finite(r.totalIM, "totalIM"); finite(r.totalMM, "totalMM")
        rate(r.imRate, "imRate"); rate(r.mmRate, "mmRate")
        for u in r.units {
            finite(u.maxLoss, "\(u.baseCoin).maxLoss"); finite(u.maxLossPriceMove, "\(u.baseCoin).maxLossPriceMove")
            finite(u.mm, "\(u.baseCoin).mm"); finite(u.im, "\(u.baseCoin).im"); finite(u.hedgeSpotSize, "\(u.baseCoin).hedgeSpotSize")
            let c = u.contingency
            for kind in ContingencyKind.all { finite(c[kind], "\(u.baseCoin).\(kind.descriptor.jsonKey)") }
            for row in u.pnl { for v in row { finite(v, "\(u.baseCoin).pnl") } }
        }
    }

    /// Margins parsed accounts and checks the results: one result per input, in order, same id.
    static func margin(_ accounts: [Result<Account, AccountError>], priced: PricedMarket, _ target: String) {
        let results = MarginSession.margin(accounts, priced: priced, file: "fuzz")
        guard results.count == accounts.count else { fail("\(target): \(accounts.count) accounts in, \(results.count) results out") }
        for (a, r) in zip(accounts, results) {
            switch (a, r) {
            case let (.success(acc), .success(res)):
                if acc.id != res.accountId { fail("\(target): result of \(acc.id.debugDescription) names \(res.accountId.debugDescription)") }
                checkResult(res, target)
            case let (.success(acc), .failure(e)):
                if acc.id != e.accountId { fail("\(target): error of \(acc.id.debugDescription) names \(e.accountId.debugDescription)") }
                checkMessage(e, target)
            case let (.failure(e1), .failure(e2)):
                if e1 != e2 { fail("\(target): a parse error changed on the way out") }
            case (.failure, .success):
                fail("\(target): an account that failed to parse has a result")
            }
        }
    }
}
