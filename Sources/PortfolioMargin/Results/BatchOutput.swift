/// The batch output files (docs/formats.md "Batch output — CSV").
public enum BatchOutput {
    /// The header row of `margins.csv` (docs/formats.md), newline included.
    public static let marginsHeader = Array("account_id,margin_balance,order_loss,total_im,total_mm,im_rate,mm_rate,stage,error\n".utf8)
    /// The header row of `units.csv` (docs/formats.md), newline included.
    public static let unitsHeader = Array((unitsColumns.map(\.name).joined(separator: ",") + "\n").utf8)

    /// What a `units.csv` field holds, for its byte bound.
    enum UnitsField {
        /// The account id, escaped (its bound is per account).
        case accountId
        /// A base coin, a vol shock or a governing portfolio: the longest of the book's names.
        case coin, ivShock, governing
        /// A number (`NumberFormat.maxText`).
        case number
    }

    /// The `units.csv` columns in order (docs/formats.md), the contingencies from `ContingencyKind`:
    /// the header and the row bound come from this list; `append` writes the fields in this order.
    static let unitsColumns: [(name: String, field: UnitsField)] =
        [("account_id", .accountId), ("base_coin", .coin), ("max_loss", .number),
         ("max_loss_price_move", .number), ("max_loss_iv_shock", .ivShock)]
        + ContingencyKind.all.map { ($0.descriptor.csvColumn, .number) }
        + [("mm", .number), ("im", .number), ("governing_portfolio", .governing), ("hedge_spot_size", .number)]

    /// Appends the rows of every account of `result`: one `margins.csv` row per account (an error
    /// row leaves the numbers and `stage` empty), one `units.csv` row per unit.
    ///
    /// Each file's rows of a chunk of accounts go in one `ByteBuffer.append(maxCount:_:)`: an upper
    /// bound of their bytes first, then raw writes (no per-field `Array.append`, no String per row).
    /// A unit row's account id is copied from the account's margins row, already escaped.
    static func append(_ result: BookResult, margins m: inout ByteBuffer, units u: inout ByteBuffer) {
        let book = result.book
        let p = book.priced
        let coins = p.baseCoins.map { Array($0.utf8) }
        let shocks = IvShock.allCases.map { Array($0.name.utf8) }      // indexed by rawValue (0, 1, 2)
        let governing = GoverningPortfolio.allCases.map { Array($0.name.utf8) }
        let stages = Stage.allCases.map { ($0, Array($0.rawValue.utf8)) }
        let number = NumberFormat.maxText
        let longest = { (names: [[UInt8]]) in names.map(\.count).max() ?? 0 }
        // Each field with its separator (a comma, or the newline after the last); the id's bytes
        // are added per account.
        let unitFixed = unitsColumns.reduce(0) { sum, column in
            switch column.field {
            case .accountId: return sum + 1
            case .coin: return sum + 1 + longest(coins)
            case .ivShock: return sum + 1 + longest(shocks)
            case .governing: return sum + 1 + longest(governing)
            case .number: return sum + 1 + number
            }
        }
        let kinds = ContingencyKind.all
        let marginsFixed = 6 * (1 + number) + 1 + (stages.map(\.1.count).max() ?? 0) + 2

        // Numbers that repeat are formatted once: a grid's price moves (a few dozen per slot, the
        // worst one of every unit row) once per block, and a unit's mm / im when they equal the
        // account's total_mm / total_im (one unit, no borrowing: most accounts) are copied from
        // the margins row. Same double, same text: the bytes do not change.
        var moveBase = [Int](), moveCount = 0
        for g in p.grids { moveBase.append(moveCount); moveCount += g.priceMoves.count }
        let moveText = UnsafeMutablePointer<UInt8>.allocate(capacity: 32 * max(1, moveCount))
        let moveLength = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, moveCount))
        moveLength.initialize(repeating: 0, count: max(1, moveCount))   // 0: not formatted yet
        defer { moveText.deallocate(); moveLength.deallocate() }

        // Chunks of accounts: each chunk's bound is small, so the rows go into the capacity the
        // caller reserved (BatchRunner: n·160 and n·256 bytes) without a new allocation.
        var chunk = 0
        while chunk < book.accountCount {
            let accounts = chunk..<min(book.accountCount, chunk + 256)
            chunk = accounts.upperBound
            var marginsBound = 0, unitsBound = 0
            for a in accounts {
                let id = 2 * book.accountIds[a].utf8.count + 2
                if let e = book.accountErrors[a] {
                    marginsBound += id + 8 + 2 * e.description.utf8.count + 2 + 1
                    continue
                }
                marginsBound += id + marginsFixed
                unitsBound += (book.unitStart[a + 1] - book.unitStart[a]) * (id + unitFixed)
            }
            m.append(maxCount: marginsBound) { m in
                u.append(maxCount: unitsBound) { u in
                    for a in accounts {
                        let idStart = m.p
                        m.field(book.accountIds[a])
                        let id = UnsafeBufferPointer(start: idStart, count: idStart.distance(to: m.p))
                        if let e = book.accountErrors[a] {
                            for _ in 0..<8 { m.byte(44) }
                            m.field(e.description)
                            m.byte(10)
                            continue
                        }
                        m.byte(44); m.number(result.marginBalance[a])
                        m.byte(44); m.number(result.orderLoss[a])
                        m.byte(44)
                        let imStart = m.p
                        m.number(result.totalIM[a])
                        let imText = UnsafeBufferPointer(start: imStart, count: imStart.distance(to: m.p))
                        m.byte(44)
                        let mmStart = m.p
                        m.number(result.totalMM[a])
                        let mmText = UnsafeBufferPointer(start: mmStart, count: mmStart.distance(to: m.p))
                        let totalIM = result.totalIM[a].bitPattern, totalMM = result.totalMM[a].bitPattern
                        m.byte(44); m.number(result.imRate[a])
                        m.byte(44); m.number(result.mmRate[a])
                        m.byte(44)
                        let stage = result.stage[a]!
                        for (s, name) in stages where s == stage { m.copy(name); break }
                        m.byte(44); m.byte(10)
                        for x in Int(book.unitStart[a])..<Int(book.unitStart[a + 1]) {
                            let slot = Int(book.unitSlot[x])
                            let worst = Int(result.unitWorst[x])
                            let c = result.unitContingency[x]
                            u.copy(id)
                            u.byte(44); u.copy(coins[slot])
                            u.byte(44); u.number(result.unitMaxLoss[x])
                            u.byte(44)
                            let k = moveBase[slot] + worst / 3
                            if moveLength[k] == 0 {
                                let start = u.p
                                u.number(p.grids[slot].priceMoves[worst / 3])
                                moveLength[k] = UInt8(start.distance(to: u.p))
                                (moveText + 32 * k).update(from: start, count: Int(moveLength[k]))
                            } else {
                                u.copy(UnsafeBufferPointer(start: moveText + 32 * k, count: Int(moveLength[k])))
                            }
                            u.byte(44); u.copy(shocks[worst % 3])
                            for k in kinds { u.byte(44); u.number(c[k]) }
                            u.byte(44)
                            if result.unitMM[x].bitPattern == totalMM { u.copy(mmText) } else { u.number(result.unitMM[x]) }
                            u.byte(44)
                            if result.unitIM[x].bitPattern == totalIM { u.copy(imText) } else { u.number(result.unitIM[x]) }
                            u.byte(44); u.copy(governing[result.unitGoverning[x].rawValue])
                            u.byte(44); u.number(result.unitHedge[x])
                            u.byte(10)
                        }
                    }
                }
            }
        }
    }
}
