import Foundation
import PortfolioMargin

/// The parameter file shipped with the package (`data/params/pm-params.json`), used when a command
/// gets no `--params`. Locating it is the command line's business (the current directory upwards,
/// then beside the executable named by argv[0]); the library only ever loads a path it is given.
enum ShippedParameters {
    static let relativePath = "data/params/pm-params.json"

    /// The path of the shipped file; throws an `InputError` naming it when it cannot be found.
    static func path() throws -> String {
        var candidates: [URL] = []
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 { candidates.append(dir); dir.deleteLastPathComponent() }
        var exe = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<6 { exe.deleteLastPathComponent(); candidates.append(exe) }
        for c in candidates {
            let p = c.appendingPathComponent(relativePath).path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw InputError(file: relativePath,
                         "the shipped parameter file was not found from the current directory; pass --params PATH")
    }

    /// The `--params` file if given, else the shipped one.
    static func load(_ params: String?) throws -> ParameterSet {
        try ParameterSet.load(path: params ?? path())
    }
}
