import Foundation
import XCTest
import ForensightMedia
#if canImport(Glibc)
import Glibc
#endif

/// Seeking reads (`VideoFrameAccess.seek`) against the scanning reference (`.scan`): the same frame numbers and the
/// same bytes, on clips transcoded at test time from an FF++ video in shared (several containers and codecs) and on
/// FF++ c23 files themselves. Skipped without ffmpeg or without the FF++ mini set.
final class VideoSeekTests: XCTestCase {
    private static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-seek-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    override class func tearDown() {
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }

    /// `../shared/datasets/ffpp-c23-mini/original_youtube_c23`, found from this file or the working directory.
    private func originals() throws -> URL {
        try VideoFixtures.requireFFmpeg()
        let candidates = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.."),
                          URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("..")]
            .map { $0.appendingPathComponent("shared/datasets/ffpp-c23-mini/original_youtube_c23").standardized }
        guard let root = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("033.mp4").path) }) else {
            throw XCTSkip("FF++ mini set not present at \(candidates[0].path)")
        }
        return root
    }

    /// Runs `ffmpeg -v error -y <arguments> <name>` once per test run.
    private func make(_ name: String, _ arguments: [String]) throws -> String {
        let path = Self.directory.appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: path) { return path }
        let process = Process()
        process.executableURL = try MediaTool.ffmpeg.executableURL()
        process.arguments = ["-v", "error", "-nostdin", "-y"] + arguments + [path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw XCTSkip("this ffmpeg cannot make \(name) (an encoder is missing)") }
        return path
    }

    /// Reads the DeepfakeBench uniform frames both ways and asserts identical numbers, times and bytes; returns the
    /// seeking read's summary.
    @discardableResult
    private func assertSeekMatchesScan(_ path: String, count: Int = 32, mergeGap: Int? = 0,
                                       file: StaticString = #filePath, line: UInt = #line) throws -> VideoReadSummary {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let seekReader = try VideoReader(path: path, access: .seek, seekMergeGap: mergeGap)
        let (seek, seekSummary) = try seekReader.readFrames(sampling: .uniform(count: count))
        let (scan, scanSummary) = try VideoReader(path: path, access: .scan).readFrames(sampling: .uniform(count: count))
        XCTAssertEqual(seekSummary.access, .seek, "\(name) must seek for real: \(seekSummary.warnings)", file: file, line: line)
        XCTAssertEqual(seekSummary.warnings, [], name, file: file, line: line)
        XCTAssertEqual(scanSummary.warnings, [], name, file: file, line: line)
        XCTAssertEqual(seek.count, min(count, seekReader.info.frameCount ?? 0), name, file: file, line: line)
        XCTAssertEqual(seek.map(\.index), scan.map(\.index), name, file: file, line: line)
        for (a, b) in zip(seek, scan) {
            XCTAssertEqual(a.time, b.time, accuracy: 1e-3, "\(name) frame \(a.index)", file: file, line: line)
            XCTAssertTrue(a.image == b.image, "\(name) frame \(a.index): seek-decoded pixels differ from the scan's", file: file, line: line)
        }
        return seekSummary
    }

    private var clipSeconds: [String] { ["-t", "4"] }

    /// Transcodes 4 s of FF++ 033 to 320×180 in `format` (keyframe every 25 frames, so a 32-frame read spans four
    /// keyframe groups).
    private func transcoded(_ name: String, _ codec: [String], filter: String = "scale=320:180") throws -> String {
        let source = try originals().appendingPathComponent("033.mp4").path
        return try make(name, clipSeconds + ["-i", source, "-an", "-vf", filter] + codec)
    }

    func testH264MP4WithBFrames() throws {
        let clip = try transcoded("h264.mp4", ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "3", "-pix_fmt", "yuv420p"])
        let summary = try assertSeekMatchesScan(clip)
        XCTAssertEqual(summary.seeks, 4, "one seek per keyframe group")
        XCTAssertEqual(summary.decoderRuns, 1, "the groups share one ffmpeg run")
    }

    func testVP9WebM() throws {
        let clip = try transcoded("vp9.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "25", "-b:v", "300k"])
        try assertSeekMatchesScan(clip)
    }

    func testMPEG4AVI() throws {
        let clip = try transcoded("mpeg4.avi", ["-c:v", "mpeg4", "-g", "25", "-q:v", "5"])
        try assertSeekMatchesScan(clip)
    }

    func testHEVCMP4() throws {
        let clip = try transcoded("hevc.mp4", ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                                               "-x265-params", "keyint=25:min-keyint=25:log-level=error"])
        try assertSeekMatchesScan(clip)
    }

    func testVariableFrameRateMKV() throws {
        // Frames 0–39 every 40 ms, then every 120 ms.
        let clip = try transcoded("vfr.mkv", ["-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast", "-g", "20",
                                              "-bf", "2", "-pix_fmt", "yuv420p"],
                                  filter: "scale=320:180,setpts='if(lt(N,40),N,40+(N-40)*3)/25/TB'")
        try assertSeekMatchesScan(clip)
        let last = try VideoReader(path: clip).readFrames(sampling: .indices([90])).frames.first
        XCTAssertEqual(last?.time ?? 0, (40 + 50 * 3) / 25.0, accuracy: 1e-3, "real timestamps, not index / fps")
    }

    /// A rotation in the display matrix adds side-data fields to ffprobe's stream line: the index must still read.
    func testRotatedByMetadata() throws {
        let clip = try transcoded("rotated-source.mp4", ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"])
        let rotated = try make("rotated.mp4", ["-i", clip, "-c", "copy", "-metadata:s:v:0", "rotate=90"])
        XCTAssertEqual(try VideoProbe.probe(path: rotated).rotation, 270)
        try assertSeekMatchesScan(rotated)
        try assertSeekMatchesScan(try VideoFixtures.rotated())
    }

    /// The FF++ c23 originals (x264 build 148, 4:4:4, 4 keyframes in ~800 frames): decoded from a later keyframe
    /// without the x264 version they come out grey and green; with it they match the scan bit for bit.
    func testFaceForensicsOriginals() throws {
        let root = try originals()
        for name in ["033.mp4", "192.mp4"] {
            let path = root.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let summary = try assertSeekMatchesScan(path)
            XCTAssertGreaterThan(summary.seeks, 1, name)
            try assertSeekMatchesScan(path, mergeGap: nil)
        }
    }

    /// Two minutes made by looping a clip with `-c copy` (keyframe every 25 frames): 32 frames cost a few groups of
    /// pictures, not the whole file.
    func testLongFileDecodesFewFrames() throws {
        let clip = try make("gop25.mp4", ["-t", "8", "-i", try originals().appendingPathComponent("033.mp4").path, "-an",
                                          "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"])
        let long = try make("looped.mp4", ["-stream_loop", "15", "-i", clip, "-t", "120", "-c", "copy"])
        let seek = try assertSeekMatchesScan(long, mergeGap: nil)
        let scan = try VideoReader(path: long, access: .scan).readFrames(sampling: .uniform(count: 32)).summary
        XCTAssertGreaterThan(scan.framesDecoded, 2900, "the scan decodes the whole file")
        XCTAssertLessThan(seek.framesDecoded * 4, scan.framesDecoded,
                          "seeking decoded \(seek.framesDecoded) frames in \(seek.seeks) seeks, the scan \(scan.framesDecoded)")
        XCTAssertGreaterThanOrEqual(seek.seeks, 16)
        XCTAssertEqual(seek.decoderRuns, (seek.seeks + 7) / 8, "at most 8 seeks per ffmpeg run")
    }

    /// A raw H.264 stream has no container index (no timestamps): the read scans and says so.
    func testStreamWithoutIndexFallsBackToScanning() throws {
        let raw = try make("raw.h264", ["-i", try VideoFixtures.gray(), "-c", "copy", "-f", "h264"])
        let (frames, summary) = try VideoReader(path: raw).readFrames(sampling: .uniform(count: 8))
        XCTAssertEqual(summary.access, .scan)
        XCTAssertTrue(summary.warnings.contains { $0.contains("no usable index") }, "\(summary.warnings)")
        XCTAssertEqual(frames.map { VideoFixtures.frameNumber(of: $0.image) }, frames.map(\.index))
    }

    func testSeekingOnGeneratedFixturesMatchesFrameNumbers() throws {
        let reader = try VideoReader(path: try VideoFixtures.long(), access: .seek, seekMergeGap: 0)
        let wanted = [5, 1234, 1235, 2999]
        let (frames, summary) = try reader.readFrames(sampling: .indices(wanted))
        XCTAssertEqual(frames.map(\.index), wanted)
        XCTAssertEqual(summary.access, .seek)
        XCTAssertEqual(summary.warnings, [])
        XCTAssertEqual(frames.last?.time ?? 0, 2999.0 / 50, accuracy: 1e-6)
        let scanned = try VideoReader(path: try VideoFixtures.long(), access: .scan).readFrames(sampling: .indices(wanted)).frames
        XCTAssertTrue(zip(frames, scanned).allSatisfy { $0.image == $1.image })
    }

    /// The default reaches a short clip's frames in one scan and a long file's by seeking, with the same frames.
    func testAutoScansShortClipsAndSeeksLongFiles() throws {
        let long = try VideoReader(path: try VideoFixtures.long())
        XCTAssertEqual(long.access, .auto)
        XCTAssertGreaterThan(long.info.frameCount ?? 0, VideoReader.autoScanFrames)
        XCTAssertEqual(try long.readFrames(sampling: .uniform(count: 4)).summary.access, .seek)
        let short = try VideoReader(path: try VideoFixtures.gray())
        XCTAssertLessThanOrEqual(short.info.frameCount ?? .max, VideoReader.autoScanFrames)
        let (frames, summary) = try short.readFrames(sampling: .uniform(count: 8))
        XCTAssertEqual(summary.access, .scan)
        XCTAssertEqual(summary.warnings, [])
        let sought = try VideoReader(path: try VideoFixtures.gray(), access: .seek).readFrames(sampling: .uniform(count: 8)).frames
        XCTAssertEqual(frames.map(\.index), sought.map(\.index))
        XCTAssertTrue(zip(frames, sought).allSatisfy { $0.image == $1.image })
    }
}
