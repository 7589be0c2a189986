import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The shipped parameter set is compiled into the library (a SwiftPM resource): the same bytes as
/// `data/params/pm-params.json` (that `pm` finds it from any folder: EndToEndTests' ShippedParameterTests).
@Suite struct ShippedParameterTests {
    static let file = TestSupport.path(ParameterSet.shippedName)

    @Test func theCompiledInBytesAreTheShippedFile() throws {
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.file)))
        #expect(ParameterSet.shippedBytes == onDisk)
        #expect(try ParameterSet.shipped() == ParameterSet.load(path: Self.file))
        let (_, digest) = try ParameterSource.shipped.loadWithDigest()
        #expect(digest == (try InputDigest(path: Self.file)))
        #expect(ParameterSource.shipped.description.contains(ParameterSet.shippedName))
        #expect(ParameterSource.file("x.json").description == "x.json")
    }
}
