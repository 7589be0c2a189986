import Foundation

/// `split.json`, which `pm split` writes into each split input folder: which shard the folder is,
/// the digests of the whole input it was cut from (`source`) and of its own files (`files`).
///
/// `pm batch` on a split folder checks that the files it read are the ones `pm split` wrote (a
/// changed or mixed-up folder is refused, exit 1), computes the shard's accounts, and records the
/// shard and the *source* digests in its manifest — so shards run from split folders and shards
/// run with `--shard I/N` on the whole input carry the same manifest inputs, and `pm merge` checks
/// them the same way.
public struct SplitInfo: Sendable {
    /// `split.json`.
    public static let fileName = "split.json"
    /// Which shard of the source the folder holds.
    public var shard: ShardSpec
    /// The digests of the whole input the folder was cut from (by file name).
    public var source: [(name: String, digest: InputDigest)]
    /// The digests of the folder's own files (by file name).
    public var files: [(name: String, digest: InputDigest)]

    /// A split description.
    public init(shard: ShardSpec, source: [(name: String, digest: InputDigest)], files: [(name: String, digest: InputDigest)]) {
        self.shard = shard; self.source = source; self.files = files
    }

    /// The folder's `split.json`, or nil when it has none (an ordinary input folder).
    public static func load(directory: String) throws -> SplitInfo? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(file: path, "cannot be read") }
        let doc: JSON
        do { doc = try JSON.parse([UInt8](data)) } catch { throw InputError(file: path, "not valid JSON (\(error))") }
        guard case let .string(s)? = doc["shard"], let shard = ShardSpec(s) else {
            throw InputError(file: path, field: "shard", "expected \"I/N\"")
        }
        func digests(_ key: String) throws -> [(name: String, digest: InputDigest)] {
            guard case let .object(members)? = doc[key] else { throw InputError(file: path, field: key, "expected an object") }
            return try members.map { name, v in
                guard case let .number(size)? = v["size"], size >= 0, size == size.rounded(),
                      case let .string(hex)? = v["hash"], hex.count == 16, let h = UInt64(hex, radix: 16) else {
                    throw InputError(file: path, field: "\(key).\(name)", "expected {\"size\": bytes, \"hash\": 16 hex digits}")
                }
                return (name, InputDigest(size: Int(size), hash: h))
            }
        }
        return SplitInfo(shard: shard, source: try digests("source"), files: try digests("files"))
    }

    /// The `split.json` text, UTF-8, newline-terminated.
    public var json: [UInt8] {
        func obj(_ list: [(name: String, digest: InputDigest)]) -> String {
            "{" + list.map { "\n    \(Manifest.quote($0.name)): {\"size\": \($0.digest.size), \"hash\": \"\($0.digest.hex)\"}" }.joined(separator: ",") + "\n  }"
        }
        return Array("{\n  \"shard\": \"\(shard)\",\n  \"source\": \(obj(source)),\n  \"files\": \(obj(files))\n}\n".utf8)
    }

    /// The shard a run computes: `--shard` or the split folder's; both must agree.
    public static func shard(given: ShardSpec?, split: SplitInfo?, input: String) throws -> ShardSpec? {
        guard let split else { return given }
        if let given, given != split.shard {
            throw InputError(file: input + "/" + fileName, field: "shard",
                             "this folder is shard \(split.shard) of a pm split; --shard \(given) asks for another")
        }
        return split.shard
    }

    /// Refuses a split folder whose files are not the ones `pm split` wrote.
    public func check(read: [(name: String, digest: InputDigest)], input: String) throws {
        for (name, d) in read {
            guard let want = files.first(where: { $0.name == name })?.digest else {
                throw InputError(file: input + "/" + name, "is not listed in \(Self.fileName) (the folder was changed after pm split)")
            }
            guard want == d else {
                throw InputError(file: input + "/" + name, "differs from what pm split wrote (\(d) instead of \(want)); split the input again")
            }
        }
        for (name, _) in files where !read.contains(where: { $0.name == name }) {
            throw InputError(file: input + "/" + name, "is missing (\(Self.fileName) lists it)")
        }
    }
}
