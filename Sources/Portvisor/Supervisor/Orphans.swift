// Processes nobody else reaps. Portvisor is a child subreaper (PR_SET_CHILD_SUBREAPER): a
// descendant of a program that outlives its parent — a double-forked daemon, a `setsid`
// grandchild — is reparented to Portvisor. The supervisor's loop reaps those that end, stops
// those of a service that stops (a descendant is attributed to its service by the
// PORTVISOR_SERVICE variable it inherited, when it still has it), and stops every one left when
// `run` exits. Children a worker still owns (Spawner.owned) are never touched here: their
// worker reaps them through their pidfd.
import Synchronization

enum Orphans {
    /// Children a worker handed over when it ended before they did (killed, not yet reaped).
    private static let handedOver = Locked<[(child: SpawnedChild, service: String)]>([])
    /// Reparented descendants seen alive with PORTVISOR_SERVICE (a zombie's environment can no
    /// longer be read, so a library user's process reaps only those it recognised before).
    private static let recognised = Locked<Set<Int32>>([])

    static func adopt(_ child: SpawnedChild, service: String) {
        handedOver.withLock { $0.append((child, service)) }
    }

    /// Reaps every orphan that has ended. Returns how many. `everyChild`: this process is
    /// Portvisor's own (`run`), so every child no worker owns is an orphan; a library user's
    /// process may have children of its own, so there only those with PORTVISOR_SERVICE are.
    @discardableResult
    static func reap(everyChild: Bool) -> Int {
        var reaped = 0
        // Children handed over by workers: through their pidfd.
        handedOver.withLock { list in
            list.removeAll { entry in
                guard Spawner.reap(entry.child) != nil else { return false }
                reaped += 1
                return true
            }
        }
        // Reparented descendants: our children that no worker owns. The order matters: list the
        // children first, then make sure no spawn is in flight, then read who owns what. A child
        // in the list was cloned before it was read; its spawn has either finished — and
        // registered it in `owned`, which is read after — or is still in flight, and then this
        // round leaves everything for the next.
        let children = ProcessTree.children()
        guard Spawner.inFlight.load(ordering: .acquiring) == 0 else { return reaped }
        let owned = Spawner.owned.withLock { $0 }
        let handed = Set(handedOver.withLock { $0.map(\.child.pid) })
        let known = recognised.withLock { $0 }
        for pid in children where !owned.contains(pid) && !handed.contains(pid) {
            if !everyChild && !known.contains(pid) {
                guard ProcessTree.serviceVariable(of: pid) != nil else { continue }
                _ = recognised.withLock { $0.insert(pid) }
            }
            if ProcessTree.reap(pid) {
                reaped += 1
                _ = recognised.withLock { $0.remove(pid) }
            }
        }
        return reaped
    }

    /// Running orphans, with the service each came from when it can be told (see `reap`).
    static func running(everyChild: Bool) -> [(pid: Int32, service: String?)] {
        // The same order as in `reap`: children first, then spawns in flight, then `owned`.
        let children = ProcessTree.children()
        // (Bounded: under a storm of spawns, after 100 ms the list is taken as it is.)
        for _ in 0..<1000 where Spawner.inFlight.load(ordering: .acquiring) != 0 { Clock.sleep(until: Clock.monotonic() + 100_000) }
        let owned = Spawner.owned.withLock { $0 }
        var result = handedOver.withLock { $0.map { (pid: $0.child.pid, service: Optional($0.service)) } }
        let handed = Set(result.map(\.pid))
        for pid in children where !owned.contains(pid) && !handed.contains(pid) && ProcessTree.isAlive(pid) {
            let service = ProcessTree.serviceVariable(of: pid)
            if service != nil { _ = recognised.withLock { $0.insert(pid) } }
            if everyChild || service != nil { result.append((pid, service)) }
        }
        return result
    }

    /// Signals the orphans of `service` (nil: every orphan) and their process groups.
    /// Returns how many were signalled.
    @discardableResult
    static func signal(service: String?, _ signal: Int32, everyChild: Bool) -> Int {
        var count = 0
        for orphan in running(everyChild: everyChild) where service == nil || orphan.service == service {
            ProcessTree.signal(orphan.pid, signal)
            count += 1
        }
        return count
    }
}
