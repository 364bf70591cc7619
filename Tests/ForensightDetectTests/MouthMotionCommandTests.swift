import XCTest
import Foundation
import ForensightFaces

/// `train --detector mouth-motion`, `models fuse` and `detect` with the fused file, as a user runs them.
final class MouthMotionCommandTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-mouth-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// `n` 3-s, 20-fps videos of different UTKFace photos drifting across the frame, plus the photos' folder.
    func videos(_ n: Int, into folder: URL) throws -> (videos: [String], photo: String) {
        guard MTCNN.weightsPresent(), FileManager.default.fileExists(atPath: FaceMesh.defaultWeightsPath) else {
            throw XCTSkip("MTCNN or FaceMesh weights absent (run scripts/setup/weights.sh)")
        }
        guard let ffmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("ffmpeg absent")
        }
        let photos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: photos).sorted().filter({ $0.hasSuffix(".jpg") }), names.count >= n else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let made = try (0..<n).map { i -> String in
            let video = folder.appendingPathComponent("v\(i).mp4").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ffmpeg)
            process.arguments = ["-v", "error", "-loop", "1", "-i", photos + "/" + names[i * 7], "-t", "3", "-r", "20", "-pix_fmt", "yuv420p",
                                 "-vf", "pad=iw*2:ih*2:iw/2:ih/2,crop=w=trunc(iw*0.375)*2:h=trunc(ih*0.375)*2:x=t*\(4 + i):y=ih/8+t*\(i % 3)", "-y", video]
            try process.run(); process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            return video
        }
        return (made, photos + "/" + names[0])
    }

    func testTrainAMouthMotionModelFuseItWithAFaceModelAndDetect() throws {
        let cli = CLIRunner.self
        let data = dir.appendingPathComponent("data")
        let (real, photo) = try videos(8, into: data.appendingPathComponent("real"))
        _ = try videos(1, into: data.appendingPathComponent("fake"))
        let out = dir.appendingPathComponent("run").path, model = dir.appendingPathComponent("mouth.safetensors").path
        let train = try cli.run(["train", "--detector", "mouth-motion", "--data", data.path, "--cache", dir.appendingPathComponent("cache").path,
                                 "--val-fraction", "0.3", "--test-fraction", "0.1", "--motion-seconds", "1", "--motion-windows", "2",
                                 "--epochs", "4", "--simulations", "jitter,damp", "--out", out, "--export", model])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("mouth motion:"), train.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/history.jsonl"))
        XCTAssertEqual(try String(contentsOfFile: out + "/history.jsonl", encoding: .utf8).split(separator: "\n").count, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mouth.training-ids.txt").path))
        // The second run reads every track from the cache and trains the same model.
        let again = try cli.run(["train", "--detector", "mouth-motion", "--data", data.path, "--cache", dir.appendingPathComponent("cache").path,
                                 "--val-fraction", "0.3", "--test-fraction", "0.1", "--motion-seconds", "1", "--motion-windows", "2",
                                 "--epochs", "4", "--simulations", "jitter,damp", "--out", out + "2", "--export", model + "2"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model + "2")), try Data(contentsOf: URL(fileURLWithPath: model)))
        XCTAssertEqual(try cli.run(["train", "--detector", "mouth-motion", "--data", data.path, "--simulations", "wobble", "--out", out]).status, 1)

        let faces = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models/sbi-efficientnet-lite0.safetensors").standardized.path
        let fused = dir.appendingPathComponent("fused.safetensors").path
        let fuse = try cli.run(["models", "fuse", "--member", faces, "--member", model, "--out", fused, "--json"])
        XCTAssertEqual(fuse.status, 0, fuse.stderr)
        XCTAssertTrue(fuse.stdout.contains("\"mouth-motion\""), fuse.stdout)
        XCTAssertNotEqual(try cli.run(["models", "fuse", "--member", faces, "--out", fused]).status, 0)

        let json = try cli.run(["detect", "--model", fused, real[0], "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(record["schema"] as? String, "forensight.detect/3")
        let members = try XCTUnwrap(record["members"] as? [[String: Any]])
        XCTAssertEqual(members.map { $0["input"] as? String }, ["face-crop", "mouth-motion"])
        XCTAssertEqual((members[1]["faces"] as? [Any])?.count, 2, "two mouth windows")
        XCTAssertTrue(members[0]["faces"] is NSNull)
        let text = try cli.run(["detect", "--model", fused, real[0], photo])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("mouth-motion: REAL") || text.stdout.contains("mouth-motion: FAKE"), text.stdout)
        XCTAssertEqual(text.stdout.components(separatedBy: "mouth-motion:").count, 2, "a photo gets no mouth line: \(text.stdout)")
        let alone = try cli.run(["detect", "--model", model, photo])
        XCTAssertTrue(alone.stdout.contains("NO_FACE (a still image has no mouth motion)"), alone.stdout)
    }
}
