// The loop's building blocks: the timer heap, the connection table, and cross-thread wakeups.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct TimerQueueTests {
    @Test func popsInDeadlineOrder() {
        var timers = TimerQueue()
        for (owner, deadline) in [(3, 30), (1, 10), (7, 70), (2, 20), (5, 50)] { timers.schedule(owner, at: MonotonicNanos(deadline)) }
        #expect(timers.nextDeadline == 10)
        var order: [Int] = []
        while let owner = timers.popExpired(now: 1000) { order.append(owner) }
        #expect(order == [1, 2, 3, 5, 7])
        #expect(timers.isEmpty)
    }

    @Test func reschedulingAndCancelling() {
        var timers = TimerQueue()
        timers.schedule(1, at: 10)
        timers.schedule(2, at: 20)
        timers.schedule(1, at: 30)  // moved later
        #expect(timers.count == 2)
        #expect(timers.deadline(of: 1) == 30)
        #expect(timers.popExpired(now: 25) == 2)
        #expect(timers.popExpired(now: 25) == nil)
        timers.cancel(1)
        timers.cancel(99)
        #expect(timers.isEmpty)
    }

    @Test func randomisedAgainstASortedModel() {
        var timers = TimerQueue()
        var model: [Int: MonotonicNanos] = [:]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let owner = Int.random(in: 0..<200, using: &generator)
            switch Int.random(in: 0..<3, using: &generator) {
            case 0, 1:
                let deadline = MonotonicNanos.random(in: 0..<1_000_000, using: &generator)
                timers.schedule(owner, at: deadline)
                model[owner] = deadline
            default:
                timers.cancel(owner)
                model[owner] = nil
            }
            #expect(timers.count == model.count)
            #expect(timers.nextDeadline == model.values.min())
        }
        var previous = MonotonicNanos.min
        while let owner = timers.popExpired(now: .max) {
            #expect(model[owner]! >= previous)
            previous = model[owner]!
            model[owner] = nil
        }
        #expect(model.isEmpty)
    }
}

@Suite struct ConnectionTableTests {
    @Test func staleTokensMiss() {
        let table = ConnectionTable(empty: EchoConnection(limit: 1))
        let a = table.allocate()
        table[a].pointee.fd = 10
        let token = table.token(a)
        #expect(table.slot(for: token) == a)
        table.release(a)
        #expect(table.slot(for: token) == nil)
        let b = table.allocate()
        table[b].pointee.fd = 11
        #expect(b == a)  // the slot is reused …
        #expect(table.slot(for: token) == nil)  // … but the old token does not reach it
        #expect(table.slot(for: table.token(b)) == b)
        #expect(table.live == 1)
    }

    @Test func idleConnectionStaysSmall() {
        #expect(MemoryLayout<ConnectionSlot<EchoConnection>>.stride <= 136)
    }
}

@Suite struct MailboxTests {
    @Test func wakesALoopFromAnotherThread() throws {
        final class Receiver: EventHandler {
            let loop: EventLoop
            let mailbox: Mailbox<Int>
            var received: [Int] = []
            init() throws {
                loop = try EventLoop()
                mailbox = Mailbox(waking: loop.waker)
            }
            func handleEvent(token: UInt64, events: IOEvents) {}
            func handleTimer(owner: Int) { loop.stop() }
            func handleWakeup() {
                received += mailbox.takeAll()
                if received.count == 100 { loop.stop() }
            }
        }
        let receiver = try Receiver()
        receiver.loop.timers.schedule(0, at: Clock.monotonic() + 5_000_000_000)  // safety stop
        let mailbox = receiver.mailbox
        try LoopThread.start(name: "pv-test-sender") {
            for i in 0..<100 { mailbox.post(i) }
        }
        try receiver.loop.run(receiver)
        #expect(receiver.received == Array(0..<100))
    }
}
