/// Bybit's symbol grammar (docs/bybit-api.md), for instruments whose instruments-info entry was
/// not saved: the symbol alone then says what the instrument is.
///
/// - Options `BTC-27MAR26-70000-P-USDT` (settled in the suffix coin) and legacy USDC options
///   `BTC-30DEC22-18000-C` (no suffix); expiry 08:00 UTC of the date, the day with or without a
///   leading zero (`BTC-7JUN24-…`).
/// - Linear perpetuals `BTCUSDT` (USDT), `BTCPERP` and `BTCUSDC` (USDC); linear futures
///   `BTCUSDT-26DEC25` (USDT) and `BTC-26DEC25` (USDC).
/// - Inverse perpetuals `BTCUSD`; inverse futures `BTCUSDZ25` (the month code alone does not give
///   the day: their expiry must come from `deliveryTime`).
public struct BybitSymbol: Equatable, Sendable {
    /// Option, perpetual or future.
    public var kind: InstrumentKind
    /// The base coin (`BTC` of `BTCUSDT`).
    public var baseCoin: String
    /// The settlement coin: the suffix coin, USDC for legacy options and `PERP`/`USDC` linears, the base coin for inverse ones.
    public var settleCoin: String
    /// Expiry instant (seconds since the epoch), when the symbol carries a date.
    public var expiry: Double?
    /// Call or put (options only).
    public var optionType: OptionType?
    /// The strike (options only).
    public var strike: Double?

    static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    /// The date part `25SEP26` at 08:00 UTC, or nil.
    public static func expiry(_ text: Substring) -> Double? {
        let u = Array(text.utf8)
        guard u.count == 7 || u.count == 6 else { return nil }
        let dayLen = u.count - 5
        guard let day = Int(String(decoding: u[0..<dayLen], as: UTF8.self)), (1...31).contains(day),
              let m = months.firstIndex(of: String(decoding: u[dayLen..<dayLen + 3], as: UTF8.self)),
              let yy = Int(String(decoding: u[(dayLen + 3)...], as: UTF8.self)) else { return nil }
        // The ISO parser checks the day against the month (30FEB26 is no date).
        let iso = "20\(yy < 10 ? "0" : "")\(yy)-\(m < 9 ? "0" : "")\(m + 1)-\(day < 10 ? "0" : "")\(day)T08:00:00Z"
        guard let t = ISO8601.seconds(iso), ISO8601.format(t).hasPrefix(String(iso.prefix(10))) else { return nil }
        return t
    }

    /// `25SEP26` for an instant (the day without a leading zero below 10, as Bybit writes it).
    /// An instant outside `ISO8601.readable` (never one of a loaded market) gives its ISO text.
    public static func dateRepresentation(_ t: Double) -> String {
        let iso = ISO8601.format(t)          // YYYY-MM-DDTHH:MM:SS…
        let parts = iso.prefix(10).split(separator: "-")
        guard ISO8601.readable.contains(t), parts.count == 3, let day = Int(parts[2]), let month = Int(parts[1]),
              (1...12).contains(month) else { return iso }
        return "\(day)\(months[month - 1])\(parts[0].suffix(2))"
    }

    /// Parses `symbol` of a Bybit `category` (`option`, `linear`, `inverse`), or nil when the
    /// grammar does not fit.
    public static func parse(_ symbol: String, category: String) -> BybitSymbol? {
        let parts = symbol.split(separator: "-", omittingEmptySubsequences: false)
        switch category {
        case "option":
            guard parts.count == 4 || parts.count == 5, !parts[0].isEmpty, let e = expiry(parts[1]),
                  let k = Double(parts[2]), k > 0, k.isFinite else { return nil }
            let type: OptionType
            switch parts[3] { case "C": type = .call; case "P": type = .put; default: return nil }
            let settle = parts.count == 5 ? String(parts[4]) : "USDC"
            guard !settle.isEmpty else { return nil }
            return BybitSymbol(kind: .option, baseCoin: String(parts[0]), settleCoin: settle, expiry: e,
                               optionType: type, strike: k)
        case "linear":
            if parts.count == 2 {
                guard let e = expiry(parts[1]) else { return nil }
                let head = parts[0]
                for settle in ["USDT", "USDC"] where head.hasSuffix(settle) && head.count > settle.count {
                    return BybitSymbol(kind: .future, baseCoin: String(head.dropLast(settle.count)), settleCoin: settle, expiry: e)
                }
                return head.isEmpty ? nil : BybitSymbol(kind: .future, baseCoin: String(head), settleCoin: "USDC", expiry: e)
            }
            guard parts.count == 1 else { return nil }
            for (suffix, settle) in [("USDT", "USDT"), ("USDC", "USDC"), ("PERP", "USDC")]
            where symbol.hasSuffix(suffix) && symbol.count > suffix.count {
                return BybitSymbol(kind: .perpetual, baseCoin: String(symbol.dropLast(suffix.count)), settleCoin: settle)
            }
            return nil
        case "inverse":
            guard parts.count == 1, let r = symbol.range(of: "USD", options: .backwards), r.lowerBound > symbol.startIndex else { return nil }
            let base = String(symbol[..<r.lowerBound])
            let tail = symbol[r.upperBound...]
            if tail.isEmpty { return BybitSymbol(kind: .perpetual, baseCoin: base, settleCoin: base) }
            // `BTCUSDZ25`: a month code and a two-digit year; the day comes from deliveryTime.
            guard tail.count == 3, "FGHJKMNQUVXZ".contains(tail.first!), Int(tail.dropFirst()) != nil else { return nil }
            return BybitSymbol(kind: .future, baseCoin: base, settleCoin: base)
        default:
            return nil
        }
    }
}
