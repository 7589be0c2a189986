// Targets for the small parsers: numbers (Input/FastNumber.swift), dates (Input/ISO8601.swift)
// and JSON (Input/JSON.swift).
#if canImport(Glibc)
import Glibc
#endif

/// FastNumber.parse: a value it returns must be finite and what `strtod` reads from the same text,
/// with `strtod` consuming the whole text (bit for bit). Strict decimal text (the grammar of
/// docs/formats.md numbers) that `strtod` reads as a finite value must be accepted.
enum NumberTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard let base = data.baseAddress, data.count > 0 else {
            if FastNumber.parse(UnsafePointer(bitPattern: 1)!, 0) != nil { fail("empty text parsed") }
            return
        }
        let got = FastNumber.parse(base, data.count)
        // strtod on a NUL-terminated copy; an embedded NUL makes strtod stop early (not consumed).
        var copy = Array(data) + [0]
        var consumedAll = false
        let ref: Double = copy.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { c in
                var end: UnsafeMutablePointer<CChar>?
                let v = strtod(c, &end)
                consumedAll = end.map { $0 - c == data.count } ?? false
                return v
            }
        }
        if let got {
            guard consumedAll else { fail("accepted text strtod does not read whole: \(show(data)) → \(got)") }
            let same = got.bitPattern == ref.bitPattern || (got.isNaN && ref.isNaN)
            guard same else { fail("\(show(data)) → \(got), strtod says \(ref)") }
            if !got.isFinite { fail("\(show(data)) → non-finite \(got)") }
        } else if isStrictDecimal(data), data.count < 400, consumedAll, ref.isFinite {
            // A decimal beyond a double (strtod: ±inf) is refused on purpose: FastNumber never
            // returns a non-finite value (docs/formats.md: non-finite values are errors).
            fail("rejected the plain decimal \(show(data)) (strtod: \(ref))")
        }
    }

    /// `-?digits[.digits][(e|E)[+-]digits]`.
    static func isStrictDecimal(_ d: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        func digits() -> Bool { let s = i; while i < d.count, d[i] >= 48, d[i] <= 57 { i += 1 }; return i > s }
        if i < d.count, d[i] == 45 { i += 1 }
        guard digits() else { return false }
        if i < d.count, d[i] == 46 { i += 1; guard digits() else { return false } }
        if i < d.count, d[i] | 0x20 == 101 {
            i += 1
            if i < d.count, d[i] == 43 || d[i] == 45 { i += 1 }
            guard digits() else { return false }
        }
        return i == d.count
    }

    static func show(_ d: UnsafeBufferPointer<UInt8>) -> String { String(decoding: d, as: UTF8.self).debugDescription }

    static func fail(_ s: String) -> Never { Fuzz.fail("number: " + s) }
}

/// ISO8601.seconds: a parsed instant is finite and round-trips through `format` (to the
/// millisecond); without an offset (or with a zero one) the formatted date and time are the ones
/// written — `2026-02-30` must not come back as 2 March.
enum DateTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard data.count <= 64 else { return }
        let text = String(decoding: data, as: UTF8.self)
        guard let s = ISO8601.seconds(text) else { return }
        guard s.isFinite else { fail("\(text.debugDescription) → \(s)") }
        let f = ISO8601.format(s)
        guard let back = ISO8601.seconds(f) else { fail("\(text.debugDescription) → \(s) → \(f.debugDescription), which does not parse") }
        guard abs(back - s) <= 0.0005 + 1e-9 * abs(s) else { fail("\(text.debugDescription) → \(s) → \(f) → \(back)") }
        // The date (and time when given) as written, when no offset moves it. A leap second (:60)
        // rolls into the next minute by design, so it is left out.
        let b = Array(text.utf8)
        let zeroOffset = b.count == 10 || b.last == 90 || b.last == 122 || text.hasSuffix("+00:00") || text.hasSuffix("-00:00")
            || text.hasSuffix("+0000") || text.hasSuffix("-0000")
        let leap = b.count >= 19 && b[16] == 58 && b[17] == 54 && b[18] == 48
        // A fraction of a second is rounded to the millisecond, which may carry into the second,
        // minute or day as written ("10.9999995" prints as 11.000): the round trip above covers it.
        let fraction = b.count > 19 && (b[19] == 46 || b[19] == 44)
        if zeroOffset && !leap && !fraction && Fuzz.pending {
            let fb = Array(f.utf8)
            let n = b.count == 10 ? 10 : (b.count >= 19 && b[16] == 58 ? 19 : 16)
            var same = fb.count >= n
            for k in 0..<min(n, fb.count) where k != 10 && fb[k] != b[k] { same = false }
            if !same { fail("\(text.debugDescription) formats back as \(f)") }
        }
    }

    static func fail(_ s: String) -> Never { Fuzz.fail("date: " + s) }
}

/// JSON.parse: no crash; an accepted document renders and re-parses to an equal value (only
/// checked when every number is finite: non-finite tokens render as text, docs/formats.md).
enum JSONTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let bytes = Array(data)
        let doc: JSON
        do { doc = try JSON.parse(bytes) } catch { Fuzz.checkMessage(error, "json"); return }
        guard allFinite(doc, depth: 0) else { return }
        let text = doc.render(pretty: false)
        do {
            let again = try JSON.parse(text)
            if again != doc { Fuzz.fail("json: render/parse changed the value: \(String(text.prefix(200)))") }
        } catch {
            Fuzz.fail("json: rendered document does not parse: \(error); \(String(text.prefix(200)))")
        }
    }

    static func allFinite(_ v: JSON, depth: Int) -> Bool {
        switch v {
        case let .number(x): return x.isFinite
        case let .array(a): return a.allSatisfy { allFinite($0, depth: depth + 1) }
        case let .object(o): return o.allSatisfy { allFinite($0.1, depth: depth + 1) }
        default: return true
        }
    }
}
