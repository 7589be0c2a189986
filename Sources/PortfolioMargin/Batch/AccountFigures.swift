
/// Per-account MM, IM and stage of a whole input (no CSV text): what sweeps compare.
public struct AccountFigures: Sendable {
    /// totalMM per account, USD, in input order (`NaN` for an error account).
    public var mm: [Double]
    /// totalIM per account, USD, in input order (`NaN` for an error account).
    public var im: [Double]
    /// The stage per account (docs/model.md §8); `nil` for an error account.
    public var stage: [Stage?]

    /// The `count` accounts with the largest MM increase over `base` (errors excluded), largest
    /// first; ties by input order.
    func largestIncreases(over base: AccountFigures, count: Int) -> [(account: Int, mmBase: Double, mm: Double)] {
        guard count > 0 else { return [] }
        // A long list (`--top` is unbounded): sort every candidate once, O(n log n), rather than
        // inserting into a sorted list of `count`, O(n · count) — a million accounts with
        // `--top 1000000` would take hours. Same order either way: change descending, then account.
        if count > 64 {
            var all: [(Int, Double)] = []
            for a in 0..<mm.count where stage[a] != nil && base.stage[a] != nil { all.append((a, mm[a] - base.mm[a])) }
            all.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            return all.prefix(count).map { ($0.0, base.mm[$0.0], mm[$0.0]) }
        }
        var best: [(Int, Double)] = []   // (account, change), kept sorted descending
        for a in 0..<mm.count where stage[a] != nil && base.stage[a] != nil {
            let change = mm[a] - base.mm[a]
            if best.count == count, change <= best[count - 1].1 { continue }
            var i = best.count
            while i > 0 && best[i - 1].1 < change { i -= 1 }
            best.insert((a, change), at: i)
            if best.count > count { best.removeLast() }
        }
        return best.map { ($0.0, base.mm[$0.0], mm[$0.0]) }
    }
}

extension BatchRunner {
    /// The books of `input`'s blocks, built on `threads` workers.
    public static func books(_ input: BatchInput, priced: PricedMarket, threads: Int = 2,
                             blockSize: Int = defaultBlockSize) -> [Book] {
        let n = input.accountCount
        let blocks = (n + blockSize - 1) / blockSize
        var out = [Book?](repeating: nil, count: blocks)
        out.withUnsafeMutableBufferPointer { buffer in
            let books = DisjointSlots(buffer)   // block b writes only slot b
            parallelBlocks(blocks, threads: threads) { b in
                books[b] = input.book(accounts: (b * blockSize)..<min(n, (b + 1) * blockSize), priced: priced)
            }
        }
        return out.map { $0! }
    }

    /// MM, IM and stage of every account of `input` under `priced`, blocks over `threads` workers;
    /// each block's book is built, margined and dropped (nothing is kept between blocks).
    public static func accountFigures(_ input: BatchInput, priced: PricedMarket, threads: Int = 2,
                                      blockSize: Int = defaultBlockSize, options: EngineOptions = EngineOptions()) -> AccountFigures {
        let n = input.accountCount
        let blocks = (n + blockSize - 1) / blockSize
        return figures(accounts: n, blocks: blocks, first: { $0 * blockSize }, threads: threads, options: options) { b in
            input.book(accounts: (b * blockSize)..<min(n, (b + 1) * blockSize), priced: priced)
        }
    }

    /// MM, IM and stage of every account of consecutive `books` (one per block), repriced under `priced`.
    public static func accountFigures(_ books: [Book], priced: PricedMarket, accounts n: Int, threads: Int = 2,
                                      options: EngineOptions = EngineOptions()) -> AccountFigures {
        var starts = [0]
        for b in books { starts.append(starts.last! + b.accountCount) }
        let first = starts
        return figures(accounts: n, blocks: books.count, first: { first[$0] }, threads: threads, options: options) { b in
            books[b].priced === priced ? books[b] : books[b].repriced(priced)
        }
    }

    /// Margins the book of every block (`book(b)`, whose accounts start at `first(b)`) on `threads` workers.
    private static func figures(accounts n: Int, blocks: Int, first: @Sendable (Int) -> Int, threads: Int, options: EngineOptions,
                                book: @Sendable (Int) -> Book) -> AccountFigures {
        var f = AccountFigures(mm: [Double](repeating: .nan, count: n), im: [Double](repeating: .nan, count: n),
                               stage: [Stage?](repeating: nil, count: n))
        f.mm.withUnsafeMutableBufferPointer { mmBuffer in
            f.im.withUnsafeMutableBufferPointer { imBuffer in
                f.stage.withUnsafeMutableBufferPointer { stageBuffer in
                    // Block b writes only its own accounts' slots.
                    let mm = DisjointSlots(mmBuffer), im = DisjointSlots(imBuffer), st = DisjointSlots(stageBuffer)
                    parallelBlocks(blocks, threads: threads) { b in
                        let r = MarginEngine.run(book(b), options: options)
                        for k in 0..<r.accountCount {
                            let a = first(b) + k
                            mm[a] = r.totalMM[k]; im[a] = r.totalIM[k]; st[a] = r.stage[k]
                        }
                    }
                }
            }
        }
        return f
    }

    /// Runs `body(block)` for every block on `threads` workers, taking blocks in order.
    static func parallelBlocks(_ blocks: Int, threads: Int, _ body: (Int) -> Void) {
        Workers.forEach(blocks, threads: threads, body)
    }
}
