/// A problem with the input, located precisely enough for a user to fix it (docs/model.md §10).
///
/// Rendered as `file: record: field: message`, e.g.
/// `positions.csv: line 17 (account A-1001): size: expected a finite number, got "abc"`.
/// Empty parts are left out.
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the value came from (a path, or a name such as `account.json`).
    public var file: String
    /// The record: a line number, an array index, an account id or a symbol.
    public var record: String
    /// The field (JSON key or CSV column).
    public var field: String
    /// What was wrong and what was expected.
    public var message: String

    /// An error; empty location parts are left out of the rendering. Echo offending values with
    /// `InputError.echo(_:)` (quoted, at most 80 characters, control characters escaped).
    public init(file: String = "", record: String = "", field: String = "", _ message: String) {
        self.file = file
        self.record = record
        self.field = field
        self.message = message
    }

    /// One line, whatever the parts hold: control characters (a NUL, a line break from a quoted
    /// CSV field, …) are escaped, so a message never ends early or spills onto the next line
    /// (docs/formats.md: errors are one line each).
    public var description: String {
        Self.escapingControls([file, record, field, message].filter { !$0.isEmpty }.joined(separator: ": "))
    }

    /// The longest part of an offending value a message echoes (docs/formats.md: at most 80 characters).
    public static let echoLimit = 80

    /// `value` as a message quotes it: in double quotes, control characters escaped, cut to
    /// `echoLimit` characters with the total length noted (`"aaaa…" (1048576 characters)`), so a
    /// megabyte-long bad value gives a short message.
    public static func echo<S: StringProtocol>(_ value: S) -> String {
        var count = 0
        var head = ""
        for ch in value {
            if count < echoLimit { head.append(ch) }
            count += 1
        }
        let quoted = "\"" + escapingControls(head) + (count > echoLimit ? "…" : "") + "\""
        return count > echoLimit ? quoted + " (\(count) characters)" : quoted
    }

    /// Control characters (C0, DEL, C1) written as escapes: `\n`, `\r`, `\t`, `\0`, else `\u{XX}`.
    public static func escapingControls(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            guard isControl(u) else { out.unicodeScalars.append(u); continue }
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }

    private static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0)
    }

    /// The same error, located in `file` (only where no file was set yet).
    func inFile(_ name: String) -> InputError {
        var e = self
        if e.file.isEmpty { e.file = name }
        return e
    }
}
