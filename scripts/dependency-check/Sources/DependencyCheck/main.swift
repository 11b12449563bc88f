// Uses the Portvisor library from another package: validates a config, runs a supervisor with
// one echo service on a kernel-chosen loopback port, echoes a line through it, and stops.
import Portvisor

let json = #"{ "status": false, "services": [ { "name": "echo", "kind": "echo", "port": 0 } ] }"#
let config = try ConfigLoader.parse(Array(json.utf8), path: "inline.json")
let supervisor = try Supervisor(config: config, logger: Logger(level: .error, sink: .memory()))
try supervisor.start()
guard let port = supervisor.snapshot(connections: false).services.first?.boundPort else {
    print("echo did not bind")
    PortvisorExit.fail()
}
let fd = try Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(port)), timeout: 5)
let line = Array("hello through a dependency\n".utf8)
_ = try line.withUnsafeBytes { try Syscall.write(fd, $0.baseAddress!, $0.count) }
var reply: [UInt8] = []
let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 1)
let deadline = Clock.monotonic() + 5_000_000_000
while reply.count < line.count && Clock.monotonic() < deadline {
    _ = Poll.wait(fd, for: .readable, timeoutMillis: 100)
    if case .done(let n) = try Syscall.read(fd, buffer, 256), n > 0 { reply += UnsafeRawBufferPointer(start: buffer, count: n) }
}
Syscall.close(fd)
supervisor.stop(drainSeconds: 0)
print(reply == line ? "ok: echo on port \(port) through Portvisor \(Release.version) as a dependency" : "echo differed: \(reply)")
if reply != line { PortvisorExit.fail() }

enum PortvisorExit {
    static func fail() -> Never { Syscall.exit(1) }
}
