
/// The version `manifest.json` records; `pm merge` refuses shards of different versions (their
/// numbers could differ).
public enum PMVersion {
    /// The version string, e.g. `0.9.0`.
    public static let string = "0.9.0"
}

/// One shard of a run: accounts whose id hash modulo `count` is `index` (docs/model.md §11.16).
public struct ShardSpec: Equatable, Sendable, CustomStringConvertible {
    /// This shard's number I, 0 ≤ I < N.
    public var index: Int
    /// The number of shards N, 1 ≤ N ≤ 10^6; N = 1 is the whole input.
    public var count: Int
    /// Shard `index` of `count` (not checked: use ``init(_:)`` for user text).
    public init(index: Int, count: Int) { self.index = index; self.count = count }
    /// `I/N`, as `--shard` takes it.
    public var description: String { "\(index)/\(count)" }

    /// Parses `I/N` with 0 ≤ I < N ≤ 10^6 (docs/formats.md bounds).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= 1_000_000, i >= 0, i < n else { return nil }
        index = i; count = n
    }

    /// The shard of an account id: FNV-1a 64 of its UTF-8 bytes modulo `count` (docs/model.md §11.16,
    /// the same function `pm batch --shard` uses).
    public static func of(_ id: UnsafeRawBufferPointer, count: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return Int(h % UInt64(count))
    }
}

/// `manifest.json` (docs/formats.md "Scale-out"): which shard, how many rows and errors, a digest of
/// every input and of both outputs, where each orphan id first appears, the version and the finish
/// instant.
///
/// `accounts` is the number of data rows of `margins.csv` (every id seen: error rows included),
/// `errors` the number of those rows that carry an error. `inputs` holds, in this order,
/// `accounts.csv`, `balances.csv`, `positions.csv`, `orders.csv` (only when present), `market` and
/// `params`, each `{"size": bytes, "hash": "16 hex digits of XXH64, seed 0"}` (`InputDigest`).
/// For a split folder (`pm split`) the CSV digests are those of the whole input it was cut from,
/// so the shards of one input carry the same digests whichever way they were run. `outputs` holds
/// the same kind of digest of `margins.csv` and `units.csv` as written (`pm merge` checks them), and
/// `orphans` the first appearance (row file, line) of each id not in `accounts.csv`, in the order of
/// their rows at the end of `margins.csv` — what `pm merge` orders the shards' orphan rows by.
public struct Manifest: Equatable, Sendable {
    /// Where an id absent from `accounts.csv` first appears: the row file (`balances.csv`,
    /// `positions.csv`, `orders.csv`) and its line. One run writes these ids' rows in this order:
    /// by file in that order, then by line (docs/formats.md).
    public struct OrphanKey: Equatable, Sendable, Comparable {
        /// The row files in the order one run reads them.
        public static let files = ["balances.csv", "positions.csv", "orders.csv"]
        /// Index into ``files``.
        public var file: Int
        /// The 1-based line of the file (the header is line 1).
        public var line: Int
        /// The key of line `line` of row file `file` (an index into ``files``).
        public init(file: Int, line: Int) { self.file = file; self.line = line }
        /// By file, then line: one run's order.
        public static func < (a: OrphanKey, b: OrphanKey) -> Bool { (a.file, a.line) < (b.file, b.line) }
    }
    /// The shard the run computed; `nil` for a whole (unsharded) run or a merge.
    public var shard: ShardSpec?
    /// Data rows of `margins.csv`, error rows included.
    public var accounts: Int
    /// Rows of `margins.csv` that carry an error (0 when every account was margined).
    public var errors: Int
    /// The digest of every input, in the order of the type's documentation.
    public var inputs: [(name: String, digest: InputDigest)]
    /// The digests of the outputs as written: `margins.csv`, then `units.csv`.
    public var outputs: [(name: String, digest: InputDigest)]
    /// Per orphan row of `margins.csv` (the rows after the `accounts.csv` ones), in their order:
    /// where its id first appears.
    public var orphans: [OrphanKey]
    /// The version that wrote the outputs (``PMVersion/string``).
    public var pm: String
    /// Seconds since 1970 (UTC).
    public var finished: Double

    /// A manifest; `finished` defaults to now.
    public init(shard: ShardSpec?, accounts: Int, errors: Int, inputs: [(name: String, digest: InputDigest)],
                outputs: [(name: String, digest: InputDigest)] = [], orphans: [OrphanKey] = [],
                pm: String = PMVersion.string, finished: Double = Manifest.now()) {
        self.shard = shard; self.accounts = accounts; self.errors = errors
        self.inputs = inputs; self.outputs = outputs; self.orphans = orphans; self.pm = pm; self.finished = finished
    }

    /// The current time, seconds since 1970 (UTC), to the millisecond.
    public static func now() -> Double {
        let t = Clock.now()
        return Double(t.seconds) + Double(t.nanoseconds / 1_000_000) / 1000
    }

    /// Every field equal, inputs by name and digest in order.
    public static func == (a: Manifest, b: Manifest) -> Bool {
        a.shard == b.shard && a.accounts == b.accounts && a.errors == b.errors && a.pm == b.pm && a.finished == b.finished
            && a.inputs.map(\.name) == b.inputs.map(\.name) && a.inputs.map(\.digest) == b.inputs.map(\.digest)
            && a.outputs.map(\.name) == b.outputs.map(\.name) && a.outputs.map(\.digest) == b.outputs.map(\.digest)
            && a.orphans == b.orphans
    }

    /// The inputs as one comparable value (names and digests, in order).
    public var inputsKey: String { inputs.map { "\($0.name)=\($0.digest.size):\($0.digest.hex)" }.joined(separator: ",") }

    /// The document, one key per line.
    public var json: [UInt8] {
        var s = "{\n"
        s += "  \"shard\": " + (shard.map { "\"\($0)\"" } ?? "null") + ",\n"
        s += "  \"accounts\": \(accounts),\n"
        s += "  \"errors\": \(errors),\n"
        s += "  \"inputs\": {"
        s += inputs.map { "\n    \(Self.quote($0.name)): {\"size\": \($0.digest.size), \"hash\": \"\($0.digest.hex)\"}" }.joined(separator: ",")
        s += "\n  },\n"
        s += "  \"outputs\": {"
        s += outputs.map { "\n    \(Self.quote($0.name)): {\"size\": \($0.digest.size), \"hash\": \"\($0.digest.hex)\"}" }.joined(separator: ",")
        s += "\n  },\n"
        s += "  \"orphans\": [" + orphans.map { "[\"\(OrphanKey.files[$0.file])\", \($0.line)]" }.joined(separator: ", ") + "],\n"
        s += "  \"pm\": \(Self.quote(pm)),\n"
        s += "  \"finished\": \"\(ISO8601.format(finished))\"\n"
        s += "}\n"
        return Array(s.utf8)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Reads a manifest; every problem names `file` and the field.
    public static func load(path: String) throws -> Manifest {
        var bytes: [UInt8] = []
        // A regular file only: a pipe would block the open until a writer came (docs/formats.md).
        let fd: FileDescriptor
        do { fd = try InputFile.openRegular(path).0 } catch let e as InputError where e.message == "no such file" {
            throw InputError(file: path, "no such file (not the output folder of a pm batch run?)")
        }
        defer { fd.closeIgnoringErrors() }
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n: Int
            do { n = try buf.withUnsafeMutableBytes { b throws(Errno) in try fd.read(into: b.baseAddress!, count: b.count) } } catch {
                throw InputError(file: path, "cannot be read")
            }
            if n == 0 { break }
            bytes += buf[0..<n]
            if bytes.count > 1 << 28 { throw InputError(file: path, "is larger than 256 MB: not a manifest") }
        }
        return try parse(bytes, file: path)
    }

    /// Parses `manifest.json`; throws an ``InputError`` naming `file` and the field on a malformed document.
    public static func parse(_ bytes: [UInt8], file: String) throws -> Manifest {
        let doc: JSON
        do { doc = try JSON.parse(bytes) } catch { throw InputError(file: file, "not valid JSON (\(error))") }
        func int(_ key: String) throws -> Int {
            guard case let .number(v)? = doc[key], v >= 0, v < 9e15, v == v.rounded() else {
                throw InputError(file: file, field: key, "expected a count")
            }
            return Int(v)
        }
        var shard: ShardSpec?
        switch doc["shard"] {
        case .null?: shard = nil
        case let .string(s)?:
            guard let sh = ShardSpec(s) else { throw InputError(file: file, field: "shard", "expected \"I/N\" or null, got \(InputError.echo(s))") }
            shard = sh
        default: throw InputError(file: file, field: "shard", "expected \"I/N\" or null")
        }
        guard case let .object(members)? = doc["inputs"] else { throw InputError(file: file, field: "inputs", "expected an object") }
        func digests(_ key: String, _ members: [(String, JSON)]) throws -> [(name: String, digest: InputDigest)] {
            try members.map { name, v in
                guard case let .number(size)? = v["size"], size >= 0, size < 9e15, size == size.rounded(),
                      case let .string(hex)? = v["hash"], hex.count == 16, hex.allSatisfy(\.isHexDigit),
                      let h = UInt64(hex, radix: 16) else {
                    throw InputError(file: file, field: "\(key).\(name)", "expected {\"size\": bytes, \"hash\": 16 hex digits}")
                }
                return (name, InputDigest(size: Int(size), hash: h))
            }
        }
        let inputs = try digests("inputs", members)
        // outputs and orphans: absent in a manifest of an older pm (pm merge then refuses it).
        var outputs: [(name: String, digest: InputDigest)] = []
        switch doc["outputs"] {
        case nil: break
        case let .object(o)?: outputs = try digests("outputs", o)
        default: throw InputError(file: file, field: "outputs", "expected an object")
        }
        var orphans: [OrphanKey] = []
        switch doc["orphans"] {
        case nil: break
        case let .array(list)?:
            for (k, item) in list.enumerated() {
                guard case let .array(pair) = item, pair.count == 2, case let .string(f) = pair[0],
                      let fi = OrphanKey.files.firstIndex(of: f), case let .number(line) = pair[1],
                      line >= 2, line < 9e15, line == line.rounded() else {
                    throw InputError(file: file, field: "orphans[\(k)]", "expected [\"balances.csv\" | \"positions.csv\" | \"orders.csv\", line ≥ 2]")
                }
                orphans.append(OrphanKey(file: fi, line: Int(line)))
            }
        default: throw InputError(file: file, field: "orphans", "expected an array")
        }
        guard case let .string(pm)? = doc["pm"] else { throw InputError(file: file, field: "pm", "expected the version string") }
        guard case let .string(f)? = doc["finished"], let finished = ISO8601.seconds(f) else {
            throw InputError(file: file, field: "finished", "expected an ISO-8601 instant")
        }
        return Manifest(shard: shard, accounts: try int("accounts"), errors: try int("errors"), inputs: inputs,
                        outputs: outputs, orphans: orphans, pm: pm, finished: finished)
    }
}
