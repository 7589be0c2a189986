// Target for `pm merge`'s library entry (ScaleOut/ShardMerge.swift, Manifest.swift): a shard's
// manifest.json, margins.csv or units.csv replaced by the fuzz input.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Once per process: the batch fixture (Fuzz/fixtures/batch) with orphan rows added is margined as
/// one run (the reference bytes) and as shards 0/2 and 1/2, each written as `pm batch` writes it
/// (margins.csv, units.csv, manifest.json). Per input: byte 0 picks which file of shard 1 the rest
/// replaces (0 manifest.json, 1 margins.csv, 2 units.csv, 3 manifest.json and shard 0 given
/// second), then `ShardMerge.merge` runs on the two shards. What must hold: no crash; either an
/// `InputError` of one line that names the changed shard's folder, with nothing written (no output
/// folder, no staging litter), or a merge whose margins.csv and units.csv are the one run's bytes.
enum ManifestTarget {
    static let names = ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"]
    static let root = Fuzz.work + "/manifest"
    /// The input folder, relative to `root` (the process's working directory once set up), so that
    /// the orphan rows' texts, which name their file, do not depend on the scratch folder's name:
    /// the seeds (Fuzz/seeds/manifest, `pm batch --shard 1/2` run in a folder holding `in/`) then
    /// match the shards made here byte for byte.
    static let input = "in"
    static let good = [root + "/shard-0", root + "/shard-1"]
    static let mutated = root + "/shard-1x"
    static let out = root + "/merged"

    /// The one run's (margins, units), made on first use with the shards.
    static let reference: ([UInt8], [UInt8]) = {
        _ = Fuzz.priced   // loaded through Fuzz.root before the working directory changes
        mkdir(root, 0o755)
        guard chdir(root) == 0 else { Fuzz.fail("manifest: cannot enter \(root)") }
        mkdir(input, 0o755)
        for n in names {
            var bytes = Fuzz.read(Fuzz.root + "/Fuzz/fixtures/batch/" + n)
            if bytes.last != 10 { bytes.append(10) }
            // Orphan ids, first seen in both row files, not in shard order.
            if n == "balances.csv" { bytes += Array("GHOST-3,USDT,5\nGHOST-8,USDT,1\n".utf8) }
            if n == "positions.csv", let header = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first {
                let commas = header.filter { $0 == "," }.count
                for k in [5, 1, 3, 9, 2] {
                    bytes += Array(("GHOST-\(k)" + ",BTCUSDT,1" + String(repeating: ",", count: max(0, commas - 2)) + "\n").utf8)
                }
            }
            Fuzz.write(input + "/" + n, bytes)
        }
        let whole = batch(shard: nil, to: root + "/whole")
        for i in 0..<2 { _ = batch(shard: (i, 2), to: good[i]) }
        return whole
    }()

    /// Margins `input` (one shard of it) and writes the three files as `pm batch` does.
    static func batch(shard: (index: Int, count: Int)?, to dir: String) -> ([UInt8], [UInt8]) {
        do {
            let b = try BatchInput.load(directory: input, priced: Fuzz.priced, shard: shard, threads: 1)
            let files = try OutputFiles(directory: dir, names: ["margins.csv", "units.csv", "manifest.json"])
            var m = BatchOutput.marginsHeader, u = BatchOutput.unitsHeader
            try files.write(0, m)
            try files.write(1, u)
            let s = try BatchRunner.run(b, priced: Fuzz.priced, threads: 1, blockSize: 3) { mm, uu in
                try files.write(0, mm); try files.write(1, uu); m += mm; u += uu
            }
            let digests = try b.digests + [("market", InputDigest(path: Fuzz.root + "/Fuzz/fixtures/market-small.json")),
                                           ("params", InputDigest(path: Fuzz.root + "/data/params/pm-params.json"))]
            let manifest = Manifest(shard: shard.map { ShardSpec(index: $0.index, count: $0.count) }, accounts: s.accounts,
                                    errors: s.errors, inputs: digests,
                                    outputs: [("margins.csv", files.digest(0)), ("units.csv", files.digest(1))],
                                    orphans: b.orphanFirstSeen)
            try files.write(2, manifest.json)
            try files.commit()
            if shard == nil && b.orphanAccountCount != 6 { Fuzz.fail("manifest: the fixture has \(b.orphanAccountCount) orphan ids, 6 expected") }
            return (m, u)
        } catch { Fuzz.fail("manifest: the fixture batch failed: \(error)") }
    }

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        guard data.count >= 1 else { return }
        let (refM, refU) = reference
        let which = Int(data[0] & 3)
        let file = ["manifest.json", "margins.csv", "units.csv", "manifest.json"][which]
        try? FileManager.default.removeItem(atPath: mutated)
        try? FileManager.default.removeItem(atPath: out)
        do { try FileManager.default.copyItem(atPath: good[1], toPath: mutated) } catch { Fuzz.fail("manifest: copy: \(error)") }
        Fuzz.write(mutated + "/" + file, UnsafeBufferPointer(rebasing: data[1...]))
        let dirs = which == 3 ? [mutated, good[0]] : [good[0], mutated]
        do {
            _ = try ShardMerge.merge(shards: dirs, accounts: input + "/accounts.csv", out: out)
        } catch {
            guard let e = error as? InputError else { Fuzz.fail("manifest: threw \(type(of: error)), not an InputError: \(error)") }
            let d = e.description
            if d.utf8.contains(10) || d.utf8.contains(13) || d.utf8.contains(0) {
                Fuzz.fail("manifest: error message is not one line: \(d.debugDescription)")
            }
            if !d.contains(mutated) { Fuzz.fail("manifest: the error does not name the changed shard \(mutated): \(d)") }
            if access(out, F_OK) == 0 { Fuzz.fail("manifest: a refused merge wrote \(out)") }
            let litter = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix(".merged") }
            if !litter.isEmpty { Fuzz.fail("manifest: a refused merge left \(litter)") }
            return
        }
        let m = (try? readFile(out + "/margins.csv")) ?? [], u = (try? readFile(out + "/units.csv")) ?? []
        if m != refM || u != refU {
            Fuzz.fail("manifest: the merge succeeded with outputs other than one run's (margins \(m.count) vs \(refM.count) bytes, units \(u.count) vs \(refU.count))")
        }
        if access(out + "/manifest.json", F_OK) != 0 { Fuzz.fail("manifest: a merge without its manifest.json") }
    }
}
