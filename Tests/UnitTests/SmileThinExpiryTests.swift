import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Thin expiries (docs/smile.md §1 "Thin expiries"): an expiry with fewer than
/// `SmileFit.thinStrikes` distinct strikes kept borrows the shape of its fitted neighbours and
/// fits only its level; without usable neighbours, or when a check fails, it keeps the reduced fit.
struct SmileThinExpiryTests {
    typealias Chains = SmileShortExpiryTests

    /// The neighbour of the chain of `days` days, fitted on its own marks.
    static func neighbour(_ days: Double) throws -> SmileFit.Neighbour {
        let c = try #require(Chains.chains.first { $0.days == days })
        let fit = try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: c.years)
        return SmileFit.Neighbour(smile: fit.smile, listed: c.ks)
    }

    /// Leave-one-out RMS of a thin expiry: each strike predicted by the fit of the thin expiry's
    /// other strikes, the neighbours staying fitted on their own data.
    static func leaveOneOut(_ ks: [Double], _ vols: [Double], years: Double,
                            neighbours: [SmileFit.Neighbour]) throws -> (rms: Double, allBorrowed: Bool) {
        var s = 0.0, all = true
        for i in ks.indices {
            var k = ks, v = vols
            k.remove(at: i); v.remove(at: i)
            let fit = try SmileFit.robustFit(logMoneyness: k, vols: v, years: years, neighbours: neighbours)
            all = all && fit.borrowed
            s += pow(fit.smile.vol(logMoneyness: ks[i]) - vols[i], 2)
        }
        return ((s / Double(ks.count)).squareRoot(), all)
    }

    /// The 14-day chain with 5 strikes between the 7- and the 35-day chains: leave-one-out ≤ 1.5
    /// vol points (the goal from 7 days; 6.41 with the reduced fit alone), every fit borrowed and
    /// admissible, the full fit within 1.5 vol points of every mark and of the generating smile
    /// between the strikes.
    @Test func thinChainBetweenNeighboursMeetsTheGoal() throws {
        let c = try #require(Chains.chains.first { $0.days == 14 })
        let ks = c.ks, vols = c.vols
        let neighbours = [try Self.neighbour(7), try Self.neighbour(35)]
        let fit = try SmileFit.robustFit(logMoneyness: ks, vols: vols, years: c.years, neighbours: neighbours)
        #expect(fit.borrowed && fit.outliers.isEmpty && fit.smile.isAdmissible)
        for (k, v) in zip(ks, vols) { #expect(TestSupport.near(fit.smile.vol(logMoneyness: k), v, within: 0.015), "k \(k)") }
        let loo = try Self.leaveOneOut(ks, vols, years: c.years, neighbours: neighbours)
        let alone = try SmileValidationTests.leaveOneOut(ks, vols, years: c.years)
        print("thin 14 d chain: listed RMS \(SmileValidationTests.rms(fit.smile, ks, vols) * 100), leave-one-out \(alone * 100) alone → \(loo.rms * 100) vol pts with the neighbours' shape")
        #expect(loo.allBorrowed)
        #expect(loo.rms <= 0.015, "leave-one-out \(loo.rms)")
        // Against the generating smile (no noise) between the strikes: within 1.5 points.
        for strike in stride(from: 8000.0, through: 12000, by: 250) {
            let k = log(strike / Chains.forward)
            #expect(TestSupport.near(fit.smile.vol(logMoneyness: k), c.shape.vol(k), within: 0.015), "strike \(strike)")
        }
    }

    /// With one neighbour only (the shorter or the longer), the shape comes from it alone: with the
    /// 7-day neighbour the leave-one-out error meets the goal, with the 35-day one it is at most
    /// half that of the reduced fit.
    @Test(arguments: [7.0, 35])
    func oneNeighbourIsEnough(days: Double) throws {
        let c = try #require(Chains.chains.first { $0.days == 14 })
        let loo = try Self.leaveOneOut(c.ks, c.vols, years: c.years, neighbours: [try Self.neighbour(days)])
        let alone = try SmileValidationTests.leaveOneOut(c.ks, c.vols, years: c.years)
        print("thin 14 d chain, neighbour \(Int(days)) d only: leave-one-out \(loo.rms * 100) vol pts")
        #expect(loo.allBorrowed)
        // The 7-day shape (sharp bottom, steep put wing) is this chain's; the 35-day one is
        // rounder, so it only halves the error of the reduced fit.
        #expect(loo.rms <= (days == 7 ? 0.015 : alone / 2), "leave-one-out \(loo.rms) against \(alone) alone")
    }

    /// Without neighbours, and for an expiry that is not thin, the fit is the robust fit of the
    /// expiry's own marks, to the bit.
    @Test func noNeighboursOrNotThinKeepsTheOwnFit() throws {
        let c = try #require(Chains.chains.first { $0.days == 14 })
        let plain = try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: c.years)
        let none = try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: c.years, neighbours: [])
        #expect(none == plain && !none.borrowed && plain.smile.correction == nil)
        let wide = try #require(Chains.chains.first { $0.days == 35 })
        let own = try SmileFit.robustFit(logMoneyness: wide.ks, vols: wide.vols, years: wide.years)
        let withNeighbours = try SmileFit.robustFit(logMoneyness: wide.ks, vols: wide.vols, years: wide.years,
                                                    neighbours: [try Self.neighbour(7), try Self.neighbour(91)])
        #expect(withNeighbours == own)
        // A market with the thin expiry alone: the reduced fit, no borrowed shape.
        let market = try Self.market([c])
        let surface = try VolSurface(market: market, baseCoin: "BTC")
        #expect(surface.slices.count == 1 && surface.slices[0].smile == plain.smile && surface.slices[0].shapeFrom.isEmpty)
    }

    /// Marks whose level puts the borrowed smile below the shorter neighbour's total variance
    /// (calendar arbitrage), or so high that the borrowed wing, scaled to them, passes Lee's
    /// bound: the thin expiry keeps its reduced fit.
    @Test func borrowedShapeFailingACheckFallsBack() throws {
        let c = try #require(Chains.chains.first { $0.days == 14 })
        // Half the generating vols at 14 days: total variance half the 7-day one's at the money.
        let low = c.ks.map { 0.5 * Chains.chains[2].shape.vol($0) }
        let plainLow = try SmileFit.robustFit(logMoneyness: c.ks, vols: low, years: c.years)
        let lowFit = try SmileFit.robustFit(logMoneyness: c.ks, vols: low, years: c.years,
                                            neighbours: [try Self.neighbour(7), try Self.neighbour(35)])
        #expect(!lowFit.borrowed && lowFit == plainLow)
        // Marks eight times the generating vols, the 7-day neighbour only: the level fitted to them
        // (about the marks' at-the-money total variance, ψ(0) = 1) stretches the borrowed put wing
        // past Lee's bound, so the shape is refused and the reduced fit kept.
        let high = c.ks.map { 8 * c.shape.vol($0) }
        let seven = try Self.neighbour(7)
        let shape = try #require(BorrowedShape(years: c.years, neighbours: [seven]))
        let atm = 8 * c.shape.vol(0)
        #expect(shape.wingSlopes.left * atm * atm * c.years > SmileFit.wingSlopeCap)
        let plainHigh = try SmileFit.robustFit(logMoneyness: c.ks, vols: high, years: c.years)
        let highFit = try SmileFit.robustFit(logMoneyness: c.ks, vols: high, years: c.years, neighbours: [seven])
        #expect(!highFit.borrowed && highFit == plainHigh)
        // The same neighbour with the marks themselves lends its shape.
        #expect(try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: c.years, neighbours: [seven]).borrowed)
    }

    /// The chains as one market: the 14-day expiry borrows from the 7- and 35-day expiries, every
    /// other expiry's smile is its own robust fit to the bit, and the surface is the same when built
    /// again (no state, no order effects).
    @Test func surfaceBorrowsForTheThinExpiryOnly() throws {
        let market = try Self.market(Chains.chains)
        let surface = try VolSurface(market: market, baseCoin: "BTC")
        let again = try VolSurface(market: market, baseCoin: "BTC")
        #expect(surface.slices == again.slices)
        for (s, c) in zip(surface.slices, Chains.chains) {
            let own = try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: s.years)
            if c.days == 14 {
                #expect(s.shapeFrom == [TestSupport.t0 + 7 * TestSupport.day, TestSupport.t0 + 35 * TestSupport.day])
                #expect(s.smile != own.smile && s.smile?.isAdmissible == true && s.rmsFitError < 0.01)
            } else {
                #expect(s.shapeFrom.isEmpty && s.smile == own.smile, "\(c.days) d")
            }
        }
    }

    /// `pm smile`'s renderings name the neighbours of the thin expiry only: the table's
    /// `, shape from 2026-01-08 and 2026-02-05` and the JSON's `shapeFrom`, once.
    @Test func reportNamesTheNeighbours() throws {
        let views = try SmileReport.views(market: try Self.market(Chains.chains), coin: "BTC")
        let table = SmileReport.table(views)
        #expect(table.components(separatedBy: ", shape from 2026-01-08 and 2026-02-05").count == 2, "\(table.prefix(2000))")
        let json = SmileReport.json(views).render()
        #expect(json.components(separatedBy: "\"shapeFrom\"").count == 2)
        #expect(json.contains("\"2026-01-08T00:00:00") && json.contains("\"2026-02-05T00:00:00"))
    }

    /// The sample market has no thin expiry: every smile is the robust fit of its own options.
    @Test func sampleMarketHasNoThinExpiry() throws {
        let market = TestSupport.sampleMarket
        for coin in ["BTC", "ETH", "SOL"] {
            let surface = try VolSurface(market: market, baseCoin: coin)
            for s in surface.slices {
                #expect(s.shapeFrom.isEmpty && s.strikeCount >= SmileFit.thinStrikes, "\(coin) \(s.expiry)")
            }
        }
    }

    /// The chains as a market: a call above the forward, a put below, at every strike.
    static func market(_ chains: [SmileShortExpiryTests.Chain]) throws -> MarketSnapshot {
        let f = Chains.forward
        var insts: [Instrument] = []
        for c in chains {
            for (strike, iv) in zip(c.strikes, c.vols) {
                insts.append(TestSupport.option("C\(Int(c.days))-\(Int(strike))", call: strike >= f, strike: strike,
                                                days: c.days, forward: f, iv: iv))
            }
        }
        return try MarketSnapshot(time: TestSupport.t0, indexPrices: ["BTC": f, "USDC": 1], instruments: insts)
    }
}
