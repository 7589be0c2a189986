/// Parsing of ISO-8601 UTC instants (`2026-03-24T02:28:10.506Z`) to seconds since the Unix epoch.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00|-00:00)`, and a date alone (`YYYY-MM-DD`,
/// midnight UTC). Other offsets are accepted and applied. Anything else returns `nil`.
enum ISO8601 {
    static func seconds(_ text: String) -> Double? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for _ in 0..<n {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
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
        guard let y = digits(4), expect(45), let mo = digits(2), expect(45), let d = digits(2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var secs = Double(daysFromCivil(y, mo, d)) * 86400
        if i == b.count { return secs }
        guard expect(84) || expect(116) || expect(32),
              let h = digits(2), expect(58), let mi = digits(2), h < 24, mi < 60 else { return nil }
        var s = 0.0
        if expect(58) {
            guard let whole = digits(2), whole < 61 else { return nil }
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
                guard any else { return nil }
            }
        }
        secs += Double(h * 3600 + mi * 60) + s
        if expect(90) || expect(122) { return i == b.count ? secs : nil }
        guard i < b.count, b[i] == 43 || b[i] == 45 else { return nil }
        let sign: Double = b[i] == 43 ? 1 : -1
        i += 1
        guard let oh = digits(2) else { return nil }
        _ = expect(58)
        guard let om = digits(2), i == b.count else { return nil }
        return secs - sign * Double(oh * 3600 + om * 60)
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

    /// The instant as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
    static func format(_ seconds: Double) -> String {
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
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        var out = "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(rem / 3600, 2)):\(p(rem / 60 % 60, 2)):\(p(rem % 60, 2))"
        if millis > 0 { out += ".\(p(min(millis, 999), 3))" }
        return out + "Z"
    }
}
