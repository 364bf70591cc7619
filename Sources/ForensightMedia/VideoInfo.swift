import Foundation

/// What ffprobe says about the first video stream of a file.
///
/// Sizes are those of the decoded frames as `ffmpeg` delivers them: ffmpeg applies the stream's rotation by
/// default, so a portrait phone video stored as 1920×1080 with a 90° rotation has `width` 1080 and `height` 1920,
/// while `storedWidth`/`storedHeight` keep the coded 1920×1080.
///
/// Built from `ffprobe -v error -print_format json -show_streams -show_format` by ``VideoProbe/probe(path:)``, or
/// from saved ffprobe JSON with ``init(ffprobeJSON:path:)``.
public struct VideoInfo: Sendable, Equatable {
    /// Where ``frameCount`` comes from.
    public enum FrameCountSource: String, Sendable {
        /// The container's own count (`nb_frames`, e.g. the MP4 sample table). This is what OpenCV's
        /// `CAP_PROP_FRAME_COUNT`, and therefore DeepfakeBench, uses.
        case container
        /// Counted by demuxing every packet (`ffprobe -count_packets`): exact for ordinary codecs, no decoding.
        case packetCount
        /// `round(duration × fps)`: containers without a count (Matroska/WebM, MPEG-TS). Can be off for VFR video.
        case estimated
        /// Neither a count nor a duration (e.g. a raw H.264 stream). ``VideoInfo/frameCount`` is `nil`.
        case unknown
    }

    /// The probed file.
    public let path: String
    /// Index of the video stream in the file (as in `-map 0:<index>`).
    public let streamIndex: Int
    /// Width of the frames as decoded and displayed (after rotation).
    public let width: Int
    /// Height of the frames as decoded and displayed (after rotation).
    public let height: Int
    /// Width as stored in the stream (before rotation).
    public let storedWidth: Int
    /// Height as stored in the stream (before rotation).
    public let storedHeight: Int
    /// Codec name (`h264`, `hevc`, `vp9`, …).
    public let codec: String
    /// Pixel format of the stream (`yuv420p`, …), when ffprobe reports one.
    public let pixelFormat: String?
    /// Frames per second: `avg_frame_rate`, falling back to `r_frame_rate` when the average is undefined (`0/0`).
    /// 0 when neither is known.
    public let fps: Double
    /// `r_frame_rate` (the lowest rate that represents all timestamps), when known.
    public let nominalFPS: Double?
    /// Duration in seconds: the stream's, else the container's.
    public let duration: Double?
    /// Number of frames; see ``frameCountSource`` for how exact it is.
    public internal(set) var frameCount: Int?
    /// How ``frameCount`` was obtained.
    public internal(set) var frameCountSource: FrameCountSource
    /// Clockwise rotation in degrees, 0 ≤ rotation < 360, that turns the stored frames upright, as ffmpeg applies it.
    /// Read from the "Display Matrix" side data (whose `rotation` is counter-clockwise, hence negated) or, for older
    /// files and ffprobe versions, from the legacy `rotate` tag (clockwise).
    public let rotation: Int
    /// Stream start time in seconds (0 for most MP4 files).
    public let startTime: Double

    /// Bytes of one RGB24 frame as ffmpeg pipes it: `width × height × 3`.
    public var frameBytes: Int { width * height * 3 }

    /// True when the average rate differs from the nominal rate by more than 1 %, a sign of variable frame rate
    /// (phone recordings, screen captures). Frame indices then no longer map linearly to time.
    public var isVariableFrameRate: Bool {
        guard let nominal = nominalFPS, nominal > 0, fps > 0 else { return false }
        return abs(nominal - fps) / nominal > 0.01
    }

    /// Parses ffprobe's JSON (`-print_format json -show_streams -show_format`) and describes its first video stream.
    ///
    /// Streams that are cover art (`disposition.attached_pic`) are not video.
    ///
    /// - Throws: `MediaError` `.corrupt` when the JSON is unreadable or the stream has no size,
    ///   `.noVideoStream` when there is no video stream.
    public init(ffprobeJSON: Data, path: String) throws {
        let probe: ProbeJSON
        do { probe = try JSONDecoder().decode(ProbeJSON.self, from: ffprobeJSON) } catch {
            throw MediaError(.corrupt, path: path, reason: "ffprobe output is not the expected JSON (\(error))")
        }
        guard let stream = probe.streams?.first(where: { $0.codecType == "video" && $0.disposition?["attached_pic"] != 1 }) else {
            let kinds = (probe.streams ?? []).compactMap(\.codecType)
            throw MediaError(.noVideoStream, path: path, reason: kinds.isEmpty
                             ? "not a video (no streams)" : "not a video (no video stream; streams: \(kinds.joined(separator: ", ")))")
        }
        guard let storedWidth = stream.width, let storedHeight = stream.height, storedWidth > 0, storedHeight > 0 else {
            throw MediaError(.corrupt, path: path, reason: "video stream \(stream.index ?? 0) has no frame size")
        }
        self.path = path
        self.streamIndex = stream.index ?? 0
        self.storedWidth = storedWidth
        self.storedHeight = storedHeight
        self.codec = stream.codecName ?? "unknown"
        self.pixelFormat = stream.pixFmt
        let average = Self.rate(stream.avgFrameRate), nominal = Self.rate(stream.rFrameRate)
        self.fps = average ?? nominal ?? 0
        self.nominalFPS = nominal
        self.duration = Self.seconds(stream.duration) ?? Self.seconds(probe.format?.duration)
        self.startTime = Self.seconds(stream.startTime) ?? 0
        self.rotation = Self.clockwiseRotation(stream)
        // ffmpeg's autorotate transposes for angles within 1° of 90 and 270; other angles keep the size.
        let quarterTurn = abs(Double(rotation) - 90) < 1 || abs(Double(rotation) - 270) < 1
        (self.width, self.height) = quarterTurn ? (storedHeight, storedWidth) : (storedWidth, storedHeight)
        if let count = stream.nbFrames.flatMap({ Int($0) }), count > 0 {
            (frameCount, frameCountSource) = (count, .container)
        } else if let duration, duration > 0, fps > 0 {
            (frameCount, frameCountSource) = (max(1, Int((duration * fps).rounded())), .estimated)
        } else {
            (frameCount, frameCountSource) = (nil, .unknown)
        }
    }

    /// Parses an ffprobe rate such as `"30000/1001"`; nil for `"0/0"` and other undefined rates.
    static func rate(_ text: String?) -> Double? {
        guard let text else { return nil }
        let parts = text.split(separator: "/")
        guard let numerator = Double(parts.first ?? ""), numerator > 0 else { return nil }
        let denominator = parts.count > 1 ? Double(parts[1]) ?? 0 : 1
        return denominator > 0 ? numerator / denominator : nil
    }

    private static func seconds(_ text: String?) -> Double? {
        guard let text, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Clockwise degrees in 0..<360 from the display matrix (counter-clockwise there) or the legacy `rotate` tag.
    private static func clockwiseRotation(_ stream: ProbeJSON.Stream) -> Int {
        let matrix = stream.sideDataList?.first { $0.sideDataType == "Display Matrix" && $0.rotation != nil }
        let degrees: Double
        if let counterClockwise = matrix?.rotation {
            degrees = -counterClockwise
        } else if let tag = stream.tags?["rotate"].flatMap({ Double($0) }) {
            degrees = tag
        } else {
            return 0
        }
        let normalized = Int(degrees.rounded()) % 360
        return normalized < 0 ? normalized + 360 : normalized
    }
}

/// The part of ffprobe's JSON we read. Keys are mapped explicitly: a key-decoding strategy would also rewrite the
/// keys inside `tags` and `disposition`.
private struct ProbeJSON: Decodable {
    struct Stream: Decodable {
        struct SideData: Decodable {
            var sideDataType: String?
            var rotation: Double?
            enum CodingKeys: String, CodingKey { case sideDataType = "side_data_type", rotation }
        }
        var index: Int?
        var codecType: String?
        var codecName: String?
        var width: Int?
        var height: Int?
        var pixFmt: String?
        var avgFrameRate: String?
        var rFrameRate: String?
        var duration: String?
        var startTime: String?
        var nbFrames: String?
        var tags: [String: String]?
        var disposition: [String: Int]?
        var sideDataList: [SideData]?
        enum CodingKeys: String, CodingKey {
            case index, width, height, duration, tags, disposition
            case codecType = "codec_type", codecName = "codec_name", pixFmt = "pix_fmt"
            case avgFrameRate = "avg_frame_rate", rFrameRate = "r_frame_rate", startTime = "start_time"
            case nbFrames = "nb_frames", sideDataList = "side_data_list"
        }
    }
    struct Format: Decodable {
        var duration: String?
    }
    var streams: [Stream]?
    var format: Format?
}
