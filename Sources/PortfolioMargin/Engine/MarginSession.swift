/// Margining parsed accounts: the parse failures stay in place, the rest go through one book.
public enum MarginSession {
    /// Margins `accounts` (parse results, in order) against `priced`; the output is in the same order.
    public static func margin(_ accounts: [Result<Account, AccountError>], priced: PricedMarket,
                              file: String = "account") -> [Result<MarginResult, AccountError>] {
        let valid = accounts.compactMap { try? $0.get() }
        let results = MarginEngine.run(Book(priced: priced, accounts: valid, file: file))
        var next = 0
        return accounts.map { parsed in
            switch parsed {
            case let .failure(e): return .failure(e)
            case .success:
                defer { next += 1 }
                return results.result(of: next)
            }
        }
    }
}
