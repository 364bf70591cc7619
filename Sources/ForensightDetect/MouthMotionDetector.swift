import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia
import ForensightFaces

/// The lip-sync detector: how the mouth moves, not how it looks. Each of a video's motion windows (`MotionSampling`:
/// by default 3 windows of 2 s of consecutive frames, the face followed by FaceMesh) becomes a `FaceMotion`, its
/// `MouthMotionFeatures` go through `MouthMotionNet`, and the window's P(fake) goes to each of its frames, so the
/// timeline shows where in time the mouth looked wrong. Trained without lip-sync fakes
/// (`forensight train --detector mouth-motion`, docs/LIPSYNC.md). A still image has no motion: it gives NO_FACE.
public final class MouthMotionDetector: Detector {
    public let network: MouthMotionNet
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""

    /// The registry's architecture name.
    public static let architecture = "mouth-motion-mlp"

    /// A fresh network for `card`; the card is given the mouth-motion input (3 windows of 2 s) when it has another.
    public init(card: DetectorCard) throws {
        var card = card
        if card.input != .mouthMotion { card.input = .mouthMotion }
        if card.motion == nil { card.motion = MotionSampling() }
        network = MouthMotionNet(features: MouthMotionFeatures.names.count)
        self.card = card
    }

    /// The detector in `file` (at `path`), whose card has been read.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        try self.init(card: card)
        do { _ = try network.loadStateDict(try file.allTensors(), strict: true) } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The card a new mouth-motion detector starts from: 112 px thumbnails, max-mean over windows.
    public static func defaultCard(id: String = "mouth-motion") -> DetectorCard {
        var card = DetectorCard(id: id, architecture: architecture)
        (card.input, card.motion, card.cropSize) = (.mouthMotion, MotionSampling(), 112)
        return card
    }

    /// The registry line.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture, summary: "mouth motion over windows of consecutive frames (FaceMesh lips and jaw), small MLP: the lip-sync detector",
        make: { try MouthMotionDetector(card: $0) }, load: { try MouthMotionDetector(card: $0, file: $1, path: $2) })

    /// The feature rows of `windows` ([N, F]); a window with fewer than two usable frames gets zeros (the training mean
    /// is subtracted later, so it reads as an average window) and is marked in `valid`.
    public static func featureRows(_ windows: [MotionWindow]) -> (rows: [[Float]], valid: [Bool]) {
        var rows: [[Float]] = [], valid: [Bool] = []
        for window in windows {
            if let motion = FaceMotion(window: window) { rows.append(MouthMotionFeatures.compute(motion)); valid.append(true) } else {
                rows.append([Float](repeating: 0, count: MouthMotionFeatures.names.count)); valid.append(false)
            }
        }
        return (rows, valid)
    }

    /// Logits of feature rows ([N, F] as arrays).
    public func logits(features rows: [[Float]]) -> [Float] {
        guard !rows.isEmpty else { return [] }
        let f = network.inputFeatures
        let x = Tensor(rows.flatMap { $0 }, shape: [rows.count, f])
        return withoutGrad { network(x) }.scalars
    }

    public func motionLogits(_ windows: [MotionWindow]) -> [Float] { logits(features: Self.featureRows(windows).rows) }

    /// Face crops alone carry no motion: each scores the training mean (logit of an average window).
    public func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] {
        let z = logits(features: [network.featureMean.scalars]).first ?? 0
        return faces.map { _ in z }
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }
}
