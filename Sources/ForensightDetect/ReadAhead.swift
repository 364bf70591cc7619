import Foundation
import ForensightFaces

/// Reads the faces of a list of files on a background thread, ahead of the caller, so that decoding and face
/// finding for the next files overlap with scoring the current one (a folder keeps both cores busy). At most `depth`
/// files' faces wait in memory at any time, so memory does not grow with the list.
///
/// Results come back in the order of `paths`, each with the time its read took. The reader (MTCNN, FaceMesh) is used
/// by the background thread only, so the caller must not read with the same reader until `next()` returned nil or
/// `cancel()` was called; the caller's detector runs on the caller's thread.
public final class ReadAhead: @unchecked Sendable {
    /// One file's read: its faces or the error that stopped it, and the read's time in milliseconds.
    public struct Item: @unchecked Sendable {
        public var path: String
        public var result: Result<MediaFaces, Error>
        public var readMs: Double
    }

    private let condition = NSCondition()
    private var ready: [Int: Item] = [:]
    private var nextToTake = 0
    private var cancelled = false
    /// Set when the background thread has stopped (all read, or cancelled).
    private var producerDone = false
    private let count: Int
    private let depth: Int

    /// Starts reading `paths` with `reader` at once.
    public init(paths: [String], reader: MediaFaceReader, depth: Int = 2) {
        precondition(depth >= 1, "read-ahead depth must be at least 1")
        (count, self.depth) = (paths.count, depth)
        // The reader (its MTCNN) is handed to the background thread: the caller must not read with it meanwhile.
        nonisolated(unsafe) let reader = reader
        let thread = Thread { [self] in
            defer {
                condition.lock()
                producerDone = true
                condition.broadcast()
                condition.unlock()
            }
            for (index, path) in paths.enumerated() {
                condition.lock()
                // Wait while `depth` results are waiting (the one being taken does not count).
                while !cancelled && index - nextToTake >= depth { condition.wait() }
                let stop = cancelled
                condition.unlock()
                if stop { return }
                let started = DispatchTime.now().uptimeNanoseconds
                let result = Result { try reader.read(path: path) }
                let item = Item(path: path, result: result, readMs: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
                condition.lock()
                ready[index] = item
                condition.broadcast()
                condition.unlock()
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    deinit { cancel() }

    /// The next file's read, waiting for it if needed; nil after the last one, or after `cancel()` once the reads
    /// finished before it are taken.
    public func next() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToTake < count else { return nil }
        while ready[nextToTake] == nil && !producerDone { condition.wait() }
        guard let item = ready.removeValue(forKey: nextToTake) else { return nil }
        nextToTake += 1
        condition.broadcast()
        return item
    }

    /// Stops reading ahead (the file being read is finished first).
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
