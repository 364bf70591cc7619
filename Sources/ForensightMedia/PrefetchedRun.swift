import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One seeking `ffmpeg` run whose frames a thread of its own reads from the pipe into memory ahead of the consumer,
/// at most `capacity` frames at a time.
///
/// Why: ffmpeg blocks on a full pipe, so a run that nobody reads from stops decoding. With the frames taken off the
/// pipe, the next run (`SeekingFrameReader` starts it beside the current one) decodes its way from a keyframe to
/// its targets on the second core while the consumer finds faces in the current run's frames. Memory is bounded by
/// `capacity` frames per run.
final class PrefetchedRun: @unchecked Sendable {
    let stream: FFmpegFrameStream
    private let frameBytes: Int
    private let count: Int
    private let capacity: Int
    private let condition = NSCondition()
    private var frames: [[UInt8]] = []
    private var readerDone = false
    private var cancelled = false

    /// Starts reading `count` frames of `frameBytes` bytes from `stream`.
    init(stream: FFmpegFrameStream, frameBytes: Int, count: Int, capacity: Int) {
        (self.stream, self.frameBytes, self.count, self.capacity) = (stream, frameBytes, count, max(1, capacity))
        let thread = Thread { [self] in self.readAll() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func readAll() {
        for _ in 0..<count {
            condition.lock()
            while frames.count >= capacity && !cancelled { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { break }
            let pixels = stream.readFrame(byteCount: frameBytes)
            condition.lock()
            frames.append(pixels)
            condition.broadcast()
            condition.unlock()
            if pixels.count < frameBytes { break }
        }
        condition.lock()
        readerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next frame's bytes, waiting for them; fewer than a frame's bytes when ffmpeg ended before it.
    func next() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while frames.isEmpty && !readerDone { condition.wait() }
        guard !frames.isEmpty else { return [] }
        let pixels = frames.removeFirst()
        condition.broadcast()
        return pixels
    }

    /// Waits for the reading thread to end (it has read its frames, or ffmpeg ended).
    func waitForReader() {
        condition.lock()
        while !readerDone { condition.wait() }
        condition.unlock()
    }

    /// Stops the run: ffmpeg is terminated (its pipe then ends, which ends the reading thread), the thread is waited
    /// for, and ffmpeg reaped. Safe to call more than once.
    func cancel() {
        condition.lock()
        cancelled = true
        frames.removeAll()
        condition.broadcast()
        let done = readerDone
        condition.unlock()
        if !done, stream.isRunning {
            kill(stream.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(2)
            condition.lock()
            while !readerDone && Date() < deadline { _ = condition.wait(until: Date().addingTimeInterval(0.05)) }
            let stillReading = !readerDone
            condition.unlock()
            if stillReading { kill(stream.processIdentifier, SIGKILL) }
        }
        waitForReader()
        stream.close()
    }
}
