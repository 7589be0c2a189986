/// One `pm backtest` run, as a value (docs/formats.md "Coverage backtest"): the batch input
/// folder, market, parameters, history folder, options and the output folder. ``run()`` reads
/// everything, backtests the accounts block by block through the batch's block pipeline
/// (`BlockPipeline`, on `threads` threads of work, the calling thread included) and writes
/// `backtest.csv`, `backtest-units.csv`, `scenarios.csv`, `summary.json` and `manifest.json`, all
/// five or none (``OutputFiles``).
///
/// The book coins (hence the scenarios) are those of every account of the input that the reader
/// did not reject, also with `shard`: every shard of a run has the same scenarios, so `pm merge`
/// can add their per-scenario totals.
public struct BacktestJob {
    /// The batch input folder (accounts.csv, balances.csv, positions.csv, orders.csv).
    public var input: String
    /// The market snapshot file.
    public var market: String
    /// The parameters: a file, or the shipped set.
    public var parameters: ParameterSource
    /// The history folder (``History``).
    public var history: String
    /// The output folder.
    public var output: String
    /// Horizon, window and confidence.
    public var options = BacktestOptions()
    /// Only the accounts of this shard; nil: all.
    public var shard: ShardSpec?
    /// Threads of work, the calling thread (which also reads and writes) included.
    public var threads = 2
    /// Accounts per block.
    public var blockSize = 4096
    /// The engine's options (aggregation path, kernel).
    public var engine = EngineOptions()
    /// Called on the calling thread after each block written with (accounts done, total).
    public var progress: (Int, Int) -> Void = { _, _ in }

    /// A job with the default options.
    public init(input: String, market: String, parameters: ParameterSource, history: String, output: String) {
        self.input = input; self.market = market; self.parameters = parameters; self.history = history; self.output = output
    }

    /// The files written, in ``OutputFiles`` order.
    public static let outputNames = ["backtest.csv", "backtest-units.csv", "scenarios.csv", "summary.json", "manifest.json"]
    /// `backtest.csv`'s header.
    public static let accountsHeader = "account_id,total_mm,total_im,scenarios,breaches_mm,breaches_im,coverage_mm,worst_loss,worst_date,worst_shortfall,kupiec_p,christoffersen_p,zone,error\n"
    /// `backtest-units.csv`'s header.
    public static let unitsHeader = "account_id,base_coin,mm,breaches,coverage,worst_loss,worst_date,kupiec_p,christoffersen_p,zone\n"
}

/// What a backtest run did.
public struct BacktestReport: Sendable {
    /// The scenarios.
    public var scenarios: BacktestScenarios
    /// The totals over the accounts of the run.
    public var totals: BacktestTotals
    /// The confidence.
    public var confidence: Double
}

extension BacktestJob {
    /// Runs the backtest. Throws the inputs' problems (``InputError``) and ``BatchOutputError``;
    /// nothing is left in ``output`` then.
    public func run() throws -> BacktestReport {
        let threads = max(1, self.threads)
        let (parameters, paramsDigest) = try self.parameters.loadWithDigest()
        let (snapshot, marketDigest) = try MarketSnapshot.loadWithDigest(path: market)
        let priced = PricedMarket(market: snapshot, parameters: parameters, kernel: engine.kernel)
        let history = try History.load(directory: self.history)
        let writer = try OutputFiles(directory: output, names: Self.outputNames)
        do {
            let all = try BatchInput.load(directory: input, priced: priced, shard: nil, threads: threads)
            let scenarios = try BacktestScenarios(history: history, coins: Self.bookCoins(all, priced: priced), options: options)
            let batch = shard == nil ? all : try BatchInput.load(directory: input, priced: priced,
                                                                 shard: shard.map { ($0.index, $0.count) }, threads: threads)
            let reval = Revaluation(priced: priced, scenarios: scenarios, kernel: engine.kernel)
            let dates = scenarios.days.map { Array(History.dateText($0).utf8) }
            let out = BacktestOutput(scenarios: scenarios, dates: dates)
            var totals = BacktestTotals(coins: scenarios.coins.count, scenarios: scenarios.count)
            try Self.writing {
                try writer.write(0, Array(Self.accountsHeader.utf8))
                try writer.write(1, Array(Self.unitsHeader.utf8))
            }
            let n = batch.accountCount
            let confidence = options.confidence
            // The batch's block pipeline on the whole-file rows (every account's coins are needed
            // before the scenarios are built): each block's book margined, backtested and
            // formatted on a thread of work, then written in block order here.
            let pipeline = BlockPipeline<BacktestBlock>(source: WholeFileRows(batch, priced: priced, blockSize: max(1, blockSize)),
                                                        monitor: Monitor(), threads: threads) { [engine] book in
                let count = book.accountIds.count
                let r = Backtest.evaluate(book, margins: MarginEngine.run(book, options: engine), scenarios: scenarios,
                                          revaluation: reval, confidence: confidence, kernel: engine.kernel)
                var a = ByteBuffer(capacity: count * 200), u = ByteBuffer(capacity: count * 150)
                out.append(r, accounts: &a, units: &u)
                return BacktestBlock(accounts: a.bytes, units: u.bytes, totals: r.totals, count: count)
            }
            var done = 0
            // A whole-file source never hands over, so the run always ends with it.
            _ = try pipeline.run(consume: { block in
                try Self.writing { try writer.write(0, block.accounts); try writer.write(1, block.units) }
                totals.add(block.totals)
                done += block.count
                progress(done, n)
            })
            var manifestInputs = batch.digests + [(name: "market", digest: marketDigest), (name: "params", digest: paramsDigest)]
            manifestInputs += history.digests
            try Self.writing {
                try writer.write(2, out.scenariosCSV(totals))
                try writer.write(3, out.summaryJSON(totals, confidence: options.confidence))
                let outputs = (0..<4).map { (name: Self.outputNames[$0], digest: writer.digest($0)) }
                let m = Manifest(shard: shard, accounts: totals.accounts, errors: totals.errors, inputs: manifestInputs, outputs: outputs,
                                     orphans: batch.orphanFirstSeen)
                try writer.write(4, BacktestManifest.json(m, scenarios: scenarios, confidence: options.confidence, totals: totals))
                try writer.commit()
            }
            return BacktestReport(scenarios: scenarios, totals: totals, confidence: options.confidence)
        } catch let e as StreamingBatch.SinkError {
            writer.abandon()
            throw BatchOutputError(folder: output, underlying: e.underlying)
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// The base coins of the units of every account the reader did not reject: the coins of its
    /// position rows and orders (docs/model.md §11.5).
    static func bookCoins(_ input: BatchInput, priced: PricedMarket) -> [String] {
        var seen = [Bool](repeating: false, count: priced.baseCoins.count)
        for a in 0..<input.accountCount where input.accountErrors[a] == nil {
            for rows in [input.positions, input.orders] where a + 1 < rows.start.count {
                for r in rows.start[a]..<rows.start[a + 1] {
                    let slot = priced.coinSlot[Int(rows.ref[r])]
                    if slot >= 0 { seen[Int(slot)] = true }
                }
            }
        }
        return priced.baseCoins.indices.filter { seen[$0] }.map { priced.baseCoins[$0] }
    }

    private static func writing<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StreamingBatch.SinkError { throw e } catch { throw StreamingBatch.SinkError(underlying: error) }
    }
}

/// One backtested block: its backtest.csv and backtest-units.csv rows, its totals and its accounts.
struct BacktestBlock {
    var accounts: [UInt8]
    var units: [UInt8]
    var totals: BacktestTotals
    var count: Int
}
