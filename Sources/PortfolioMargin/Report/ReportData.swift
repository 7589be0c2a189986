import Foundation

/// The largest `count` items seen by a key, kept while a file streams (a bounded min-heap: the
/// smallest kept item at the root, replaced when a larger one arrives). Ties go to the item seen
/// first (a smaller sequence number), so the result does not depend on anything but the file.
struct TopN<Item> {
    let count: Int
    private(set) var heap: [(key: Double, seq: Int, item: Item)] = []

    init(_ count: Int) { self.count = count }

    /// Whether `a` ranks below `b` (smaller key, or equal key and seen later).
    private static func below(_ a: (key: Double, seq: Int, item: Item), _ b: (key: Double, seq: Int, item: Item)) -> Bool {
        a.key < b.key || (a.key == b.key && a.seq > b.seq)
    }

    /// Whether an item of `key` would be kept (checked before building the item).
    func admits(_ key: Double, seq: Int) -> Bool {
        heap.count < count || Self.below(heap[0], (key, seq, heap[0].item))
    }

    mutating func add(_ key: Double, seq: Int, _ item: Item) {
        guard count > 0 else { return }
        let e = (key: key, seq: seq, item: item)
        if heap.count < count {
            heap.append(e)
            var i = heap.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard Self.below(heap[i], heap[p]) else { break }
                heap.swapAt(i, p)
                i = p
            }
        } else if Self.below(heap[0], e) {
            heap[0] = e
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, Self.below(heap[l], heap[m]) { m = l }
                if r < heap.count, Self.below(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
    }

    /// The kept items, largest key first (ties: seen first).
    var sorted: [Item] {
        heap.sorted { Self.below($1, $0) }.map(\.item)
    }
}

/// An account the report lists by name.
public struct ReportAccount: Equatable, Sendable {
    /// `account_id` as in the file.
    public var id: String
    /// The line of the file the account's row is on.
    public var line: Int
    /// The figures shown, by column (see the page builder for which).
    public var figures: [Double]
    /// `stage`, `zone` or the error text.
    public var text: String
}

/// What `pm report` shows of a batch output folder (`margins.csv`, `units.csv`, `manifest.json`),
/// gathered in one streaming pass over each file (memory bounded by the coins and the listed
/// accounts, not by the account count).
public struct BatchReportData: Equatable, Sendable {
    /// The stages of docs/model.md, in order of severity.
    public static let stages = ["healthy", "imBreach", "autoRepay", "liquidation"]
    /// The edges of the MM rate histogram's bins: [0, 0.1), [0.1, 0.2), … [0.9, 1]; above 1 is the
    /// overflow bin (`inf` included); accounts with an error are counted apart.
    public static let rateEdges: [Double] = (0...10).map { Double($0) / 10 }
    /// How many accounts the largest-MM table lists.
    public static let topCount = 20
    /// How many error accounts are listed.
    public static let errorCount = 10

    /// The folder as given.
    public var folder = ""
    /// `manifest.json`'s `pm`, `finished` and `shard` (nil: a whole run).
    public var pm = "", finished = "", shard: String?
    /// Rows of `margins.csv` (error rows included) and those with an error.
    public var accounts = 0, errors = 0
    /// Accounts per stage, in `stages` order.
    public var stageCounts = [Int](repeating: 0, count: BatchReportData.stages.count)
    /// Accounts per MM-rate bin (`rateEdges`), then the overflow bin (> 1).
    public var rateBins = [Int](repeating: 0, count: BatchReportData.rateEdges.count)
    /// Sums over the accounts without an error.
    public var totalIM = 0.0, totalMM = 0.0, totalBalance = 0.0
    /// Per base coin of `units.csv`: the coin, Σ IM, Σ MM and the units; largest MM first (ties by name).
    public var coins: [(coin: String, im: Double, mm: Double, units: Int)] = []
    /// The accounts with the largest `total_mm`, largest first; figures: total_mm, total_im,
    /// margin_balance, mm_rate; text: the stage.
    public var top: [ReportAccount] = []
    /// The first accounts with an error, in file order; text: the error.
    public var errorAccounts: [ReportAccount] = []

    /// An empty report of `folder`.
    public init(folder: String = "") { self.folder = folder }

    /// Field-by-field equality (the coin tuples compared in order).
    public static func == (a: BatchReportData, b: BatchReportData) -> Bool {
        a.folder == b.folder && a.pm == b.pm && a.finished == b.finished && a.shard == b.shard && a.accounts == b.accounts
            && a.errors == b.errors && a.stageCounts == b.stageCounts && a.rateBins == b.rateBins && a.totalIM == b.totalIM
            && a.totalMM == b.totalMM && a.totalBalance == b.totalBalance && a.top == b.top && a.errorAccounts == b.errorAccounts
            && a.coins.count == b.coins.count
            && zip(a.coins, b.coins).allSatisfy { $0.coin == $1.coin && $0.im == $1.im && $0.mm == $1.mm && $0.units == $1.units }
    }

    static let marginColumns = ["account_id", "margin_balance", "order_loss", "total_im", "total_mm", "im_rate", "mm_rate", "stage", "error"]
    /// The `units.csv` columns the page reads, in the file's order: the add-on columns come from the
    /// contingency table (`ContingencyKind`), so `mm` and `im` are found by name, not by a count.
    static let unitColumns = ["account_id", "base_coin", "max_loss", "max_loss_price_move", "max_loss_iv_shock"]
        + ContingencyKind.all.map(\.descriptor.csvColumn) + ["mm", "im", "governing_portfolio", "hedge_spot_size"]
    static let unitMM = unitColumns.firstIndex(of: "mm")!, unitIM = unitColumns.firstIndex(of: "im")!

    /// Adds `margins.csv` (at `path`, or `bytes` named `path`); returns its digest.
    @discardableResult
    mutating func readMargins(path: String, bytes: [UInt8]? = nil, bufferSize: Int = ReportCSV.bufferSize) throws -> InputDigest {
        var top = TopN<ReportAccount>(Self.topCount)
        let last = Self.rateEdges.count - 1
        let (_, digest) = try ReportCSV.read(path: path, bytes: bytes, required: Self.marginColumns, bufferSize: bufferSize) { row in
            accounts += 1
            if !row.isEmpty(8) {
                errors += 1
                if errorAccounts.count < Self.errorCount {
                    errorAccounts.append(ReportAccount(id: row.text(0), line: row.line, figures: [], text: row.text(8)))
                }
                return
            }
            let balance = try row.required(1)
            _ = try row.required(2)
            let im = try row.nonNegative(3)
            let mm = try row.nonNegative(4)
            let imRate = row.equals(5, "inf") ? Double.infinity : try row.nonNegative(5)
            let mmRate = row.equals(6, "inf") ? Double.infinity : try row.nonNegative(6)
            _ = imRate
            guard let stage = row.equals(7, "healthy") ? 0 : row.equals(7, "imBreach") ? 1 : row.equals(7, "autoRepay") ? 2
                    : row.equals(7, "liquidation") ? 3 : nil else {
                throw row.fail(7, "expected one of \(Self.stages.joined(separator: ", ")), got \(InputError.echo(row.text(7)))")
            }
            stageCounts[stage] += 1
            // rate × 10 may round up onto an edge (the double just below 0.9 gives 9.0): the
            // bin is checked against its lower edge, so each bin holds exactly [edge, next edge).
            var bin = mmRate > 1 ? last : min(Int(mmRate * 10), last - 1)
            if bin > 0, bin < last, mmRate < Self.rateEdges[bin] { bin -= 1 }
            rateBins[bin] += 1
            totalIM += im; totalMM += mm; totalBalance += balance
            guard totalIM.isFinite, totalMM.isFinite, totalBalance.isFinite else {
                throw row.fail(totalBalance.isFinite ? (totalMM.isFinite ? 3 : 4) : 1, "the sum over the accounts exceeds the range of a double")
            }
            if top.admits(mm, seq: row.line) {
                top.add(mm, seq: row.line, ReportAccount(id: row.text(0), line: row.line, figures: [mm, im, balance, mmRate], text: row.text(7)))
            }
        }
        self.top = top.sorted
        return digest
    }

    /// Adds `units.csv` (at `path`, or `bytes` named `path`); returns its digest.
    @discardableResult
    mutating func readUnits(path: String, bytes: [UInt8]? = nil, bufferSize: Int = ReportCSV.bufferSize) throws -> InputDigest {
        // Keyed by the bytes: two names that differ in bytes are two coins, even when Unicode
        // calls them equal (a precomposed é and e + combining accent).
        var sums: [[UInt8]: (im: Double, mm: Double, units: Int)] = [:]
        var allIM = 0.0, allMM = 0.0
        var lastBytes: [UInt8] = []
        let (_, digest) = try ReportCSV.read(path: path, bytes: bytes, required: Self.unitColumns, bufferSize: bufferSize) { row in
            // Consecutive rows mostly repeat a few coins: the key is made only when the bytes change.
            let f = row.raw(1)
            guard f.1 > 0 else { throw row.fail(1, "empty") }
            if !(f.1 == lastBytes.count && lastBytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, f.0, f.1) == 0 })) {
                lastBytes = Array(UnsafeBufferPointer(start: f.0, count: f.1))
            }
            let mm = try row.nonNegative(Self.unitMM)
            let im = try row.nonNegative(Self.unitIM)
            var s = sums[lastBytes] ?? (0, 0, 0)
            s.im += im; s.mm += mm; s.units += 1
            guard s.im.isFinite, s.mm.isFinite else {
                throw row.fail(s.mm.isFinite ? Self.unitIM : Self.unitMM, "the sum over \(InputError.echo(row.text(1))) exceeds the range of a double")
            }
            // The page sums the coins past the largest as "other": that sum must be a number too.
            allIM += im; allMM += mm
            guard allIM.isFinite, allMM.isFinite else {
                throw row.fail(allMM.isFinite ? Self.unitIM : Self.unitMM, "the sum over all coins exceeds the range of a double")
            }
            sums[lastBytes] = s
        }
        coins = sums.sorted { $0.value.mm != $1.value.mm ? $0.value.mm > $1.value.mm : $0.key.lexicographicallyPrecedes($1.key) }
            .map { (coin: String(decoding: $0.key, as: UTF8.self), im: $0.value.im, mm: $0.value.mm, units: $0.value.units) }
        return digest
    }

    /// Reads a batch output folder. The manifest's account and error counts must equal what
    /// `margins.csv` holds, and where the manifest records the outputs' digests, the files must
    /// match them (a folder changed after the run is refused, not reported).
    public static func read(folder: String) throws -> BatchReportData {
        var d = BatchReportData(folder: folder)
        let manifestPath = folder + "/manifest.json"
        let manifest = try Manifest.parse(try ReportCSV.small(path: manifestPath), file: manifestPath)
        d.pm = manifest.pm
        d.finished = ISO8601.format(manifest.finished)
        d.shard = manifest.shard?.description
        let marginsPath = folder + "/margins.csv", unitsPath = folder + "/units.csv"
        let m = try d.readMargins(path: marginsPath)
        let u = try d.readUnits(path: unitsPath)
        for (name, digest, path) in [("margins.csv", m, marginsPath), ("units.csv", u, unitsPath)] {
            if let recorded = manifest.outputs.first(where: { $0.name == name })?.digest, recorded != digest {
                throw InputError(file: path, "does not match manifest.json (size \(digest.size), recorded \(recorded.size); a changed output folder)")
            }
        }
        guard d.accounts == manifest.accounts else {
            throw InputError(file: manifestPath, field: "accounts", "says \(manifest.accounts), margins.csv has \(d.accounts) rows")
        }
        guard d.errors == manifest.errors else {
            throw InputError(file: manifestPath, field: "errors", "says \(manifest.errors), margins.csv has \(d.errors) error rows")
        }
        return d
    }
}

/// Coverage per stage or per coin as `summary.json` gives it: one row per key, and the numbers
/// (or texts) each row holds by column.
public struct CoverageTable: Equatable, Sendable {
    /// The column names: `coverage` for a plain number per key, else the members' keys in first-seen order.
    public var columns: [String] = []
    /// Per key (stage or coin), in the file's order: the cell of each column (nil: absent).
    public var rows: [(name: String, cells: [JSON?])] = []

    /// An empty table.
    public init() {}

    /// Row-by-row equality.
    public static func == (a: CoverageTable, b: CoverageTable) -> Bool {
        a.columns == b.columns && a.rows.count == b.rows.count && zip(a.rows, b.rows).allSatisfy { $0.name == $1.name && $0.cells == $1.cells }
    }

    /// Whether the page shows column `name` as a percentage (a coverage or a rate: a share of 0…1).
    static func isShare(_ name: String) -> Bool {
        let l = name.lowercased()
        return l.contains("coverage") || l.contains("rate")
    }

    /// An object `{KEY: number | {member: number | string | null}}` or an array of objects that name
    /// themselves by `nameKey` (`stage`, `coin`). Anything else is an error naming `field`.
    static func parse(_ json: JSON, nameKey: String, file: String, field: String) throws -> CoverageTable {
        var t = CoverageTable()
        var entries: [(String, JSON)] = []
        switch json {
        case .object(let members): entries = members
        case .array(let items):
            for (k, item) in items.enumerated() {
                guard case .object(let members) = item, case .string(let name)? = item[nameKey] else {
                    throw InputError(file: file, field: "\(field)[\(k)]", "expected an object with \"\(nameKey)\"")
                }
                entries.append((name, .object(members.filter { $0.0 != nameKey })))
            }
        default:
            throw InputError(file: file, field: field, "expected an object or an array, got \(json.typeName)")
        }
        var cells: [(String, [(String, JSON)])] = []
        for (name, value) in entries {
            switch value {
            case .number(let v):
                guard v.isFinite else { throw InputError(file: file, field: "\(field).\(name)", "not a finite number") }
                guard v >= 0, v <= 1 else { throw InputError(file: file, field: "\(field).\(name)", "a coverage must be between 0 and 1, got \(v)") }
                cells.append((name, [("coverage", value)]))
            case .null:
                // No unit of that stage or coin was backtested (docs/formats.md: "c or null"): shown as —.
                cells.append((name, [("coverage", .null)]))
            case .object(let members):
                for (k, v) in members {
                    switch v {
                    case .number(let x) where !x.isFinite:
                        throw InputError(file: file, field: "\(field).\(name).\(k)", "not a finite number")
                    // The page shows these columns as percentages of a bar: a share, never outside [0, 1].
                    case .number(let x) where Self.isShare(k) && !(x >= 0 && x <= 1):
                        throw InputError(file: file, field: "\(field).\(name).\(k)", "must be between 0 and 1, got \(x)")
                    case .number, .string, .null, .bool: break
                    default: throw InputError(file: file, field: "\(field).\(name).\(k)", "expected a number or a text, got \(v.typeName)")
                    }
                    if !t.columns.contains(k) { t.columns.append(k) }
                }
                cells.append((name, members))
            default:
                throw InputError(file: file, field: "\(field).\(name)", "expected a number or an object, got \(value.typeName)")
            }
        }
        if cells.contains(where: { $0.1.first?.0 == "coverage" && $0.1.count == 1 }), !t.columns.contains("coverage") {
            t.columns.insert("coverage", at: 0)
        }
        t.rows = cells.map { c in (c.0, t.columns.map { col in c.1.first { $0.0 == col }?.1 }) }
        return t
    }
}

/// What `pm report` shows of a backtest output folder (`backtest.csv`, `scenarios.csv`,
/// `summary.json`, `manifest.json`; `backtest-units.csv` must be there but is not read).
public struct BacktestReportData: Equatable, Sendable {
    /// The zones, in order.
    public static let zones = ["green", "yellow", "red"]
    /// The edges of the coverage histogram's bins: below 90%, [90%, 95%), … [99.5%, 100%), then exactly 100%.
    public static let coverageEdges: [Double] = [0, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 1]
    /// How many worst dates the chart labels.
    public static let labelledDates = 5
    /// How many accounts the largest-shortfall table lists.
    public static let topCount = 20
    /// How many error accounts are listed.
    public static let errorCount = 10

    /// The folder as given.
    public var folder = ""
    /// `summary.json`'s window (`from`, `to`), scenario count, horizon (days) and confidence.
    public var windowFrom = "", windowTo = "", scenarios = 0, horizon = 0.0, confidence = 0.0
    /// `summary.json`'s coins with and without IV history.
    public var coinsWithIv: [String] = [], coinsWithoutIv: [String] = []
    /// `summary.json`'s accounts, errors and overall breach rate.
    public var summaryAccounts = 0, summaryErrors = 0, breachRate = 0.0
    /// `summary.json`'s accounts per zone (green, yellow, red).
    public var summaryZones = [0, 0, 0]
    /// `summary.json`'s coverage per stage and per coin.
    public var coverageByStage = CoverageTable(), coverageByCoin = CoverageTable()
    /// `summary.json`'s worst dates: date, shortfall, accounts breached.
    public var worstDates: [(date: String, shortfall: Double, accountsBreached: Int)] = []
    /// Per scenario date of `scenarios.csv`, in date order: the date, its day number (since
    /// 1970-01-01), `accounts_breached_mm` and `shortfall`.
    public var points: [(date: String, day: Int, breached: Int, shortfall: Double)] = []
    /// Rows of `backtest.csv` and those with an error.
    public var accounts = 0, errors = 0
    /// Accounts per zone (green, yellow, red) from `backtest.csv`.
    public var zoneCounts = [0, 0, 0]
    /// Accounts per coverage bin (`coverageEdges`; the last bin is exactly 100%).
    public var coverageBins = [Int](repeating: 0, count: BacktestReportData.coverageEdges.count)
    /// The accounts with the largest `worst_shortfall`; figures: worst_shortfall, total_mm,
    /// coverage_mm, breaches_mm; text: zone, a space, worst_date.
    public var top: [ReportAccount] = []
    /// The first accounts with an error, in file order; text: the error.
    public var errorAccounts: [ReportAccount] = []

    /// An empty report of `folder`.
    public init(folder: String = "") { self.folder = folder }

    /// Field-by-field equality.
    public static func == (a: BacktestReportData, b: BacktestReportData) -> Bool {
        a.folder == b.folder && a.windowFrom == b.windowFrom && a.windowTo == b.windowTo && a.scenarios == b.scenarios
            && a.horizon == b.horizon && a.confidence == b.confidence && a.coinsWithIv == b.coinsWithIv
            && a.coinsWithoutIv == b.coinsWithoutIv && a.summaryAccounts == b.summaryAccounts && a.summaryErrors == b.summaryErrors
            && a.breachRate == b.breachRate && a.summaryZones == b.summaryZones && a.coverageByStage == b.coverageByStage
            && a.coverageByCoin == b.coverageByCoin && a.accounts == b.accounts && a.errors == b.errors
            && a.zoneCounts == b.zoneCounts && a.coverageBins == b.coverageBins && a.top == b.top && a.errorAccounts == b.errorAccounts
            && a.worstDates.count == b.worstDates.count
            && zip(a.worstDates, b.worstDates).allSatisfy { $0.date == $1.date && $0.shortfall == $1.shortfall && $0.accountsBreached == $1.accountsBreached }
            && a.points.count == b.points.count
            && zip(a.points, b.points).allSatisfy { $0.date == $1.date && $0.breached == $1.breached && $0.shortfall == $1.shortfall }
    }

    static let backtestColumns = ["account_id", "total_mm", "total_im", "scenarios", "breaches_mm", "breaches_im", "coverage_mm",
                                  "worst_loss", "worst_date", "worst_shortfall", "kupiec_p", "christoffersen_p", "zone", "error"]
    static let scenarioColumns = ["date", "accounts_breached_mm", "accounts_breached_im", "shortfall", "book_loss"]

    /// The day number of a `YYYY-MM-DD` date (years 0001–9999), or nil.
    static func day(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == 45, b[7] == 45 else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r { guard b[i] >= 48 && b[i] <= 57 else { return nil }; v = v * 10 + Int(b[i] - 48) }
            return v
        }
        guard let y = num(0..<4), let m = num(5..<7), let d = num(8..<10), y >= 1, (1...12).contains(m),
              d >= 1, d <= ISO8601.daysIn(month: m, year: y) else { return nil }
        return ISO8601.daysFromCivil(y, m, d)
    }

    /// Adds `backtest.csv` (at `path`, or `bytes` named `path`).
    mutating func readAccounts(path: String, bytes: [UInt8]? = nil, bufferSize: Int = ReportCSV.bufferSize) throws {
        var top = TopN<ReportAccount>(Self.topCount)
        let last = Self.coverageEdges.count - 1
        try ReportCSV.read(path: path, bytes: bytes, required: Self.backtestColumns, bufferSize: bufferSize) { row in
            accounts += 1
            if !row.isEmpty(13) {
                errors += 1
                if errorAccounts.count < Self.errorCount {
                    errorAccounts.append(ReportAccount(id: row.text(0), line: row.line, figures: [], text: row.text(13)))
                }
                return
            }
            let mm = try row.nonNegative(1)
            let breaches = try row.count(4)
            let coverage = try row.nonNegative(6)
            guard coverage <= 1 else { throw row.fail(6, "must be between 0 and 1, got \(InputError.echo(row.text(6)))") }
            let shortfall = try row.nonNegative(9)
            let worstDate = row.text(8)
            guard worstDate.isEmpty || Self.day(worstDate) != nil else {
                throw row.fail(8, "expected a date YYYY-MM-DD, got \(InputError.echo(worstDate))")
            }
            guard let zone = row.equals(12, "green") ? 0 : row.equals(12, "yellow") ? 1 : row.equals(12, "red") ? 2 : nil else {
                throw row.fail(12, "expected green, yellow or red, got \(InputError.echo(row.text(12)))")
            }
            zoneCounts[zone] += 1
            var bin = last
            if coverage < 1 { bin = (1..<last).first { coverage < Self.coverageEdges[$0] }.map { $0 - 1 } ?? (last - 1) }
            coverageBins[bin] += 1
            if top.admits(shortfall, seq: row.line) {
                top.add(shortfall, seq: row.line, ReportAccount(id: row.text(0), line: row.line, figures: [shortfall, mm, coverage, Double(breaches)],
                                                                text: Self.zones[zone] + " " + worstDate))
            }
        }
        self.top = top.sorted
    }

    /// Adds `scenarios.csv` (at `path`, or `bytes` named `path`): one row per date, any order, no
    /// date twice.
    mutating func readScenarios(path: String, bytes: [UInt8]? = nil, bufferSize: Int = ReportCSV.bufferSize) throws {
        var seen: [Int: Int] = [:]
        try ReportCSV.read(path: path, bytes: bytes, required: Self.scenarioColumns, bufferSize: bufferSize) { row in
            let date = row.text(0)
            guard let day = Self.day(date) else { throw row.fail(0, "expected a date YYYY-MM-DD, got \(InputError.echo(date))") }
            if let first = seen[day] { throw row.fail(0, "\(date) is also on line \(first)") }
            seen[day] = row.line
            let breached = try row.count(1)
            _ = try row.count(2)
            let shortfall = try row.nonNegative(3)
            _ = try row.required(4)
            points.append((date, day, breached, shortfall))
        }
        points.sort { $0.day < $1.day }
    }

    /// Adds `summary.json` (its bytes; `path` names it in messages).
    mutating func readSummary(_ bytes: [UInt8], path: String) throws {
        let doc: JSON
        do { doc = try JSON.parse(bytes) } catch let e as InputError {
            throw InputError(file: path, record: e.record, field: e.field, e.message)
        }
        guard case .object = doc else { throw InputError(file: path, "expected a JSON object, got \(doc.typeName)") }
        func member(_ key: String, in o: JSON = doc, _ label: String? = nil) throws -> JSON {
            guard let v = o[key] else { throw InputError(file: path, field: label ?? key, "missing") }
            return v
        }
        func number(_ v: JSON, _ field: String) throws -> Double {
            guard case .number(let x) = v, x.isFinite else { throw InputError(file: path, field: field, "expected a finite number, got \(v.typeName)") }
            return x
        }
        func count(_ v: JSON, _ field: String) throws -> Int {
            let x = try number(v, field)
            guard x >= 0, x == x.rounded(), x < 9.0e15 else { throw InputError(file: path, field: field, "expected a whole number ≥ 0") }
            return Int(x)
        }
        func fraction(_ v: JSON, _ field: String) throws -> Double {
            let x = try number(v, field)
            guard x >= 0, x <= 1 else { throw InputError(file: path, field: field, "must be between 0 and 1") }
            return x
        }
        func string(_ v: JSON, _ field: String) throws -> String {
            guard case .string(let s) = v else { throw InputError(file: path, field: field, "expected a text, got \(v.typeName)") }
            return s
        }
        func strings(_ key: String) throws -> [String] {
            guard case .array(let items) = try member(key) else { throw InputError(file: path, field: key, "expected an array of coin names") }
            return try items.enumerated().map { try string($1, "\(key)[\($0)]") }
        }
        let window = try member("window")
        windowFrom = try string(try member("from", in: window, "window.from"), "window.from")
        windowTo = try string(try member("to", in: window, "window.to"), "window.to")
        for (f, v) in [("window.from", windowFrom), ("window.to", windowTo)] where Self.day(v) == nil {
            throw InputError(file: path, field: f, "expected a date YYYY-MM-DD, got \(InputError.echo(v))")
        }
        guard let fromDay = Self.day(windowFrom), let toDay = Self.day(windowTo), fromDay <= toDay else {
            throw InputError(file: path, field: "window", "from \(windowFrom) is after to \(windowTo)")
        }
        scenarios = try count(try member("scenarios"), "scenarios")
        horizon = try number(try member("horizon"), "horizon")
        guard horizon > 0 else { throw InputError(file: path, field: "horizon", "must be > 0") }
        confidence = try fraction(try member("confidence"), "confidence")
        coinsWithIv = try strings("coinsWithIv")
        coinsWithoutIv = try strings("coinsWithoutIv")
        summaryAccounts = try count(try member("accounts"), "accounts")
        summaryErrors = try count(try member("errors"), "errors")
        breachRate = try fraction(try member("breachRate"), "breachRate")
        let zones = try member("zones")
        summaryZones = try Self.zones.map { try count(try member($0, in: zones, "zones.\($0)"), "zones.\($0)") }
        coverageByStage = try CoverageTable.parse(try member("coverageByStage"), nameKey: "stage", file: path, field: "coverageByStage")
        coverageByCoin = try CoverageTable.parse(try member("coverageByCoin"), nameKey: "coin", file: path, field: "coverageByCoin")
        guard case .array(let worst) = try member("worstDates") else { throw InputError(file: path, field: "worstDates", "expected an array") }
        worstDates = try worst.enumerated().map { k, w in
            let f = "worstDates[\(k)]"
            let date = try string(try member("date", in: w, f + ".date"), f + ".date")
            guard Self.day(date) != nil else { throw InputError(file: path, field: f + ".date", "expected a date YYYY-MM-DD, got \(InputError.echo(date))") }
            let shortfall = try number(try member("shortfall", in: w, f + ".shortfall"), f + ".shortfall")
            return (date, shortfall, try count(try member("accountsBreached", in: w, f + ".accountsBreached"), f + ".accountsBreached"))
        }
    }

    /// Reads a backtest output folder. `summary.json`'s accounts, errors and zone counts must
    /// equal what `backtest.csv` holds, and its scenario count the rows of `scenarios.csv`.
    public static func read(folder: String) throws -> BacktestReportData {
        var d = BacktestReportData(folder: folder)
        let manifestPath = folder + "/manifest.json"
        let manifest = try ReportCSV.small(path: manifestPath)
        let manifestDoc: JSON
        do {
            manifestDoc = try JSON.parse(manifest)
            guard case .object = manifestDoc else { throw InputError(file: manifestPath, "expected a JSON object") }
        } catch let e as InputError { throw InputError(file: manifestPath, record: e.record, field: e.field, e.message) }
        let units = folder + "/backtest-units.csv"
        do { let (fd, _) = try InputFile.openRegular(units); fd.closeIgnoringErrors() } catch let e as InputError {
            throw InputError(file: units, e.message == "no such file" ? "missing (not a complete backtest output folder)" : e.message)
        }
        let summaryPath = folder + "/summary.json"
        try d.readSummary(try ReportCSV.small(path: summaryPath), path: summaryPath)
        try d.readAccounts(path: folder + "/backtest.csv")
        try d.readScenarios(path: folder + "/scenarios.csv")
        try d.crossCheck(summary: summaryPath)
        try d.crossCheck(manifest: manifestDoc, path: manifestPath)
        return d
    }

    /// The manifest's `accounts`, `errors`, `scenarios`, `window`, `horizon` and `confidence`,
    /// where it has them, against what the files hold: a folder whose parts disagree is refused.
    func crossCheck(manifest: JSON, path: String) throws {
        func check(_ key: String, _ value: JSON?, _ expected: JSON, _ what: String) throws {
            guard let value else { return }
            guard value == expected else {
                throw InputError(file: path, field: key, "does not match \(what) (a changed output folder)")
            }
        }
        try check("accounts", manifest["accounts"], .number(Double(accounts)), "backtest.csv's \(accounts) rows")
        try check("errors", manifest["errors"], .number(Double(errors)), "backtest.csv's \(errors) error rows")
        try check("scenarios", manifest["scenarios"], .number(Double(points.count)), "scenarios.csv's \(points.count) dates")
        try check("horizon", manifest["horizon"], .number(horizon), "summary.json's horizon")
        try check("confidence", manifest["confidence"], .number(confidence), "summary.json's confidence")
        if let w = manifest["window"] {
            try check("window.from", w["from"], .string(windowFrom), "summary.json's window")
            try check("window.to", w["to"], .string(windowTo), "summary.json's window")
        }
    }

    /// The summary's counts against the files' rows.
    func crossCheck(summary path: String) throws {
        if summaryAccounts != accounts { throw InputError(file: path, field: "accounts", "says \(summaryAccounts), backtest.csv has \(accounts) rows") }
        if summaryErrors != errors { throw InputError(file: path, field: "errors", "says \(summaryErrors), backtest.csv has \(errors) error rows") }
        for (k, z) in Self.zones.enumerated() where summaryZones[k] != zoneCounts[k] {
            throw InputError(file: path, field: "zones.\(z)", "says \(summaryZones[k]), backtest.csv has \(zoneCounts[k])")
        }
        if scenarios != points.count { throw InputError(file: path, field: "scenarios", "says \(scenarios), scenarios.csv has \(points.count) dates") }
    }
}
