import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm smile --market M [--coin C] [--expiry INSTANT] [--strikes K1,K2,...] [--format table|csv|json] [--plot FILE.svg]`
struct SmileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smile",
        abstract: "The fitted implied-volatility smiles (SVI per listed expiry, docs/smile.md) against the listed marks.",
        discussion: "CSV columns: expiry,strike,forward,log_moneyness,fitted_iv,listed_iv,outlier (listed_iv and outlier empty where nothing is listed at that strike; outlier 1 where a listed mark was left out of the fit, with a note on stderr).")

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "Only this base coin (default: every coin with listed options).")
    var coin: String?

    @Option(name: .long, help: "An ISO 8601 instant: only this expiry (listed, or interpolated between listed ones).")
    var expiry: String?

    @Option(name: .long, help: "K1,K2,... — strikes to evaluate besides the listed ones.")
    var strikes: String?

    @Option(name: .long, help: "Output: table, csv or json.")
    var format: SmileFormat = .table

    @Option(name: .long, help: "Also draw the listed points and fitted curves per expiry as an SVG file.")
    var plot: String?

    enum SmileFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    func parsedStrikes() throws -> [Double] {
        guard let strikes else { return [] }
        do { return try SmileReport.parseStrikes(strikes) } catch let e as InputError { throw ValidationError(e.description) }
    }

    func validate() throws { _ = try parsedStrikes() }

    func run() throws {
        let market: MarketSnapshot
        do { market = try MarketSnapshot.load(path: options.market) } catch { throw Fatal(error) }
        let views: [SmileView]
        do { views = try SmileReport.views(market: market, coin: coin, expiry: expiry, strikes: try parsedStrikes()) } catch { throw Fatal(error) }
        if let plot {
            do { try SmileReport.writeWhole(SmileReport.svg(views), to: plot) } catch let e as InputError {
                throw Fatal("--plot \(e)")
            }
        }
        for note in SmileReport.outlierNotes(views) { Stderr.line("pm smile: " + note) }
        switch format {
        case .table: print(SmileReport.table(views), terminator: "")
        case .csv: print(SmileReport.csv(views), terminator: "")
        case .json: print(SmileReport.json(views).render())
        }
    }
}
