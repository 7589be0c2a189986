import Foundation
import PortfolioMargin

/// The parameters of a command: its `--params` file if given, else the set shipped with the
/// package (`data/params/pm-params.json`), which the library carries compiled in
/// (``ParameterSource/shipped``) — `pm` finds it from any folder.
enum ShippedParameters {
    /// `.file(params)`, or `.shipped` when no `--params` was given.
    static func source(_ params: String?) -> ParameterSource { params.map(ParameterSource.file) ?? .shipped }

    /// The `--params` file if given, else the shipped set, loaded and validated.
    static func load(_ params: String?) throws -> ParameterSet { try source(params).load() }
}

/// The folder that holds the package's shipped `data/` (the default history of `pm backtest`): the current directory or one of its five
/// parents, else the executable's folder (argv[0], symbolic links resolved) or one of its parents —
/// the first that holds `file` (a path relative to it). Nil when none does.
func shippedRoot(holding file: String) -> String? {
    var candidates: [URL] = []
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 { candidates.append(dir); dir.deleteLastPathComponent() }
    var exe = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
    for _ in 0..<6 { exe.deleteLastPathComponent(); candidates.append(exe) }
    return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(file).path) }?.path
}
