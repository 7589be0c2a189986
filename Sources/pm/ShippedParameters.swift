import Foundation
import PortfolioMargin

/// The parameter file shipped with the package (`data/params/pm-params.json`), used when a command
/// gets no `--params`. Locating it is the command line's business (the current directory upwards,
/// then beside the executable named by argv[0]); the library only ever loads a path it is given.
enum ShippedParameters {
    static let relativePath = "data/params/pm-params.json"

    /// The path of the shipped file; throws an `InputError` naming it when it cannot be found.
    static func path() throws -> String {
        guard let root = shippedRoot(holding: relativePath) else {
            throw InputError(file: relativePath,
                             "the shipped parameter file was not found from the current directory; pass --params PATH")
        }
        return URL(fileURLWithPath: root).appendingPathComponent(relativePath).path
    }

    /// The `--params` file if given, else the shipped one.
    static func load(_ params: String?) throws -> ParameterSet {
        try ParameterSet.load(path: params ?? path())
    }
}

/// The folder that holds the package's shipped `data/`: the current directory or one of its five
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
