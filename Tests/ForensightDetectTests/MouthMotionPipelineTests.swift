import XCTest
import Foundation
import ForensightMedia
import ForensightFaces
import ForensightDetect
import ForensightData
import ForensightEvaluation
import ForensightProtocols

/// `Pipeline` with the mouth-motion detector: windows of consecutive frames, the face followed by FaceMesh, each
/// window's score on each of its frames; a still image gives NO_FACE.
final class MouthMotionPipelineTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-mouth-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A UTKFace photo and a 3-s, 20-fps video of it drifting left by 10 px/s, so FaceMesh must follow the face.
    func inputs(wide: Bool = false) throws -> (photo: String, video: String) {
        guard MTCNN.weightsPresent(), FileManager.default.fileExists(atPath: FaceMesh.defaultWeightsPath) else {
            throw XCTSkip("MTCNN or FaceMesh weights absent (run scripts/setup/weights.sh)")
        }
        guard let ffmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("ffmpeg absent")
        }
        let photos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: photos).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        let video = dir.appendingPathComponent(wide ? "wide.mp4" : "face.mp4").path
        // wide: the same drift in a frame 4.5 times the photo's side, so the face covers a small part of it.
        let layout = wide ? "pad=iw*6:ih*6:iw*2.5:ih*2.5,crop=w=trunc(iw*0.375)*2:h=trunc(ih*0.375)*2:x=t*10+iw/8:y=ih/8"
            : "pad=iw*2:ih*2:iw/2:ih/2,crop=w=trunc(iw*0.375)*2:h=trunc(ih*0.375)*2:x=t*10:y=ih/8"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = ["-v", "error", "-loop", "1", "-i", photos + "/" + name, "-t", "3", "-r", "20", "-pix_fmt", "yuv420p",
                             "-vf", layout, "-y", video]
        try process.run(); process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return (photos + "/" + name, video)
    }

    func testWindowsOfConsecutiveFramesAreScoredAndTheirScoresLandOnEachFrame() throws {
        let (photo, video) = try inputs()
        var card = MouthMotionDetector.defaultCard()
        card.motion = MotionSampling(count: 2, seconds: 0.5)
        let detector = try DetectorRegistry.make(card: card)
        XCTAssertEqual(detector.inputKind, .mouthMotion)
        let pipeline = Pipeline(detector: detector, faceDetector: try MTCNN(), landmarkRefiner: try Pipeline.landmarkRefiner(for: detector))
        let verdict = try pipeline.analyze(path: video)
        XCTAssertNotEqual(verdict.verdict, .noFace)
        XCTAssertEqual(verdict.faces.count, 2, "one face entry per window")
        XCTAssertEqual(verdict.frames, 20, "two windows of 10 frames decoded")
        for face in verdict.faces {
            let frames = face.frames.map(\.frame)
            XCTAssertEqual(frames, Array(frames[0]...(frames[0] + 9)), "consecutive frames at the video's rate")
            XCTAssertEqual(Set(face.frames.map(\.probability)).count, 1, "a window's score goes to each of its frames")
        }
        XCTAssertLessThan(verdict.faces[0].frames[0].frame, verdict.faces[1].frames[0].frame)
        XCTAssertGreaterThanOrEqual(verdict.faces[1].frames[0].frame, 40, "windows spread over the video")
        // The face moved left by 10 px/s: the followed mesh moved with it.
        let boxes = verdict.faces.flatMap(\.frames).map(\.box)
        XCTAssertGreaterThan(boxes.first![0] - boxes.last![0], 10)

        let still = try pipeline.analyze(path: photo)
        XCTAssertEqual(still.verdict, .noFace)
        XCTAssertTrue(still.warnings.contains { $0.contains("still image") })
    }

    func testAFusionReadsTheFileOncePerMemberAndKeepsThePrimaryRecordUnlessAnotherMemberFires() throws {
        let (photo, video) = try inputs()
        var faceCard = DetectorCard(id: "faces", architecture: "meso4")
        faceCard.threshold = 0.5
        let faces = try XCTUnwrap(try DetectorRegistry.make(card: faceCard) as? MesoNetDetector)
        faces.network.eval()
        var mouthCard = MouthMotionDetector.defaultCard(id: "mouth")
        mouthCard.motion = MotionSampling(count: 2, seconds: 0.5)
        func pipeline(_ detector: any Detector) throws -> Pipeline {
            Pipeline(detector: detector, faceDetector: try MTCNN(), frames: 8, landmarkRefiner: try Pipeline.landmarkRefiner(for: detector))
        }
        let alone = try pipeline(faces).analyze(path: video)
        for (threshold, fires) in [(Float(1), false), (Float(0), true)] {
            mouthCard.threshold = threshold
            let mouth = try XCTUnwrap(try DetectorRegistry.make(card: mouthCard) as? MouthMotionDetector)
            mouth.network.eval()
            let fused = try FusedDetector(id: "fused", members: [faces, mouth])
            let v = try pipeline(fused).analyze(path: video)
            XCTAssertEqual(v.faces, alone.faces, "the primary member's faces")
            XCTAssertEqual(v.members?.count, 2)
            XCTAssertEqual(v.members?[1].faces?.count, 2, "two mouth windows")
            XCTAssertEqual(v.model.id, "fused")
            // `analyze` reads the mouth on a second thread while the faces are scored: the same record as reading
            // first and scoring after, but for the times.
            let sequential = try pipeline(fused).score(try pipeline(fused).read(path: video), path: video).verdict
            XCTAssertEqual(v.probability, sequential.probability)
            XCTAssertEqual(v.verdict, sequential.verdict)
            XCTAssertEqual(v.faces, sequential.faces)
            XCTAssertEqual(v.members?.map(\.probability), sequential.members?.map(\.probability))
            XCTAssertEqual(v.members?[1].faces, sequential.members?[1].faces)
            if fires {
                XCTAssertEqual(v.verdict, .fake)
                XCTAssertGreaterThanOrEqual(v.probability!, alone.probability!)
            } else {
                XCTAssertEqual(v.probability, alone.probability)
                XCTAssertEqual(v.verdict, alone.verdict)
            }
            // `evaluate` keeps each member's file score and, when the mouth fired, the raised file score as the
            // item's video-level floor, so the bench scores the file as `detect` does.
            let runner = EvaluationRunner(frames: 8, faceDetector: try MTCNN())
            let items = runner.score(Manifest([Sample(id: "v", path: video, label: 1, dataset: "d")]), detector: fused, modelName: "fused",
                                     run: 0, condition: .clean, landmarkRefiner: try Pipeline.landmarkRefiner(for: fused))
            XCTAssertEqual(items.count, 1)
            XCTAssertEqual(Set(items[0].memberProbabilities?.keys.map { $0 } ?? []), ["faces", "mouth"])
            if !fires { XCTAssertNil(items[0].raisedTo, "a member below its threshold raises nothing") }
            if let floor = items[0].raisedTo {
                XCTAssertGreaterThan(floor, try XCTUnwrap(items[0].memberProbabilities?["faces"]))
                XCTAssertEqual(try XCTUnwrap(EvaluationResults.unitScore(items[0])), floor, accuracy: 1e-9, "the floor is the file's score")
            }
            let p = try pipeline(fused).analyze(path: photo)
            XCTAssertEqual(p.members?[1].verdict, .noFace)
            XCTAssertFalse(p.warnings.contains { $0.contains("still image") }, "a photo is not a mouth-motion failure")
            XCTAssertEqual(p.probability, try pipeline(faces).analyze(path: photo).probability)
        }
    }

    /// Inside a fusion the mouth read decodes only the part of the frames around the faces the primary read found
    /// (`MediaFaces.motionRegion`); its landmarks still come out in whole-frame pixels, on the same face, and a region
    /// that misses the face gives the whole-frame read.
    func testAMouthReadInsideTheFacesRegionFollowsTheSameFaceAndFallsBackWhenTheFaceIsElsewhere() throws {
        let (_, video) = try inputs(wide: true)
        let detector = try MTCNN()
        let reader = MediaFaceReader(detector: detector)
        let faces = try reader.read(path: video)
        let region = try XCTUnwrap(faces.motionRegion(), "32 samples over 3 s: dense enough for a region")
        XCTAssertLessThan(region.width * region.height, faces.frameSize.width * faces.frameSize.height / 2)
        for crop in faces.crops {
            XCTAssertGreaterThanOrEqual(crop.face.box.x1, Float(region.x))
            XCTAssertLessThanOrEqual(crop.face.box.x2, Float(region.x + region.width))
        }
        let mesh = try LandmarkRefiner().mesh
        let sampling = MotionSampling(count: 2, seconds: 0.5)
        let whole = try reader.readMotionWindows(path: video, sampling: sampling, mesh: mesh)
        let inside = try reader.readMotionWindows(path: video, sampling: sampling, mesh: mesh, region: region)
        XCTAssertEqual(inside.windows.map(\.frames), whole.windows.map(\.frames))
        for (a, b) in zip(inside.windows.flatMap(\.landmarks), whole.windows.flatMap(\.landmarks)) {
            let (ca, cb) = (FaceMesh.centroid(Array(0..<468), of: a), FaceMesh.centroid(Array(0..<468), of: b))
            XCTAssertEqual(ca.x, cb.x, accuracy: 3, "whole-frame pixels, the same face")
            XCTAssertEqual(ca.y, cb.y, accuracy: 3)
        }
        XCTAssertEqual(inside.faces.crops.map(\.face.box.x1).first ?? 0, whole.faces.crops.map(\.face.box.x1).first ?? 1, accuracy: 4)
        let elsewhere = FrameRegion(x: 0, y: 0, width: 64, height: 64)
        let missed = try reader.readMotionWindows(path: video, sampling: sampling, mesh: mesh, region: elsewhere)
        XCTAssertEqual(missed.windows.map(\.frames), whole.windows.map(\.frames), "the face left the region: whole frames")
        XCTAssertEqual(missed.windows.flatMap(\.landmarks), whole.windows.flatMap(\.landmarks))
        let photoFaces = try reader.read(path: try inputs().photo)
        XCTAssertNil(photoFaces.motionRegion(), "a photo has no motion to read")
    }
}
