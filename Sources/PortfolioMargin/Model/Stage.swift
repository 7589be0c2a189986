/// Liquidation staging of an account (docs/model.md §8).
///
/// The first stage that applies, in this order, with the thresholds of the parameter file's
/// `stages` (``StagePolicy``; shipped values in brackets):
/// - `liquidation`: `mmRate ≥ liquidationMMRate` [1.00]: cancel all orders, then reduce positions
///   (see ``LiquidationPlan``).
/// - `autoRepay`: the account has a liability and `mmRate ≥ autoRepayMMRate` [0.85].
/// - `imBreach`: `imRate ≥ imBreachIMRate` [1.00]: no new positions may be opened.
/// - `healthy`: none of the above.
///
/// A `+∞` rate (non-positive margin balance + order loss, docs/model.md §11.12) is at or above every
/// threshold. An account with an error has no stage (``BookResult/stage`` is `nil`).
public enum Stage: String, CaseIterable, Sendable {
    case healthy, imBreach, autoRepay, liquidation
}
