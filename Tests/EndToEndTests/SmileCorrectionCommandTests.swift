import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm smile` shows the spline correction of each fitted expiry (SmileCorrectionTests: the correction itself).
struct SmileCorrectionCommandTests {
    /// `pm smile --format json` gives each listed expiry's correction (knots and coefficients) and
    /// the table names it.
    @Test func smileReportShowsTheCorrection() throws {
        let json = try CLI.run(["smile", "--market", "data/sample/market.json", "--coin", "BTC", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.contains("\"correction\": {") && json.stdout.contains("\"knots\": [") && json.stdout.contains("\"coefficients\": ["))
        let table = try CLI.run(["smile", "--market", "data/sample/market.json", "--coin", "BTC"])
        #expect(table.status == 0 && table.stdout.contains("+ spline correction ("), "\(table.stdout.prefix(400))")
    }
}
