// Starting a named thread for a loop (pthread, so the name shows in `top -H` and `ps -L`),
// detached or joinable.
import CPortvisor
import Glibc

public enum LoopThread {
    /// A thread started by `startJoinable`; `join` waits for its body to return.
    public struct Handle: Sendable {
        let thread: pthread_t

        /// Waits until the thread's body has returned. Call exactly once.
        public func join() {
            _ = pthread_join(thread, nil)
        }
    }

    /// Starts `body` on a new detached thread named `name` (truncated to 15 bytes). Callers learn
    /// that it finished through their own signal (see ServiceWorker's `onExit`).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let handle = try startJoinable(name: name, body)
        pthread_detach(handle.thread)
    }

    /// Starts `body` on a new thread named `name` that the caller must `join`.
    public static func startJoinable(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> Handle {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, name: String) {
                self.body = body
                self.name = name
            }
        }
        let box = Unmanaged.passRetained(Box(body, name: name)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            cp_set_thread_name(box.name)
            box.body()
            return nil
        }, box)
        if result != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: result)
        }
        return Handle(thread: thread)
    }
}
