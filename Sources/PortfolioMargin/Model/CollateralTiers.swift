/// One tier of a tiered collateral value ratio (docs/model.md §8 margin balance; Bybit's
/// `collateralRatioList` of `{minQty, maxQty, collateralRatio}`).
///
/// In the parameter file a coin's `collateralValueRatio` is one number or a list of tiers
/// `[{"upTo": 100, "ratio": 0.95}, {"upTo": 500, "ratio": 0.9}, {"ratio": 0.5}]`: each tier's ratio
/// applies to the part of the balance inside it (quantities in coins), as income-tax brackets do.
/// The last tier may omit `upTo` or give `null`: it then runs to infinity; if it gives a number, the
/// part of a balance above it counts 0.
public struct CollateralTier: Equatable, Sendable {
    /// Upper bound of the tier, in coins (`.infinity` for an open last tier).
    public var upTo: Double
    /// Collateral value ratio of the part of the balance inside this tier.
    public var ratio: Double

    /// A tier up to `upTo` coins (`.infinity`: open) with collateral ratio `ratio` in [0, 1].
    public init(upTo: Double, ratio: Double) { self.upTo = upTo; self.ratio = ratio }

    /// The collateral value, in coins, of a positive `amount`: Σ ratio × (part of amount in the tier).
    @inline(__always)
    public static func value(of amount: Double, _ tiers: [CollateralTier]) -> Double {
        var value = 0.0, lower = 0.0
        for t in tiers {
            guard amount > lower else { break }
            value += (min(amount, t.upTo) - lower) * t.ratio
            lower = t.upTo
        }
        return value
    }

    /// Reads a coin entry's `collateralValueRatio` when it is a list of tiers into `p` (tiers, and
    /// `collateralValueRatio` = the first tier's ratio, for readers that want one number); a
    /// single number clears tiers inherited from `default`.
    static func read(_ r: JSONRecord, into p: inout CoinParameters) throws {
        let key = "collateralValueRatio"
        guard let v = r.optional(key) else { return }
        guard case let .array(items) = v else { p.collateralTiers = nil; return }
        guard !items.isEmpty else { throw r.fail(key, "expected a number or a non-empty list of {\"upTo\", \"ratio\"} tiers") }
        var tiers: [CollateralTier] = []
        for (n, item) in items.enumerated() {
            let t = JSONRecord(value: item, file: r.file, record: r.record)
            let field = "\(key)[\(n)]"
            guard case let .object(members) = item else { throw r.fail(field, "expected an object {\"upTo\", \"ratio\"}") }
            if let unknown = members.first(where: { $0.0 != "upTo" && $0.0 != "ratio" }) {
                throw r.fail("\(field).\(unknown.0)", "unknown key (expected upTo and ratio)")
            }
            let ratio: Double
            do { ratio = try t.number("ratio") } catch let e as InputError { throw r.fail("\(field).ratio", e.message) }
            guard ratio >= 0 && ratio <= 1 else { throw r.fail("\(field).ratio", "must be in [0, 1], got \(ratio)") }
            var upTo = Double.infinity
            if t.optional("upTo") != nil {
                do { upTo = try t.number("upTo") } catch let e as InputError { throw r.fail("\(field).upTo", e.message) }
                guard upTo > (tiers.last?.upTo ?? 0) else {
                    throw r.fail("\(field).upTo", "must be greater than the previous tier's (and > 0), got \(upTo)")
                }
            } else if n != items.count - 1 {
                throw r.fail("\(field).upTo", "missing: only the last tier may be open-ended")
            }
            tiers.append(CollateralTier(upTo: upTo, ratio: ratio))
        }
        p.collateralTiers = tiers
        p.collateralValueRatio = tiers[0].ratio
    }
}
