/// The validation rules of account rows (docs/model.md §10), shared by the JSON and CSV readers.
enum RowRules {
    /// (field, message) of a bad position row, or nil.
    static func position(size: Double, entryPrice: Double?) -> (String, String)? {
        if !size.isFinite { return ("size", "expected a finite number, got \(size)") }
        if let e = entryPrice, !(e.isFinite && e > 0) { return ("entryPrice", "expected a finite positive price, got \(e)") }
        return nil
    }

    /// Whether `position(size:entryPrice:)` is nil — the same tests, inlined into the batch row
    /// loop so that a good row (nearly all) skips the call and its optional tuple of Strings.
    /// `RowRulesTests` checks the two agree.
    @inline(__always)
    static func positionOK(size: Double, entryPrice: Double?) -> Bool {
        guard size.isFinite else { return false }
        if let e = entryPrice { return e.isFinite && e > 0 }
        return true
    }

    /// Whether `order(qty:price:)` is nil (see `positionOK`).
    @inline(__always)
    static func orderOK(qty: Double, price: Double) -> Bool {
        qty.isFinite && qty > 0 && price.isFinite && price > 0
    }

    /// (field, message) of a bad order row, or nil.
    static func order(qty: Double, price: Double) -> (String, String)? {
        if !(qty.isFinite && qty > 0) { return ("qty", "expected a finite quantity > 0, got \(qty)") }
        if !(price.isFinite && price > 0) { return ("price", "expected a finite positive price, got \(price)") }
        return nil
    }
}
