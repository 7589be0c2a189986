/// A buffer that the workers of one `Workers.forEach` fill, each slot by one worker.
///
/// `@unchecked Sendable` — safe because of how every use goes: (1) each index is written by
/// exactly one worker (the slot of its chunk or block number, or the chunk's own range of slots),
/// (2) no worker reads a slot another one writes, and (3) the owner of the memory reads the slots
/// only after `Workers.forEach` has returned, which happens after every worker's writes. The
/// memory outlives the workers (it is the buffer of a `withUnsafeMutableBufferPointer` around the
/// `Workers.forEach` call).
package struct DisjointSlots<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
    package init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.buffer = buffer }
    package subscript(i: Int) -> Element {
        get { buffer[i] }
        nonmutating set { buffer[i] = newValue }
    }
}

extension Array {
    /// `count` elements left uninitialized, for element types without references whose every
    /// element the caller writes before reading. A count of 0 gives `[]`: the initializer would
    /// store its count into the standard library's one shared empty-array storage, a write
    /// ThreadSanitizer reports when two workers make empty arrays at once.
    @inlinable static func uninitialized(count: Int) -> [Element] {
        count == 0 ? [] : Self(unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
