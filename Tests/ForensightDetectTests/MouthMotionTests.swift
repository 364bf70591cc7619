import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightTraining

/// A synthetic talking face: 468 mesh points whose lower face opens and closes (with the brows following a little),
/// carried by a moving head (scale, rotation, shift), so motion with and without head pose can be compared exactly.
enum SyntheticFace {
    static let base: [Landmark3D] = {
        var random = SeededRandom(seed: 77)
        var points = (0..<FaceMesh.landmarkCount).map { _ in Landmark3D(x: random.nextFloat() * 2 - 1, y: random.nextFloat() * 2 - 1, z: 0) }
        // Eyes apart and level, so the eye frame is well defined.
        for i in FaceMesh.rightEye { points[i] = Landmark3D(x: -0.4 + 0.05 * random.nextFloat(), y: -0.3 + 0.05 * random.nextFloat(), z: 0) }
        for i in FaceMesh.leftEye { points[i] = Landmark3D(x: 0.4 + 0.05 * random.nextFloat(), y: -0.3 + 0.05 * random.nextFloat(), z: 0) }
        return points
    }()

    /// `frames` meshes at `fps`; `phase` shifts the mouth's motion in time; `head` moves the head.
    static func meshes(frames: Int, fps: Double = 25, phase: Double = 0, head: Bool = true, speechHz: Double = 3) -> [[Landmark3D]] {
        let lower = Set(FaceMotion.lowerIndices), brows = Set(FaceMotion.upperIndices.prefix(10))
        let lowerLip = Set(FaceMesh.lipsOuter.suffix(9) + FaceMesh.lipsInner.suffix(9) + FaceMotion.jaw)
        return (0..<frames).map { f in
            let t = Double(f) / fps
            let open = Float(0.08 * (1 + sin(2 * .pi * speechHz * t + phase)) + 0.02 * sin(2 * .pi * 1.3 * t + 2 * phase))
            let (s, angle, dx, dy): (Double, Double, Double, Double) = head ? (1 + 0.1 * sin(t), 0.2 * sin(0.7 * t), 0.3 * t, 0.1 * sin(t)) : (1, 0, 0, 0)
            return base.enumerated().map { i, p in
                var q = p
                if lower.contains(i) { q.y += lowerLip.contains(i) ? open : 0.2 * open }
                if [61, 78].contains(i) { q.x += 0.4 * open } else if [291, 308].contains(i) { q.x -= 0.4 * open }
                if brows.contains(i) { q.y -= 0.25 * open }
                let (x, y) = (Double(q.x), Double(q.y))
                let rx = s * (cos(angle) * x - sin(angle) * y) + dx, ry = s * (sin(angle) * x + cos(angle) * y) + dy
                return Landmark3D(x: Float(100 * rx + 320), y: Float(100 * ry + 240), z: 0)
            }
        }
    }

    static func window(frames: Int, start: Int = 0, fps: Double = 25, phase: Double = 0) -> MotionWindow {
        MotionWindow(track: 0, fps: fps, frames: Array(start..<(start + frames)), times: (start..<(start + frames)).map { Double($0) / fps },
                     landmarks: meshes(frames: frames, fps: fps, phase: phase))
    }
}

final class MouthMotionTests: XCTestCase {
    func feature(_ values: [Float], _ name: String) -> Float { values[MouthMotionFeatures.names.firstIndex(of: name)!] }

    func testHeadPoseIsTakenOutOfTheFaceMotion() throws {
        let moving = try XCTUnwrap(FaceMotion(meshes: SyntheticFace.meshes(frames: 40), fps: 25))
        let still = try XCTUnwrap(FaceMotion(meshes: SyntheticFace.meshes(frames: 40, head: false), fps: 25))
        for t in 0..<40 {
            for c in moving.lower[t].indices { XCTAssertEqual(moving.lower[t][c], still.lower[t][c], accuracy: 2e-4) }
        }
        // The head's own motion is what was taken out: rotation 0.2·sin(0.7 t), log scale log(1 + 0.1 sin t).
        let t = 30, time = 30.0 / 25
        XCTAssertEqual(Double(moving.head[t][1]), 0.2 * sin(0.7 * time), accuracy: 1e-3)
        XCTAssertEqual(Double(moving.head[t][0]), log(1 + 0.1 * sin(time)), accuracy: 1e-3)
        XCTAssertEqual(still.head[t][1], 0, accuracy: 1e-5)
        let features = MouthMotionFeatures.compute(moving), stillFeatures = MouthMotionFeatures.compute(still)
        XCTAssertEqual(features.count, MouthMotionFeatures.names.count)
        for name in ["open-inner log std", "lips log jerk", "corr inner/outer opening velocity"] {
            XCTAssertEqual(feature(features, name), feature(stillFeatures, name), accuracy: 1e-2, name)
        }
        XCTAssertGreaterThan(feature(features, "head log speed"), feature(stillFeatures, "head log speed") + 3)
    }

    func testFeaturesDoNotDependOnFaceSizeOrPlaceInTheFrame() throws {
        let meshes = SyntheticFace.meshes(frames: 50)
        let moved = meshes.map { $0.map { Landmark3D(x: 2.5 * $0.x + 900, y: 2.5 * $0.y - 40, z: $0.z) } }
        let a = MouthMotionFeatures.compute(try XCTUnwrap(FaceMotion(meshes: meshes, fps: 25)))
        let b = MouthMotionFeatures.compute(try XCTUnwrap(FaceMotion(meshes: moved, fps: 25)))
        for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 2e-3, MouthMotionFeatures.names[i]) }
    }

    func testASteadyFaceGivesFiniteFeatures() throws {
        let still = [[Landmark3D]](repeating: SyntheticFace.base, count: 10)
        let values = MouthMotionFeatures.compute(try XCTUnwrap(FaceMotion(meshes: still, fps: 30)))
        XCTAssertTrue(values.allSatisfy(\.isFinite))
        XCTAssertNil(FaceMotion(meshes: [SyntheticFace.base], fps: 30), "one frame has no motion")
    }

    func testEachSimulationChangesTheMotionItIsMeantToChange() throws {
        let motion = try XCTUnwrap(FaceMotion(meshes: SyntheticFace.meshes(frames: 50), fps: 25))
        let donor = try XCTUnwrap(FaceMotion(meshes: SyntheticFace.meshes(frames: 50, phase: 2.1), fps: 25))
        var random = SeededRandom(seed: 1)
        let real = MouthMotionFeatures.compute(motion)
        func simulated(_ s: LipSyncSimulation) -> [Float] { MouthMotionFeatures.compute(s.apply(to: motion, donor: donor, random: &random)) }
        XCTAssertGreaterThan(feature(simulated(.jitter), "lips log jerk"), feature(real, "lips log jerk") + 1)
        XCTAssertLessThan(feature(simulated(.smooth), "lips log jerk"), feature(real, "lips log jerk") - 0.5)
        XCTAssertLessThan(feature(simulated(.damp), "open-inner log std"), feature(real, "open-inner log std") - 0.4)
        // The brows follow the real mouth: a mouth from another moment no longer moves with them.
        let name = "corr lower/upper motion energy"
        XCTAssertLessThan(feature(simulated(.desync), name), feature(real, name) - 0.3)
        for s in LipSyncSimulation.allCases {
            let edited = s.apply(to: motion, donor: donor, random: &random)
            XCTAssertEqual(edited.upper, motion.upper, "\(s) leaves the upper face alone")
            XCTAssertEqual(edited.head, motion.head)
            if s == .repaint { XCTAssertEqual(edited.lower, motion.lower, "repaint edits the mouth's pixels only") } else {
                XCTAssertNotEqual(edited.lower, motion.lower)
            }
        }
        XCTAssertEqual(try LipSyncSimulation.list("smooth, jitter"), [.smooth, .jitter])
        XCTAssertThrowsError(try LipSyncSimulation.list("smooth,wobble"))
    }

    func testARepaintedMouthIsSofterAndFlickersAndASoftVideoIsNot() throws {
        // Textured patches (fixed noise) that drift by a pixel a frame, as skin does under a moving camera.
        var random = SeededRandom(seed: 5)
        let texture = (0..<4096).map { _ in UInt8(60 + Int(random.next() % 120)) }
        func patch(_ w: Int, _ h: Int, _ t: Int) -> [UInt8] { (0..<(w * h)).map { texture[($0 + t) % texture.count] } }
        let (m, r) = (MouthPatches.mouthSize, MouthPatches.referenceSize)
        let n = 30
        let motion = try XCTUnwrap(FaceMotion(meshes: SyntheticFace.meshes(frames: n), fps: 25,
                                              mouthPatches: (0..<n).map { patch(m.width, m.height, $0) },
                                              referencePatches: (0..<n).map { patch(r.width, r.height, $0) }))
        let real = MouthMotionFeatures.compute(motion)
        XCTAssertEqual(feature(real, "mouth/reference log sharpness"), 0, accuracy: 0.3, "same texture, same sharpness")
        let repainted = MouthMotionFeatures.compute(LipSyncSimulation.repaint.apply(to: motion, donor: nil, random: &random))
        XCTAssertLessThan(feature(repainted, "mouth/reference log sharpness"), feature(real, "mouth/reference log sharpness") - 1)
        XCTAssertGreaterThan(feature(repainted, "mouth/reference log brightness drift"), feature(real, "mouth/reference log brightness drift") + 0.5)
        let soft = MouthMotionFeatures.compute(LipSyncSimulation.softened(motion, radius: 2))
        let name = "mouth/reference log sharpness"
        XCTAssertLessThan(abs(feature(soft, name) - feature(real, name)), abs(feature(repainted, name) - feature(real, name)) / 3,
                          "blurring the whole face moves the ratio far less than repainting the mouth")
        XCTAssertEqual(MouthMotionFeatures.compute(try XCTUnwrap(FaceMotion(meshes: SyntheticFace.meshes(frames: n), fps: 25))).suffix(4), [0, 0, 0, 0],
                       "no patches, no appearance")
    }

    func testWindowsAreSpreadOverTheVideoWithoutOverlap() {
        let sampling = MotionSampling(count: 3, seconds: 2)
        let (starts, length) = sampling.windowStarts(frameCount: 300, fps: 25)
        XCTAssertEqual(length, 50)
        XCTAssertEqual(starts, [0, 125, 250])
        XCTAssertEqual(sampling.frameIndices(frameCount: 300, fps: 25).count, 150)
        // A short video: as many whole windows as fit, then one window of every frame.
        XCTAssertEqual(sampling.windowStarts(frameCount: 120, fps: 25).starts, [0, 70])
        let short = sampling.windowStarts(frameCount: 30, fps: 25)
        XCTAssertEqual(short.starts, [0]); XCTAssertEqual(short.length, 30)
        XCTAssertTrue(sampling.windowStarts(frameCount: 0, fps: 25).starts.isEmpty)
    }

    func testMotionTracksRoundTripThroughTheCache() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-motion-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var window = SyntheticFace.window(frames: 12, start: 40, fps: 29.97)
        window.mouthPatches = (0..<12).map { t in (0..<768).map { UInt8(($0 * 7 + t) % 256) } }
        window.referencePatches = (0..<12).map { t in (0..<384).map { UInt8(($0 * 3 + t) % 256) } }
        try MotionCache.store(window, source: "/videos/a.mp4", to: dir + "/a.safetensors")
        let (loaded, source) = try MotionCache.load(dir + "/a.safetensors")
        XCTAssertEqual(source, "/videos/a.mp4")
        XCTAssertEqual(loaded.frames, window.frames)
        XCTAssertEqual(loaded.fps, 29.97)
        XCTAssertEqual(loaded.landmarks, window.landmarks)
        XCTAssertEqual(loaded.mouthPatches, window.mouthPatches)
        XCTAssertEqual(loaded.referencePatches, window.referencePatches)
        try Data("not a track".utf8).write(to: URL(fileURLWithPath: dir + "/b.safetensors"))
        XCTAssertThrowsError(try MotionCache.load(dir + "/b.safetensors"))
    }

    func testTrainingSeparatesSimulatedLipSyncAndTheDetectorRoundTrips() throws {
        // Videos of people speaking at different rates; the trainer cuts 1-s windows.
        let videos = (0..<8).map { v in
            MotionTrack(id: "v\(v)", window: MotionWindow(track: 0, fps: 25, frames: Array(0..<125), times: (0..<125).map { Double($0) / 25 },
                                                          landmarks: SyntheticFace.meshes(frames: 125, phase: Double(v), speechHz: 2.4 + 0.3 * Double(v % 3))))
        }
        var recipe = MouthMotionRecipe()
        (recipe.epochs, recipe.batchSize, recipe.sampling, recipe.simulations) = (40, 16, MotionSampling(count: 2, seconds: 1), [.jitter, .damp])
        let trainer = try MouthMotionTrainer(recipe: recipe, train: Array(videos.prefix(5)), validation: Array(videos.suffix(3)))
        XCTAssertEqual(trainer.validationWindowCount, 6)
        let first = try trainer.train(card: MouthMotionDetector.defaultCard())
        let again = try trainer.train(card: MouthMotionDetector.defaultCard())
        XCTAssertEqual(first.history.map(\.auc), again.history.map(\.auc), "a seed gives the same run")
        XCTAssertGreaterThan(first.best.auc, 0.9, "\(first.history.map { ($0.auc, $0.aucBySimulation) })")
        XCTAssertEqual(first.history.count, 40)

        let detector = first.detector
        (detector.card.calibration, detector.card.threshold) = (first.calibration.calibration, first.calibration.threshold)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mouth-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try detector.save(to: path)
        let loaded = try DetectorRegistry.load(path: path)
        XCTAssertEqual(loaded.inputKind, .mouthMotion)
        XCTAssertEqual(loaded.card.requiredSchema, 3)
        let windows = [SyntheticFace.window(frames: 25), SyntheticFace.window(frames: 25, phase: 1)]
        XCTAssertEqual(loaded.logits(.motion(windows)), detector.motionLogits(windows))
        XCTAssertEqual(loaded.card.motion, MotionSampling())
    }
}
