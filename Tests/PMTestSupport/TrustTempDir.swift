import Foundation

/// A temporary folder removed when the value goes away.
final class TrustTempDir {
    let url: URL
    init() throws {
        url = URL(fileURLWithPath: TestTemp.dir("trust"))
    }
    deinit { TestTemp.remove(url.path) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

    @discardableResult func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}
