#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The cheaper per-row parse of `pm batch` : `FastNumber.short` (a
/// 1–8 byte decimal in one 64-bit word), `ShortKeyTable` (symbols and coins inline in their hash
/// slots) and `ByteKeyTable.scan` (the account ids a few rows ahead). Each must give exactly the
/// answer of the path it shortcuts.
struct RowParseShortcutTests {
    /// Random text of every shape — short decimals like the generator's ("-0.29", "730.68"),
    /// 15–20 significant digits, leading zeros, exponents, powers of ten and their neighbours,
    /// signs in odd places, several dots, stray bytes — at a random place in a buffer of random
    /// bytes (digits and dots too, so a field read past its end would show). The word path
    /// (`parse(_:_:readableTo:)`) must return the byte loop's value bit for bit, or nil where it
    /// does, and every value returned must be `strtod`'s reading of the whole text.
    @Test func wordPathEqualsTheByteLoopAndStrtod() {
        var rng = SplitMix(seed: 2026)
        // PM_ROWPARSE_CASES=20000000 for a longer run (done once: no mismatch).
        let cases = ProcessInfo.processInfo.environment["PM_ROWPARSE_CASES"].flatMap { Int($0) } ?? 1_000_000
        var buffer = [UInt8](repeating: 0, count: 96)
        var text = [UInt8](repeating: 0, count: 48)
        let noise: [UInt8] = Array("0123456789.-+eE ,x".utf8) + [0, 0x7F, 0xFF]
        var mismatches: [String] = []
        var tookWordPath = 0, accepted = 0
        func digit(_ rng: inout SplitMix) -> UInt8 { UInt8(48 + rng.next() % 10) }
        for _ in 0..<cases {
            var n = 0
            func put(_ b: UInt8) { if n < text.count { text[n] = b; n += 1 } }
            func sign(_ rng: inout SplitMix) { switch rng.next() % 4 { case 0: put(45); case 1: put(43); default: break } }
            switch rng.next() % 10 {
            case 0, 1, 2:   // the common short shapes: [sign] 0–5 digits [. 0–5 digits]
                sign(&rng)
                for _ in 0..<Int(rng.next() % 6) { put(digit(&rng)) }
                if rng.next() % 4 != 0 { put(46); for _ in 0..<Int(rng.next() % 6) { put(digit(&rng)) } }
            case 3:         // many digits: 15–20 significant, leading zeros, the dot anywhere
                sign(&rng)
                for _ in 0..<Int(rng.next() % 4) { put(48) }
                let count = 15 + Int(rng.next() % 6)
                let dot = Int(rng.next() % UInt64(count + 2)) - 1
                for k in 0..<count { if k == dot { put(46) }; put(k == 0 ? UInt8(49 + rng.next() % 9) : digit(&rng)) }
            case 4:         // exponents
                sign(&rng)
                for _ in 0..<(1 + Int(rng.next() % 17)) { put(digit(&rng)) }
                if rng.next() % 2 == 0 { put(46); for _ in 0..<Int(rng.next() % 4) { put(digit(&rng)) } }
                put(rng.next() % 2 == 0 ? 101 : 69)
                sign(&rng)
                for _ in 0..<Int(rng.next() % 4) { put(digit(&rng)) }
            case 5:         // powers of ten and their neighbours: 10^k, 10^k − 1, 0.0…01, 0.99…9
                sign(&rng)
                let k = Int(rng.next() % 24)
                switch rng.next() % 4 {
                case 0: put(49); for _ in 0..<k { put(48) }
                case 1: for _ in 0..<max(k, 1) { put(57) }
                case 2: put(48); put(46); for _ in 0..<k { put(48) }; put(49)
                default: put(48); put(46); for _ in 0..<max(k, 1) { put(57) }
                }
                if rng.next() % 3 == 0 { put(46) }
            case 6:         // integers, leading zeros allowed
                sign(&rng)
                for _ in 0..<(1 + Int(rng.next() % 20)) { put(digit(&rng)) }
            case 7:         // a short decimal with one byte replaced by noise (a second sign or dot, an 'e', NUL…)
                sign(&rng)
                for _ in 0..<Int(1 + rng.next() % 4) { put(digit(&rng)) }
                put(46)
                for _ in 0..<Int(rng.next() % 4) { put(digit(&rng)) }
                if n > 0 { text[Int(rng.next() % UInt64(n))] = noise[Int(rng.next() % UInt64(noise.count))] }
            default:        // noise of 0–10 bytes
                for _ in 0..<Int(rng.next() % 11) { put(noise[Int(rng.next() % UInt64(noise.count))]) }
            }
            for k in buffer.indices { buffer[k] = noise[Int(rng.next() % UInt64(noise.count))] }
            let offset = Int(rng.next() % 32)
            for k in 0..<n { buffer[offset + k] = text[k] }
            // Readable to the buffer's end, or only to the field's end (the word path must not apply).
            let slack = rng.next() % 4 == 0 ? 0 : 96 - offset - n
            buffer.withUnsafeBufferPointer { b in
                let p = b.baseAddress! + offset
                let fast = FastNumber.parse(p, n, readableTo: p + n + slack)
                let bytes = FastNumber.parse(p, n)
                if n >= 1, n <= 8, slack >= 8, FastNumber.short(p, n) != nil { tookWordPath += 1 }
                var same = fast?.bitPattern == bytes?.bitPattern
                if let fast {
                    accepted += 1
                    var copy = [CChar](repeating: 0, count: n + 1)
                    for k in 0..<n { copy[k] = CChar(bitPattern: p[k]) }
                    copy.withUnsafeMutableBufferPointer { c in
                        var end: UnsafeMutablePointer<CChar>?
                        let ref = strtod(c.baseAddress!, &end)
                        if ref.bitPattern != fast.bitPattern || end != c.baseAddress! + n { same = false }
                    }
                }
                if !same, mismatches.count < 10 {
                    mismatches.append("\(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self).debugDescription): word path \(String(describing: fast)), byte loop \(String(describing: bytes))")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
        // The run exercised both: the word path took a good share, and many texts were numbers.
        #expect(tookWordPath > cases / 5 && accepted > cases / 3, "word path \(tookWordPath), accepted \(accepted)")
    }

    /// Exact cases at the edges of the word path: 8 bytes (the most it takes), 9 (the first it
    /// leaves to the loop), a dot at either end, signs, and what both paths must refuse.
    @Test func wordPathEdges() {
        let texts = ["0", "-0", "+0", "12345678", "-1234567", "+1234567", "1234.567", ".1234567", "1234567.", "99999999",
                     "123456789", "-12345678", "0.000001", "-.5", "+.5", "5.", "-5.", "00000001", "0.0", "-0.29", "730.68", "109.996"]
        let bad = ["", "-", "+", ".", "-.", "+.", "..", "1..2", "1.2.3", "--1", "+-1", "1-", "1+", "1e", "e1", "1,5", " 1", "1 ",
                   "0x10", "nan", "inf", "-inf", "1\u{0}", "\u{0}1", "١"]
        for t in texts + bad {
            let bytes = Array(t.utf8) + Array("98765432.1".utf8)   // digits right after: must not be read in
            bytes.withUnsafeBufferPointer { b in
                let p = b.baseAddress!, n = t.utf8.count
                let fast = FastNumber.parse(p, n, readableTo: p + b.count)
                #expect(fast?.bitPattern == FastNumber.parse(p, n)?.bitPattern, "\(t.debugDescription)")
                if texts.contains(t) {
                    #expect(fast?.bitPattern == Double(t)?.bitPattern, "\(t)")
                    if n <= 8 { #expect(FastNumber.short(p, n) != nil, "\(t): the word path takes it") }
                } else {
                    #expect(fast == nil, "\(t.debugDescription)")
                }
            }
        }
    }

    /// `ShortKeyTable.find` answers `ByteKeyTable.find` for every key and for near misses (a byte
    /// changed, one more or one less byte, another length), with random bytes after the field;
    /// keys of 25 bytes or more and empty fields are left to the table (nil).
    @Test func shortKeyTableAnswersTheTable() {
        var rng = SplitMix(seed: 11)
        var table = ByteKeyTable(capacity: 16)
        var keys: [[UInt8]] = []
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-".utf8)
        for sym in TestSupport.sampleMarket.instruments.map(\.symbol) { keys.append(Array(sym.utf8)) }
        for _ in 0..<3000 {
            let n = Int(rng.next() % 31)   // 0–30: the empty key and ones past 24 too
            keys.append((0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
        for k in keys { _ = k.withUnsafeBufferPointer { table.insert($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, k.count) } }
        let short = ShortKeyTable(table)
        var probes: [[UInt8]] = []
        for k in keys {
            probes.append(k)
            if !k.isEmpty {
                var c = k; c[Int(rng.next() % UInt64(k.count))] = alphabet[Int(rng.next() % UInt64(alphabet.count))]; probes.append(c)
                probes.append(Array(k.dropLast()))
            }
            probes.append(k + [alphabet[Int(rng.next() % UInt64(alphabet.count))]])
        }
        var wrong: [String] = []
        var decided = 0
        for q in probes {
            // The field, then 32 random bytes (from the same alphabet: a longer key's tail).
            let buffer = q + (0..<32).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            buffer.withUnsafeBufferPointer { b in
                let p = b.baseAddress!, n = q.count
                let want = table.find(p, n)
                let got = short.find(p, n, readableTo: p + b.count)
                if let got { decided += 1; if got != want { wrong.append(String(decoding: q, as: UTF8.self)) } }
                // Decided exactly when the field is 1–24 bytes (24 bytes readable here).
                if (got != nil) != (n >= 1 && n <= 24) { wrong.append("decided? \(String(decoding: q, as: UTF8.self))") }
                // Not readable far enough: left to the table.
                if short.find(p, n, readableTo: p + min(n, 23)) != nil { wrong.append("read past \(String(decoding: q, as: UTF8.self))") }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
        #expect(decided > probes.count / 2)
    }

    /// `ByteKeyTable.scan` finds a key `count` or fewer places ahead (the index `find` gives) and
    /// gives −1 beyond the window, past the table's end, and for an absent key.
    @Test func forwardScanFindsKeysInItsWindowOnly() {
        var table = ByteKeyTable(capacity: 64)
        let ids = (0..<100).map { "ACC-\($0 * 7 % 100)" } + ["", "x"]
        for id in ids { table.insert(id) }
        for from in [-1, 0, 5, 90, 101, 102, 200] {
            for (i, id) in ids.enumerated() {
                var s = id
                let got = s.withUTF8 { table.scan(from: from, count: 16, $0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
                let want: Int32 = from >= 0 && i >= from && i < from + 16 ? Int32(i) : -1
                #expect(got == want, "\(id) from \(from)")
                if got >= 0 { #expect(got == table.find(id)) }
            }
            var absent = "ACC-100"
            #expect(absent.withUTF8 { table.scan(from: from, count: 16, $0.baseAddress!, $0.count) } == -1)
        }
    }
}
