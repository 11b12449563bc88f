// Answers collected from several loops without blocking any of them: each worker fills its
// part and the last one to answer runs the completion (which posts to the asker's mailbox, or
// signals a waiting caller). The asker keeps its own deadline and uses whatever has arrived.

/// Safe from any thread.
final class Gather<Part: Sendable>: Sendable {
    private struct State {
        var parts: [Part?]
        var remaining: Int
    }

    private let state: Locked<State>
    private let onComplete: @Sendable () -> Void

    /// `count` parts; `onComplete` runs once, on the thread that fills the last one (at once
    /// when `count` is 0).
    init(count: Int, onComplete: @escaping @Sendable () -> Void) {
        state = Locked(State(parts: Array(repeating: nil, count: count), remaining: count))
        self.onComplete = onComplete
        if count == 0 { onComplete() }
    }

    /// Fills part `index` (a second answer for the same part is ignored).
    func fulfil(_ index: Int, _ value: Part) {
        let completed = state.withLock { state -> Bool in
            guard index >= 0, index < state.parts.count, state.parts[index] == nil else { return false }
            state.parts[index] = value
            state.remaining -= 1
            return state.remaining == 0
        }
        if completed { onComplete() }
    }

    /// The parts so far (nil: not answered yet).
    var parts: [Part?] { state.withLock { $0.parts } }

    var isComplete: Bool { state.withLock { $0.remaining == 0 } }
}
