import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `BatchOutput.append` writes a block's rows raw into reserved memory; its bytes must
/// equal the plain field-by-field writer it replaced (kept here as the reference), including error
/// rows, ids that need CSV quoting, and appending to a buffer that already holds rows.
struct BatchOutputTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// The previous writer: one `ByteBuffer` call per field.
    func reference(_ result: BookResult, margins m: inout ByteBuffer, units u: inout ByteBuffer) {
        let book = result.book
        let p = book.priced
        for a in 0..<book.accountCount {
            let id = book.accountIds[a]
            m.field(id)
            if let e = book.accountErrors[a] {
                m.append(",,,,,,,,"); m.field(e.description); m.byte(10)
                continue
            }
            for v in [result.marginBalance[a], result.orderLoss[a], result.totalIM[a], result.totalMM[a], result.imRate[a], result.mmRate[a]] {
                m.byte(44); m.number(v)
            }
            m.byte(44); m.append(result.stage[a]!.rawValue); m.append(",\n")
            for x in book.unitStart[a]..<book.unitStart[a + 1] {
                let slot = Int(book.unitSlot[x]), worst = Int(result.unitWorst[x])
                let c = result.unitContingency[x]
                u.field(id)
                u.byte(44); u.append(p.baseCoins[slot])
                u.byte(44); u.number(result.unitMaxLoss[x])
                u.byte(44); u.number(p.grids[slot].priceMoves[worst / 3])
                u.byte(44); u.append(IvShock(rawValue: worst % 3)!.name)
                for v in [c.optionContingency, c.optionVegaContingency, c.usdtUsdcContingency, c.futureDeltaContingency,
                          c.futureContingency, result.unitMM[x], result.unitIM[x]] {
                    u.byte(44); u.number(v)
                }
                u.byte(44); u.append(result.unitGoverning[x].name)
                u.byte(44); u.number(result.unitHedge[x])
                u.byte(10)
            }
        }
    }

    func result() -> BookResult {
        var accounts = RandomAccounts.make(400, seed: 77)
        accounts[3].id = "Q,\"quoted\" id"                                      // needs quoting
        accounts[5].positions.append(Position(symbol: "NO-SUCH,\"SYM\"", size: 1, entryPrice: nil))   // error row, quoted message
        accounts[6].id = "LINE\nBREAK"
        accounts[6].positions.append(Position(symbol: "BAD", size: 1, entryPrice: nil))
        accounts[9].id = "é-ünïcode"
        return MarginEngine.run(Book(priced: priced, accounts: accounts))
    }

    @Test func rawRowsEqualTheFieldByFieldWriter() {
        let r = result()
        #expect(r.book.accountErrors.compactMap { $0 }.count == 2)
        var m = ByteBuffer(), u = ByteBuffer(), rm = ByteBuffer(), ru = ByteBuffer()
        BatchOutput.append(r, margins: &m, units: &u)
        reference(r, margins: &rm, units: &ru)
        #expect(m.bytes == rm.bytes)
        #expect(u.bytes == ru.bytes)
        #expect(rm.bytes.count > 20_000 && ru.bytes.count > 20_000)
        // A second block appended to buffers that already hold rows (the temporary-array path).
        BatchOutput.append(r, margins: &m, units: &u)
        reference(r, margins: &rm, units: &ru)
        #expect(m.bytes == rm.bytes)
        #expect(u.bytes == ru.bytes)
        let text = String(decoding: m.bytes, as: UTF8.self)
        #expect(text.contains("\"Q,\"\"quoted\"\" id\","))
        #expect(text.contains("\"LINE\nBREAK\",,,,,,,,\""))
    }

    /// Extreme numbers (the longest texts, `inf`, −0) in every numeric column stay within the bound.
    @Test func longestNumbersFitTheBound() {
        var r = result()
        let wide: [Double] = [-2.2250738585072014e-308, -.infinity, -0.0, -1.2345678901234567e-300, .nan]
        for a in 0..<r.book.accountCount {
            let v = wide[a % wide.count]
            r.marginBalance[a] = v; r.orderLoss[a] = v; r.totalIM[a] = v; r.totalMM[a] = v; r.imRate[a] = v; r.mmRate[a] = v
        }
        for x in 0..<r.book.unitCount {
            let v = wide[x % wide.count]
            r.unitMaxLoss[x] = v; r.unitMM[x] = v; r.unitIM[x] = v; r.unitHedge[x] = v
            r.unitContingency[x].optionContingency = v; r.unitContingency[x].futureContingency = v
        }
        var m = ByteBuffer(), u = ByteBuffer(), rm = ByteBuffer(), ru = ByteBuffer()
        BatchOutput.append(r, margins: &m, units: &u)
        reference(r, margins: &rm, units: &ru)
        #expect(m.bytes == rm.bytes)
        #expect(u.bytes == ru.bytes)
        #expect(String(decoding: m.bytes, as: UTF8.self).contains(",-2.2250738585072014e-308,"))
    }
}
