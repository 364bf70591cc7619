import Foundation
import ForensightMedia
import ForensightFaces
import ForensightTensor

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
        /// The face crops read (0 for a file that could not be read).
        public var cropCount: Int { (try? result.get())?.crops.count ?? 0 }
    }

    private let condition = NSCondition()
    private var ready: [Int: Item] = [:]
    private var nextToTake = 0
    private var cancelled = false
    /// Background threads still running (all read, or cancelled, when 0).
    private var running = 0
    private var producerDone: Bool { running == 0 }
    private let count: Int
    private let depth: Int

    /// Starts reading `paths` with `reader` at once.
    public convenience init(paths: [String], reader: MediaFaceReader, depth: Int = 2) {
        self.init(paths: paths, readers: [{ try reader.read(path: $0) }], depth: depth)
    }

    /// Starts reading `paths` with pipelines' `read` (face crops, or whole frames for a whole-image detector), one
    /// background thread per pipeline; give each its own face detector (`Pipeline.withOwnFaceDetector`).
    public convenience init(paths: [String], pipelines: [Pipeline], depth: Int = 2) {
        self.init(paths: paths, readers: pipelines.map { pipeline in { try pipeline.read(path: $0) } }, depth: depth)
    }

    /// Starts reading `paths` at once with one background thread per reader: reader k reads files k, k + R, k + 2R, …
    /// (R readers, each with its own face detector, so that small files' face finding runs on several cores).
    public init(paths: [String], readers: [(String) throws -> MediaFaces], depth: Int = 2) {
        precondition(depth >= 1 && !readers.isEmpty, "read-ahead needs a depth of at least 1 and a reader")
        (count, self.depth, running) = (paths.count, max(depth, readers.count), readers.count)
        let stride = readers.count
        for (k, reader) in readers.enumerated() {
            // The reader (its MTCNN) is handed to this thread alone: the caller must not read with it meanwhile.
            nonisolated(unsafe) let reader = reader
            let thread = Thread { [self] in
                defer {
                    condition.lock()
                    running -= 1
                    condition.broadcast()
                    condition.unlock()
                }
                for index in Swift.stride(from: k, to: paths.count, by: stride) {
                    condition.lock()
                    // Wait while `depth` files ahead of the one being taken are read or being read.
                    while !cancelled && index - nextToTake >= self.depth { condition.wait() }
                    let stop = cancelled
                    condition.unlock()
                    if stop { return }
                    let started = DispatchTime.now().uptimeNanoseconds
                    // Reading is one stage, the caller's scoring another: they share the cores while both work.
                    let result = Result { try ComputeThreads.sharingCores { try reader(paths[index]) } }
                    let item = Item(path: paths[index], result: result, readMs: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
                    condition.lock()
                    ready[index] = item
                    condition.broadcast()
                    condition.unlock()
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
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

    /// The next file's read if it is already done, without waiting; nil otherwise (or after the last one).
    public func nextIfReady() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToTake < count, let item = ready.removeValue(forKey: nextToTake) else { return nil }
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

extension ReadAhead {
    /// The next file's read and, without waiting, the reads already done after it, until the group holds `crops`
    /// face crops: what one shared batch scores (`Pipeline.score(_:)`). Empty after the last file.
    public func nextGroup(crops limit: Int = 16) -> [Item] {
        guard let first = next() else { return [] }
        var group = [first], crops = first.cropCount
        while crops < limit, let more = nextIfReady() {
            group.append(more)
            crops += more.cropCount
        }
        return group
    }
}

extension Pipeline {
    /// The outcomes of read-ahead items, in their order: an item that could not be read keeps its error; the others
    /// are scored together (`score(batch:)`), and an error there fails each of them.
    public func score(_ items: [ReadAhead.Item]) -> [Result<(verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]), Error>] {
        var readable: [Int] = [], reads: [(media: MediaFaces, path: String, readMs: Double)] = []
        for (i, item) in items.enumerated() {
            if case .success(let media) = item.result { readable.append(i); reads.append((media, item.path, item.readMs)) }
        }
        var scored: [Int: Result<(verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]), Error>] = [:]
        do {
            for (i, result) in zip(readable, try score(batch: reads)) { scored[i] = .success(result) }
        } catch {
            for i in readable { scored[i] = .failure(error) }
        }
        return items.indices.map { i in
            if case .failure(let error) = items[i].result { return .failure(error) }
            return scored[i] ?? .failure(DetectorError("\(items[i].path): not scored"))
        }
    }
}

