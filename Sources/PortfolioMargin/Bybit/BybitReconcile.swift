/// `pm bybit reconcile`: Bybit's own `GET /v5/asset/portfolio-margin` response against this
/// engine's, field by field (docs/formats.md "Bybit V5 interop"). Both documents are read through the
/// same flattening, so a path names the same figure on both sides; each path also names the model
/// component behind it, which is how a user finds the parameter where we and the exchange part.
public enum BybitReconcile {
    /// One figure both sides have.
    public struct Field: Sendable {
        /// The figure's path in the flattened documents (e.g. `units.BTC.mm`).
        public var path: String
        /// This engine's value.
        public var ours: Double
        /// Bybit's value.
        public var theirs: Double
        /// `ours − theirs` (`NaN` when either is `NaN`).
        public var difference: Double { ours - theirs }
        /// |ours − theirs| ≤ the tolerance, or ≤ 1e-6 of the larger magnitude; an infinity matches
        /// only the same infinity, NaN nothing (``BybitReconcile/matches(_:_:tolerance:)``).
        public var match: Bool
        /// The model component and parameters that produce this figure.
        public var component: String
    }

    /// The comparison of the two documents.
    public struct Report: Sendable {
        /// Every figure both sides have, in our document's order.
        public var fields: [Field]
        /// Paths only Bybit's response has.
        public var onlyTheirs: [String]
        /// Paths only our result has.
        public var onlyOurs: [String]
        /// The number of fields that match.
        public var matched: Int { fields.filter(\.match).count }
        /// The number of fields that differ.
        public var differing: Int { fields.count - matched }
        /// Everything matches and both sides have the same figures.
        public var allMatch: Bool { differing == 0 && onlyTheirs.isEmpty && onlyOurs.isEmpty }

        /// `{"fields": [{path, ours, theirs, difference, match, component}], "matched", "differing", "onlyTheirs", "onlyOurs"}`.
        public var json: JSON {
            .object([
                ("fields", .array(fields.map { f in
                    .object([("path", .string(f.path)), ("ours", .num(f.ours)), ("theirs", .num(f.theirs)),
                             ("difference", .num(f.difference)), ("match", .bool(f.match)), ("component", .string(f.component))])
                })),
                ("matched", .number(Double(matched))),
                ("differing", .number(Double(differing))),
                ("onlyTheirs", .array(onlyTheirs.map(JSON.string))),
                ("onlyOurs", .array(onlyOurs.map(JSON.string))),
            ])
        }

        /// `json` as text, the counts (`matched`, `differing`) as integers (`72`, not `72.0`).
        public func renderJSON() -> String {
            guard case let .object(members) = json else { return json.render() }
            let body = members.map { k, v -> String in
                var key = ""
                JSON.quote(k, into: &key)
                let count: Int? = k == "matched" ? matched : k == "differing" ? differing : nil
                return "  " + key + ": " + (count.map(String.init) ?? v.render().replacingOccurrences(of: "\n", with: "\n  "))
            }
            return "{\n" + body.joined(separator: ",\n") + "\n}"
        }

        /// What differs first, each with its model component; then what only one side has; then
        /// the matching figures.
        public func table() -> String {
            var out = "Bybit reconcile: \(matched) matching, \(differing) differing, \(onlyTheirs.count) only in Bybit's response, \(onlyOurs.count) only ours\n"
            func row(_ f: Field) -> String {
                "  " + Table.pad(f.path, 58) + " " + Table.lpad(BybitFormat.decimal(f.ours), 20) + " " + Table.lpad(BybitFormat.decimal(f.theirs), 20) + " "
                    + Table.lpad(BybitFormat.decimal(f.difference), 20)
            }
            let header = "  " + Table.pad("field", 58) + " " + Table.lpad("ours", 20) + " " + Table.lpad("Bybit", 20) + " " + Table.lpad("ours − Bybit", 20) + "\n"
            let differing = fields.filter { !$0.match }
            if !differing.isEmpty {
                out += "\nDiffering:\n" + header
                for f in differing { out += row(f) + "\n      ← " + f.component + "\n" }
            }
            if !onlyTheirs.isEmpty { out += "\nOnly in Bybit's response:\n" + onlyTheirs.map { "  \($0)\n" }.joined() }
            if !onlyOurs.isEmpty { out += "\nOnly ours:\n" + onlyOurs.map { "  \($0)\n" }.joined() }
            let matching = fields.filter(\.match)
            if !matching.isEmpty {
                out += "\nMatching:\n" + header
                for f in matching { out += row(f) + "\n" }
            }
            return out
        }
    }

    /// Loads a saved portfolio-margin response (`retCode` 0, `result.wallet`, `result.assetPnlRange`).
    public static func loadResponse(path: String) throws -> JSON {
        let bytes = try readFile(path)
        let doc: JSON
        do { doc = try JSON.parse(bytes) } catch let e as InputError { throw e.inFile(path) }
        let top = BybitRecord(value: doc, file: path, record: "")
        guard case .object = doc else { throw InputError(file: path, "expected a Bybit V5 response object, got \(doc.typeName)") }
        guard let code = try top.decimal("retCode") else { throw top.fail("retCode", "missing: not a Bybit V5 response") }
        guard code == 0 else { throw top.fail("retCode", "the request failed: retCode \(BybitFormat.decimal(code))") }
        guard case .object? = doc["result"] else { throw top.fail("result", "missing or not an object") }
        guard case .array? = doc["result"]?["assetPnlRange"] else {
            throw InputError(file: path, record: "result", field: "assetPnlRange",
                             "missing: not a GET /v5/asset/portfolio-margin response")
        }
        return doc
    }

    /// Compares two portfolio-margin documents (ours as `BybitFormat.portfolioMargin` writes it).
    /// A field matches when |ours − theirs| ≤ `tolerance` or ≤ 1e-6 of the larger magnitude
    /// (`matches`: infinities only match the same infinity, NaN never).
    public static func compare(ours: JSON, theirs: JSON, tolerance: Double, parameters: ParameterSet,
                               file: String = "response") throws -> Report {
        let a = try flatten(ours, file: "ours", parameters: parameters)
        let b = try flatten(theirs, file: file, parameters: parameters)
        let ourIndex = Dictionary(a.map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        let theirPaths = Set(b.map(\.path))
        var fields: [Field] = []
        var onlyTheirs: [String] = []
        for t in b {
            guard let o = ourIndex[t.path] else { onlyTheirs.append(t.path); continue }
            let match = matches(o.value, t.value, tolerance: tolerance)
            fields.append(Field(path: t.path, ours: o.value, theirs: t.value, match: match, component: o.component))
        }
        // assetIM ↔ imFactor: say which factor Bybit's own two figures imply.
        let theirValue = Dictionary(b.map { ($0.path, $0.value) }, uniquingKeysWith: { x, _ in x })
        for n in fields.indices where fields[n].path.hasSuffix(".asset.assetIM") {
            let mmPath = String(fields[n].path.dropLast("assetIM".count)) + "assetMM"
            if let mm = theirValue[mmPath], mm != 0 { fields[n].component += "; Bybit's assetIM / assetMM = \(BybitFormat.decimal((fields[n].theirs / mm * 1e6).rounded() / 1e6))" }
        }
        let onlyOurs = a.map(\.path).filter { !theirPaths.contains($0) }
        return Report(fields: fields, onlyTheirs: onlyTheirs, onlyOurs: onlyOurs)
    }

    /// Whether two figures match: |ours − theirs| ≤ `tolerance` or ≤ 1e-6 of the larger magnitude,
    /// for finite figures. An infinite figure (Bybit writes `"inf"`, e.g. a rate with no margin
    /// balance) matches only the same infinity: the relative tolerance of an infinite magnitude
    /// would otherwise be infinite and match anything. NaN matches nothing, not even NaN.
    public static func matches(_ ours: Double, _ theirs: Double, tolerance: Double) -> Bool {
        if ours.isNaN || theirs.isNaN { return false }
        if ours.isInfinite || theirs.isInfinite { return ours == theirs }
        let d = abs(ours - theirs)
        return d <= tolerance || d <= 1e-6 * max(abs(ours), abs(theirs))
    }

    struct Flat { var path: String; var value: Double; var component: String }

    /// The figures of a portfolio-margin document the model has, with their paths
    /// (`wallet.accountMM`, `BTC.contingency.futureDeltaContingency`,
    /// `BTC.optionExpiryDatePnlRanges.25SEP26[-0.1].down`, …). Inputs echoed back (mark and index
    /// prices, wallet balances) and fields the model has not (fees) are not figures.
    static func flatten(_ doc: JSON, file: String, parameters: ParameterSet) throws -> [Flat] {
        var out: [Flat] = []
        func number(_ v: JSON?, _ record: String, _ field: String) throws -> Double? {
            switch v {
            case nil, .null?: return nil
            case let .number(d)?: return d
            case let .string(s)?:
                if s.isEmpty { return nil }
                if s == "inf" { return .infinity }
                guard let d = BybitRecord.parseDecimal(s) else {
                    throw InputError(file: file, record: record, field: field, "expected a decimal number, got \(InputError.echo(s))")
                }
                return d
            case let x?: throw InputError(file: file, record: record, field: field, "expected a decimal string, got \(x.typeName)")
            }
        }
        func add(_ path: String, _ v: JSON?, _ record: String, _ field: String, _ component: String) throws {
            if let d = try number(v, record, field) { out.append(Flat(path: path, value: d, component: component)) }
        }
        let result = doc["result"] ?? .null
        let rates = "docs/model.md §8 rates: total / (margin balance + order loss)"
        let walletParts: [(String, String)] = [
            ("equity", "docs/model.md §8 balances at full index value + unrealised P&L + option value (docs/readings.md)"),
            ("marginBalance", "docs/model.md §8 margin balance: balances × index × collateralValueRatio (tiers), unrealised P&L, option value"),
            ("accountIM", "docs/model.md §8 total IM: Σ unit IM + borrowing IM (borrowIMRate)"),
            ("accountMM", "docs/model.md §8 total MM: Σ unit MM + borrowing MM (borrowMMRate)"),
            ("accountMMRate", rates), ("accountIMRate", rates),
        ]
        for (k, c) in walletParts { try add("wallet.\(k)", result["wallet"]?[k], "result.wallet", k, c) }
        guard case let .array(units)? = result["assetPnlRange"] else { return out }
        var seenCoin: [String: Int] = [:]
        for (n, u) in units.enumerated() {
            let rec = "result.assetPnlRange[\(n)]"
            guard case let .string(coin)? = u["baseCoin"] else {
                throw InputError(file: file, record: rec, field: "baseCoin", "missing (expected the base coin)")
            }
            // One unit per coin: a coin listed twice would compare each of its paths twice.
            if let before = seenCoin[coin] {
                throw InputError(file: file, record: rec, field: "baseCoin",
                                 "coin \(InputError.echo(coin)) listed twice (also result.assetPnlRange[\(before)])")
            }
            seenCoin[coin] = n
            let p = parameters.parameters(for: coin)
            func f(_ v: Double) -> String { BybitFormat.decimal(v) }
            let grid = "docs/model.md §2 grid (priceRange \(f(p.priceRange)), pricePoints \(p.pricePoints))"
            let vol = "ivUp \(f(p.ivUp)), ivDown \(f(p.ivDown)), vegaPowerShort \(f(p.vegaPowerShort)), vegaPowerLong \(f(p.vegaPowerLong)), minDTE \(f(p.minDTE))"
            let optionComponent = "\(grid); §2 vol shocks (\(vol)); §3 Black-76 inputs (forward, markIv, expiry, markPrice)"
            let linearComponent = "\(grid); §3 linear P&L = markPrice × move × settle index"
            let spotComponent = "\(grid); §6 spot hedge leg h × index × move (spotHedgeEligible \(p.spotHedgeEligible), liability gains only)"
            /// Rows `{priceScale, pnls}`: one path per pnl (`[s]` or `[s].up/unchanged/down`).
            func ladder(_ prefix: String, _ rows: JSON?, _ r: String, _ component: String) throws {
                guard case let .array(items)? = rows else { return }
                for (k, row) in items.enumerated() {
                    let rr = "\(r).pnlRanges[\(k)]"
                    guard let s = try number(row["priceScale"], rr, "priceScale") else {
                        throw InputError(file: file, record: rr, field: "priceScale", "missing")
                    }
                    guard case let .array(pnls)? = row["pnls"] else { continue }
                    let key = "\(prefix)[\(BybitFormat.priceScale(s))]"
                    if pnls.count == 3 {
                        for (j, name) in ["up", "unchanged", "down"].enumerated() { try add("\(key).\(name)", pnls[j], rr, "pnls[\(j)]", component) }
                    } else {
                        for (j, v) in pnls.enumerated() { try add(pnls.count == 1 ? key : "\(key)[\(j)]", v, rr, "pnls[\(j)]", component) }
                    }
                }
            }
            if case let .object(totals)? = u["totalPnlRanges"] {
                for (kind, v) in totals {
                    let c = kind == "OPTION" || kind == "ALL" ? "\(optionComponent); at each move's worst vol shock" : linearComponent
                    try ladder("\(coin).totalPnlRanges.\(kind)", v["pnlRanges"], "\(rec).totalPnlRanges.\(kind)", kind == "ALL" ? c + "; §6 spot leg included" : c)
                }
            }
            if case let .array(perps)? = u["perpPositionPnlRanges"] {
                for (k, ps) in perps.enumerated() {
                    let r = "\(rec).perpPositionPnlRanges[\(k)]"
                    guard case let .string(sym)? = ps["symbolName"] else { continue }
                    try add("\(coin).perpPositionPnlRanges.\(sym).position", ps["position"], r, "position", "the account's position (import)")
                    try ladder("\(coin).perpPositionPnlRanges.\(sym)", ps["pnlRanges"], r, linearComponent)
                }
            }
            if case let .array(exps)? = u["optionExpiryDatePnlRanges"] {
                for (k, e) in exps.enumerated() {
                    let r = "\(rec).optionExpiryDatePnlRanges[\(k)]"
                    guard case let .string(exp)? = e["expiryDateRepresentation"] else { continue }
                    try ladder("\(coin).optionExpiryDatePnlRanges.\(exp)", e["pnlRanges"], r, optionComponent)
                    if case let .array(ops)? = e["optionPositionPnlRanges"] {
                        for (m, op) in ops.enumerated() {
                            let rr = "\(r).optionPositionPnlRanges[\(m)]"
                            guard case let .string(sym)? = op["symbolName"] else { continue }
                            try add("\(coin).optionExpiryDatePnlRanges.\(exp).\(sym).position", op["position"], rr, "position", "the account's position (import)")
                            try ladder("\(coin).optionExpiryDatePnlRanges.\(exp).\(sym)", op["pnlRanges"], rr, optionComponent)
                        }
                    }
                }
            }
            let kinds = ContingencyKind.all
            let contingency: [(String, String)] = kinds.map { k in
                (k.descriptor.jsonKey, "docs/model.md §5\(k.descriptor.letter) " + k.component(p, format: f))
            } + [("contingencyComponents", "docs/model.md §5 " + kinds.map(\.descriptor.letter).joined(separator: "+"))]
            for (k, c) in contingency { try add("\(coin).contingency.\(k)", u["contingency"]?[k], "\(rec).contingency", k, c) }
            try add("\(coin).asset.assetIM", u["asset"]?["assetIM"], "\(rec).asset", "assetIM", "docs/model.md §7 IM = MM × imFactor \(f(p.imFactor))")
            try add("\(coin).asset.assetMM", u["asset"]?["assetMM"], "\(rec).asset", "assetMM", "docs/model.md §7 MM = maxLoss + contingencyComponents (max over the order portfolios)")
            try add("\(coin).maxLossPriceMove", u["maxLossPriceMove"], rec, "maxLossPriceMove", "docs/model.md §4 worst scenario: \(grid)")
            try add("\(coin).maxLossIvShock", u["maxLossIvShock"], rec, "maxLossIvShock", "docs/model.md §4 worst scenario's vol shock (ivUp \(f(p.ivUp)), ivDown \(f(p.ivDown)))")
            if case let .array(list)? = u["maxLossIvShockList"] {
                for (k, v) in list.enumerated() {
                    try add("\(coin).maxLossIvShockList[\(k)]", v, rec, "maxLossIvShockList[\(k)]", "docs/model.md §4 worst vol shock at move \(k) (ivUp \(f(p.ivUp)), ivDown \(f(p.ivDown)))")
                }
            }
            try add("\(coin).spotHedgeInfo.hedgeSpotSize", u["spotHedgeInfo"]?["hedgeSpotSize"], "\(rec).spotHedgeInfo", "hedgeSpotSize",
                    "docs/model.md §6 hedge leg h from the coin's balance and the unit's derivative delta")
            try ladder("\(coin).spotHedgeInfo", u["spotHedgeInfo"]?["pnlRanges"], "\(rec).spotHedgeInfo", spotComponent)
        }
        return out
    }
}
