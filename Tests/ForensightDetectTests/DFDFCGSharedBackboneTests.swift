import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightModels
import ForensightDetect

extension DFDFCGDetectorTests {
    /// A photo is a clip of T copies of itself: the backbone runs once per run of identical frames, and the clip
    /// logits, the guidance term and the gradients into the trainable part equal those of running every frame.
    func testRepeatedFramesShareOneBackbonePass() throws {
        var card = DetectorCard(id: "tiny-dfd", architecture: DFDFCGDetector.architecture)
        (card.input, card.clipFrames, card.inputSize) = (.trackClip, 3, 32)
        let detector = try tiny(9, card: card)
        detector.module.eval()  // no dropout draws, so both passes see the same network
        let (a, b, c) = (face(1, video: "v", frame: 0).image, face(2, video: "v", frame: 1).image, face(3, video: "v", frame: 2).image)
        // Clip 1: a photo (three copies); clip 2: three different frames; clip 3: two copies then another frame.
        let input = detector.inputTensor([a, a, a, a, b, c, b, b, c])
        let runs = DFDFCGNetwork.identicalRuns(input).map { [$0.start, $0.count] }
        XCTAssertEqual(runs, [[0, 4], [4, 1], [5, 1], [6, 2], [8, 1]])
        let canonical = FaceCropper(size: 64).targetPoints.map { (x: Float($0.x) / 64, y: Float($0.y) / 64) }
        let points = [[(x: Float, y: Float)]](repeating: canonical, count: 9)
        func step(shared: Bool) -> (logits: [Float], guidance: Float, grads: [Float]) {
            for p in detector.module.trainableParameters() { p.grad = nil }
            let tokens = shared ? detector.network.layerTokensSharingRepeats(input) : detector.network.tokens.layerTokens(input)
            let masks = DFDFCGNetwork.regionMasks(points: points, patchCounts: tokens.map { $0.shape[1] - 1 })
            let out = detector.network.outputs(tokens: tokens, frames: 3, masks: masks)
            let loss = out.logits.sum() + (out.guidance ?? Tensor(scalar: 0))
            loss.backward()
            return (out.logits.scalars, out.guidance?.item ?? .nan,
                    detector.module.trainableParameters().flatMap { $0.grad?.scalars ?? [] })
        }
        let (plain, shared) = (step(shared: false), step(shared: true))
        XCTAssertEqual(plain.logits.count, 3)
        for (x, y) in zip(plain.logits, shared.logits) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        XCTAssertEqual(plain.guidance, shared.guidance, accuracy: 1e-5)
        XCTAssertEqual(plain.grads.count, shared.grads.count)
        XCTAssertFalse(plain.grads.isEmpty)
        let worst = zip(plain.grads, shared.grads).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 1
        XCTAssertLessThan(worst, 1e-4)
        // Through the detector: clip logits of a photo clip equal its still logit.
        let clip = detector.clipLogits([[a, a, a]])[0], still = detector.faceLogits([a], batchSize: 1)[0]
        XCTAssertEqual(clip, still, accuracy: 1e-5)
    }
}
