import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightDetect
import ForensightEvaluation

/// An ensemble with a still-image stacking: photos scored by more members than videos, one threshold for both.
final class EnsembleStillImagesTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-stills-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// The video ensemble (a, b, threshold 0.6) and the photo one (a, b, c, threshold 0.8), on the same a and b.
    static func pair() throws -> (video: EnsembleDetector, stills: EnsembleDetector) {
        let a = try EnsembleTests.member("a", seed: 1), b = try EnsembleTests.member("b", seed: 2), c = try EnsembleTests.member("c", seed: 3)
        let video = try EnsembleDetector(id: "a+b", members: [a, b], combiner: StackingCombiner(weights: [1.2, 0.7], bias: -0.3), threshold: 0.6)
        let stills = try EnsembleDetector(id: "a+b+c", members: [a, b, c], combiner: StackingCombiner(weights: [0.4, -0.2, 1.5], bias: 0.1),
                                          threshold: 0.8)
        return (video, stills)
    }

    func testThresholdMapKeepsOrderEndsAndVerdicts() {
        let (t, target) = (0.8, 0.6)
        XCTAssertEqual(ThresholdMap.rescaled(0, from: t, onto: target), 0)
        XCTAssertEqual(ThresholdMap.rescaled(1, from: t, onto: target), 1)
        XCTAssertEqual(ThresholdMap.rescaled(t, from: t, onto: target), target, accuracy: 1e-12)
        XCTAssertEqual(ThresholdMap.rescaled(0.4, from: t, onto: target), 0.3, accuracy: 1e-12)
        XCTAssertEqual(ThresholdMap.rescaled(0.9, from: t, onto: target), 0.8, accuracy: 1e-12)
        let grid = stride(from: 0.0, through: 1.0, by: 0.01).map { $0 }
        let mapped = grid.map { ThresholdMap.rescaled($0, from: t, onto: target) }
        XCTAssertEqual(mapped, mapped.sorted())
        for (p, q) in zip(grid, mapped) {
            XCTAssertEqual(p >= t, q >= target - 1e-12, "p \(p)")
            XCTAssertLessThanOrEqual(abs(p - q), abs(t - target) + 1e-12)
        }
        // The fusion's raise is the upper half of the same map.
        XCTAssertEqual(FusedDetector.raised(0.9, threshold: t, onto: target), ThresholdMap.rescaled(0.9, from: t, onto: target))
        XCTAssertNil(FusedDetector.raised(0.7, threshold: t, onto: target))
    }

    func testVideosUseTheVideoStackingAndPhotosTheirOwn() throws {
        let (video, stills) = try Self.pair()
        let routed = try EnsembleDetector.routing(id: "routed", video: video, stills: stills)
        XCTAssertEqual(routed.memberIDs, ["a", "b", "c"])
        XCTAssertEqual(routed.card.threshold, video.card.threshold)
        XCTAssertEqual(routed.card.ensemble?.weights, [1.2, 0.7, 0])
        XCTAssertEqual(routed.activeMembers(stillImage: false), [0, 1])
        XCTAssertEqual(routed.activeMembers(stillImage: true), [0, 1, 2])
        XCTAssertEqual(video.activeMembers(stillImage: true), [0, 1], "without a still-image stacking photos are scored as frames")
        let faces = EnsembleTests.faces(4)
        // Videos: exactly the video ensemble; the photo-only member is not run (its entry is the placeholder 0.5).
        let asVideo = routed.scores(.faces(faces)), expected = video.scores(.faces(faces))
        XCTAssertEqual(asVideo.map(\.probability), expected.map(\.probability))
        XCTAssertEqual(asVideo.map { Array($0.members.prefix(2)) }, expected.map(\.members))
        XCTAssertEqual(asVideo.map { $0.members[2] }, [0.5, 0.5, 0.5, 0.5])
        // Photos: the photo ensemble's P(fake), moved from its threshold 0.8 onto 0.6.
        let asPhoto = routed.scores(.faces(faces), stillImage: true), own = stills.scores(.faces(faces))
        XCTAssertEqual(asPhoto.map(\.members), own.map(\.members))
        for (p, q) in zip(asPhoto, own) {
            XCTAssertEqual(Double(p.probability), ThresholdMap.rescaled(Double(q.probability), from: 0.8, onto: 0.6), accuracy: 1e-5)
            XCTAssertEqual(Double(p.probability) >= 0.6, Double(q.probability) >= 0.8)
        }
        XCTAssertNotEqual(asPhoto.map(\.probability), asVideo.map(\.probability))
        // The route survives a save and a load through the registry.
        let path = dir.appendingPathComponent("routed.safetensors").path
        try routed.save(to: path)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? EnsembleDetector)
        XCTAssertEqual(loaded.card, routed.card)
        XCTAssertEqual(try XCTUnwrap(loaded.card.ensemble?.stillImages?.threshold), 0.8, accuracy: 1e-6)
        XCTAssertEqual(loaded.scores(.faces(faces), stillImage: true), asPhoto)
        XCTAssertEqual(loaded.scores(.faces(faces)), asVideo)
    }

    /// Heatmaps follow the route: on a photo the member that contributes most under the photo stacking explains a
    /// face; on a video a member the video stacking does not run never does.
    func testPhotosAreExplainedByThePhotoStacking() throws {
        let (video, stills) = try Self.pair()
        let routed = try EnsembleDetector.routing(id: "routed", video: video, stills: stills)
        let faces = EnsembleTests.faces(6, seed: 21)
        // Weigh the photo-only member c so that its term is large and positive on these faces.
        let c = stills.members[2].probabilities(faces).map { StackingCombiner.feature(probability: Double($0)) }
        routed.card.ensemble?.stillImages?.weights = [0.05, 0.05, c.reduce(0, +) >= 0 ? 3 : -3]
        let photoScores = routed.scores(.faces(faces), stillImage: true), videoScores = routed.scores(.faces(faces))
        let weights = try XCTUnwrap(routed.card.ensemble?.stillImages?.weights)
        for score in photoScores {
            let terms = zip(weights, score.members).map { $0 * StackingCombiner.feature(probability: Double($1)) }
            XCTAssertEqual(routed.explainingMember(score, stillImage: true), terms.indices.max { terms[$0] < terms[$1] })
        }
        XCTAssertTrue(videoScores.allSatisfy { [0, 1].contains(routed.explainingMember($0)) })
        let chosen = photoScores.map { routed.explainingMember($0, stillImage: true)! }
        XCTAssertTrue(chosen.contains(2), "the photo-only member explains some photo faces: \(chosen)")
        let (maps, side) = routed.gradCAM(faces, stillImage: true)
        for (f, m) in chosen.enumerated() {
            let own = (routed.members[m] as! any ExplainableDetector).gradCAM([faces[f]])
            XCTAssertEqual(side, own.side)
            XCTAssertEqual(maps[f], own.maps[0])
        }
    }

    /// A video member the photo ensemble lacks joins the file with photo weight 0: photos score exactly as the photo
    /// ensemble (the member not run), videos as the video ensemble. A member both hold must hold the same weights.
    func testRoutingKeepsVideoOnlyMembersAndNeedsTheSameWeights() throws {
        let (video, stills) = try Self.pair()
        let swapped = try EnsembleDetector.routing(id: "x", video: stills, stills: video)
        XCTAssertEqual(swapped.members.map(\.card.id), ["a", "b", "c"])
        XCTAssertEqual(swapped.card.ensemble?.weights, [0.4, -0.2, 1.5])
        XCTAssertEqual(swapped.card.ensemble?.stillImages?.weights, [1.2, 0.7, 0])
        XCTAssertEqual(swapped.activeMembers(stillImage: true), [0, 1])
        let faces = EnsembleTests.faces(3)
        for (p, q) in zip(swapped.scores(.faces(faces)), stills.scores(.faces(faces))) { XCTAssertEqual(p.probability, q.probability, accuracy: 1e-6) }
        for (p, q) in zip(swapped.scores(.faces(faces), stillImage: true), video.scores(.faces(faces))) {
            XCTAssertEqual(Double(p.probability), ThresholdMap.rescaled(Double(q.probability), from: 0.6, onto: 0.8), accuracy: 1e-5)
        }
        // A routed file as the photo side: its own photo stacking is taken, so photos score as the routed file scores
        // them, and a new video member (d) is not run on photos.
        let routed = try EnsembleDetector.routing(id: "r", video: video, stills: stills)
        let d = try EnsembleTests.member("d", seed: 4)
        let newVideo = try EnsembleDetector(id: "a+b+d", members: [video.members[0], video.members[1], d],
                                            combiner: StackingCombiner(weights: [0.5, 0.3, 0.9], bias: 0.2), threshold: 0.65)
        let rerouted = try EnsembleDetector.routing(id: "r2", video: newVideo, stills: routed)
        XCTAssertEqual(rerouted.members.map(\.card.id), ["a", "b", "c", "d"])
        XCTAssertEqual(rerouted.card.ensemble?.stillImages?.weights, [0.4, -0.2, 1.5, 0])
        XCTAssertEqual(rerouted.card.ensemble?.stillImages?.threshold ?? 0, 0.8, accuracy: 1e-6)
        for (p, q) in zip(rerouted.scores(.faces(faces), stillImage: true), stills.scores(.faces(faces))) {
            XCTAssertEqual(Double(p.probability), ThresholdMap.rescaled(Double(q.probability), from: 0.8, onto: 0.65), accuracy: 1e-5)
        }
        for (p, q) in zip(rerouted.scores(.faces(faces)), newVideo.scores(.faces(faces))) { XCTAssertEqual(p.probability, q.probability, accuracy: 1e-6) }
        let otherB = try EnsembleTests.member("b", seed: 7)
        let retrained = try EnsembleDetector(id: "a+b'+c", members: [stills.members[0], otherB, stills.members[2]],
                                             combiner: StackingCombiner(weights: [1, 1, 1], bias: 0), threshold: 0.7)
        XCTAssertThrowsError(try EnsembleDetector.routing(id: "x", video: video, stills: retrained)) { error in
            XCTAssertTrue("\(error)".contains("\"b\" holds other weights"), "\(error)")
        }
    }

    func testAStillImageStackingThatDoesNotFitTheMembersIsAOneLineError() throws {
        let (video, stills) = try Self.pair()
        var broken = try EnsembleDetector.routing(id: "routed", video: video, stills: stills)
        broken.card.ensemble?.stillImages?.weights = [1, 2]
        let path = dir.appendingPathComponent("broken.safetensors").path
        try broken.save(to: path)
        XCTAssertThrowsError(try DetectorRegistry.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("2 weights for 3 members"), "\(error)")
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
        broken = try EnsembleDetector.routing(id: "routed", video: video, stills: stills)
        broken.card.ensemble?.stillImages?.threshold = 1
        try broken.save(to: path)
        XCTAssertThrowsError(try DetectorRegistry.load(path: path))
    }

    /// A photo and a video made of it, through `Pipeline`: the photo's record lists all three members, the video's two.
    func testPipelineRoutesPhotosAndVideos() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let ffmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let ffmpeg else { throw XCTSkip("ffmpeg absent") }
        let photo = folder + "/" + name, clip = dir.appendingPathComponent("still.mp4").path
        let make = Process()
        make.executableURL = URL(fileURLWithPath: ffmpeg)
        make.arguments = ["-v", "error", "-loop", "1", "-i", photo, "-t", "1", "-r", "4", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                          "-pix_fmt", "yuv420p", clip]
        try make.run()
        make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0)
        let (video, stills) = try Self.pair()
        let routed = try EnsembleDetector.routing(id: "routed", video: video, stills: stills)
        let pipeline = Pipeline(detector: routed, faceDetector: try MTCNN(), frames: 2)
        let onPhoto = try pipeline.analyze(path: photo), onVideo = try pipeline.analyze(path: clip)
        XCTAssertEqual(onPhoto.kind, "image")
        XCTAssertEqual(onVideo.kind, "video")
        XCTAssertEqual(onPhoto.faces.first?.members?.map(\.id), ["a", "b", "c"])
        XCTAssertEqual(onVideo.faces.first?.members?.map(\.id), ["a", "b"])
        // The photo's P(fake) is the photo ensemble's, moved onto the shared threshold; its verdict is the photo ensemble's.
        let own = try Pipeline(detector: stills, faceDetector: try MTCNN(), frames: 2).analyze(path: photo)
        let p = try XCTUnwrap(own.probability), q = try XCTUnwrap(onPhoto.probability)
        XCTAssertEqual(q, ThresholdMap.rescaled(p, from: 0.8, onto: 0.6), accuracy: 1e-5)
        XCTAssertEqual(onPhoto.verdict == .fake, own.verdict == .fake)
        XCTAssertEqual(onPhoto.model.threshold, 0.6, accuracy: 1e-6)
        // The video's P(fake) is the video ensemble's.
        let plain = try Pipeline(detector: video, faceDetector: try MTCNN(), frames: 2).analyze(path: clip)
        XCTAssertEqual(try XCTUnwrap(onVideo.probability), try XCTUnwrap(plain.probability), accuracy: 1e-6)
        // A batch of two photos and the video: each record equals its file's own.
        let reads = try [photo, clip, photo].map { (media: try pipeline.read(path: $0), path: $0, readMs: 0.0) }
        let batch = try pipeline.score(batch: reads).map(\.verdict)
        XCTAssertEqual(batch.map(\.probability), [onPhoto.probability, onVideo.probability, onPhoto.probability])

        // A fusion of the routed ensemble and another face detector scores photos in shared batches (its primary
        // member) and gives each photo the record it gets alone.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter { $0.hasSuffix(".jpg") }.prefix(4)
        let fused = try FusedDetector(id: "routed+d", members: [routed, try EnsembleTests.member("d", seed: 4)])
        let fusion = Pipeline(detector: fused, faceDetector: try MTCNN(), frames: 2)
        let alone = try names.map { try fusion.analyze(path: folder + "/" + $0) }
        let together = try fusion.score(batch: try names.map { (media: try fusion.read(path: folder + "/" + $0), path: folder + "/" + $0, readMs: 0.0) })
        XCTAssertEqual(together.count, alone.count)
        for (one, many) in zip(alone, together.map(\.verdict)) {
            XCTAssertEqual(one.source, many.source)
            XCTAssertEqual(one.verdict, many.verdict)
            XCTAssertEqual(one.probability ?? -1, many.probability ?? -1, accuracy: 1e-5)
            XCTAssertEqual(one.members?.map(\.id), ["routed", "d"])
            XCTAssertEqual(many.members?.map(\.id), ["routed", "d"])
            XCTAssertEqual(one.members?[1].probability ?? -1, many.members?[1].probability ?? -1, accuracy: 1e-5)
            XCTAssertEqual(many.faces.first?.members?.map(\.id), ["a", "b", "c"])
        }
    }
}

extension CommandLineTests {
    /// `models route` end to end: two ensemble files give one file with both stackings; a member file that is not an
    /// ensemble, or a photo ensemble that lacks a video member, is one line on stderr and exit 1.
    func testModelsRouteJoinsTwoEnsembles() throws {
        let (video, stills) = try EnsembleStillImagesTests.pair()
        let (videoPath, stillsPath) = (dir.appendingPathComponent("video.safetensors").path, dir.appendingPathComponent("stills.safetensors").path)
        try video.save(to: videoPath)
        try stills.save(to: stillsPath)
        try "ffpp:1\nffpp:2\n".write(toFile: dir.appendingPathComponent("video.training-ids.txt").path, atomically: true, encoding: .utf8)
        try "ffpp:2\ncelebdf:3\n".write(toFile: dir.appendingPathComponent("stills.training-ids.txt").path, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("routed.safetensors").path
        let result = try run(["models", "route", "--video", videoPath, "--still-images", stillsPath, "--out", out, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["id"] as? String, "a+b+stills")
        XCTAssertEqual(object["members"] as? [String], ["a", "b", "c"])
        XCTAssertEqual((object["video"] as? [String: Any])?["weights"] as? [Double], [1.2, 0.7, 0])
        XCTAssertEqual((object["still_images"] as? [String: Any])?["weights"] as? [Double], [0.4, -0.2, 1.5])
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: out) as? EnsembleDetector)
        XCTAssertTrue(loaded.routesStillImages)
        let faces = EnsembleTests.faces(2)
        // Stored in f16 by default: the video route scores as the video ensemble does, to f16 precision.
        for (p, q) in zip(loaded.scores(.faces(faces)), video.scores(.faces(faces))) { XCTAssertEqual(p.probability, q.probability, accuracy: 2e-3) }
        let ids = try String(contentsOfFile: dir.appendingPathComponent("routed.training-ids.txt").path, encoding: .utf8)
        XCTAssertEqual(ids, "celebdf:3\nffpp:1\nffpp:2\n")
        // The readable form lists both weights of each member.
        let plain = try run(["models", "route", "--video", videoPath, "--still-images", stillsPath, "--out", out, "--id", "r"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains("c: video weight 0.0000, photo weight 1.5000"), plain.stdout)
        // The two the other way round: the video-only member c joins with photo weight 0.
        let swapped = try run(["models", "route", "--video", stillsPath, "--still-images", videoPath, "--out", out, "--json"])
        XCTAssertEqual(swapped.status, 0, swapped.stderr)
        let other = try JSONSerialization.jsonObject(with: Data(swapped.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((other["still_images"] as? [String: Any])?["weights"] as? [Double], [1.2, 0.7, 0])
        // Bad input: a single detector.
        let single = dir.appendingPathComponent("single.safetensors").path
        try video.members[0].save(to: single, dtype: .f32)
        let notEnsemble = try run(["models", "route", "--video", single, "--still-images", stillsPath, "--out", out])
        XCTAssertEqual(notEnsemble.status, 1)
        XCTAssertTrue(notEnsemble.stderr.contains(single) && notEnsemble.stderr.contains("not an ensemble"), notEnsemble.stderr)
    }

    /// `models extract`: lists a fusion's members at every depth and writes one back as the detector it was, with the
    /// file's list of seen samples beside it; an unknown member or a file without members is one line and exit 1.
    func testModelsExtractWritesOneMemberBack() throws {
        let (video, stills) = try EnsembleStillImagesTests.pair()
        let routed = try EnsembleDetector.routing(id: "r", video: video, stills: stills)
        let fused = try FusedDetector(id: "r+d", members: [routed, try EnsembleTests.member("d", seed: 4)])
        let path = dir.appendingPathComponent("fused.safetensors").path
        try fused.save(to: path, dtype: .f32)
        try "ffpp:1\n".write(toFile: dir.appendingPathComponent("fused.training-ids.txt").path, atomically: true, encoding: .utf8)
        let listed = try run(["models", "extract", path])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertEqual(listed.stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }, ["r", "  a", "  b", "  c", "d"])
        let out = dir.appendingPathComponent("b.safetensors").path
        let wrote = try run(["models", "extract", path, "--member", "b", "--out", out])
        XCTAssertEqual(wrote.status, 0, wrote.stderr)
        let b = try DetectorRegistry.load(path: out)
        XCTAssertEqual(b.card.id, "b")
        let faces = EnsembleTests.faces(2)
        for (p, q) in zip(b.probabilities(faces), video.members[1].probabilities(faces)) { XCTAssertEqual(p, q, accuracy: 1e-6) }
        XCTAssertEqual(try String(contentsOfFile: dir.appendingPathComponent("b.training-ids.txt").path, encoding: .utf8), "ffpp:1\n")
        // Bad input: a member that is not there; a file with no members.
        let missing = try run(["models", "extract", path, "--member", "z", "--out", out])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("no member \"z\"") && missing.stderr.contains("a, b, c"), missing.stderr)
        let single = try run(["models", "extract", out])
        XCTAssertEqual(single.status, 1)
        XCTAssertTrue(single.stderr.contains("has no members"), single.stderr)
    }
}
