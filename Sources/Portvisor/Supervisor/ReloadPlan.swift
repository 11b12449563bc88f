// What a reload does, decided before anything is touched: from the running config and the
// new one, one action per service (matched by name) and one for the status endpoint. Pure, so
// it is tested without threads; the supervisor loop carries it out (SupervisorLoop.swift).

/// What a reload does to one service's worker.
public enum ServiceChange: Sendable, Equatable {
    /// Nothing: every setting is equal (the listener, connections and counters stay), or the
    /// service is disabled before and after.
    case keep
    /// Settings changed, same kind and protocol: the worker rebinds in place; live connections
    /// keep their old settings.
    case reconfigure
    /// Kind or protocol changed: the old worker stops accepting and drains, a new one starts.
    case replace
    /// Newly declared, or newly enabled: a worker starts.
    case start
    /// Removed, or newly disabled: the worker stops accepting and drains.
    case stop
}

/// How the file changed for one service, as `portvisor reload` and the log report it.
public enum FileChange: String, Sendable, Equatable {
    case unchanged, changed, added, removed
}

/// One line of the plan.
public struct PlannedChange: Sendable, Equatable {
    public var name: String
    public var change: ServiceChange
    public var file: FileChange
    /// The new settings (nil for a removed service).
    public var config: ServiceConfig?
}

public struct ReloadPlan: Sendable, Equatable {
    /// Every service of the new config in its order, then the removed ones in the old order.
    public var changes: [PlannedChange]
    /// The status endpoint moves (or turns on or off).
    public var statusChanged: Bool
    public var newConfig: PortvisorConfig

    /// `overrides`: services control holds against the file's `enabled` (false: stopped with
    /// `portvisor stop`, until `start`; true: a disabled one brought up with `start`). The file
    /// change (unchanged, changed, …) is the file's own either way.
    public init(from old: PortvisorConfig, to new: PortvisorConfig, overrides: [String: Bool] = [:]) {
        newConfig = new
        func enabled(_ service: ServiceConfig) -> Bool { overrides[service.name] ?? service.enabled }
        statusChanged = old.status != new.status
        var changes: [PlannedChange] = []
        let oldByName = Dictionary(old.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for service in new.services {
            guard let previous = oldByName[service.name] else {
                changes.append(PlannedChange(name: service.name, change: enabled(service) ? .start : .keep, file: .added, config: service))
                continue
            }
            let change: ServiceChange
            switch (enabled(previous), enabled(service)) {
            case (false, false): change = .keep
            case (false, true): change = .start
            case (true, false): change = .stop
            case (true, true):
                if previous == service {
                    change = .keep
                } else if previous.kind != service.kind || previous.transport != service.transport {
                    change = .replace
                } else {
                    change = .reconfigure
                }
            }
            changes.append(PlannedChange(name: service.name, change: change, file: previous == service ? .unchanged : .changed, config: service))
        }
        let newNames = Set(new.services.map(\.name))
        for service in old.services where !newNames.contains(service.name) {
            changes.append(PlannedChange(name: service.name, change: enabled(service) ? .stop : .keep, file: .removed, config: nil))
        }
        self.changes = changes
    }

    /// The names with each file change, in plan order.
    public func names(_ file: FileChange) -> [String] { changes.filter { $0.file == file }.map(\.name) }

    /// `2 unchanged, 1 changed (echo), 0 added, 1 removed (old)`.
    public var summary: String {
        func list(_ names: [String]) -> String { names.isEmpty ? "" : " (\(names.joined(separator: ", ")))" }
        let changed = names(.changed), added = names(.added), removed = names(.removed)
        return "\(names(.unchanged).count) unchanged, \(changed.count) changed\(list(changed)), \(added.count) added\(list(added)), \(removed.count) removed\(list(removed))"
    }
}
