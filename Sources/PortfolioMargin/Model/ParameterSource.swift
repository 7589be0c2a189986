/// Where a job's parameters come from: a parameter file, or the set shipped with the library
/// (`data/params/pm-params.json`, compiled into the library as a SwiftPM resource, so an embedding
/// program and `pm` run from any folder find it without a search of the file system).
public enum ParameterSource: Sendable, Hashable, CustomStringConvertible {
    /// A parameter file (docs/formats.md "Parameter file").
    case file(String)
    /// The shipped parameter set (``ParameterSet/shippedBytes``).
    case shipped

    /// Loads and validates the parameters and gives the digest of their bytes (recorded in
    /// `manifest.json`; the shipped set's digest is that of `data/params/pm-params.json`).
    public func loadWithDigest() throws -> (parameters: ParameterSet, digest: InputDigest) {
        switch self {
        case .file(let path): return try ParameterSet.loadWithDigest(path: path)
        case .shipped: return (try ParameterSet.shipped(), InputDigest(ParameterSet.shippedBytes))
        }
    }

    /// Loads and validates the parameters.
    public func load() throws -> ParameterSet { try loadWithDigest().parameters }

    /// The file's path, or `shipped parameters (data/params/pm-params.json)`.
    public var description: String {
        switch self {
        case .file(let path): return path
        case .shipped: return "shipped parameters (\(ParameterSet.shippedName))"
        }
    }
}

extension ParameterSource: ExpressibleByStringLiteral {
    /// A parameter file at a literal path.
    public init(stringLiteral path: String) { self = .file(path) }
}

extension ParameterSet {
    /// The name of the shipped parameter file in the package.
    public static let shippedName = "data/params/pm-params.json"

    /// The bytes of the shipped parameter file, as compiled into the library.
    public static var shippedBytes: [UInt8] { PackageResources.pm_params_json }

    /// The shipped parameter set, parsed and validated (an error here names the shipped file; the
    /// test suite loads it, so a release never ships a set that fails).
    public static func shipped() throws -> ParameterSet {
        do { return try parse(JSON.parse(shippedBytes)) } catch let e as InputError { throw e.inFile(shippedName) }
    }
}
