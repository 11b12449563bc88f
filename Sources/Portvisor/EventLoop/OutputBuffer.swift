// Bytes written to a socket only in part, kept until it is writable again. A connection has one
// only while a write is incomplete: an idle connection owns no output memory.

struct OutputBuffer {
    private(set) var bytes: [UInt8]
    private(set) var offset = 0

    init(_ pointer: UnsafeRawPointer, count: Int) {
        bytes = Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    var count: Int { bytes.count - offset }
    var isEmpty: Bool { offset == bytes.count }

    mutating func append(_ pointer: UnsafeRawPointer, count: Int) {
        if offset > 0 && offset >= bytes.count / 2 {
            bytes.removeFirst(offset)
            offset = 0
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count))
    }

    mutating func consume(_ count: Int) { offset += count }

    /// Calls `body` with the pending bytes.
    func withPending<R>(_ body: (UnsafeRawBufferPointer) throws(SystemError) -> R) throws(SystemError) -> R {
        let result: Result<R, SystemError> = bytes.withUnsafeBytes { all in
            do throws(SystemError) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: all[offset...])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
