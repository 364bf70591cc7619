import Foundation
import ForensightMedia
import Hummingbird

extension MediaStore {
    /// Copies a local file into the store (hashed and `fsync`ed like an upload) and returns it with its sniffed type.
    func importFile(atPath path: String, limit: Int) throws -> (media: StoredMedia, sniffed: SniffedMedia) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ServerFailure("\(path): cannot be read") }
        defer { try? handle.close() }
        let writer = try beginUpload(limit: limit)
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { try writer.write(ByteBuffer(bytes: chunk)) }
        } catch is UploadWriter.TooLarge {
            throw ServerFailure("\(path): larger than \(limit) bytes")
        }
        guard writer.size > 0 else { writer.abandon(); throw ServerFailure("\(path): empty") }
        guard let sniffed = SniffedMedia.sniff(writer.head) else { writer.abandon(); throw ServerFailure("\(path): neither an image nor a video") }
        return (try writer.finish(), sniffed)
    }
}

/// `forensight enqueue`: turns files already on disk (an archive) into jobs, without HTTP.
public enum Enqueue {
    /// What happened to one file.
    public enum Outcome: Sendable { case queued(String), existing(String), failed(String) }

    /// Stores each file in `media` and queues its job for `model` in `queue`. A file that cannot be stored or queued
    /// is reported and the others go on.
    public static func files(_ paths: [String], queue: any JobQueue, media: MediaStore, model: String, limit: Int) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for path in paths {
            do {
                let (stored, sniffed) = try media.importFile(atPath: path, limit: limit)
                let name = (path as NSString).lastPathComponent
                switch try await queue.submit(sha256: stored.sha256, model: model, filename: name, kind: sniffed.kind.rawValue,
                                              format: sniffed.format, size: stored.size, capacity: Int.max) {
                case .created(let r): outcomes.append(.queued(r.id))
                case .existing(let r): outcomes.append(.existing(r.id))
                }
            } catch {
                outcomes.append(.failed("\(error)"))
            }
        }
        return outcomes
    }
}
