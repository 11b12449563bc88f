// A counting semaphore on a pthread mutex and condition variable (CLOCK_MONOTONIC), for the few
// places where a thread that is not an event loop waits for one: tests, `bench` phases, and a
// caller of the supervisor's blocking API. Event loops never wait on it.
import Glibc

/// Safe from any thread. `wait(timeout:)` never waits past its bound.
public final class Semaphore: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var count: Int

    public init(value: Int = 0) {
        count = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Adds one and wakes a waiter.
    public func signal() {
        pthread_mutex_lock(mutex)
        count += 1
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until the count is positive, then takes one.
    public func wait() {
        pthread_mutex_lock(mutex)
        while count <= 0 { pthread_cond_wait(condition, mutex) }
        count -= 1
        pthread_mutex_unlock(mutex)
    }

    /// Waits at most `timeout` seconds; true when one was taken.
    @discardableResult
    public func wait(timeout: Double) -> Bool {
        let deadline = Clock.monotonic() + Clock.nanos(max(0, timeout))
        var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count <= 0 {
            if pthread_cond_timedwait(condition, mutex, &until) == ETIMEDOUT && count <= 0 { return false }
        }
        count -= 1
        return true
    }
}
