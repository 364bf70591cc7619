import Foundation
import XCTest
import ForensightMedia

/// `VideoReader` with a `FrameRegion`: ffmpeg delivers only that part of each frame, the same frames (numbers and
/// times) as a whole-frame read, and the same pixels as cropping the whole frames, by scanning and by seeking.
final class FrameRegionTests: XCTestCase {
    /// 3 s of ffmpeg's test pattern, 320×240 at 25 fps, a keyframe every 10 frames (so seeking has groups to seek to).
    private func pattern() throws -> String {
        try VideoFixtures.make("pattern-gop10.mp4", ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3",
                                                     "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p"])
    }

    func testARegionIsClampedToTheFrameAndEvenAligned() {
        let r = FrameRegion(x: -5, y: 3, width: 500, height: 11).clamped(frameWidth: 320, frameHeight: 240)
        XCTAssertEqual(r, FrameRegion(x: 0, y: 2, width: 320, height: 12))
        XCTAssertNil(FrameRegion(x: 400, y: 0, width: 50, height: 50).clamped(frameWidth: 320, frameHeight: 240), "outside the frame")
        XCTAssertEqual(FrameRegion(x: 301, y: 7, width: 40, height: 9).clamped(frameWidth: 320, frameHeight: 240),
                       FrameRegion(x: 300, y: 6, width: 20, height: 10))
    }

    func testARegionAroundABoxGrowsByTheMarginAndIsRefusedWhenItCoversMostOfTheFrame() {
        let r = FrameRegion(around: (x1: 100, y1: 50, x2: 160, y2: 130), grow: 20, frameWidth: 1280, frameHeight: 720)
        XCTAssertEqual(r, FrameRegion(x: 80, y: 30, width: 100, height: 120))
        let edge = FrameRegion(around: (x1: 5, y1: 5, x2: 65, y2: 85), grow: 40, frameWidth: 1280, frameHeight: 720)
        XCTAssertEqual(edge, FrameRegion(x: 0, y: 0, width: 104, height: 124), "clamped at the frame's corner")
        XCTAssertNil(FrameRegion(around: (x1: 100, y1: 100, x2: 1100, y2: 600), grow: 50, frameWidth: 1280, frameHeight: 720),
                     "a region of most of the frame saves too little")
        XCTAssertNil(FrameRegion(around: (x1: 10, y1: 10, x2: 10, y2: 40), grow: 5, frameWidth: 1280, frameHeight: 720), "empty box")
        XCTAssertNil(FrameRegion(around: (x1: .nan, y1: 10, x2: 20, y2: 40), grow: 5, frameWidth: 1280, frameHeight: 720))
    }

    /// Region frames against the whole frames cropped: same numbers and times, same size, and the same pixels away
    /// from the region's border (at the border, chroma upsampling sees different neighbours).
    private func assertRegionRead(access: VideoFrameAccess, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try pattern()
        let region = FrameRegion(x: 64, y: 40, width: 100, height: 80)
        let whole = try VideoReader(path: path, access: access).readFrames(sampling: .indices([3, 17, 18, 44, 70]))
        let reader = try VideoReader(path: path, access: access, region: region)
        XCTAssertEqual(reader.region, region, file: file, line: line)
        let cropped = try reader.readFrames(sampling: .indices([3, 17, 18, 44, 70]))
        XCTAssertEqual(cropped.summary.access, access, file: file, line: line)
        XCTAssertEqual(cropped.summary.warnings, [], file: file, line: line)
        XCTAssertEqual(cropped.frames.map(\.index), [3, 17, 18, 44, 70], file: file, line: line)
        XCTAssertEqual(cropped.frames.map(\.time), whole.frames.map(\.time), file: file, line: line)
        for (part, full) in zip(cropped.frames, whole.frames) {
            XCTAssertEqual(part.image.width, 100, file: file, line: line)
            XCTAssertEqual(part.image.height, 80, file: file, line: line)
            let expected = full.image.cropped(x: 64, y: 40, width: 100, height: 80)
            var (largest, total, count) = (0, 0, 0)
            for y in 2..<78 { for x in 2..<98 {
                let (a, b) = (part.image[x, y], expected[x, y])
                let d = max(abs(Int(a.0) - Int(b.0)), abs(Int(a.1) - Int(b.1)), abs(Int(a.2) - Int(b.2)))
                (largest, total, count) = (max(largest, d), total + d, count + 1)
            } }
            XCTAssertLessThanOrEqual(largest, 2, "frame \(part.index): the region is that part of the frame", file: file, line: line)
            XCTAssertLessThan(Double(total) / Double(count), 0.1, file: file, line: line)
        }
    }

    func testARegionReadByScanningIsThatPartOfEachFrame() throws { try assertRegionRead(access: .scan) }

    func testARegionReadBySeekingIsThatPartOfEachFrame() throws { try assertRegionRead(access: .seek) }

    func testARegionPastTheFrameIsClampedByTheReader() throws {
        let reader = try VideoReader(path: try pattern(), access: .scan, region: FrameRegion(x: 250, y: 200, width: 200, height: 200))
        XCTAssertEqual(reader.region, FrameRegion(x: 250, y: 200, width: 70, height: 40))
        let frames = try reader.readFrames(sampling: .uniform(count: 3)).frames
        XCTAssertEqual(frames.count, 3)
        XCTAssertEqual(frames.map(\.image.width), [70, 70, 70])
        XCTAssertEqual(frames.map(\.image.height), [40, 40, 40])
    }
}
