#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exactly `threads` workers: the calling thread plus `threads − 1` threads of our own.
///
/// Why not `DispatchQueue.concurrentPerform(iterations: chunks)`: it runs on the global pool,
/// whose width is the core count whatever `--threads` says, so `--threads 1` used both cores in
/// parsing and compute (measured on the reference binary, 1M accounts, `--threads 1`: 2.95 s of
/// CPU on the main thread and 1.9 s on pool threads) and `--threads 1` vs `--threads 2` compared
/// two two-core runs (issue 9: 0.99×).
enum Workers {
    /// Runs `body(worker)` on `threads` workers (worker 0 is the calling thread) and returns when
    /// all are done. With `threads == 1` nothing is spawned.
    static func run(threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let n = max(1, threads)
        var spawned: [PortableThread] = []
        for w in 1..<max(1, n) {
            if let t = PortableThread(start: { body(w) }) { spawned.append(t) } else { body(w) }
        }
        body(0)
        for t in spawned { t.join() }
    }

    /// Runs `body(item)` for every item of `0..<count` on `threads` workers, items taken in order
    /// (work stealing through a shared counter: no wave waits for its slowest item).
    static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        let next = AtomicCounter()
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendable(body)
            run(threads: min(max(1, threads), max(1, count))) { _ in
                while true {
                    let i = next.increment()
                    guard i < count else { break }
                    box.value(i)
                }
            }
        }
    }
}

/// A value handed to worker threads whose use the caller synchronises (joins before returning).
// @unchecked Sendable: the workers only read the value (or call it, for a closure whose writes go
// to disjoint slots), and the caller joins them before the value goes out of scope.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// One POSIX thread running a closure, joined by its creator.
final class PortableThread {
    #if canImport(Glibc)
    private var handle = pthread_t()
    #else
    private var handle: pthread_t?
    #endif

    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    /// Nil when the thread cannot be created (the caller then runs the work itself).
    init?(start body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        // Engine blocks recurse little but BLAS and the book builder use stack buffers: 8 MB as the main thread.
        pthread_attr_setstacksize(&attr, 8 << 20)
        defer { pthread_attr_destroy(&attr) }
        let rc = pthread_create(&handle, &attr, { raw in
            #if canImport(Glibc)
            let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            #else
            let b = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            #endif
            b.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            return nil
        }
    }

    func join() {
        #if canImport(Glibc)
        pthread_join(handle, nil)
        #else
        if let handle { pthread_join(handle, nil) }
        #endif
    }
}

/// A mutex with one condition: the batch pipeline's hand-over between workers and the writer.
// @unchecked Sendable: its state is a pthread mutex and condition, made for use from any thread.
final class Monitor: @unchecked Sendable {
    private var m = pthread_mutex_t()
    private var c = pthread_cond_t()
    init() { pthread_mutex_init(&m, nil); pthread_cond_init(&c, nil) }
    deinit { pthread_cond_destroy(&c); pthread_mutex_destroy(&m) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
    /// Waits (lock held) until `ready()`; the lock is held again on return.
    func wait(until ready: () -> Bool) { while !ready() { pthread_cond_wait(&c, &m) } }
    func broadcast() { pthread_cond_broadcast(&c) }
}
