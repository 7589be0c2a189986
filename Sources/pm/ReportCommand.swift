import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm report OUT [--out report.html]`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page (inline SVG charts, no script) of a batch or backtest output folder.",
        discussion: "The folder's kind is told by its files: backtest.csv (pm backtest) or margins.csv (pm batch, pm merge). The page is written whole or not at all; the output folder is only read.")

    @Argument(help: "The output folder of pm batch, pm merge or pm backtest.")
    var folder: String

    @Option(name: .long, help: "The page to write (default: report.html in the current folder).")
    var out: String = "report.html"

    func validate() throws {
        guard !folder.isEmpty else { throw ValidationError("OUT must name a folder, got an empty argument") }
        guard !out.isEmpty else { throw ValidationError("--out must name a file, got an empty argument") }
        guard !out.hasSuffix("/") else { throw ValidationError("--out must name a file, got a folder \(InputError.echo(out))") }
    }

    func run() throws {
        let kind: Report.Kind
        do { kind = try Report.kind(of: folder) } catch { throw Fatal(error) }
        // The page replaces only a regular file: a rename over a pipe, a device (`/dev/null`) or
        // a symbolic link would put a plain file where the node or the link was.
        // (A folder is refused by the write: "is a directory".)
        if let what = SmileReport.notARegularFile(out) {
            throw Fatal("--out \(InputError.echo(out)) is \(what); the page replaces only a regular file (name a file path)")
        }
        // The page never replaces a file the report reads (an output of the run it describes).
        if let target = try? FileSystem.status(out) {
            for input in Report.inputs(of: folder, kind: kind) {
                if let st = try? FileSystem.status(input), st.isSameFile(as: target) {
                    throw Fatal("--out \(InputError.echo(out)) is \(input), which the report reads; choose another file")
                }
            }
        }
        // Never into OUT (docs/formats.md "Reports"): the folder holds the run the manifest describes.
        let slash = out.lastIndex(of: "/")
        let parent = slash.map { $0 == out.startIndex ? "/" : String(out[..<$0]) } ?? "."
        if let parentStat = try? FileSystem.status(parent), let folderStat = try? FileSystem.status(folder),
           parentStat.isSameFile(as: folderStat) {
            throw Fatal("--out \(InputError.echo(out)) is inside \(InputError.echo(folder)), the folder the report reads; write the page elsewhere")
        }
        let page: String
        do { page = try Report.html(folder: folder) } catch { throw Fatal(error) }
        do { try SmileReport.writeWhole(page, to: out) } catch { throw Fatal("--out \(error)") }
    }
}
