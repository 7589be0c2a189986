#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a mutex: the library's one lock for state shared between threads (with
/// ``Monitor`` for the one place that waits on a condition). Its API is the standard library's
/// `Mutex`'s (`withLock`), but it is a pthread mutex: the standard library's on Linux hands the
/// lock over in the kernel (priority-inheritance futexes), which ThreadSanitizer cannot see, so
/// every guarded access would be reported as a race. The mutex lives at a fixed heap address (a
/// pthread mutex must not move).
// @unchecked Sendable: `value` is read and written only inside `withLock`, under the mutex.
final class Locked<Value>: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }

    deinit { pthread_mutex_destroy(m); m.deallocate() }

    /// Runs `body` on the guarded value with the mutex held.
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body(&value)
    }
}
