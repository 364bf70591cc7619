import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightDetect
import ForensightEvaluation

/// The detector file format, its preprocessing, the pipeline's verdicts and the JSON record.
final class DetectorTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-detect-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func smallDetector() throws -> DeepfakeDetector {
        var card = DetectorCard(id: "test", architecture: "efficientnet-lite0")
        card.inputSize = 64
        card.threshold = 0.4
        let detector = try DeepfakeDetector(card: card)
        detector.network.eval()
        return detector
    }

    func testSHA256KnownAnswers() throws {
        XCTAssertEqual(FileDigest.sha256Hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(FileDigest.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(FileDigest.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a' through the file reader (several 1 MiB pieces are not needed: one read, many blocks).
        let path = dir.appendingPathComponent("a.bin").path
        try Data(repeating: 0x61, count: 1_000_000).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try FileDigest.sha256Hex(ofFile: path), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Remembered per unchanged file: rewritten at the same path, the file is hashed again.
        try Data("abc".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try FileDigest.sha256Hex(ofFile: path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testInputTensorResizesAndNormalises() throws {
        let detector = try smallDetector()
        let face = RGBImage(width: 64, height: 64, fill: (255, 127, 0))
        let x = detector.inputTensor([face, face])
        XCTAssertEqual(x.shape, [2, 3, 64, 64])
        XCTAssertEqual(x.data[0], 1, accuracy: 1e-6)                 // (255 − 127) / 128
        XCTAssertEqual(x.data[64 * 64], 0, accuracy: 1e-6)           // green plane
        XCTAssertEqual(x.data[2 * 64 * 64], -127 / 128, accuracy: 1e-6)
        let big = detector.inputTensor([RGBImage(width: 256, height: 256, fill: (255, 127, 0))])
        XCTAssertEqual(big.shape, [1, 3, 64, 64])
        XCTAssertEqual(big.data[0], 1, accuracy: 1e-6)
    }

    func testSaveLoadKeepsCardAndScores() throws {
        let detector = try smallDetector()
        var random = SeededRandom(seed: 5)
        let faces = (0..<3).map { _ in RGBImage(width: 80, height: 80, pixels: (0..<(80 * 80 * 3)).map { _ in UInt8(random.next() % 256) }) }
        let path32 = dir.appendingPathComponent("d32.safetensors").path, path16 = dir.appendingPathComponent("d16.safetensors").path
        try detector.save(to: path32)
        try detector.save(to: path16, dtype: .f16)
        let expected = detector.probabilities(faces)
        let loaded32 = try DeepfakeDetector(path: path32), loaded16 = try DeepfakeDetector(path: path16)
        XCTAssertEqual(loaded32.card, detector.card)
        XCTAssertEqual(loaded32.probabilities(faces), expected)
        for (a, b) in zip(loaded16.probabilities(faces), expected) { XCTAssertEqual(a, b, accuracy: 2e-3) }
        XCTAssertEqual(loaded32.weightsSHA256, try FileDigest.sha256Hex(ofFile: path32))
        let size16 = try FileManager.default.attributesOfItem(atPath: path16)[.size] as! Int
        let size32 = try FileManager.default.attributesOfItem(atPath: path32)[.size] as! Int
        XCTAssertLessThan(Double(size16), 0.51 * Double(size32))
    }

    func testScoresFollowTheWeightsThroughTheCompiledNetwork() throws {
        let detector = try smallDetector()
        var random = SeededRandom(seed: 6)
        let x = Tensor.randn([3, 3, 64, 64], using: &random)
        let module = { withoutGrad { detector.network(x) }.scalars }
        let compiled = detector.logits(x)
        for (a, b) in zip(compiled, module()) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        // A weight update between two calls (as training does between validations) is seen by the next call; one
        // written straight into the storage is announced.
        let head = detector.network.fc.weight
        for i in 0..<head.count { head.data[i] *= -2 }
        detector.network.fc.markStateChanged()
        let after = detector.logits(x), want = module()
        for (a, b) in zip(after, want) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertNotEqual(after, compiled)
        // With part of the network in training mode, the module runs (batch statistics).
        detector.network.train()
        let training = detector.logits(x)
        detector.network.eval()
        XCTAssertNotEqual(training, after)
        // A state-dict load is seen without any announcement.
        let before = detector.logits(x)
        let state = Dictionary(uniqueKeysWithValues: detector.network.stateDict().map { ($0.0, Tensor($0.1.scalars, shape: $0.1.shape)) })
        let loadedHead = try XCTUnwrap(state["_fc.weight"])
        for i in 0..<loadedHead.count { loadedHead.data[i] *= 3 }
        _ = try detector.network.loadStateDict(state)
        let loaded = detector.logits(x)
        for (a, b) in zip(loaded, module()) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertNotEqual(loaded, before)
    }

    func testFilesThatAreNotDetectorsAreRejected() throws {
        let plain = dir.appendingPathComponent("plain.safetensors").path
        try Safetensors.write(["w": Tensor.zeros([2])], to: plain)
        XCTAssertThrowsError(try DeepfakeDetector(path: plain)) { XCTAssertTrue("\($0)".contains("not a Forensight detector")) }
        let junk = dir.appendingPathComponent("junk.safetensors").path
        try Data("not safetensors".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try DeepfakeDetector(path: junk))
        XCTAssertThrowsError(try DeepfakeDetector(path: dir.appendingPathComponent("missing.safetensors").path))
    }

    /// With global average pooling and a linear head, ∂logit/∂A_c(p) = w_c / (h·w), so Grad-CAM equals the class
    /// activation map ReLU(Σ_c w_c·A_c), scaled to peak 1: computed here directly from the feature map and the head.
    func testGradCAMEqualsTheClassActivationMapOfTheLinearHead() throws {
        let detector = try smallDetector()
        var random = SeededRandom(seed: 9)
        let faces = (0..<2).map { _ in RGBImage(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { _ in UInt8(random.next() % 256) }) }
        let (maps, side) = detector.gradCAM(faces)
        XCTAssertEqual(side, 2)                                    // 64 px input / 32
        XCTAssertEqual(maps.count, 2)
        let features = withoutGrad { detector.network.featureMap(detector.inputTensor(faces)) }
        let c = features.shape[1]
        for i in 0..<2 {
            var cam = [Float](repeating: 0, count: 4)
            for ch in 0..<c { for p in 0..<4 { cam[p] += detector.network.fc.weight.data[ch] * features.data[(i * c + ch) * 4 + p] } }
            let peak = cam.map { max($0, 0) }.max()!
            for p in 0..<4 { XCTAssertEqual(maps[i][p], peak > 0 ? max(cam[p], 0) / peak : 0, accuracy: 1e-4) }
        }
        XCTAssertTrue(detector.network.trainableParameters().allSatisfy { $0.grad == nil }, "explanations leave no gradients behind")
        let overlay = HeatmapOverlay.render(faces[0], map: maps[0], side: side)
        XCTAssertEqual([overlay.width, overlay.height], [64, 64])
        XCTAssertNotEqual(overlay, faces[0])
    }

    func pipeline(_ detector: DeepfakeDetector, aggregation: VerdictAggregation? = nil) throws -> Pipeline {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }; return Pipeline(detector: detector, faceDetector: try MTCNN(), frames: 4, aggregation: aggregation)
    }

    func testImageWithoutAFaceIsNoFace() throws {
        let path = dir.appendingPathComponent("wall.png").path
        try ImageEncoder.write(RGBImage(width: 120, height: 90, fill: (90, 120, 150)), to: path)
        let v = try pipeline(try smallDetector()).analyze(path: path)
        XCTAssertEqual(v.verdict, .noFace)
        XCTAssertNil(v.probability)
        XCTAssertEqual(v.kind, "image")
        XCTAssertEqual(v.frames, 1)
        XCTAssertTrue(v.faces.isEmpty)
    }

    func testUnreadableFileThrowsAMediaError() throws {
        let path = dir.appendingPathComponent("broken.jpg").path
        try Data([0xFF, 0xD8, 0xFF, 0x00, 0x01]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try pipeline(try smallDetector()).analyze(path: path)) { XCTAssertTrue($0 is MediaError, "\($0)") }
    }

    /// A real face (UTKFace, read in place; skipped when absent): one face, a verdict consistent with the
    /// threshold, and a JSON record with the documented keys.
    func testRealFaceGetsAVerdictAndAVersionedRecord() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        let detector = try smallDetector()
        for aggregation in VerdictAggregation.allCases {
            let v = try pipeline(detector, aggregation: aggregation).analyze(path: folder + "/" + name)
            XCTAssertEqual(v.faces.count, 1)
            let p = try XCTUnwrap(v.probability)
            XCTAssertEqual(p, v.faces[0].frames[0].probability, accuracy: 1e-12)   // one face-frame: every rule agrees
            XCTAssertEqual(v.verdict, p >= 0.4 ? .fake : .real)
            XCTAssertEqual(v.aggregation, aggregation.rawValue)
        }
        let v = try pipeline(detector).analyze(path: folder + "/" + name)
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(v)) as! [String: Any]
        XCTAssertEqual(object["schema"] as? String, "forensight.detect/3")
        XCTAssertEqual(Set(object.keys), ["schema", "source", "kind", "verdict", "probability", "aggregation", "frames", "frames_with_faces",
                                          "faces", "model", "timings_ms", "warnings", "error", "members"])
        XCTAssertTrue(object["error"] is NSNull)
        XCTAssertTrue(object["members"] is NSNull, "members are a fusion's only")
        let model = object["model"] as! [String: Any]
        XCTAssertEqual(try XCTUnwrap(model["threshold"] as? Double), 0.4, accuracy: 1e-6)
        XCTAssertEqual(Set((object["timings_ms"] as! [String: Any]).keys), ["decode", "faces", "model", "total"])
        XCTAssertEqual(try JSONDecoder().decode(Verdict.self, from: try JSONEncoder().encode(v)), v)
    }
}

extension DetectorTests {
    func testCalibrationAndFlipAveragingTravelWithTheCard() throws {
        let detector = try smallDetector()
        var random = SeededRandom(seed: 8)
        // Left-right asymmetric crops (a bright left half) and a random head, so mirror images score differently.
        let faces = (0..<3).map { _ in RGBImage(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { i in
            UInt8(truncatingIfNeeded: Int(random.next() % 128) + (i / 3 % 64 < 24 ? 120 : 0)) }) }
        let head = detector.network.fc.weight
        for i in 0..<head.count { head.data[i] = Float(Int(random.next() % 2001) - 1000) / 100 }
        detector.network.fc.markStateChanged()
        let raw = detector.faceLogits(faces)
        XCTAssertEqual(detector.probabilities(faces), raw.map { 1 / (1 + exp(-$0)) })
        detector.card.calibration = PlattScaling(scale: 0.5, bias: -1)
        for (p, z) in zip(detector.probabilities(faces), raw) { XCTAssertEqual(p, 1 / (1 + exp(-(0.5 * z - 1))), accuracy: 1e-6) }
        // Flip averaging: a mirrored crop scores exactly as the crop, and the logit is the mean of both views.
        detector.card.flipAverage = true
        let mirrored = faces.map { ImageGeometry.flipHorizontal($0) }
        let averaged = detector.faceLogits(faces)
        for (a, b) in zip(averaged, detector.faceLogits(mirrored)) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        detector.card.flipAverage = nil
        let plainMirrored = detector.faceLogits(mirrored)
        for i in faces.indices { XCTAssertEqual(averaged[i], (raw[i] + plainMirrored[i]) / 2, accuracy: 1e-5) }
        XCTAssertNotEqual(raw, plainMirrored, "a random crop and its mirror image should score differently")
        // Both survive a save and a load; a card without them (older files) reads as plain sigmoid, no flip.
        detector.card.flipAverage = true
        let path = dir.appendingPathComponent("calibrated.safetensors").path
        try detector.save(to: path)
        let loaded = try DeepfakeDetector(path: path)
        XCTAssertEqual(loaded.card.calibration, PlattScaling(scale: 0.5, bias: -1))
        XCTAssertEqual(loaded.card.flipAverage, true)
        let old = try JSONDecoder().decode(DetectorCard.self, from: Data(#"{"schema":1,"id":"x","architecture":"efficientnet-lite0","crop_size":256,"crop_margin":1.3,"crop_mode":"aligned","input_size":224,"mean":[127,127,127],"std":[128,128,128],"threshold":0.5,"aggregation":"max-mean","notes":""}"#.utf8))
        XCTAssertNil(old.calibration)
        XCTAssertNil(old.flipAverage)
    }
}

extension DetectorTests {
    /// Scores and Grad-CAM maps computed from several threads at once equal the single-threaded ones.
    func testDetectionAndGradCAMConcurrentlyMatchTheirSingleThreadedResults() throws {
        let detector = try smallDetector()
        let head = detector.network.fc.weight
        var random = SeededRandom(seed: 12)
        for i in 0..<head.count { head.data[i] = Float(Int(random.next() % 2001) - 1000) / 500 }
        detector.network.fc.markStateChanged()
        let faces = (0..<6).map { _ in RGBImage(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { _ in UInt8(random.next() % 256) }) }
        let scores = detector.probabilities(faces)
        let maps = faces.map { detector.gradCAM([$0]).maps[0] }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var scores: [[Float]] = [], maps: [[Float]] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 12) { k in
            if k % 2 == 0 {
                let s = detector.probabilities(faces)
                results.lock.lock(); results.scores.append(s); results.lock.unlock()
            } else {
                let m = detector.gradCAM([faces[k % faces.count]]).maps[0]
                results.lock.lock(); results.maps.append(m + [Float(k % faces.count)]); results.lock.unlock()
            }
        }
        XCTAssertEqual(results.scores.count, 6)
        for s in results.scores { XCTAssertEqual(s, scores) }
        XCTAssertEqual(results.maps.count, 6)
        for m in results.maps {
            let i = Int(m.last!)
            for (a, b) in zip(m.dropLast(), maps[i]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        }
        XCTAssertTrue(detector.network.trainableParameters().allSatisfy { $0.grad == nil })
    }
}

extension DetectorTests {
    /// `Pipeline.explanation`: a video gets its P(fake) timeline, each face its crop beside the Grad-CAM overlay.
    func testExplanationArtifactsOfAVideo() throws {
        let photos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: photos).sorted().first(where: { $0.hasSuffix(".jpg") }),
              let ffmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("needs ../shared/datasets/utkface-real and ffmpeg")
        }
        let video = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID()).mp4").path
        defer { try? FileManager.default.removeItem(atPath: video) }
        let make = Process()
        make.executableURL = URL(fileURLWithPath: ffmpeg)
        make.arguments = ["-v", "error", "-loop", "1", "-i", photos + "/" + name, "-t", "2", "-r", "10", "-pix_fmt", "yuv420p",
                          "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-y", video]
        try make.run(); make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0)
        let pipeline = Pipeline(detector: try smallDetector(), faceDetector: try MTCNN(), frames: 4)
        let (verdict, crops) = try pipeline.analyzeKeepingCrops(path: video)
        XCTAssertEqual(verdict.faces.count, 1)
        let artifacts = try pipeline.explanation(of: verdict, crops: crops)
        XCTAssertEqual(artifacts.map(\.name), ["timeline.svg", "face0.png"])
        let svg = String(decoding: artifacts[0].bytes, as: UTF8.self)
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse(), "timeline.svg is not well-formed XML")
        XCTAssertTrue(svg.contains("threshold 0.40") && svg.contains("face 0"), "timeline legend")
        let png = try ImageDecoder.decode(data: artifacts[1].bytes)
        XCTAssertEqual(png.width, 2 * crops[0].image.width)
        XCTAssertEqual(artifacts[1].mediaType, "image/png")
    }
}
