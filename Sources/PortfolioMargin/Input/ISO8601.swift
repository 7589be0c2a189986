/// Parsing of ISO-8601 UTC instants (`2026-03-24T02:28:10.506Z`) to seconds since the Unix epoch.
///
/// Accepted: `YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|±HH:MM|±HHMM)`, and a date alone (`YYYY-MM-DD`,
/// midnight UTC). Offsets are applied. Every part is range-checked (docs/formats.md "JSON": `2026-02-30`
/// is an error, not 2 March): month 1…12, day within the month (leap years by the Gregorian rule),
/// hour 0…23, minute 0…59, second 0…59 — or 60 in a minute 59, a leap second, read as the next
/// minute's first second as POSIX time does — and offsets up to ±23:59.
enum ISO8601 {
    /// Why a text is not an instant (the reason goes into the input error's message).
    struct Invalid: Error, Equatable {
        let reason: String
    }

    /// The instant, or nil when the text is not a valid one (see `parse` for the reason).
    static func seconds(_ text: String) -> Double? { try? parse(text) }

    /// The instant; throws `Invalid` with a reason naming the part that is wrong.
    static func parse(_ text: String) throws -> Double {
        let b = Array(text.utf8)
        var i = 0
        let shape = Invalid(reason: "expected an instant YYYY-MM-DDTHH:MM:SS[.fff]Z (or a date YYYY-MM-DD)")
        func digits(_ n: Int) throws -> Int {
            guard i + n <= b.count else { throw shape }
            var v = 0
            for _ in 0..<n {
                let c = b[i]
                guard c >= 48 && c <= 57 else { throw shape }
                v = v * 10 + Int(c - 48)
                i += 1
            }
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        func need(_ c: UInt8) throws { guard expect(c) else { throw shape } }
        let y = try digits(4)
        try need(45)
        let mo = try digits(2)
        try need(45)
        let d = try digits(2)
        guard (1...12).contains(mo) else { throw Invalid(reason: "month \(mo) does not exist (expected 01…12)") }
        let monthDays = daysIn(month: mo, year: y)
        guard d >= 1 && d <= monthDays else {
            throw Invalid(reason: "day \(d) does not exist in \(monthNames[mo - 1]) \(y) (it has \(monthDays) days)")
        }
        var secs = Double(daysFromCivil(y, mo, d)) * 86400
        if i == b.count { return secs }
        guard expect(84) || expect(116) || expect(32) else { throw shape }
        let h = try digits(2)
        try need(58)
        let mi = try digits(2)
        guard h < 24 else { throw Invalid(reason: "hour \(h) does not exist (expected 00…23)") }
        guard mi < 60 else { throw Invalid(reason: "minute \(mi) does not exist (expected 00…59)") }
        var s = 0.0
        if expect(58) {
            let whole = try digits(2)
            guard whole < 60 || (whole == 60 && mi == 59) else {
                throw Invalid(reason: "second \(whole) does not exist (expected 00…59, or 60 for a leap second in minute 59)")
            }
            s = Double(whole)
            if expect(46) || expect(44) {
                var scale = 0.1
                var any = false
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    s += Double(b[i] - 48) * scale
                    scale /= 10
                    i += 1
                    any = true
                }
                guard any else { throw shape }
            }
        }
        secs += Double(h * 3600 + mi * 60) + s
        if expect(90) || expect(122) {
            guard i == b.count else { throw shape }
            return secs
        }
        guard i < b.count, b[i] == 43 || b[i] == 45 else {
            throw Invalid(reason: "expected a time zone (Z or ±HH:MM) after the time")
        }
        let sign: Double = b[i] == 43 ? 1 : -1
        i += 1
        let oh = try digits(2)
        _ = expect(58)
        let om = try digits(2)
        guard i == b.count else { throw shape }
        guard oh < 24, om < 60 else { throw Invalid(reason: "offset \(oh):\(om) does not exist (expected at most 23:59)") }
        return secs - sign * Double(oh * 3600 + om * 60)
    }

    private static let monthNames = ["January", "February", "March", "April", "May", "June", "July",
                                     "August", "September", "October", "November", "December"]

    /// Days in a month of the proleptic Gregorian calendar (leap: divisible by 4, not by 100 unless by 400).
    static func daysIn(month m: Int, year y: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The instants `format` writes and `parse` reads back: 0000-01-01T00:00:00Z up to
    /// 9999-12-31T23:59:59.999Z (a four-digit year), in seconds since the epoch.
    static let readable: ClosedRange<Double> = -62_167_219_200 ... 253_402_300_799.999

    /// The instants an import accepts from milliseconds since the epoch (docs/formats.md "Bybit V5
    /// interop"): 1970-01-01T00:00:00Z up to 9999-12-31T23:59:59.999Z, in seconds.
    static let epochRange: ClosedRange<Double> = 0 ... 253_402_300_799.999

    /// The instant as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`. Exact for `readable` instants; any other value
    /// is never a trap: a finite one outside is written with the year it falls in (more digits, or a
    /// sign), which `parse` refuses, and NaN or one beyond ±10¹⁵ s as `invalid instant (…)`. Callers
    /// check their inputs against `readable` (or `epochRange`) before they write a document.
    static func format(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e15 else { return "invalid instant (\(seconds))" }
        let whole = Int(seconds.rounded(.down))
        let millis = Int(((seconds - Double(whole)) * 1000).rounded())
        var days = whole / 86400
        var rem = whole % 86400
        if rem < 0 { rem += 86400; days -= 1 }
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func p(_ v: Int, _ w: Int) -> String {
            if v < 0 { return "-" + p(-v, w) }
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        var out = "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(rem / 3600, 2)):\(p(rem / 60 % 60, 2)):\(p(rem % 60, 2))"
        if millis > 0 { out += ".\(p(min(millis, 999), 3))" }
        return out + "Z"
    }
}
