// A risk engineer's tour of the library: `swift run embedding-example` from the repository root.
//
// Load parameters and a snapshot, build an account in code, margin it, check a trade before
// placing it, plan a liquidation, and sweep a book: "who would be liquidated if BTC fell 20%?"
import PortfolioMargin

// The shipped parameter set is compiled into the library; a file of your own: ParameterSet.load(path:).
let params = try ParameterSet.shipped()
let market = try MarketSnapshot.load(path: "data/sample/market.json")
// Price every instrument once (risk arrays, deltas, vegas); reuse it for any number of accounts.
let priced = PricedMarket(market: market, parameters: params)

// 1. An account built in code: short a BTC strangle against USDC collateral.
let account = Account(
    id: "desk-7",
    balances: [Balance(coin: "USDC", walletBalance: 150_000)],
    positions: [Position(symbol: "BTC-25DEC26-100000-C-USDC", size: -4),
                Position(symbol: "BTC-25DEC26-80000-P-USDC", size: -4)])
let result = try MarginEngine.margin(account, priced: priced).get()
print("MM \(result.totalMM), IM \(result.totalIM), MM rate \(result.mmRate), stage \(result.stage.rawValue)")
let btc = result.units[0]
print("worst scenario: move \(btc.maxLossPriceMove), vol \(btc.maxLossIvShock.name); max loss \(btc.maxLoss)")

// 2. A pre-trade check: buy back half the calls.
let (before, after) = try WhatIf.run(account, trades: [Trade(symbol: "BTC-25DEC26-100000-C-USDC", size: 2)],
                                     asOrders: false, priced: priced).get()
print("what-if: MM \(before.totalMM) → \(after.totalMM)")

// 3. A liquidation plan for the same book on thin collateral.
var thin = account
thin.balances = [Balance(coin: "USDC", walletBalance: 20_000)]
let plan = try LiquidationPlan.plan(for: thin, priced: priced).get()
print("plan: \(plan.steps.count) steps, MM rate \(plan.mmRateBefore) → \(plan.mmRateAfter) (\(plan.outcome))")

// 4. A sweep over the shipped 10,000-account sample: BTC −20%, vols ×1.5.
let book = try BatchInput.load(directory: "data/sample/accounts", priced: priced)
let settings = [SweepSetting(kind: .shock(coin: "BTC"), values: [-0.2]), SweepSetting(kind: .ivScale, values: [1.5])]
let combos = try Sweep.run(book, base: priced, settings: settings, top: 3)
for c in combos {
    print("combination \(c.index) \(c.values): liquidation \(c.stages[3]) of \(book.accountCount), total MM \(c.totalMM)")
}
for t in combos[1].top { print("  MM rises most: \(book.accountIds[t.account]) \(t.mmBase) → \(t.mm)") }
