#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory-mapped file: batch inputs are parsed in place, never copied.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeBufferPointer<UInt8>
    private let mapped: UnsafeMutableRawPointer?
    private let length: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw InputError(file: path, errno == ENOENT ? "no such file" : "cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw InputError(file: path, "cannot be read") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw InputError(file: path, "is not a regular file") }
        length = Int(st.st_size)
        if length == 0 {
            mapped = nil
            bytes = UnsafeBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw InputError(file: path, "cannot be mapped into memory")
        }
        madvise(p, length, MADV_SEQUENTIAL)
        mapped = p
        bytes = UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: length)
    }

    deinit {
        if let mapped { munmap(mapped, length) }
    }
}
