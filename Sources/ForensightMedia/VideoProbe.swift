import Foundation

/// Reads a video's metadata with `ffprobe` (run as a subprocess).
///
/// ```swift
/// let info = try VideoProbe.probe(path: "clip.mp4")
/// print(info.width, info.height, info.fps, info.frameCount ?? -1, info.frameCountSource)
/// ```
public enum VideoProbe {
    /// Describes the first video stream of a file.
    ///
    /// Runs `ffprobe -v error -print_format json -show_streams -show_format <path>`. With `countFrames`, a file
    /// whose container has no frame count (`frameCountSource` `.estimated` or `.unknown`) is also demuxed once to
    /// count its packets (``countPackets(path:streamIndex:)``), which is exact and needs no decoding.
    ///
    /// - Throws: `MediaError` — `.notFound` (no such file), `.unreadable` (a directory, no permission), `.empty`
    ///   (zero bytes), `.unsupportedFormat` (not a media file, e.g. text named `.mp4`), `.truncated` (an MP4 cut
    ///   off before its index), `.corrupt` (ffprobe failed otherwise), `.noVideoStream` (audio only),
    ///   `.toolMissing` (no ffprobe; the hint says how to install it).
    ///
    /// A successful probe is remembered for the rest of the process while the file's device, inode, size and
    /// modification time stay the same (`FileMemo`), so readers that open one file in turn (a
    /// fusion's face read and mouth read) run `ffprobe` once.
    public static func probe(path: String, countFrames: Bool = false) throws -> VideoInfo {
        try checkFile(path)
        return try memo.value(for: path, variant: "\(countFrames)") { try probeUncached(path: path, countFrames: countFrames) }
    }

    private static let memo = FileMemo<VideoInfo>()

    private static func probeUncached(path: String, countFrames: Bool) throws -> VideoInfo {
        let output = try MediaTool.ffprobe.run(
            ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", MediaTool.input(path)], mediaPath: path)
        guard output.status == 0 else { throw classifyFailure(path: path, toolOutput: output.errorText, tool: "ffprobe") }
        var info: VideoInfo
        do { info = try VideoInfo(ffprobeJSON: output.stdout, path: path) } catch let error as MediaError {
            // A cut-off MP4 whose index is partly present can parse as a stream of unknown codec.
            if let cut = ContainerSniffer.isoTruncation(path: path) {
                throw MediaError(.truncated, path: path, reason: "the file ends early: \(cut)", hint: "re-download or re-export the file")
            }
            throw error
        }
        if countFrames, info.frameCountSource == .estimated || info.frameCountSource == .unknown {
            let count = try countPackets(path: path, streamIndex: info.streamIndex)
            info.frameCount = count
            info.frameCountSource = .packetCount
        }
        return info
    }

    /// Number of packets of one stream, found by demuxing the whole file without decoding
    /// (`ffprobe -count_packets`). For video codecs other than field-coded interlaced streams, one packet is one
    /// frame.
    ///
    /// - Throws: the same `MediaError`s as ``probe(path:countFrames:)``.
    public static func countPackets(path: String, streamIndex: Int) throws -> Int {
        try checkFile(path)
        let output = try MediaTool.ffprobe.run(
            ["-v", "error", "-select_streams", String(streamIndex), "-count_packets",
             "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", MediaTool.input(path)], mediaPath: path)
        guard output.status == 0 else { throw classifyFailure(path: path, toolOutput: output.errorText, tool: "ffprobe") }
        let text = String(decoding: output.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let count = Int(text.split(separator: "\n").first ?? "") else {
            throw MediaError(.corrupt, path: path, reason: "ffprobe could not count packets (output: \(text.prefix(80)))")
        }
        return count
    }

    /// Throws when `path` is not a readable, non-empty regular file.
    static func checkFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MediaError(.notFound, path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw MediaError(.unreadable, path: path, reason: "is a directory, not a video file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MediaError(.unreadable, path: path, reason: "permission denied", hint: "check the file's permissions")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        if size == 0 { throw MediaError(.empty, path: path, reason: "file is empty (0 bytes)") }
    }

    /// Turns a failed ffprobe/ffmpeg run into the most specific `MediaError`, using the file's first bytes to tell
    /// a cut-off MP4 (it starts like one) from something that is not media at all.
    static func classifyFailure(path: String, toolOutput: String, tool: String) -> MediaError {
        let detail = FFmpegLog.lastMeaningfulLine(toolOutput, path: path) ?? "\(tool) failed without a message"
        let lowered = toolOutput.lowercased()
        let container = ContainerSniffer.sniff(path: path)
        if lowered.contains("permission denied") {
            return MediaError(.unreadable, path: path, reason: "permission denied (\(tool): \(detail))")
        }
        if container == .isoMedia, let cut = ContainerSniffer.isoTruncation(path: path) {
            let missingIndex = lowered.contains("moov atom not found") ? "no index (moov) and " : ""
            return MediaError(.truncated, path: path,
                              reason: "MP4 cut off while recording or downloading: \(missingIndex)\(cut)",
                              hint: "re-download or re-export the file")
        }
        if lowered.contains("moov atom not found"), container == .isoMedia {
            return MediaError(.truncated, path: path,
                              reason: "MP4 without its index (moov): the file was cut off while recording or downloading",
                              hint: "re-download or re-export the file")
        }
        if container == nil, lowered.contains("invalid data found when processing input") {
            return MediaError(.unsupportedFormat, path: path, reason: "not a video file (\(tool): \(detail))")
        }
        if lowered.contains("partial file") || lowered.contains("end of file") {
            return MediaError(.truncated, path: path, reason: "file ends early (\(tool): \(detail))")
        }
        return MediaError(.corrupt, path: path, reason: "cannot be read as video (\(tool): \(detail))")
    }
}

/// Recognizes common video containers from their first bytes (no external tool).
enum ContainerSniffer {
    enum Container { case isoMedia, matroska, riff, mpegTS, mpegPS, flv, ogg }

    static func sniff(path: String) -> Container? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 400) else { return nil }
        return sniff(Array(head))
    }

    /// For an MP4/MOV: walks the top-level boxes and describes the first one that runs past the end of the file
    /// (a download or recording cut short). Nil when every box fits, or the file is not ISO media.
    static func isoTruncation(path: String) -> String? {
        guard sniff(path: path) == .isoMedia, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let fileSize = try? handle.seekToEnd() else { return nil }
        var offset: UInt64 = 0
        for _ in 0..<100_000 where offset + 8 <= fileSize {
            guard (try? handle.seek(toOffset: offset)) != nil,
                  let header = try? handle.read(upToCount: 16), header.count >= 8 else { return nil }
            let bytes = Array(header)
            var size = bytes[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let type = String(decoding: bytes[4..<8], as: UTF8.self)
            if size == 1 {
                guard bytes.count >= 16 else { return "the '\(type)' box header is cut" }
                size = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            } else if size == 0 {
                return nil  // "extends to the end of the file"
            }
            guard size >= 8 else { return nil }  // not a box structure we understand: no verdict
            if offset + size > fileSize {
                return "its '\(type)' box needs \(size) bytes at offset \(offset) but only \(fileSize - offset) are present"
            }
            offset += size
        }
        return nil
    }

    static func sniff(_ b: [UInt8]) -> Container? {
        guard b.count >= 4 else { return nil }
        if b.count >= 8 {
            let box = String(decoding: b[4..<8], as: UTF8.self)
            if ["ftyp", "moov", "mdat", "free", "skip", "wide", "pnot"].contains(box) { return .isoMedia }
        }
        if b.starts(with: [0x1A, 0x45, 0xDF, 0xA3]) { return .matroska }
        if b.starts(with: Array("RIFF".utf8)) { return .riff }
        if b.starts(with: Array("FLV".utf8)) { return .flv }
        if b.starts(with: Array("OggS".utf8)) { return .ogg }
        if b.starts(with: [0x00, 0x00, 0x01, 0xBA]) { return .mpegPS }
        if b.count > 188, b[0] == 0x47, b[188] == 0x47 { return .mpegTS }  // sync byte every 188 bytes
        return nil
    }
}
