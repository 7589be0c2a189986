/// Number formatting of every output (MODEL.md §11.17): shortest round-trip decimal, `inf` for
/// infinity.
enum NumberFormat {
    @inline(__always)
    static func text(_ v: Double) -> String {
        if v.isFinite { return v == 0 ? "0.0" : v.description }   // folds −0 to 0
        if v.isNaN { return "nan" }
        return v > 0 ? "inf" : "-inf"
    }
}
