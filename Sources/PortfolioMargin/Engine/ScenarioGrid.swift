#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The implied-volatility scenario of a price point (docs/model.md §2), in grid order.
public enum IvShock: Int, CaseIterable, Sendable {
    case up = 0, unchanged = 1, down = 2
    /// The name used in results: `up`, `unchanged`, `down`.
    public var name: String {
        switch self {
        case .up: return "up"
        case .unchanged: return "unchanged"
        case .down: return "down"
        }
    }
}

/// The scenario grid of one base coin: N price moves × `VolShock.count` vol shocks (docs/model.md §2).
///
/// Scenario `k·VolShock.count + j` (`Scenario`) is price move `k` (ascending) with vol shock `j` (up, unchanged, down); this is
/// also the tie-break order of docs/model.md §11.6.
public struct ScenarioGrid: Equatable, Sendable {
    /// The price moves `s_k = −R + k·2R/(N−1)`, ascending.
    public let priceMoves: [Double]
    /// The number of price moves × `IvShock.count` (up, unchanged, down).
    public var scenarioCount: Int { priceMoves.count * IvShock.count }

    /// The grid of range R = `priceRange` with N = `pricePoints` moves (docs/model.md §2). The parameters are
    /// validated before (N odd from 3 to ``CoinParameters/maxPricePoints``, R in (0, 1)).
    public init(priceRange: Double, pricePoints: Int) {
        priceMoves = Self.priceMoves(range: priceRange, points: pricePoints)
    }

    /// `s_k = −R + k·2R/(N−1)`, k = 0…N−1, evaluated in that order.
    public static func priceMoves(range r: Double, points n: Int) -> [Double] {
        (0..<n).map { k in -r + Double(k) * 2 * r / Double(n - 1) }
    }

    /// The relative shock scaling `(30 / max(DTE, minDTE))^p` with p the short power below 30 days.
    public static func ivScale(dte: Double, _ p: CoinParameters) -> Double {
        let power = dte < 30 ? p.vegaPowerShort : p.vegaPowerLong
        return pow(30 / max(dte, p.minDTE), power)
    }

    /// The up, unchanged and down vols of an option with implied vol `sigma` and `dte` days left.
    /// `σ_up = σ(1 + ivUp·scale)`, `σ_down = max(σ(1 − ivDown·scale), minShockedIv)`; the floor bounds
    /// only the down shock (docs/model.md §11.13).
    public static func shockedVols(sigma: Double, dte: Double, _ p: CoinParameters) -> (up: Double, unchanged: Double, down: Double) {
        let scale = ivScale(dte: dte, p)
        return (sigma * (1 + p.ivUp * scale), sigma, max(sigma * (1 - p.ivDown * scale), p.minShockedIv))
    }

    /// Multiplier of an option's price moves: `secondsToExpiry / decaySeconds` inside the decay
    /// window, else 1 (docs/model.md §2 "Near expiry").
    public static func moveScale(secondsToExpiry: Double, _ p: CoinParameters) -> Double {
        secondsToExpiry < p.decaySeconds ? secondsToExpiry / p.decaySeconds : 1
    }
}
