// Supervision on real sockets: restart after a listener failure, port held then freed,
// errors that fail at once, maxRestarts, reload by name, and the stop drain.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct SupervisionTests {
    @Test func listenerFailureIsRestartedWithoutTouchingConnections() throws {
        let server = try TestSupervisor(
            #"{ "name": "e", "kind": "echo", "port": 0, "restart": { "initialDelay": 0.05 } }"#,
            #"{ "name": "other", "kind": "echo", "port": 0 }"#)
        let port = try server.port("e")
        let survivor = try server.connect("e")
        let neighbour = try server.connect("other")
        server.supervisor.simulateListenerFailure(service: "e", reason: "listening socket destroyed (test)")
        let recovered = try server.waitFor("e") { $0.state == .running && $0.restarts == 1 }
        #expect(recovered.lastError == "listening socket destroyed (test)")
        #expect(recovered.boundPort == port)  // a port-0 service keeps the port it had
        #expect(try server.connect("e").exchange(Array("new".utf8)) == Array("new".utf8))
        #expect(try survivor.exchange(Array("old".utf8)) == Array("old".utf8))
        #expect(try neighbour.exchange(Array("n".utf8)) == Array("n".utf8))
        #expect(try server.snapshot("other").restarts == 0)
        #expect(server.logs.lines.contains { $0.contains("warning e: listening socket destroyed (test); rebinding in") })
    }

    @Test func portHeldByAnotherProcessThenFreed() throws {
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        let port = Int(try Socket.localAddress(blocker).port)
        var blockerOpen = true
        defer { if blockerOpen { Syscall.close(blocker) } }
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": \#(port), "restart": { "initialDelay": 0.02, "maxDelay": 0.1 } }"#)
        let waiting = try server.waitFor("e") { $0.state == .backoff }
        #expect(waiting.lastError == "bind: Address already in use (errno: 98) on 127.0.0.1:\(port)")
        _ = try server.waitFor("e") { $0.restarts >= 2 }
        Syscall.close(blocker)
        blockerOpen = false
        let running = try server.waitFor("e") { $0.state == .running }
        #expect(running.boundPort == port)
        #expect(running.lastError != nil)  // kept after recovery
        #expect(try TestClient(port: port).exchange(Array("hi".utf8)) == Array("hi".utf8))
    }

    @Test func unavailableAddressFailsAtOnce() throws {
        let server = try TestSupervisor(
            #"{ "name": "far", "kind": "echo", "port": 0, "host": "192.0.2.1" }"#,
            #"{ "name": "near", "kind": "echo", "port": 0 }"#)
        let far = try server.snapshot("far")
        #expect(far.state == .failed)
        #expect(far.restarts == 0)
        #expect(far.lastError == "bind: Cannot assign requested address (errno: 99) on 192.0.2.1:0; no interface of this machine has that address")
        #expect(try server.snapshot("near").state == .running)
    }

    @Test func maxRestartsGivesUp() throws {
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(blocker) }
        let port = Int(try Socket.localAddress(blocker).port)
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": \#(port), "restart": { "initialDelay": 0.01, "maxRestarts": 2 } }"#)
        let failed = try server.waitFor("e") { $0.state == .failed }
        #expect(failed.restarts == 2)
        #expect(failed.lastError == "gave up after 2 restarts: bind: Address already in use (errno: 98) on 127.0.0.1:\(port)")
    }

    @Test func healthyRunningResetsTheBackoff() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "restart": { "initialDelay": 0.01, "resetAfter": 0.2, "maxRestarts": 1 } }"#)
        server.supervisor.simulateListenerFailure(service: "e")
        _ = try server.waitFor("e") { $0.state == .running && $0.restarts == 1 }
        // Within resetAfter a second failure would exceed maxRestarts; after it, it is fresh.
        _ = eventually(timeout: 0.3) { false }
        server.supervisor.simulateListenerFailure(service: "e")
        let again = try server.waitFor("e") { $0.restarts == 2 && $0.state != .backoff }
        #expect(again.state == .running)
        server.supervisor.simulateListenerFailure(service: "e")
        #expect(try server.waitFor("e") { $0.state == .failed }.lastError?.hasPrefix("gave up after 1 restart:") == true)
    }

    @Test func disabledServicesAreShownButNeverBound() throws {
        let server = try TestSupervisor(#"{ "name": "off", "kind": "echo", "port": 0, "enabled": false }"#)
        let off = try server.snapshot("off")
        #expect(off.state == .stopped && off.boundPort == nil)
    }

    @Test func stopDrainsThenCloses() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#)
        let port = try server.port("e")
        let client = try server.connect("e")
        let stopped = DispatchSemaphore(value: 0)
        let supervisor = server.supervisor
        DispatchQueue.global().async {
            supervisor.stop(drainSeconds: 0.5)
            stopped.signal()
        }
        _ = try server.waitFor("e") { $0.state == .stopped }
        #expect(throws: SystemError.self) { _ = try Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(port)), timeout: 1) }
        #expect(try client.exchange(Array("during drain".utf8), halfClose: false) == Array("during drain".utf8))
        #expect(client.waitForClose(timeout: 3))
        #expect(stopped.wait(timeout: .now() + 3) == .success)
    }

    @Test func reloadKeepsChangesAndDrainsByName() throws {
        let server = try TestSupervisor(
            #"{ "name": "keep", "kind": "echo", "port": 0 }"#,
            #"{ "name": "change", "kind": "echo", "port": 0 }"#,
            #"{ "name": "drop", "kind": "echo", "port": 0 }"#)
        let keepPort = try server.port("keep")
        let kept = try server.connect("keep")
        let changing = try server.connect("change")
        let dropping = try server.connect("drop")
        _ = try server.waitFor("drop") { $0.live == 1 }

        let old = server.supervisor.config
        var services = old.services.filter { $0.name != "drop" }
        services[1] = ServiceConfig(name: "change", kind: .sentence, port: 0, options: SentenceOptions(sentences: ["Changed."]))
        services.append(ServiceConfig(name: "new", kind: .daytime, port: 0))
        let summary = server.supervisor.reload(PortvisorConfig(path: old.path, status: nil, services: services))
        #expect(summary.description == "1 unchanged, 1 changed (change), 1 added (new), 1 removed (drop)")

        #expect(try server.port("keep") == keepPort)
        #expect(try kept.exchange(Array("kept".utf8), halfClose: false) == Array("kept".utf8))
        // The changed service serves its new kind; its old connection keeps the old one.
        #expect(try server.connect("change").readLine() == "Changed.\r\n")
        #expect(try changing.exchange(Array("still echo".utf8)) == Array("still echo".utf8))
        #expect(try server.connect("new").readToEndText().hasSuffix("Z\r\n"))
        // The removed service is listed as stopped while its connection drains.
        let drop = try server.snapshot("drop")
        #expect(drop.state == .stopped && drop.live == 1)
        #expect(try dropping.exchange(Array("draining".utf8)) == Array("draining".utf8))
        #expect(eventually { !server.supervisor.snapshot(connections: false).services.contains { $0.config.name == "drop" } })
        #expect(server.supervisor.snapshot().services.map(\.config.name) == ["keep", "change", "new"])
    }
}
