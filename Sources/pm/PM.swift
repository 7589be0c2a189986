import ArgumentParser
import PortfolioMargin
import CPlatform
#if canImport(Glibc)
import Glibc
#endif

/// `pm`: Portfolio Margin for crypto derivatives accounts.
@main
struct PM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pm",
        abstract: "Portfolio Margin for crypto derivatives accounts (options, perpetuals, futures, spot).",
        discussion: "The model is documented in docs/model.md; files and fields in docs/formats.md.",
        subcommands: [MarginCommand.self, BatchCommand.self, LiquidateCommand.self, WhatIfCommand.self, SweepCommand.self, GenerateCommand.self,
                      MergeCommand.self, SplitCommand.self, BybitCommand.self, SmileCommand.self, ReportCommand.self, HedgeCommand.self, ExplainCommand.self,
                      BacktestCommand.self])

    /// Runs the command; every failure exits 1 with one line on stderr (docs/formats.md), except
    /// `--help`, which exits 0.
    static func main() {
        BLASKernel.reexecuteIfMisdetected()  // OpenBLAS's kernels must fit the CPU (docs/readings.md item 26); at most once
        MallocTuning.apply()
        BLASKernel.runSingleThreaded()    // the engine's own threads call BLAS: one thread each (docs/performance.md "OpenBLAS's idle threads")
        _ = pm_blas_stop_idle_threads()   // OpenBLAS's unused pool would spin on a core for ~0.1 s (CPlatform.h)
        if let name = CLIBounds.repeatedOption(Array(CommandLine.arguments.dropFirst())) {
            Stderr.line("Error: \(name) given twice (it takes one value)")
            terminate(1)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            terminate(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                terminate(0)
            }
            Stderr.line(fullMessage(for: error).split(separator: "\n").joined(separator: " — "))
            terminate(1)
        }
    }
}

/// Exit status 3: outputs complete, some accounts carry an error (docs/formats.md).
let partialFailure = ExitCode(3)

/// `exit(3)` under another name: inside a `ParsableCommand`, `exit` means the parser's `exit(withError:)`.
func terminate(_ code: Int32) -> Never { exit(code) }

/// Writes to standard error, one line per message.
enum Stderr {
    /// `s` and a line end; a control character inside `s` (a newline in a path the user gave)
    /// is written as an escape, so one message is always one line.
    static func line(_ s: String) {
        writeStandardError(InputError.escapingControls(s) + "\n")
    }
}

/// A fatal input problem: printed on stderr, exit 1, nothing on stdout.
struct Fatal: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
    init(_ e: Error) { description = "\(e)" }
}

/// `--market` and `--params`, shared by every command.
struct MarketOptions: ParsableArguments {
    @Option(name: .long, help: "Market snapshot (docs/formats.md market.json).")
    var market: String

    @Option(name: .long, help: "Parameter file (default: the shipped data/params/pm-params.json).")
    var params: String?

    /// Loads parameters and the snapshot and prices the market; fatal on any problem.
    func pricedMarket() throws -> PricedMarket {
        do {
            let parameters = try ShippedParameters.load(params)
            let snapshot = try MarketSnapshot.load(path: market)
            return PricedMarket(market: snapshot, parameters: parameters)
        } catch {
            throw Fatal(error)
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table
}

/// glibc's malloc, tuned for a batch that allocates and frees block-sized arrays (megabytes) over
/// and over: by default each such array is a fresh `mmap` whose pages are faulted in and zeroed
/// by the kernel, then unmapped, and freed heap tops are returned to the kernel at once. Keeping
/// them (mmap only above 32 MiB, trim only above 1 GiB free) cut `pm batch`'s page faults at 200k
/// accounts from ~59k to ~23k and its system time from 0.28 s to 0.17 s; peak memory rises by the
/// pool kept (+20 MB at 1M). A process-wide choice, so the program makes it, not the library; a
/// user's own `GLIBC_TUNABLES` or `MALLOC_*_` settings win (docs/performance.md "malloc tuning").
enum MallocTuning {
    static func apply() {
        #if canImport(Glibc)
        let userSettings = ["GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"]
        guard userSettings.allSatisfy({ CurrentProcess.environment($0) == nil }) else { return }
        _ = pm_malloc_tune(32 << 20, 1 << 30)
        #endif
    }
}
