// Targets for the JSON loaders: MarketSnapshot (market.json), ParameterSet (params) and
// Account.load (account.json), each followed by pricing and margining so that a document the
// loader accepts is also one the engine survives with finite figures.
#if canImport(Glibc)
import Glibc
#endif

/// market.json → MarketSnapshot.load → PricedMarket (shipped params) → the example accounts.
enum MarketTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let path = Fuzz.work + "/market.json"
        Fuzz.write(path, data)
        let market: MarketSnapshot
        do { market = try MarketSnapshot.load(path: path) } catch { Fuzz.checkMessage(error, "market"); return }
        let priced = PricedMarket(market: market, parameters: Fuzz.parameters)
        Fuzz.margin(Fuzz.exampleAccounts.map { .success($0) }, priced: priced, "market")
    }
}

/// params.json → ParameterSet.load → PricedMarket (the small fixed market) → the example accounts.
enum ParamsTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let path = Fuzz.work + "/params.json"
        Fuzz.write(path, data)
        let params: ParameterSet
        do { params = try ParameterSet.load(path: path) } catch { Fuzz.checkMessage(error, "params"); return }
        let priced = PricedMarket(market: Fuzz.smallMarket, parameters: params)
        Fuzz.margin(Fuzz.exampleAccounts.map { .success($0) }, priced: priced, "params")
    }
}

/// account.json → Account.load → margined against the small fixed market and shipped params.
enum AccountTarget {
    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let path = Fuzz.work + "/account.json"
        Fuzz.write(path, data)
        let loaded: (isArray: Bool, accounts: [Result<Account, AccountError>])
        do { loaded = try Account.load(path: path) } catch { Fuzz.checkMessage(error, "account"); return }
        if !loaded.isArray && loaded.accounts.count != 1 { Fuzz.fail("account: one object gave \(loaded.accounts.count) accounts") }
        Fuzz.margin(loaded.accounts, priced: Fuzz.priced, "account")
    }
}
