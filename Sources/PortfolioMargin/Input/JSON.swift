#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed JSON document. Objects keep their key order (for stable output and messages).
public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// Structural equality: objects compare member by member in order, numbers by
    /// `Double` equality (so `NaN` is never equal, `0 == -0`).
    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` of an object (first occurrence), or nil.
    public subscript(key: String) -> JSON? {
        if case let .object(members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    /// A short name of the value's type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses a whole document (RFC 8259, plus `NaN`, `Infinity` and `-Infinity`, docs/formats.md "JSON").
    /// Errors name the line and column (the record) and the path of the value being read (the field,
    /// `instruments[3].symbol`): malformed syntax, invalid UTF-8, an unpaired surrogate escape, a
    /// duplicate key in one object. An optional UTF-8 byte order mark is skipped.
    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        var p = JSONParser(bytes: bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { p.i = 3 }
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.error("unexpected text after the JSON value") }
        return v
    }

    /// Parses a JSON document from a string (its UTF-8 bytes); throws an ``InputError`` on malformed text.
    public static func parse(_ text: String) throws -> JSON { try parse(Array(text.utf8)) }
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    /// Where the parser is in the document (keys and array indices), for messages only.
    var path: [PathStep] = []

    enum PathStep {
        case key(String)
        case index(Int)
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The path of the value being read, as a message's field: `instruments[3].markIv`.
    var pathText: String {
        var out = ""
        for step in path {
            switch step {
            case let .key(k): out += JSONParser.keyLabel(k, first: out.isEmpty)
            case let .index(n): out += "[\(n)]"
            }
        }
        return out
    }

    /// A key as a path step: plain when short and made of letters, digits, `_` and `-`; otherwise
    /// echoed in brackets (at most 80 characters, control characters escaped, docs/formats.md "JSON").
    static func keyLabel(_ k: String, first: Bool) -> String {
        let plain = !k.isEmpty && k.utf8.count <= InputError.echoLimit && k.utf8.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45
        }
        if plain { return first ? k : "." + k }
        return "[" + InputError.echo(k) + "]"
    }

    func error(_ message: String, at position: Int? = nil) -> InputError {
        var line = 1, col = 1
        for k in 0..<min(position ?? i, bytes.count) {
            if bytes[k] == 10 { line += 1; col = 1 } else { col += 1 }
        }
        return InputError(record: "line \(line), column \(col)", field: pathText, "malformed JSON: \(message)")
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 10 || bytes[i] == 13 || bytes[i] == 9 { i += 1 }
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < 512 else { throw error("nesting too deep") }
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSON)] = []
            // Keys seen, once the object is big enough that a linear scan would cost.
            var seen: Set<String>? = nil
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyStart = i
                let key = try string()
                // A duplicate key is an error (docs/formats.md "JSON"): which one wins is not defined
                // by RFC 8259, and silently taking either could change a margin.
                let duplicate: Bool
                if members.count < 16 {
                    duplicate = members.contains { $0.0 == key }
                } else {
                    if seen == nil { seen = Set(members.map(\.0)) }
                    duplicate = !seen!.insert(key).inserted
                }
                if duplicate {
                    path.append(.key(key))
                    throw error("duplicate key \(InputError.echo(key)) in one object", at: keyStart)
                }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                skipSpace()
                path.append(.key(key))
                members.append((key, try value(depth: depth + 1)))
                path.removeLast()
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end of input in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSON] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                path.append(.index(items.count))
                items.append(try value(depth: depth + 1))
                path.removeLast()
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end of input in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        // Python's json module (and many exporters) write these for non-finite floats; they read
        // as non-finite numbers, which every numeric field then refuses (docs/formats.md "JSON").
        case UInt8(ascii: "N"): return try literal("NaN", .number(.nan))
        case UInt8(ascii: "I"): return try literal("Infinity", .number(.infinity))
        case UInt8(ascii: "-") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "I"):
            return try literal("-Infinity", .number(-.infinity))
        default:
            return .number(try number())
        }
    }

    mutating func literal(_ word: String, _ v: JSON) throws -> JSON {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("invalid literal") }
        i += w.count
        return v
    }

    /// A number of RFC 8259's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func number() throws -> Double {
        let start = i
        func isDigit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= 48 && bytes[k] <= 57 }
        func fail(_ what: String) -> InputError {
            var end = i
            while end < bytes.count, !(bytes[end] == 44 || bytes[end] == 93 || bytes[end] == 125 || bytes[end] <= 32) { end += 1 }
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            return error("\(what) \(InputError.echo(text))", at: start)
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard isDigit(i) else { throw i == start ? error("unexpected character") : fail("invalid number") }
        if bytes[i] == 48 {
            i += 1
            if isDigit(i) { throw fail("invalid number (leading zero)") }
        } else {
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard isDigit(i) else { throw fail("invalid number") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw fail("invalid number") }
            while isDigit(i) { i += 1 }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        // A magnitude beyond a double reads as ±infinity (then refused by every numeric field).
        guard let v = Double(text) else { throw fail("invalid number") }
        return v
    }

    mutating func string() throws -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c == UInt8(ascii: "\\") {
                let escapeStart = i
                i += 1
                guard i < bytes.count else { throw error("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(34)
                case UInt8(ascii: "\\"): out.append(92)
                case UInt8(ascii: "/"): out.append(47)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    // UTF-16 surrogates must come in pairs (high D800–DBFF, then low DC00–DFFF);
                    // an unpaired one is no character at all (docs/formats.md "JSON").
                    if (0xD800..<0xDC00).contains(code) {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate escape \\u\(hex(code)) (a high surrogate not followed by a low one)", at: escapeStart)
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw error("unpaired surrogate escape \\u\(hex(code)) (followed by \\u\(hex(low)), not a low surrogate)", at: escapeStart)
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw error("unpaired surrogate escape \\u\(hex(code)) (a low surrogate without a high one)", at: escapeStart)
                    }
                    appendUTF8(code, to: &out)
                default: throw error("invalid escape", at: escapeStart)
                }
            } else if c < 0x80 {
                guard c >= 0x20 else { throw error("control character in a string") }
                out.append(c)
                i += 1
            } else {
                // Raw UTF-8 must be valid (docs/formats.md "JSON"): decoding it leniently would turn
                // different bytes into the same U+FFFD, so two different ids could print alike.
                let n = utf8SequenceLength(at: i)
                guard n > 0 else { throw error("invalid UTF-8 (byte 0x\(String(c, radix: 16, uppercase: true)))") }
                out.append(contentsOf: bytes[i..<i + n])
                i += n
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    /// The length of the well-formed UTF-8 sequence starting at `k` (Unicode Table 3-7), or 0.
    func utf8SequenceLength(at k: Int) -> Int {
        let b0 = bytes[k]
        func cont(_ j: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            j < bytes.count && bytes[j] >= lo && bytes[j] <= hi
        }
        switch b0 {
        case 0xC2...0xDF: return cont(k + 1) ? 2 : 0
        case 0xE0: return cont(k + 1, 0xA0) && cont(k + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(k + 1) && cont(k + 2) ? 3 : 0
        case 0xED: return cont(k + 1, 0x80, 0x9F) && cont(k + 2) ? 3 : 0
        case 0xF0: return cont(k + 1, 0x90) && cont(k + 2) && cont(k + 3) ? 4 : 0
        case 0xF1...0xF3: return cont(k + 1) && cont(k + 2) && cont(k + 3) ? 4 : 0
        case 0xF4: return cont(k + 1, 0x80, 0x8F) && cont(k + 2) && cont(k + 3) ? 4 : 0
        default: return 0
        }
    }

    /// Appends the UTF-8 encoding of a scalar value (never a surrogate: checked by the caller).
    private func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("invalid \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw error("invalid \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }
}

/// Typed access to the fields of a JSON record, with errors that name the file, record and field.
struct JSONRecord {
    let value: JSON
    let file: String
    let record: String

    func fail(_ field: String, _ message: String) -> InputError {
        InputError(file: file, record: record, field: field, message)
    }

    func optional(_ key: String) -> JSON? {
        guard let v = value[key], v != .null else { return nil }
        return v
    }

    func string(_ key: String) throws -> String {
        guard let v = optional(key) else { throw fail(key, "missing (expected a string)") }
        guard case let .string(s) = v else { throw fail(key, "expected a string, got \(v.typeName)") }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard optional(key) != nil else { return nil }
        return try string(key)
    }

    /// A finite number. Numeric strings are not accepted: the formats say JSON numbers.
    func number(_ key: String) throws -> Double {
        guard let v = optional(key) else { throw fail(key, "missing (expected a number)") }
        guard case let .number(d) = v else { throw fail(key, "expected a number, got \(v.typeName)") }
        // NaN and ±Infinity parse (docs/formats.md "JSON") but no field takes them.
        guard d.isFinite else { throw fail(key, "expected a finite number, got \(d.isNaN ? "NaN" : d > 0 ? "Infinity" : "-Infinity")") }
        return d
    }

    func optionalNumber(_ key: String) throws -> Double? {
        guard optional(key) != nil else { return nil }
        return try number(key)
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = optional(key) else { return d }
        guard case let .bool(b) = v else { throw fail(key, "expected true or false, got \(v.typeName)") }
        return b
    }

    func array(_ key: String) throws -> [JSON] {
        guard let v = optional(key) else { return [] }
        guard case let .array(a) = v else { throw fail(key, "expected an array, got \(v.typeName)") }
        return a
    }
}

extension InputError {
    /// A name (symbol, account id, key) as a message's record or field: as it is when at most
    /// `echoLimit` characters, else echoed (quoted, cut to 80 characters) so that a megabyte-long
    /// name gives a short message (docs/formats.md "JSON"). Control characters are escaped by `description`.
    package static func shortLabel(_ name: String) -> String {
        var n = 0
        for _ in name.unicodeScalars {
            n += 1
            if n > echoLimit { return echo(name) }
        }
        return name
    }
}
