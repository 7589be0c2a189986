#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A mutex with one condition: the batch pipeline's hand-over between workers and the writer.
///
/// The library's locks are ``Locked`` (state guarded inside it) and this type, for the one place
/// that needs to wait for a condition. The pthread mutex and
/// condition live at fixed heap addresses: a pthread object must not move, and `&storedProperty`
/// does not promise a stable address.
// @unchecked Sendable: its only state is the pthread mutex and condition, made for use from any thread.
final class Monitor: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private let c: UnsafeMutablePointer<pthread_cond_t>
    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
        c = .allocate(capacity: 1)
        c.initialize(to: pthread_cond_t())
        pthread_cond_init(c, nil)
    }
    deinit {
        pthread_cond_destroy(c); c.deallocate()
        pthread_mutex_destroy(m); m.deallocate()
    }
    /// Runs `body` with the lock held.
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
    /// Waits (lock held) until `ready()`; the lock is held again on return.
    func wait(until ready: () -> Bool) { while !ready() { pthread_cond_wait(c, m) } }
    /// Wakes every waiter (call with the lock held, after changing what `ready` reads).
    func broadcast() { pthread_cond_broadcast(c) }
}

/// A shared counter for work stealing between worker threads: each `take()` returns the next
/// index, once, to exactly one caller.
final class WorkCounter: Sendable {
    private let next = Atomic<Int>(0)
    /// The next index (0, 1, 2, … across all callers).
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}
