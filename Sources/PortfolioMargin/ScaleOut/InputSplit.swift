
/// `pm split --input DIR --shards N --out DIR`: one pass over each input file writes N input folders
/// `OUT/shard-I`, each holding only the rows whose account id hashes to I (FNV-1a 64 modulo N, the
/// function of `pm batch --shard`, docs/model.md §11.16), so a worker reads 1/N of the data.
///
/// - Every row keeps its file and its order; rows are written back field by field (quoted where a
///   field needs it, LF line ends), so the split files hold the same values, not necessarily the same
///   bytes (a CRLF or quoted source becomes plain LF CSV).
/// - Rows whose id is not in `accounts.csv` go to the shard of their id like any row (no id set is
///   kept: memory stays bounded by the write buffers).
/// - Each folder gets `split.json` (`SplitInfo`): its shard, the digests of the whole input and of
///   its own files. `pm batch` on the folder checks its files against it and writes the shard and
///   the whole input's digests into its manifest, so `pm merge` joins these shards like `--shard` ones.
/// - Each folder is written whole or not at all (`OutputFiles`). A killed split can leave folders of
///   two splits; their `split.json` source digests then differ and `pm merge` refuses them.
///
/// What differs from `pm batch --shard I/N` on the whole folder: only error texts that name a
/// file and line, which name the split file and its line.
public enum InputSplit {
    /// The batch input files a split cuts, in the order read.
    public static let files = ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"]

    /// The most shards one split writes: it keeps 5 files a shard open at once.
    public static var maxShards: Int {
        max(1, min(4096, (CurrentProcess.raiseOpenFileLimit() - 64) / 5))
    }

    /// Splits `input` into `count` folders under `out`; returns their paths.
    @discardableResult
    public static func split(input: String, count: Int, out: String) throws -> [String] {
        guard count >= 1, count <= maxShards else {
            throw InputError("--shards must be between 1 and \(maxShards) (open files: 5 a shard)")
        }
        var present: [String] = []
        var csvs: [CSVFile] = []
        for name in files {
            let path = input + "/" + name
            if name == "orders.csv" {
                guard let st = try? FileSystem.status(path), st.size != 0 else { continue }   // absent or empty: absent
            }
            let required = name == "accounts.csv" ? ["account_id", "spot_hedging"] : ["account_id"]
            // Broken quoting in the header is a record error of line 1, worded as every input error.
            do { csvs.append(try CSVFile(path: path, required: required)) } catch let e as CSVRecordError {
                throw e.inputError(lineOffset: 0)
            }
            present.append(name)
        }
        let source = zip(present, csvs).map { (name: $0, digest: InputDigest($1.file.bytes)) }
        let dirs = (0..<count).map { out + "/shard-\($0)" }
        var writers: [OutputFiles] = []
        do {
            for d in dirs { writers.append(try OutputFiles(directory: d, names: present + [SplitInfo.fileName])) }
            var digests = [[InputDigest]](repeating: [], count: count)
            for (k, csv) in csvs.enumerated() {
                var bufs = [ByteBuffer](repeating: ByteBuffer(capacity: 1 << 16), count: count)
                var hashes = [XXH64Stream](repeating: XXH64Stream(), count: count)
                var header = ByteBuffer(capacity: 256)
                for (c, name) in csv.columns.enumerated() {
                    if c > 0 { header.byte(44) }
                    header.field(name)
                }
                header.byte(10)
                for s in 0..<count { bufs[s].bytes.append(contentsOf: header.bytes) }
                let cId = csv.column("account_id")!
                var failure: Error?
                let data = csv.file.bytes.count > csv.dataStart ? csv.dataStart..<csv.file.bytes.count : 0..<0
                do {
                    try csv.forEachLine(in: data) { _, f in
                        guard failure == nil else { return }
                        let s = ShardSpec.of(UnsafeRawBufferPointer(start: f[cId].0, count: f[cId].1), count: count)
                        for c in 0..<f.count {
                            if c > 0 { bufs[s].byte(44) }
                            bufs[s].csvField(f[c])
                        }
                        bufs[s].byte(10)
                        if bufs[s].bytes.count >= 1 << 16 {
                            do {
                                bufs[s].bytes.withUnsafeBytes { hashes[s].update($0) }
                                try writers[s].write(k, bufs[s].bytes)
                                bufs[s].bytes.removeAll(keepingCapacity: true)
                            } catch { failure = error }
                        }
                    }
                // Lines counted from the first data line: the header's lines added, as `pm batch` words them.
                } catch let e as CSVRecordError { throw e.inputError(lineOffset: csv.headerLines) }
                if let failure { throw failure }
                for s in 0..<count {
                    bufs[s].bytes.withUnsafeBytes { hashes[s].update($0) }
                    try writers[s].write(k, bufs[s].bytes)
                    digests[s].append(hashes[s].digest)
                }
            }
            for s in 0..<count {
                let info = SplitInfo(shard: ShardSpec(index: s, count: count), source: source,
                                     files: zip(present, digests[s]).map { (name: $0, digest: $1) })
                try writers[s].write(present.count, info.json)
            }
            for w in writers { try w.commit() }
        } catch {
            for w in writers { w.abandon() }
            throw error
        }
        return dirs
    }
}

extension ByteBuffer {
    /// A CSV field from bytes, quoted when it holds a comma, quote or line break.
    mutating func csvField(_ f: (UnsafePointer<UInt8>, Int)) {
        let p = f.0, n = f.1
        var needs = false
        for i in 0..<n where p[i] == 44 || p[i] == 34 || p[i] == 10 || p[i] == 13 { needs = true; break }
        if !needs { bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: n)); return }
        byte(34)
        for i in 0..<n {
            if p[i] == 34 { byte(34) }
            byte(p[i])
        }
        byte(34)
    }
}
