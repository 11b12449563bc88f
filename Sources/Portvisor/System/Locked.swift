// A value behind a pthread mutex. We use this rather than Synchronization.Mutex because on
// Linux Mutex is a futex inside the (uninstrumented) standard library, so ThreadSanitizer
// cannot see its happens-before edges and reports false races; pthread mutexes it intercepts.
import Glibc

/// `value` may only be touched inside `withLock`. Safe from any thread. The mutex lives in its
/// own heap allocation: a pthread mutex must not move, and `&property` of a class gives no
/// stable address.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
