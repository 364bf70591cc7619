import Foundation

/// Decoder settings that a seek must give ffmpeg because the stream states them only at its very start.
///
/// H.264 from x264 carries the encoder's version in an SEI message of the first frame only. FFmpeg's H.264 decoder
/// reads it to work around bugs of old x264 releases (4:4:4 streams of x264 before build 151 decode differently).
/// A decoder that starts at a later keyframe never sees that message and decodes those pictures wrongly (grey and
/// green blocks on the FF++ c23 files, x264 build 148), so seeking runs pass the build with `-x264_build`.
enum DecoderHints {
    /// Input options for seeking runs on `info`'s stream (empty when none are needed).
    static func inputOptions(info: VideoInfo) -> [String] {
        guard info.codec == "h264", let build = x264Build(info: info) else { return [] }
        return ["-x264_build", String(build)]
    }

    /// The x264 build named in the first packet of an H.264 stream (`"x264 - core 148 r2643 …"`), nil when the
    /// stream was not made by x264 or cannot be read.
    ///
    /// The first packet nearly always lies in the file's first megabytes (after the MP4 index when that comes
    /// first), so those are searched directly; only when the text is not there is the first packet extracted with
    /// ffmpeg (a process launch, about 0.1 s).
    static func x264Build(info: VideoInfo) -> Int? {
        if let handle = FileHandle(forReadingAtPath: info.path) {
            defer { try? handle.close() }
            if let head = try? handle.read(upToCount: 8 << 20), let build = parseX264Build(Array(head)) { return build }
        }
        guard let output = try? MediaTool.ffmpeg.run(
            ["-v", "error", "-nostdin", "-i", MediaTool.input(info.path), "-map", "0:\(info.streamIndex)", "-c", "copy",
             "-frames:v", "1", "-f", "h264", "pipe:1"], mediaPath: info.path, timeout: 30), output.status == 0 else { return nil }
        return parseX264Build(Array(output.stdout))
    }

    /// The number after `"x264 - core "` in `bytes`.
    static func parseX264Build(_ bytes: [UInt8]) -> Int? {
        let marker = Array("x264 - core ".utf8)
        guard bytes.count > marker.count else { return nil }
        for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
            guard Array(bytes[start..<start + marker.count]) == marker else { continue }
            let digits = bytes[(start + marker.count)...].prefix { $0 >= 0x30 && $0 <= 0x39 }
            return Int(String(decoding: digits, as: UTF8.self))
        }
        return nil
    }
}
