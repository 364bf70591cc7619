import Foundation
import XCTest
import ForensightMedia
#if canImport(Glibc)
import Glibc
#endif

/// Small videos made with ffmpeg's `lavfi` sources at test time, once per test run, in a temporary folder.
///
/// Most encode the frame number in the picture: gray level Y = 16 + 4·N (lossless x264), which decodes to
/// R = G = B ≈ 4·N·255/219, so ``frameNumber(of:)`` tells which frame ffmpeg delivered.
enum VideoFixtures {
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-video-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func removeAll() { try? FileManager.default.removeItem(at: directory) }

    static func requireFFmpeg() throws {
        guard MediaTool.ffmpeg.isAvailable, MediaTool.ffprobe.isAvailable else {
            throw XCTSkip("ffmpeg/ffprobe not installed (\(MediaTool.installHint))")
        }
    }

    /// Runs `ffmpeg -v error -y <arguments> <file>` once per test run and returns the file's path.
    static func make(_ name: String, _ arguments: [String]) throws -> String {
        try requireFFmpeg()
        let path = directory.appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: path) { return path }
        let process = Process()
        process.executableURL = try MediaTool.ffmpeg.executableURL()
        process.arguments = ["-v", "error", "-nostdin", "-y"] + arguments + [path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "ffmpeg could not make fixture \(name)")
        return path
    }

    private static let grayFilter = "format=yuv420p,geq=lum='16+4*N':cb=128:cr=128"

    /// 2 s, 64×48, 25 fps, 50 frames; frame N has gray level 16 + 4N.
    static func gray() throws -> String {
        try make("gray50.mp4", ["-f", "lavfi", "-i", "color=black:size=64x48:rate=25:duration=2",
                                "-vf", grayFilter, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"])
    }

    /// The same 50 frames with variable frame rate: frames 0–24 every 0.04 s, then 25–49 every 0.12 s.
    static func variableRate() throws -> String {
        try make("vfr50.mp4", ["-f", "lavfi", "-i", "color=black:size=64x48:rate=25:duration=2",
                               "-vf", grayFilter + ",settb=1/25,setpts='if(lt(N,25),N,25+(N-25)*3)'",
                               "-fps_mode", "passthrough", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"])
    }

    /// 64×48 with the left half white, stored with a rotation (`rotate=90` tag, which ffmpeg 5.1 writes as a display
    /// matrix of 90° counter-clockwise; ffmpeg 5.1 has no `-display_rotation`).
    static func rotated() throws -> String {
        let plain = try make("half.mp4", ["-f", "lavfi", "-i", "color=black:size=64x48:rate=25:duration=1",
                                          "-vf", "drawbox=x=0:y=0:w=32:h=48:color=white:t=fill",
                                          "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        return try make("half-rotated.mp4", ["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90"])
    }

    /// 60 s of 320×240 at 50 fps: 3000 frames, 230 KB each as RGB (690 MB decoded in all).
    static func long() throws -> String {
        try make("long.mp4", ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=50:duration=60",
                              "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
    }

    /// The frame number encoded in a gray-coded frame.
    static func frameNumber(of image: RGBImage) -> Int {
        Int((Double(image[image.width / 2, image.height / 2].0) / (4 * 255.0 / 219)).rounded())
    }
}
