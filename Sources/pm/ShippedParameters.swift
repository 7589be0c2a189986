import Foundation
import PortfolioMargin

/// The parameters of a command: its `--params` file if given, else the set shipped with the
/// package (`data/params/pm-params.json`), which the library carries compiled in
/// (``ParameterSource/shipped``) — `pm` finds it from any folder.
enum ShippedParameters {
    /// `.file(params)`, or `.shipped` when no `--params` was given; an empty argument is refused
    /// naming `option`.
    static func source(_ params: String?, option: String = "--params") throws -> ParameterSource {
        guard let params else { return .shipped }
        guard !params.isEmpty else { throw InputError(record: option, "expected a parameter file, got an empty argument") }
        return .file(params)
    }

    /// The `--params` file if given, else the shipped set, loaded and validated.
    static func load(_ params: String?) throws -> ParameterSet { try source(params).load() }
}

/// The folder that holds the package's shipped `data/` (the default history of `pm backtest`): the current directory or one of its five
/// parents, else the executable's folder or one of its parents — the first that holds `file` (a
/// path relative to it). Nil when none does. The executable is `/proc/self/exe` (so a `pm` found
/// through `PATH` is found too), else argv[0]; symbolic links resolved.
func shippedRoot(holding file: String) -> String? {
    var candidates: [URL] = []
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 { candidates.append(dir); dir.deleteLastPathComponent() }
    let running = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? "."
    var exe = URL(fileURLWithPath: running).resolvingSymlinksInPath()
    for _ in 0..<6 { exe.deleteLastPathComponent(); candidates.append(exe) }
    return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(file).path) }?.path
}
