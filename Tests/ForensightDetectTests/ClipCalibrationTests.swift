import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightEvaluation
import ForensightModels
import ForensightDetect
import ForensightTraining

extension DFDFCGDetectorTests {
    /// A clip detector's export is calibrated on its validation clips: the counts are the validation videos and
    /// their self-blended twins, the fit is deterministic, and at the chosen threshold (not below 0.5) no more than
    /// 2 % of the real validation videos — each the mean calibrated P(fake) of its clips, recomputed here from the
    /// detector's own clip logits — are called FAKE.
    func testClipCalibrationFitsOnValidationClipsAndCapsTheRealVideos() throws {
        var card = DetectorCard(id: "tiny-dfd", architecture: DFDFCGDetector.architecture)
        (card.input, card.clipFrames, card.inputSize) = (.trackClip, 3, 32)
        var recipe = SelfBlendRecipe()
        (recipe.inputSize, recipe.architecture, recipe.validationFramesPerVideo) = (32, DFDFCGDetector.architecture, 6)
        let validation = (0..<5).flatMap { v in (0..<6).map { f in face(UInt64(200 + 10 * v + f), video: "r\(v)", frame: f) } }
        let detector = try tiny(7, card: card)
        let choice = try ClipSelfBlendTrainer.calibrate(detector, validation: validation, recipe: recipe)
        let again = try ClipSelfBlendTrainer.calibrate(detector, validation: validation, recipe: recipe)
        XCTAssertEqual(choice.calibration, again.calibration)
        XCTAssertEqual(choice.threshold, again.threshold)
        XCTAssertEqual(choice.realUnits, 5, "five validation videos")
        XCTAssertEqual(choice.fakeUnits, 5, "their self-blended twins")
        XCTAssertGreaterThanOrEqual(choice.threshold, 0.5)
        XCTAssertTrue(choice.eceAfter.isFinite && choice.eceBefore.isFinite)
        XCTAssertGreaterThan(choice.calibration.scale, 0, "a kept fit never reverses the ranking")
        // Two windows of 3 per 6-frame video: each video's P(fake) is the mean of its two clips'.
        let windows = ClipSelfBlendTrainer.clips(validation, length: 3)
        XCTAssertEqual(windows.count, 10)
        let logits = detector.clipLogits(windows.map { $0.map { validation[$0].image } }).map(Double.init)
        let videos = stride(from: 0, to: 10, by: 2).map { (choice.calibration.probability(logit: logits[$0]) + choice.calibration.probability(logit: logits[$0 + 1])) / 2 }
        XCTAssertEqual(Double(videos.filter { $0 >= Double(choice.threshold) }.count) / 5, choice.realFlaggedRate, accuracy: 1e-12)
        XCTAssertLessThanOrEqual(choice.realFlaggedRate, 0.02)
    }
}
