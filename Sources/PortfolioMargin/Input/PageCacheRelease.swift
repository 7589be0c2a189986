import CPlatform

// @unchecked Sendable: `snapshot` is written once in `init` and only read afterwards (by
// `pm_cache_drop_new`, which does not change it); `deinit` frees it when no reader is left.
/// Gives the kernel back the page-cache copy of an input once its bytes are in the reader's own
/// buffer (`InputFile`, `StreamFile`): every byte is parsed from that buffer, never read from the
/// file again, so the cached pages would only take memory from the run and its neighbours (at 5M
/// accounts the inputs are ~2.8 GB). Only the pages this run brought into the cache are dropped:
/// a file that was cached when it was opened (read again and again, or just written) stays as it
/// was found (`pm_cache_snapshot_take`). A hint to the kernel: it never changes what is read, and
/// its errors are ignored.
final class PageCacheRelease: @unchecked Sendable {
    private let snapshot: OpaquePointer?
    private let fd: Int32

    /// Notes which of the first `size` bytes of `fd` are cached now; `fd` must stay open while
    /// `release` is called.
    init(fd: Int32, size: Int) {
        self.fd = fd
        snapshot = pm_cache_snapshot_take(fd, Int64(size))
    }

    deinit { pm_cache_snapshot_free(snapshot) }

    /// Drops the pages of bytes `from..<to` that were not cached at `init` (whole pages only).
    /// Safe to call from several threads on disjoint ranges.
    func release(_ from: Int, _ to: Int) {
        guard let snapshot, to > from else { return }
        _ = pm_cache_drop_new(snapshot, fd, Int64(from), Int64(to))
    }

    /// A multiple of every page size Linux uses: a reader that releases ranges not aligned to
    /// pages starts the next release from here, so the page cut at the end of one range is
    /// released with the next.
    static func alignDown(_ offset: Int) -> Int { offset & ~0xFFFF }
}
