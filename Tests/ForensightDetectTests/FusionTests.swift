import XCTest
import Foundation
import ForensightDetect

/// `FusedDetector`: the "any member says FAKE" rule, the record it writes, and its one-file format.
final class FusionTests: XCTestCase {
    func record(_ p: Double?, threshold: Double, id: String, input: DetectorInput = .faceCrop, faces: Int = 1) -> Verdict {
        let face = Verdict.Face(track: 0, verdict: .real, probability: p ?? 0, frames: [], members: nil)
        return Verdict(source: "a.mp4", kind: "video", verdict: p.map { $0 >= threshold ? .fake : .real } ?? .noFace, probability: p,
                       aggregation: "max-mean", frames: 32, framesWithFaces: p == nil ? 0 : 32, faces: p == nil ? [] : Array(repeating: face, count: faces),
                       model: Verdict.Model(id: id, sha256: "", threshold: threshold, inputSize: 224, input: input),
                       timingsMs: Verdict.Timings(decode: 10, faces: 5, model: 2, total: 17), warnings: [], error: nil)
    }

    func fusion(mouthThreshold: Float = 0.9) throws -> FusedDetector {
        var face = DetectorCard(id: "faces", architecture: "meso4")
        face.threshold = 0.8
        var mouth = MouthMotionDetector.defaultCard(id: "mouth")
        mouth.threshold = mouthThreshold
        return try FusedDetector(id: "fused", members: [try DetectorRegistry.make(card: face), try DetectorRegistry.make(card: mouth)])
    }

    func testAnotherMemberRaisesTheScoreOnlyWhenItCallsTheFileFake() throws {
        XCTAssertNil(FusedDetector.raised(0.5, threshold: 0.9, onto: 0.8))
        XCTAssertEqual(FusedDetector.raised(0.9, threshold: 0.9, onto: 0.8)!, 0.8, accuracy: 1e-12)
        XCTAssertEqual(FusedDetector.raised(0.95, threshold: 0.9, onto: 0.8)!, 0.9, accuracy: 1e-12)
        XCTAssertEqual(FusedDetector.raised(1, threshold: 0.9, onto: 0.8)!, 1, accuracy: 1e-12)

        let fused = try fusion()
        let model = Verdict.Model(id: "fused", sha256: "x", threshold: 0.8, inputSize: 224)
        let quiet = fused.combine([record(0.3, threshold: 0.8, id: "faces"), record(0.85, threshold: 0.9, id: "mouth", input: .mouthMotion, faces: 3)], model: model)
        XCTAssertEqual(quiet.probability, 0.3)
        XCTAssertEqual(quiet.verdict, .real)
        XCTAssertEqual(quiet.model, model)
        XCTAssertEqual(quiet.members?.map(\.id), ["faces", "mouth"])
        XCTAssertNil(quiet.members?[0].faces, "the primary member's faces are the record's")
        XCTAssertEqual(quiet.members?[1].faces?.count, 3)
        XCTAssertEqual(quiet.members?[1].verdict, .real)
        XCTAssertEqual(quiet.timingsMs.total, 34)

        let loud = fused.combine([record(0.3, threshold: 0.8, id: "faces"), record(0.95, threshold: 0.9, id: "mouth", input: .mouthMotion)], model: model)
        XCTAssertEqual(loud.probability!, 0.9, accuracy: 1e-12)
        XCTAssertEqual(loud.verdict, .fake)
        // A primary member already above the raised value keeps its own.
        let both = fused.combine([record(0.97, threshold: 0.8, id: "faces"), record(0.95, threshold: 0.9, id: "mouth")], model: model)
        XCTAssertEqual(both.probability, 0.97)
        // No face for the primary member, but the other fires: FAKE; neither: NO_FACE.
        XCTAssertEqual(fused.combine([record(nil, threshold: 0.8, id: "faces"), record(0.99, threshold: 0.9, id: "mouth")], model: model).verdict, .fake)
        XCTAssertEqual(fused.combine([record(nil, threshold: 0.8, id: "faces"), record(nil, threshold: 0.9, id: "mouth")], model: model).verdict, .noFace)
        // A threshold override (detect --threshold) decides the label and is what the others are mapped onto.
        var strict = model
        strict.threshold = 0.95
        let quietUnderStrict = fused.combine([record(0.9, threshold: 0.8, id: "faces"), record(0.85, threshold: 0.9, id: "mouth")], model: strict)
        XCTAssertEqual(quietUnderStrict.verdict, .real)
        XCTAssertEqual(quietUnderStrict.probability!, 0.9, accuracy: 1e-12)
        let firingUnderStrict = fused.combine([record(0.9, threshold: 0.8, id: "faces"), record(0.95, threshold: 0.9, id: "mouth")], model: strict)
        XCTAssertEqual(firingUnderStrict.verdict, .fake, "a member that fires at its own threshold makes the file FAKE")
        XCTAssertEqual(firingUnderStrict.probability!, 0.975, accuracy: 1e-12)
    }

    func testAFusionRoundTripsThroughOneFileAndBadFusionsAreRefused() throws {
        let fused = try fusion()
        XCTAssertEqual(fused.card.requiredSchema, 3)
        XCTAssertEqual(fused.card.threshold, 0.8, "the primary member's threshold")
        XCTAssertEqual(fused.inputKind, .faceCrop, "the primary member's input")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fused-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try fused.save(to: path)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? FusedDetector)
        XCTAssertEqual(loaded.members.map(\.card.id), ["faces", "mouth"])
        XCTAssertEqual(loaded.members[1].inputKind, .mouthMotion)
        XCTAssertEqual(loaded.members[1].card.threshold, 0.9)
        XCTAssertFalse(loaded.weightsSHA256.isEmpty)

        let mouth = fused.members[1]
        XCTAssertThrowsError(try FusedDetector(id: "one", members: [mouth]))
        XCTAssertThrowsError(try FusedDetector(id: "twice", members: [mouth, mouth])) { XCTAssertTrue("\($0)".contains("share the id")) }
        XCTAssertThrowsError(try FusedDetector(id: "nested", members: [fused, mouth])) { XCTAssertTrue("\($0)".contains("itself a fusion")) }
        XCTAssertThrowsError(try DetectorRegistry.make(card: fused.card)) { XCTAssertTrue("\($0)".contains("models fuse")) }
    }
}
