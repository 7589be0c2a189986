/// A problem with the input, located precisely enough for a user to fix it (MODEL.md §10).
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

    public init(file: String = "", record: String = "", field: String = "", _ message: String) {
        self.file = file
        self.record = record
        self.field = field
        self.message = message
    }

    public var description: String {
        [file, record, field, message].filter { !$0.isEmpty }.joined(separator: ": ")
    }

    /// The same error, located in `file` (only where no file was set yet).
    func inFile(_ name: String) -> InputError {
        var e = self
        if e.file.isEmpty { e.file = name }
        return e
    }
}
