import Foundation
import ForensightTensor
import ForensightEvaluation

/// The stacking an ensemble uses on still images (`EnsembleSpec.stillImages`), beside the one it uses on video frames.
///
/// Some members are worth their cost on a photo and not on a video: a photo is one crop (and its mirror image), a
/// video 32 of them. With a still-image stacking, an ensemble runs on photos the members this stacking weighs and on
/// videos the members the video stacking weighs (`EnsembleDetector.activeMembers`); a member with weight 0 in a
/// stacking is not run under it.
///
/// The still-image stacking was fitted with its own threshold t. Its P(fake) p is mapped so that t lands on the card's
/// threshold T, piecewise linearly (`ThresholdMap.rescaled`): p·T/t below t, T + (p − t)(1 − T)/(1 − t) from t on. Every
/// record of the ensemble is then called at the one threshold T, with the order of photos and their verdicts those of
/// the still-image stacking at t. The map moves no probability by more than |T − t|.
public struct StillImageStacking: Codable, Sendable, Equatable {
    /// One weight per ensemble member, in member order (0 for a member photos do not use), and the bias.
    public var weights: [Double]
    public var bias: Double
    /// The threshold the stacking was fitted with (its own P(fake) scale).
    public var threshold: Double
    /// C, the inverse L2 strength of its fit; nil when set by hand.
    public var inverseRegularization: Double?

    public init(weights: [Double], bias: Double, threshold: Double, inverseRegularization: Double? = nil) {
        (self.weights, self.bias, self.threshold, self.inverseRegularization) = (weights, bias, threshold, inverseRegularization)
    }

    /// The combiner these weights make.
    public var combiner: StackingCombiner { StackingCombiner(weights: weights, bias: bias) }

    /// The record's P(fake) for combined logit `z`: σ(z) mapped from this stacking's threshold onto `cardThreshold`.
    public func probability(logit z: Double, onto cardThreshold: Double) -> Double {
        ThresholdMap.rescaled(1 / (1 + exp(-z)), from: threshold, onto: cardThreshold)
    }

    func check(memberCount: Int, prefix: String) throws {
        guard weights.count == memberCount else {
            throw DetectorError("\(prefix)the still-image stacking has \(weights.count) weights for \(memberCount) members")
        }
        guard weights.allSatisfy(\.isFinite), bias.isFinite, threshold > 0, threshold < 1 else {
            throw DetectorError("\(prefix)the still-image stacking needs finite weights and a threshold strictly between 0 and 1")
        }
    }

    enum CodingKeys: String, CodingKey { case weights, bias, threshold, inverseRegularization = "inverse_regularization" }
}

/// A monotone map of probabilities that moves one threshold onto another and keeps 0 and 1 in place.
public enum ThresholdMap {
    /// `p` on a scale whose threshold is `t`, moved to the scale whose threshold is `target`: p·target/t below t,
    /// target + (p − t)(1 − target)/(1 − t) from t on (1 when t is 1). Increasing in `p`, so ranks are kept, and
    /// p ≥ t exactly when the result is ≥ target (up to rounding).
    public static func rescaled(_ p: Double, from t: Double, onto target: Double) -> Double {
        if p < t { return t > 0 ? max(0, p * target / t) : target }
        return t >= 1 ? 1 : min(1, target + (p - t) * (1 - target) / (1 - t))
    }
}

extension EnsembleDetector {
    /// The members run under one route: those with a nonzero weight in the still-image stacking (`stillImage`, when
    /// the card has one) or in the video stacking. All members when every weight is 0.
    public func activeMembers(stillImage: Bool) -> [Int] {
        let weights = (stillImage ? card.ensemble?.stillImages?.weights : nil) ?? combiner.weights
        let used = weights.indices.filter { weights[$0] != 0 }
        return used.isEmpty ? Array(members.indices) : used
    }

    /// Whether photos take a stacking of their own.
    public var routesStillImages: Bool { card.ensemble?.stillImages != nil }

    /// One ensemble that scores videos as `video` does and photos as `stills` does: the members of `stills`, then
    /// those of `video` that `stills` lacks (a member both hold must be the same weights file for file); `video`'s
    /// stacking (weight 0 for the members it lacks), threshold, aggregation and calibration, and `stills`' stacking as
    /// the still-image stacking (weight 0, so not run on photos, for the video members it lacks). When `stills` is
    /// itself routed, its still-image stacking (and that stacking's own threshold) is the one taken: photos score as
    /// `stills` scores them.
    ///
    /// - Throws: `DetectorError` naming a member the two hold with other weights.
    public static func routing(id: String, video: EnsembleDetector, stills: EnsembleDetector, notes: String = "") throws -> EnsembleDetector {
        guard let videoSpec = video.card.ensemble, let stillSpec = stills.card.ensemble else {
            throw DetectorError("both detectors must be ensembles")
        }
        // Photos as `stills` scores them: its own still-image stacking when it has one (a routed file), else its stacking.
        let photo = stillSpec.stillImages ?? StillImageStacking(weights: stillSpec.weights, bias: stillSpec.bias, threshold: Double(stills.card.threshold),
                                                                inverseRegularization: stillSpec.inverseRegularization)
        var members = stills.members
        var videoWeights = [Double](repeating: 0, count: members.count), stillWeights = photo.weights
        for (i, member) in video.members.enumerated() {
            if let j = stills.members.firstIndex(where: { $0.card.id == member.card.id }) {
                guard try Self.sameWeights(member, stills.members[j]) else {
                    throw DetectorError("member \"\(member.card.id)\" holds other weights in \"\(video.card.id)\" and \"\(stills.card.id)\"")
                }
                videoWeights[j] = videoSpec.weights[i]
            } else {
                members.append(member)
                videoWeights.append(videoSpec.weights[i])
                stillWeights.append(0)
            }
        }
        var card = video.card
        (card.id, card.notes) = (id, notes)
        var spec = EnsembleSpec(members: members.map(\.card.id), combiner: StackingCombiner(weights: videoWeights, bias: videoSpec.bias),
                                inverseRegularization: videoSpec.inverseRegularization)
        spec.stillImages = StillImageStacking(weights: stillWeights, bias: photo.bias, threshold: photo.threshold,
                                              inverseRegularization: photo.inverseRegularization)
        card.ensemble = spec
        return try EnsembleDetector(card: card, members: members, source: nil)
    }

    /// Whether two detectors hold the same card and tensors (their saved files, in f32, hash the same).
    static func sameWeights(_ a: any Detector, _ b: any Detector) throws -> Bool {
        guard a.card == b.card else { return false }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-same-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (pa, pb) = (dir.appendingPathComponent("a.safetensors").path, dir.appendingPathComponent("b.safetensors").path)
        try a.save(to: pa, dtype: .f32)
        try b.save(to: pb, dtype: .f32)
        return try FileDigest.sha256Hex(ofFile: pa) == FileDigest.sha256Hex(ofFile: pb)
    }
}
