import Foundation
import XCTest
import ForensightMedia
#if canImport(Glibc)
import Glibc
#endif

/// Video probing and decoding through the ffmpeg/ffprobe executables, on small videos generated at test time
/// (`VideoFixtures`). Skipped without ffmpeg.
final class VideoTests: XCTestCase {
    override class func tearDown() {
        VideoFixtures.removeAll()
        super.tearDown()
    }

    private func requireFFmpeg() throws { try VideoFixtures.requireFFmpeg() }
    private func fixture(_ name: String, _ arguments: [String]) throws -> String { try VideoFixtures.make(name, arguments) }
    private func grayVideo() throws -> String { try VideoFixtures.gray() }
    private func vfrVideo() throws -> String { try VideoFixtures.variableRate() }
    private func rotatedVideo() throws -> String { try VideoFixtures.rotated() }
    private func longVideo() throws -> String { try VideoFixtures.long() }
    private func frameNumber(of image: RGBImage) -> Int { VideoFixtures.frameNumber(of: image) }
    private static var directory: URL { VideoFixtures.directory }

    private func expectMediaError(_ kind: MediaError.Kind, _ body: () throws -> Void,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? MediaError)?.kind, kind, "\(error)", file: file, line: line)
        }
    }

    // MARK: probe

    func testProbeReadsMetadata() throws {
        let info = try VideoProbe.probe(path: try grayVideo())
        XCTAssertEqual(info.width, 64)
        XCTAssertEqual(info.height, 48)
        XCTAssertEqual(info.codec, "h264")
        XCTAssertEqual(info.pixelFormat, "yuv420p")
        XCTAssertEqual(info.fps, 25, accuracy: 1e-9)
        XCTAssertEqual(info.duration ?? 0, 2, accuracy: 0.05)
        XCTAssertEqual(info.frameCount, 50)
        XCTAssertEqual(info.frameCountSource, .container)
        XCTAssertEqual(info.rotation, 0)
        XCTAssertFalse(info.isVariableFrameRate)
        XCTAssertEqual(info.frameBytes, 64 * 48 * 3)
    }

    /// A probe is remembered per unchanged file: a file rewritten at the same path (new inode, size or time) is
    /// probed again, so a remembered probe never describes other bytes.
    func testProbeOfARewrittenFileIsNotTheRememberedOne() throws {
        let copy = Self.directory.appendingPathComponent("memo-\(UUID()).mp4").path
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.copyItem(atPath: try grayVideo(), toPath: copy)
        let first = try VideoProbe.probe(path: copy)
        XCTAssertEqual(try VideoProbe.probe(path: copy), first)
        try FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: try rotatedVideo(), toPath: copy)
        let second = try VideoProbe.probe(path: copy), rotated = try VideoProbe.probe(path: try rotatedVideo())
        XCTAssertEqual([second.width, second.height, second.rotation], [rotated.width, rotated.height, rotated.rotation])
        XCTAssertNotEqual(second.rotation, first.rotation, "the rewritten file's own metadata")
    }

    func testProbeParsesRotationAndFallbacksFromJSON() throws {
        func info(_ stream: String, format: String = #"{"duration": "4.0"}"#) throws -> VideoInfo {
            let json = #"{"streams": [{"index": 0, "codec_type": "audio"}, "# + stream + #"], "format": "# + format + "}"
            return try VideoInfo(ffprobeJSON: Data(json.utf8), path: "x.mp4")
        }
        let base = #""index": 1, "codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080"#
        // Phone portrait video: display matrix says 90° counter-clockwise the other way = 90° clockwise.
        let phone = try info(#"{"# + base + #", "avg_frame_rate": "30/1", "nb_frames": "120", "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}"#)
        XCTAssertEqual(phone.rotation, 90)
        XCTAssertEqual([phone.width, phone.height, phone.storedWidth, phone.storedHeight], [1080, 1920, 1920, 1080])
        XCTAssertEqual(phone.streamIndex, 1)
        // Legacy tag (clockwise), no nb_frames → estimated from the format's duration, avg rate 0/0 → r_frame_rate.
        let legacy = try info(#"{"# + base + #", "avg_frame_rate": "0/0", "r_frame_rate": "25/1", "tags": {"rotate": "270"}}"#)
        XCTAssertEqual(legacy.rotation, 270)
        XCTAssertEqual([legacy.width, legacy.height], [1080, 1920])
        XCTAssertEqual(legacy.fps, 25)
        XCTAssertEqual(legacy.frameCount, 100)
        XCTAssertEqual(legacy.frameCountSource, .estimated)
        let upsideDown = try info(#"{"# + base + #", "side_data_list": [{"side_data_type": "Display Matrix", "rotation": 180}]}"#)
        XCTAssertEqual([upsideDown.rotation, upsideDown.width, upsideDown.height], [180, 1920, 1080])
        let noDuration = try info(#"{"# + base + #", "r_frame_rate": "30000/1001"}"#, format: "{}")
        XCTAssertEqual(noDuration.fps, 29.97, accuracy: 0.001)
        XCTAssertEqual(noDuration.frameCountSource, .unknown)
        XCTAssertNil(noDuration.frameCount)
        // Cover art is not video.
        expectMediaError(.noVideoStream) {
            _ = try info(#"{"index": 1, "codec_type": "video", "width": 600, "height": 600, "disposition": {"attached_pic": 1}}"#)
        }
        expectMediaError(.corrupt) { _ = try VideoInfo(ffprobeJSON: Data("not json".utf8), path: "x.mp4") }
    }

    func testBadInputsThrowTheRightKinds() throws {
        try requireFFmpeg()
        let dir = Self.directory
        expectMediaError(.notFound) { _ = try VideoProbe.probe(path: dir.appendingPathComponent("missing.mp4").path) }
        expectMediaError(.unreadable) { _ = try VideoProbe.probe(path: dir.path) }
        let empty = dir.appendingPathComponent("empty.mp4")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty.path, contents: Data()))
        expectMediaError(.empty) { _ = try VideoProbe.probe(path: empty.path) }
        let text = dir.appendingPathComponent("notes.mp4")
        try Data("these are meeting notes, not a video\n".utf8).write(to: text)
        expectMediaError(.unsupportedFormat) { _ = try VideoProbe.probe(path: text.path) }
        let audio = try fixture("audio-only.mp4", ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1", "-c:a", "aac"])
        expectMediaError(.noVideoStream) { _ = try VideoProbe.probe(path: audio) }
        // Cut in the middle of an MP4 whose index (moov) is written last: nothing can be read.
        let whole = try Data(contentsOf: URL(fileURLWithPath: try grayVideo()))
        let cut = dir.appendingPathComponent("cut.mp4")
        try whole.prefix(whole.count / 2).write(to: cut)
        expectMediaError(.truncated) { _ = try VideoProbe.probe(path: cut.path) }
        expectMediaError(.truncated) { _ = try VideoReader(path: cut.path) }
    }

    func testMissingToolIsReportedWithInstallHint() throws {
        let video = try grayVideo()
        setenv("FORENSIGHT_FFPROBE", "/nonexistent/ffprobe", 1)
        defer { unsetenv("FORENSIGHT_FFPROBE") }
        XCTAssertThrowsError(try VideoProbe.probe(path: video)) { error in
            let mediaError = error as? MediaError
            XCTAssertEqual(mediaError?.kind, .toolMissing)
            XCTAssertTrue(mediaError?.hint?.contains("apt-get install ffmpeg") ?? false, "\(error)")
        }
        unsetenv("FORENSIGHT_FFPROBE")
        let savedPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        setenv("PATH", "/nonexistent", 1)
        defer { setenv("PATH", savedPath, 1) }
        XCTAssertThrowsError(try VideoProbe.probe(path: video)) { error in
            XCTAssertEqual((error as? MediaError)?.kind, .toolMissing)
            XCTAssertEqual((error as? MediaError)?.hint, "install ffmpeg: apt-get install ffmpeg (Debian/Ubuntu)")
        }
    }

    // MARK: sampling

    func testLinspaceIndicesMatchNumpy() {
        // Golden values: sorted(set(np.linspace(0, total - 1, n, endpoint=True, dtype=int))), numpy 2.4.6.
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 50, count: 32),
                       [0, 1, 3, 4, 6, 7, 9, 11, 12, 14, 15, 17, 18, 20, 22, 23, 25, 26, 28, 30, 31, 33, 34, 36, 37, 39,
                        41, 42, 44, 45, 47, 49])
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 325, count: 32),
                       [0, 10, 20, 31, 41, 52, 62, 73, 83, 94, 104, 114, 125, 135, 146, 156, 167, 177, 188, 198, 209,
                        219, 229, 240, 250, 261, 271, 282, 292, 303, 313, 324])
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 1000, count: 33),
                       [0, 31, 62, 93, 124, 156, 187, 218, 249, 280, 312, 343, 374, 405, 437, 468, 499, 530, 561, 593,
                        624, 655, 686, 718, 749, 780, 811, 842, 874, 905, 936, 967, 999])
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 301, count: 7), [0, 50, 100, 150, 200, 250, 300])
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 10, count: 32), Array(0..<10))
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 1, count: 32), [0])
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 100, count: 1), [0])
        XCTAssertEqual(FrameSampler.linspaceIndices(frameCount: 0, count: 32), [])
    }

    func testUniform32DeliversTheDeepfakeBenchFrames() throws {
        let reader = try VideoReader(path: try grayVideo())
        let (frames, summary) = try reader.readFrames(sampling: .uniform(count: 32))
        let expected = FrameSampler.linspaceIndices(frameCount: 50, count: 32)
        XCTAssertEqual(frames.map(\.index), expected)
        XCTAssertEqual(summary.plannedIndices, expected)
        XCTAssertEqual(frames.map { frameNumber(of: $0.image) }, expected, "the pixels are those of the indexed frames")
        for frame in frames {
            XCTAssertEqual(frame.time, Double(frame.index) / 25, accuracy: 1e-6)
            XCTAssertEqual([frame.image.width, frame.image.height], [64, 48])
        }
        XCTAssertEqual(summary.warnings, [])
    }

    /// Many scattered frames: ffmpeg's evaluator cannot take a flat sum of this many terms, so the select
    /// expression is nested in groups.
    func testUniformWithHundredsOfScatteredFrames() throws {
        let reader = try VideoReader(path: try longVideo())
        let (frames, summary) = try reader.readFrames(sampling: .uniform(count: 300))
        XCTAssertEqual(frames.map(\.index), FrameSampler.linspaceIndices(frameCount: 3000, count: 300))
        XCTAssertEqual(summary.warnings, [])
    }

    func testAllEveryNthAndFps() throws {
        let reader = try VideoReader(path: try grayVideo())
        let all = try reader.readFrames(sampling: .all).frames
        XCTAssertEqual(all.map(\.index), Array(0..<50))
        XCTAssertEqual(all.map { frameNumber(of: $0.image) }, Array(0..<50))
        let seventh = try reader.readFrames(sampling: .everyNth(7)).frames
        XCTAssertEqual(seventh.map(\.index), Array(stride(from: 0, to: 50, by: 7)))
        XCTAssertEqual(seventh.map { frameNumber(of: $0.image) }, seventh.map(\.index))
        let fiveFPS = try reader.readFrames(sampling: .fps(5)).frames
        XCTAssertEqual(fiveFPS.map(\.index), Array(stride(from: 0, to: 50, by: 5)))
        XCTAssertEqual(fiveFPS.map { frameNumber(of: $0.image) }, fiveFPS.map(\.index))
        let picked = try reader.readFrames(sampling: .indices([40, 3, 3, 17])).frames
        XCTAssertEqual(picked.map(\.index), [3, 17, 40])
        XCTAssertEqual(picked.map { frameNumber(of: $0.image) }, [3, 17, 40])
    }

    func testContainerWithoutFrameCount() throws {
        // Matroska stores no frame count: estimated from duration × fps, counted exactly on demand.
        let mkv = try fixture("gray50.mkv", ["-i", try grayVideo(), "-c", "copy"])
        let estimated = try VideoProbe.probe(path: mkv)
        XCTAssertEqual(estimated.frameCountSource, .estimated)
        let counted = try VideoProbe.probe(path: mkv, countFrames: true)
        XCTAssertEqual(counted.frameCountSource, .packetCount)
        XCTAssertEqual(counted.frameCount, 50)
        let frames = try VideoReader(info: estimated).readFrames(sampling: .uniform(count: 32)).frames
        XCTAssertEqual(frames.map(\.index), FrameSampler.linspaceIndices(frameCount: 50, count: 32))
        XCTAssertEqual(frames.map { frameNumber(of: $0.image) }, frames.map(\.index))
    }

    func testIndexListTooLongForOneArgument() throws {
        // 6,000 scattered indices make a select expression of ~90 KB: ffmpeg gets a range, the reader filters.
        let many = try fixture("many.mp4", ["-f", "lavfi", "-i", "testsrc=size=32x32:rate=200:duration=60",
                                            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
        let reader = try VideoReader(path: many)
        XCTAssertEqual(reader.info.frameCount, 12_000)
        let wanted = Array(stride(from: 1, to: 12_000, by: 2))
        let (frames, summary) = try reader.readFrames(sampling: .indices(wanted.reversed()))
        XCTAssertEqual(frames.map(\.index), wanted)
        XCTAssertEqual(frames.last?.time ?? 0, 11_999.0 / 200, accuracy: 1e-6)
        XCTAssertEqual(summary.warnings, [])
    }

    func testTimeRange() throws {
        let reader = try VideoReader(path: try grayVideo())
        // Frames are at k × 0.04 s: [0.5, 1.0) holds frames 13…24 (0.52 … 0.96).
        let range = try reader.readFrames(sampling: FrameSampler.all.within(start: 0.5, end: 1.0)).frames
        XCTAssertEqual(range.map(\.index), Array(13...24))
        XCTAssertEqual(range.map { frameNumber(of: $0.image) }, Array(13...24))
        XCTAssertEqual(range.first?.time ?? 0, 0.52, accuracy: 1e-6)
        // Uniform within [1, end): 25 frames (25…49), linspace(0, 24, 4) = 0, 8, 16, 24.
        let uniform = try reader.readFrames(sampling: FrameSampler.uniform(count: 4).within(start: 1.0))
        XCTAssertEqual(uniform.frames.map(\.index), [25, 33, 41, 49])
        XCTAssertEqual(uniform.frames.map { frameNumber(of: $0.image) }, [25, 33, 41, 49])
        let head = try reader.readFrames(sampling: FrameSampler.everyNth(4).within(end: 0.5)).frames
        XCTAssertEqual(head.map(\.index), [0, 4, 8, 12])
    }

    func testVariableFrameRateUsesRealTimestamps() throws {
        let reader = try VideoReader(path: try vfrVideo())
        XCTAssertTrue(reader.info.isVariableFrameRate)
        XCTAssertEqual(reader.info.frameCount, 50)
        func expectedTime(_ k: Int) -> Double { k < 25 ? Double(k) * 0.04 : 1 + Double(k - 25) * 0.12 }
        let all = try reader.readFrames(sampling: .all).frames
        XCTAssertEqual(all.map(\.index), Array(0..<50))
        for frame in all { XCTAssertEqual(frame.time, expectedTime(frame.index), accuracy: 1e-6) }
        // 2 fps = the first frame of each half second, by time, not by frame count.
        let twoFPS = try reader.readFrames(sampling: .fps(2)).frames
        XCTAssertEqual(twoFPS.map(\.index), [0, 13, 25, 30, 34, 38, 42, 46])
        XCTAssertEqual(twoFPS.map { frameNumber(of: $0.image) }, [0, 13, 25, 30, 34, 38, 42, 46])
        let uniform = try reader.readFrames(sampling: .uniform(count: 32)).frames
        XCTAssertEqual(uniform.map(\.index), FrameSampler.linspaceIndices(frameCount: 50, count: 32))
        XCTAssertEqual(uniform.map { frameNumber(of: $0.image) }, uniform.map(\.index))
    }

    func testRotationGivesUprightFrames() throws {
        let reader = try VideoReader(path: try rotatedVideo())
        XCTAssertEqual(reader.info.rotation, 270, "display matrix 90° counter-clockwise = 270° clockwise")
        XCTAssertEqual([reader.info.storedWidth, reader.info.storedHeight], [64, 48])
        XCTAssertEqual([reader.info.width, reader.info.height], [48, 64])
        let frames = try reader.readFrames(sampling: .uniform(count: 3)).frames
        XCTAssertEqual(frames.count, 3)
        for frame in frames {
            XCTAssertEqual([frame.image.width, frame.image.height], [48, 64])
            // The white left half ends up at the bottom after a quarter turn counter-clockwise.
            XCTAssertLessThan(frame.image[24, 4].0, 30)
            XCTAssertGreaterThan(frame.image[24, 60].0, 225)
        }
    }

    func testOddSizeAndSingleFrameVideos() throws {
        let odd = try fixture("odd.mp4", ["-f", "lavfi", "-i", "testsrc=size=63x37:rate=25:duration=1",
                                          "-c:v", "libx264", "-pix_fmt", "yuv444p"])
        let oddReader = try VideoReader(path: odd)
        XCTAssertEqual([oddReader.info.width, oddReader.info.height], [63, 37])
        let oddFrames = try oddReader.readFrames(sampling: .all).frames
        XCTAssertEqual(oddFrames.count, 25)
        XCTAssertTrue(oddFrames.allSatisfy { $0.image.pixels.count == 63 * 37 * 3 })
        XCTAssertNotEqual(oddFrames[0].image, oddFrames[24].image, "testsrc moves: frames must differ")

        let one = try fixture("one.mp4", ["-f", "lavfi", "-i", "color=red:size=64x48:rate=25", "-frames:v", "1",
                                          "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let oneReader = try VideoReader(path: one)
        XCTAssertEqual(oneReader.info.frameCount, 1)
        for sampler in [FrameSampler.uniform(count: 32), .fps(1), .everyNth(10), .all] {
            let (frames, summary) = try oneReader.readFrames(sampling: sampler)
            XCTAssertEqual(frames.map(\.index), [0], "\(sampler)")
            XCTAssertEqual(summary.warnings, [])
            XCTAssertGreaterThan(frames.first?.image[32, 24].0 ?? 0, 200, "red")
        }
    }

    func testAwkwardFileNames() throws {
        // A leading "-" and a ":" would read as an option or a protocol if the path were passed bare.
        let awkward = Self.directory.appendingPathComponent("-clip:v2 (copy).mp4").path
        if !FileManager.default.fileExists(atPath: awkward) {
            try FileManager.default.copyItem(atPath: try grayVideo(), toPath: awkward)
        }
        let reader = try VideoReader(path: awkward)
        XCTAssertEqual(reader.info.frameCount, 50)
        XCTAssertEqual(try reader.readFrames(sampling: .everyNth(10)).frames.map { frameNumber(of: $0.image) }, [0, 10, 20, 30, 40])
    }

    func testTruncatedFileDeliversWhatDecodesWithAWarning() throws {
        // Index (moov) first, then cut at 60 %: the first frames decode, then ffmpeg meets the end of the data.
        let whole = try fixture("faststart.mp4", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=4",
                                                  "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p",
                                                  "-movflags", "+faststart"])
        let data = try Data(contentsOf: URL(fileURLWithPath: whole))
        let cut = Self.directory.appendingPathComponent("faststart-cut.mp4")
        try data.prefix(data.count * 6 / 10).write(to: cut)
        let reader = try VideoReader(path: cut.path)
        XCTAssertEqual(reader.info.frameCount, 100, "the index still lists every frame")
        let (frames, summary) = try reader.readFrames(sampling: .uniform(count: 32))
        XCTAssertGreaterThan(frames.count, 0)
        XCTAssertLessThan(frames.count, 32)
        XCTAssertFalse(summary.warnings.isEmpty)
        XCTAssertTrue(summary.warnings.contains { $0.contains("planned") }, "\(summary.warnings)")
    }

    // MARK: streaming

    func testStoppingEarlyTerminatesFFmpegQuickly() throws {
        let reader = try VideoReader(path: try longVideo())
        XCTAssertEqual(reader.info.frameCount, 3000)
        let iterator = try reader.makeIterator(sampling: .all)
        var delivered: [Int] = []
        while delivered.count < 10, let frame = try iterator.next() { delivered.append(frame.index) }
        XCTAssertEqual(delivered, Array(0..<10))
        // 2,990 frames (690 MB) are still to come and a pipe holds 64 KB: ffmpeg can only be waiting on us.
        XCTAssertTrue(iterator.isDecoderRunning, "frames must arrive while ffmpeg is still decoding")
        let pid = iterator.decoderProcessID
        iterator.close()
        XCTAssertFalse(iterator.isDecoderRunning)
        XCTAssertEqual(kill(pid, 0), -1, "ffmpeg was reaped")
        XCTAssertNil(try iterator.next())

        // The closure API stops the same way.
        var count = 0
        let summary = try reader.frames(sampling: .all) { _ in count += 1; return count == 5 ? .stop : .continue }
        XCTAssertEqual(summary.framesDelivered, 5)
        XCTAssertTrue(summary.stoppedByConsumer)
    }

    func testLongStreamStaysInConstantMemory() throws {
        let reader = try VideoReader(path: try longVideo())
        let before = residentBytes()
        var peak = before, count = 0, lastIndex = -1
        try reader.frames(sampling: .all) { frame in
            XCTAssertEqual(frame.index, lastIndex + 1)
            lastIndex = frame.index
            count += 1
            if count % 100 == 0 { peak = max(peak, residentBytes()) }
            return .continue
        }
        XCTAssertEqual(count, 3000)
        // 3000 × 230 KB = 690 MB went through; the process may only grow by a few frames' worth.
        XCTAssertLessThan(peak - before, 64 << 20, "resident memory grew by \((peak - before) >> 20) MB")
    }

    private func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = Int(text.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    // MARK: real data

    func testFaceForensicsVideos() throws {
        try requireFFmpeg()
        // ../shared next to the package: found from the source file or from the working directory.
        let candidates = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.."),
                          URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("..")]
            .map { $0.appendingPathComponent("shared/datasets/ffpp-c23-mini").standardized }
        let root = candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
        guard let walker = FileManager.default.enumerator(atPath: root.path) else {
            throw XCTSkip("FF++ mini set not present at \(root.path)")
        }
        let videos = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".mp4") }.sorted()
        guard !videos.isEmpty else { throw XCTSkip("no FF++ videos in \(root.path)") }
        var infos: [VideoInfo] = []
        for video in videos {
            let info = try VideoProbe.probe(path: root.appendingPathComponent(video).path)
            XCTAssertEqual(info.codec, "h264", video)
            XCTAssertEqual(info.frameCountSource, .container, video)
            XCTAssertGreaterThan(info.frameCount ?? 0, 32, video)
            XCTAssertTrue([480, 720, 1080].contains(info.height), "\(video): \(info.width)×\(info.height)")
            XCTAssertEqual(info.rotation, 0)
            infos.append(info)
        }
        let info = try XCTUnwrap(infos.first { $0.height == 720 } ?? infos.first)
        let (frames, summary) = try VideoReader(info: info).readFrames(sampling: .uniform(count: 32))
        XCTAssertEqual(frames.count, 32)
        XCTAssertEqual(frames.map(\.index), FrameSampler.linspaceIndices(frameCount: info.frameCount ?? 0, count: 32))
        XCTAssertTrue(frames.allSatisfy { $0.image.width == info.width && $0.image.height == info.height })
        XCTAssertEqual(summary.warnings, [])
    }
}
