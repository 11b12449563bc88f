// Deadlines for one loop: a binary min-heap indexed by owner, so each owner (a connection slot,
// a listener retry, …) has at most one pending deadline that can be moved or cancelled in O(log n).

/// A min-heap of (deadline, owner). Owners are small integers chosen by the loop's user.
/// Loop-thread only.
public struct TimerQueue {
    private var heap: [(deadline: MonotonicNanos, owner: Int)] = []
    /// owner → index in `heap`, or -1.
    private var positions: [Int32] = []

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }

    /// The earliest deadline, if any.
    public var nextDeadline: MonotonicNanos? { heap.first?.deadline }

    /// The deadline pending for `owner`, if any.
    public func deadline(of owner: Int) -> MonotonicNanos? {
        guard owner < positions.count, positions[owner] >= 0 else { return nil }
        return heap[Int(positions[owner])].deadline
    }

    /// Sets (or moves) `owner`'s deadline.
    public mutating func schedule(_ owner: Int, at deadline: MonotonicNanos) {
        if owner >= positions.count {
            positions.append(contentsOf: repeatElement(-1, count: max(owner + 1 - positions.count, positions.count)))
        }
        let position = Int(positions[owner])
        if position >= 0 {
            let old = heap[position].deadline
            heap[position].deadline = deadline
            if deadline < old { siftUp(position) } else { siftDown(position) }
        } else {
            heap.append((deadline, owner))
            positions[owner] = Int32(heap.count - 1)
            siftUp(heap.count - 1)
        }
    }

    /// Removes `owner`'s deadline, if it has one.
    public mutating func cancel(_ owner: Int) {
        guard owner < positions.count else { return }
        let position = Int(positions[owner])
        guard position >= 0 else { return }
        positions[owner] = -1
        let last = heap.count - 1
        if position != last {
            heap[position] = heap[last]
            positions[heap[position].owner] = Int32(position)
            heap.removeLast()
            siftDown(position)
            siftUp(position)
        } else {
            heap.removeLast()
        }
    }

    /// Removes and returns the owner of the earliest deadline if it is at or before `now`.
    public mutating func popExpired(now: MonotonicNanos) -> Int? {
        guard let first = heap.first, first.deadline <= now else { return nil }
        cancel(first.owner)
        return first.owner
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            let right = left + 1
            if right < heap.count && heap[right].deadline < heap[left].deadline { smallest = right }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        positions[heap[a].owner] = Int32(a)
        positions[heap[b].owner] = Int32(b)
    }
}
