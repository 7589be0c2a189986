import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `RowRules.positionOK` / `orderOK` (the batch row loop's inlined pre-check) must be exactly
/// "`position` / `order` gives no problem": a row they pass is stored without the full rule call.
struct RowParseRulesTests {
    /// Edge values: signs, zeros, the smallest and largest doubles, non-finite values.
    static let values: [Double] = [0, -0.0, 1, -1, 0.29, -0.29, 1e-300, -1e-300, .leastNonzeroMagnitude,
                                   -.leastNonzeroMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                   .infinity, -.infinity, .nan, -.nan, 109.996, 5e15]

    @Test func positionOKIsPositionGivingNil() {
        var checked = 0
        for size in Self.values {
            for entry in Self.values.map(Optional.some) + [nil] {
                #expect(RowRules.positionOK(size: size, entryPrice: entry) == (RowRules.position(size: size, entryPrice: entry) == nil),
                        "size \(size) entry \(String(describing: entry))")
                checked += 1
            }
        }
        #expect(checked == Self.values.count * (Self.values.count + 1))
        // Spot checks of the rules themselves (docs/formats.md positions.csv).
        #expect(RowRules.positionOK(size: -0.29, entryPrice: nil))
        #expect(!RowRules.positionOK(size: 1, entryPrice: 0))
        #expect(!RowRules.positionOK(size: .nan, entryPrice: nil))
    }

    @Test func orderOKIsOrderGivingNil() {
        for qty in Self.values {
            for price in Self.values {
                #expect(RowRules.orderOK(qty: qty, price: price) == (RowRules.order(qty: qty, price: price) == nil),
                        "qty \(qty) price \(price)")
            }
        }
        #expect(RowRules.orderOK(qty: 0.2, price: 109.996))
        #expect(!RowRules.orderOK(qty: 0, price: 1))
        #expect(!RowRules.orderOK(qty: 1, price: -1))
    }
}
