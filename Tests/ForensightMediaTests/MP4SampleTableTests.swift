import Foundation
import XCTest
import ForensightMedia
#if canImport(Glibc)
import Glibc
#endif

/// Our MP4/QuickTime sample-table reader (`MP4SampleTable`) against ffprobe's packet listing, the index it stands in
/// for: the same time base, frame timestamps and keyframes on files made at test time from an FF++ clip in shared
/// and on FF++ files themselves; and no answer (so ffprobe is asked) where the two could differ.
final class MP4SampleTableTests: XCTestCase {
    private static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-stbl-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    override class func tearDown() {
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }

    private func originals() throws -> URL {
        try VideoFixtures.requireFFmpeg()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/datasets/ffpp-c23-mini/original_youtube_c23").standardized
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("033.mp4").path) else {
            throw XCTSkip("FF++ mini set not present at \(root.path)")
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

    private func source() throws -> String { try originals().appendingPathComponent("033.mp4").path }

    /// Asserts the sample table gives ffprobe's index for the file's video stream.
    private func assertMatchesFFprobe(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let info = try VideoProbe.probe(path: path)
        let listed = try XCTUnwrap(try VideoFrameIndex.listedByFFprobe(info: info), "ffprobe's index of \(path)", file: file, line: line)
        let table = try XCTUnwrap(MP4SampleTable.frameIndex(path: path, stream: info.streamIndex), "sample table of \(path)",
                                  file: file, line: line)
        XCTAssertTrue(table.timeBase == listed.timeBase, "time base \(table.timeBase) vs \(listed.timeBase)", file: file, line: line)
        XCTAssertEqual(table.framePTS, listed.framePTS, path, file: file, line: line)
        XCTAssertEqual(table.keyframePTS, listed.keyframePTS, path, file: file, line: line)
        XCTAssertGreaterThan(table.keyframePTS.count, 1, "more than one keyframe, so keyframes are really compared", file: file, line: line)
    }

    func testFFppFilesAndALoopedCopy() throws {
        let root = try originals()
        for name in ["033.mp4", "192.mp4"] { try assertMatchesFFprobe(root.appendingPathComponent(name).path) }
        try assertMatchesFFprobe(try make("looped.mp4", ["-stream_loop", "3", "-i", try source(), "-t", "100", "-c", "copy"]))
    }

    func testEncodedFilesOfSeveralKinds() throws {
        let base = ["-t", "4", "-i", try source(), "-an", "-vf", "scale=320:180"]
        try assertMatchesFFprobe(try make("h264-b.mp4", base + ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "3"]))
        try assertMatchesFFprobe(try make("h264-nob.mp4", base + ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "0"]))
        try assertMatchesFFprobe(try make("hevc.mp4", base + ["-c:v", "libx265", "-x265-params", "log-level=none:keyint=25"]))
        try assertMatchesFFprobe(try make("quicktime.mov", base + ["-c:v", "libx264", "-preset", "veryfast", "-g", "25"]))
        try assertMatchesFFprobe(try make("faststart.mp4", base + ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-movflags", "+faststart"]))
        // Variable frame rate: frames 0.04 s apart, then 0.08 s.
        try assertMatchesFFprobe(try make("vfr.mp4", ["-t", "4", "-i", try source(), "-an", "-vf",
                                                     "scale=320:180,setpts='if(lt(N,30),N*0.04/TB,(1.2+(N-30)*0.08)/TB)'",
                                                     "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "veryfast", "-g", "25"]))
    }

    func testTheVideoTrackAfterAnAudioTrack() throws {
        let path = try make("audio-first.mp4", ["-f", "lavfi", "-i", "sine=d=20", "-t", "20", "-i", try source(),
                                                "-map", "0:a", "-map", "1:v", "-c:v", "copy", "-c:a", "aac"])
        XCTAssertEqual(try VideoProbe.probe(path: path).streamIndex, 1)
        try assertMatchesFFprobe(path)
        XCTAssertNil(MP4SampleTable.frameIndex(path: path, stream: 0), "stream 0 is audio")
    }

    /// Damaged index boxes never crash the reader: every byte of a small file's `moov` set to 0x00, 0xFF or 0x01 in
    /// turn (sizes, counts, versions, timestamps) gives nil or an index whose frames are in order.
    func testDamagedIndexBoxesGiveNilOrAnOrderedIndex() throws {
        let clip = try make("damage.mp4", ["-t", "2", "-i", try source(), "-an", "-vf", "scale=64:36", "-c:v", "libx264",
                                           "-preset", "veryfast", "-g", "10", "-bf", "2"])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
        let moov = try XCTUnwrap((0..<(bytes.count - 4)).last { Array(bytes[$0..<($0 + 4)]) == Array("moov".utf8) }) - 4
        XCTAssertNotNil(MP4SampleTable.frameIndex(path: clip, stream: 0), "the undamaged file reads")
        let damaged = Self.directory.appendingPathComponent("damaged.mp4")
        var answered = 0
        for position in stride(from: moov, to: bytes.count, by: 3) {
            for value: UInt8 in [0x00, 0xFF, 0x01] {
                var copy = bytes
                copy[position] = value
                try Data(copy).write(to: damaged)
                if let index = MP4SampleTable.frameIndex(path: damaged.path, stream: 0) {
                    answered += 1
                    XCTAssertEqual(index.framePTS, index.framePTS.sorted(), "byte \(position) = \(value)")
                    XCTAssertFalse(index.keyframePTS.isEmpty)
                }
            }
        }
        XCTAssertGreaterThan(answered, 0, "bytes the index does not depend on leave it readable")
    }

    /// Files where ffmpeg's timestamps are not the table's alone, or no MP4 at all: the reader gives nil (and the
    /// caller asks ffprobe).
    func testNoAnswerWhereFFmpegCouldDiffer() throws {
        // Cut at a non-keyframe with stream copy: the edit starts after frames that ffmpeg flags as discarded.
        let trimmed = try make("trimmed.mp4", ["-ss", "1.3", "-i", try source(), "-t", "4", "-c", "copy"])
        XCTAssertNil(MP4SampleTable.frameIndex(path: trimmed, stream: 0))
        let fragmented = try make("fragmented.mp4", ["-t", "4", "-i", try source(), "-c", "copy", "-movflags", "frag_keyframe+empty_moov"])
        XCTAssertNil(MP4SampleTable.frameIndex(path: fragmented, stream: 0))
        let base = ["-t", "2", "-i", try source(), "-an", "-vf", "scale=160:90"]
        for (name, codec) in [("other.mkv", ["-c:v", "libx264"]), ("other.avi", ["-c:v", "mpeg4"]), ("other.webm", ["-c:v", "libvpx-vp9", "-b:v", "200k"])] {
            XCTAssertNil(MP4SampleTable.frameIndex(path: try make(name, base + codec), stream: 0), name)
        }
        let text = Self.directory.appendingPathComponent("text.mp4").path
        try Data("not a video at all".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertNil(MP4SampleTable.frameIndex(path: text, stream: 0))
        XCTAssertNil(MP4SampleTable.frameIndex(path: Self.directory.appendingPathComponent("missing.mp4").path, stream: 0))
        // A file cut off before its index: nothing, and no crash.
        let whole = try Data(contentsOf: URL(fileURLWithPath: try source()))
        let cut = Self.directory.appendingPathComponent("cut.mp4").path
        try whole.prefix(whole.count - 5_000).write(to: URL(fileURLWithPath: cut))
        XCTAssertNil(MP4SampleTable.frameIndex(path: cut, stream: 0))

    }
}
