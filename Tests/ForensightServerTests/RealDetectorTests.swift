import XCTest
import Foundation
import HummingbirdTesting
import ForensightDetect
import ForensightFaces
import ForensightMedia
import ForensightServer

/// Upload → poll → done with the shipped detector and MTCNN: the record the API serves is the one the library's
/// pipeline (what `forensight detect --json` prints) gives for the same file.
final class RealDetectorTests: XCTestCase {
    func testUploadPollDoneMatchesThePipeline() async throws {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        guard let modelPath = ModelLocations.defaultModel(), FileManager.default.fileExists(atPath: modelPath) else {
            throw XCTSkip("no default model (models/\(ModelLocations.defaultModelName))")
        }
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let analyzer = try PipelineAnalyzer(modelPath: modelPath)
        let server = try makeServer(data: data, analyzer: analyzer)
        let png = try pngBytes(seed: 42, width: 96, height: 64)
        let file = (data as NSString).appendingPathComponent("wall.png")
        try Data(png).write(to: URL(fileURLWithPath: file))

        try await server.makeApplication().test(.router) { client in
            let posted = try await client.upload(png, filename: "wall.png")
            XCTAssertEqual(posted.status, .accepted)
            let id = try XCTUnwrap(try posted.json["id"] as? String)
            let answer1 = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get)
            XCTAssertEqual(try answer1.json["status"] as? String, "queued")
            await server.runner.processQueued()
            let done = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            XCTAssertEqual(done["status"] as? String, "done", "\(done)")
            let result = try XCTUnwrap(done["result"] as? [String: Any])
            let served = try JSONDecoder().decode(Verdict.self, from: JSONSerialization.data(withJSONObject: result))

            let detector = try DetectorRegistry.load(path: modelPath)
            let pipeline = Pipeline(detector: detector, faceDetector: try MTCNN(), landmarkRefiner: try Pipeline.landmarkRefiner(for: detector))
            var direct = try pipeline.analyze(path: file)
            direct.source = "wall.png"
            direct.timingsMs = served.timingsMs
            XCTAssertEqual(served, direct)
            XCTAssertEqual(served.verdict, .noFace)
            XCTAssertEqual(served.model.id, detector.card.id)
            XCTAssertEqual(done["model"] as? String, analyzer.modelVersion)
        }
    }

    /// A real face (from the shared CelebA sample, when this machine has it): a verdict, one row per face, and the
    /// face's crop beside its Grad-CAM heatmap on the result page.
    func testARealFaceGetsAVerdictWithItsHeatmap() async throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/datasets/celeba-real/images").standardized.path
        guard MTCNN.weightsPresent(), let modelPath = ModelLocations.defaultModel(),
              let name = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter({ $0.hasSuffix(".jpg") }).sorted().first else {
            throw XCTSkip("needs MTCNN weights, the default model and ../shared/datasets/celeba-real")
        }
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try makeServer(data: data, analyzer: try PipelineAnalyzer(modelPath: modelPath))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(name))))
        try await server.makeApplication().test(.router) { client in
            let id = try await client.uploadID(bytes, filename: name)
            await server.runner.processQueued()
            let done = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            let result = try XCTUnwrap(done["result"] as? [String: Any], "\(done)")
            XCTAssertTrue(["REAL", "FAKE"].contains(result["verdict"] as? String ?? ""), "\(result)")
            let faces = try XCTUnwrap(result["faces"] as? [[String: Any]])
            XCTAssertGreaterThanOrEqual(faces.count, 1)
            let artifacts = try XCTUnwrap(done["artifacts"] as? [String])
            XCTAssertTrue(artifacts.contains("/api/v1/analyses/\(id)/artifacts/face\(faces[0]["track"] as? Int ?? -1).png"), "\(artifacts)")
            let png = try await client.execute(uri: artifacts[0], method: .get)
            XCTAssertEqual(png.status, .ok)
            XCTAssertEqual(Array(png.body.readableBytesView.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
            let page = try await client.execute(uri: "/analyses/\(id)", method: .get).text
            XCTAssertEqual(page.components(separatedBy: #"<tr class="face-row">"#).count - 1, faces.count)
            XCTAssertTrue(page.contains(#"<img class="face""#))
        }
    }
}
