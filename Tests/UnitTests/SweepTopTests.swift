import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `top.csv`'s ranking: the same order for a short and a long `--top` (a long one once took
/// O(accounts × top): `--top 1000000` on a million accounts never finished).
struct SweepTopTests {
    func figures(_ n: Int, seed: UInt64) -> (base: AccountFigures, after: AccountFigures) {
        var rng = SplitMix(seed: seed)
        var base = AccountFigures(mm: [], im: [], stage: [])
        var after = base
        for a in 0..<n {
            let mm = Double(rng.next() % 1000)
            base.mm.append(mm); base.im.append(mm * 1.2); base.stage.append(a % 17 == 0 ? nil : .healthy)
            let change = Double(rng.next() % 50) - 10   // many ties
            after.mm.append(mm + change); after.im.append((mm + change) * 1.2); after.stage.append(a % 23 == 0 ? nil : .healthy)
        }
        return (base, after)
    }

    @Test func longAndShortListsRankAlike() {
        let (base, after) = figures(5000, seed: 11)
        let short = after.largestIncreases(over: base, count: 40)
        let long = after.largestIncreases(over: base, count: 4000)
        #expect(short.count == 40 && long.count == 4000)
        #expect(short.map(\.account) == long.prefix(40).map(\.account))
        // Change descending, then account ascending; errored accounts never ranked.
        for (x, y) in zip(long, long.dropFirst()) {
            let cx = x.mm - x.mmBase, cy = y.mm - y.mmBase
            #expect(cx > cy || (cx == cy && x.account < y.account))
        }
        #expect(long.allSatisfy { base.stage[$0.account] != nil && after.stage[$0.account] != nil })
    }

    @Test func aTopLongerThanTheBookListsEveryRankedAccount() {
        let (base, after) = figures(300, seed: 3)
        let ranked = (0..<300).filter { base.stage[$0] != nil && after.stage[$0] != nil }.count
        #expect(after.largestIncreases(over: base, count: 1_000_000).count == ranked)
    }
}
