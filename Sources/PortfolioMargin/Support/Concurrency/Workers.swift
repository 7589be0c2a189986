#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exactly `threads` workers: the calling thread plus `threads − 1` threads of our own.
///
/// Not Dispatch's global pool: its width is the core count whatever `--threads` says, so
/// `--threads 1` would use every core (docs/performance.md).
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
        let next = WorkCounter()
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendable(body)
            run(threads: min(max(1, threads), max(1, count))) { _ in
                while true {
                    let i = next.take()
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
