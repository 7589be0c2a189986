import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// XXH64 against the published test vectors, fed whole and in pieces.
struct InputDigestTests {
    @Test func xxh64MatchesPublishedVectors() {
        #expect(InputDigest(Array("".utf8)).hex == "ef46db3751d8e999")
        #expect(InputDigest(Array("a".utf8)).hex == "d24ec4f1a98c6e5b")
        #expect(InputDigest(Array("abc".utf8)).hex == "44bc2cf5ad770999")
        // 39 bytes: one 32-byte stripe and a 7-byte tail (python-xxhash's README example).
        #expect(InputDigest(Array("Nobody inspects the spammish repetition".utf8)).hex == "fbcea83c8a378bf1")
        #expect(InputDigest(Array("abc".utf8)).size == 3)
    }

    @Test func piecesGiveTheSameDigestAsTheWhole() {
        var rng = SplitMix(seed: 11)
        for n in [0, 1, 7, 31, 32, 33, 64, 100, 1000, 4099] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let whole = InputDigest(bytes)
            var s = XXH64Stream()
            var p = 0
            while p < n {
                let k = min(n - p, rng.int(1, 40))
                bytes[p..<(p + k)].withUnsafeBytes { s.update($0) }
                p += k
            }
            #expect(s.digest == whole, "n = \(n)")
            var changed = bytes
            if n > 0 { changed[n / 2] ^= 1; #expect(InputDigest(changed) != whole) }
        }
    }
}
