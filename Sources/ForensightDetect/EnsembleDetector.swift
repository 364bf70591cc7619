import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightEvaluation

/// The ensemble part of a detector card (`DetectorCard.ensemble`): which members, in which order, and the logistic
/// stacking that combines their calibrated logits.
public struct EnsembleSpec: Codable, Sendable, Equatable {
    /// The members' card ids, in member order (member i's card and tensors are stored under index i).
    public var members: [String]
    /// One stacking weight per member, and the bias: z = bias + Σ_i weights[i] · logit(p_i).
    public var weights: [Double]
    public var bias: Double
    /// C, the inverse L2 strength the stacking was fitted with; nil when the weights were set by hand.
    public var inverseRegularization: Double?
    /// A second stacking for still images (`StillImageStacking`); nil when photos are scored as video frames are.
    public var stillImages: StillImageStacking?

    public init(members: [String], combiner: StackingCombiner, inverseRegularization: Double? = nil) {
        (self.members, weights, bias, self.inverseRegularization) = (members, combiner.weights, combiner.bias, inverseRegularization)
    }

    /// The combiner these weights make.
    public var combiner: StackingCombiner { StackingCombiner(weights: weights, bias: bias) }

    enum CodingKeys: String, CodingKey {
        case members, weights, bias, inverseRegularization = "inverse_regularization", stillImages = "still_images"
    }
}

/// One face crop scored by an ensemble: each member's calibrated P(fake) and the combination.
public struct EnsembleFaceScore: Sendable, Equatable {
    /// Member i's calibrated P(fake), in member order.
    public var members: [Float]
    /// The combined logit z = b + Σ w_i · logit(p_i).
    public var logit: Float
    /// The combined P(fake) = σ(z) (the ensemble card has no further calibration; one set by hand would apply here).
    public var probability: Float

    public init(members: [Float], logit: Float, probability: Float) { (self.members, self.logit, self.probability) = (members, logit, probability) }
}

/// A detector of detectors: every member scores the same face crop, and logistic stacking
/// (`StackingCombiner`) turns their calibrated probabilities into one logit, z = b + Σ_i w_i · logit(p_i), with each
/// p_i clamped to [1e-6, 1 − 1e-6]. Members are any `Detector`s that cut faces the same way (crop size, margin, mode
/// and landmark source), so `detect` finds and crops each face once and each member scores each crop once.
///
/// Stored as one safetensors file (`save`, loaded by `DetectorRegistry.load`): the ensemble card in `forensight.card`,
/// member i's card in `forensight.member.<i>.card` and its tensors under `member.<i>.` (docs/ARCHITECTURE.md).
public final class EnsembleDetector: ExplainableDetector {
    /// The card `architecture` of ensembles.
    public static let architecture = "ensemble"

    /// The members, in the order of the card's `ensemble.members`.
    public let members: [any Detector]
    /// The ensemble card: crop fields copied from the members, `ensemble` holding member ids and stacking.
    public var card: DetectorCard
    /// SHA-256 of the ensemble file it was loaded from (empty when built in memory).
    public internal(set) var weightsSHA256 = ""

    /// An ensemble of `members` combined by `combiner`, with a card of its own.
    ///
    /// - Parameters:
    ///   - threshold: P(fake) at or above which a face or file is FAKE (see `EnsembleFitting` for the fitted choice).
    ///   - aggregation: the video-level rule; default the first member's.
    /// - Throws: `DetectorError` when there are no members, two members share an id, the weights do not match the
    ///   members, or two members crop faces differently (naming both).
    public convenience init(id: String, members: [any Detector], combiner: StackingCombiner, threshold: Float = 0.5, aggregation: String? = nil,
                inverseRegularization: Double? = nil, notes: String = "") throws {
        guard let first = members.first else { throw DetectorError("an ensemble needs at least one member") }
        var card = DetectorCard(id: id, architecture: Self.architecture)
        (card.cropSize, card.cropMargin, card.cropMode, card.landmarks) = (first.card.cropSize, first.card.cropMargin, first.card.cropMode,
                                                                         first.card.landmarks)
        (card.inputSize, card.mean, card.std) = (first.card.inputSize, first.card.mean, first.card.std)
        (card.input, card.clipFrames, card.pixelScale, card.interpolation) = (first.card.input, first.card.clipFrames, first.card.pixelScale,
                                                                           first.card.interpolation)
        (card.threshold, card.aggregation, card.notes) = (threshold, aggregation ?? first.card.aggregation, notes)
        card.ensemble = EnsembleSpec(members: members.map(\.card.id), combiner: combiner, inverseRegularization: inverseRegularization)
        try self.init(card: card, members: members, source: nil)
    }

    /// The ensemble `card` describes, over `members` already built; `source` names the file in errors.
    init(card: DetectorCard, members: [any Detector], source: String?) throws {
        let prefix = source.map { $0 + ": " } ?? ""
        guard card.architecture == Self.architecture, let spec = card.ensemble else {
            throw DetectorError("\(prefix)not an ensemble card (architecture \(card.architecture), no ensemble block)")
        }
        guard !members.isEmpty, spec.members.count == members.count, spec.weights.count == members.count else {
            throw DetectorError("\(prefix)inconsistent ensemble: \(members.count) members, \(spec.members.count) member ids, \(spec.weights.count) weights")
        }
        guard spec.weights.allSatisfy(\.isFinite), spec.bias.isFinite else { throw DetectorError("\(prefix)ensemble weights must be finite") }
        if let still = spec.stillImages { try still.check(memberCount: members.count, prefix: prefix) }
        for (i, member) in members.enumerated() where member.card.id != spec.members[i] {
            throw DetectorError("\(prefix)member \(i) is \"\(member.card.id)\" but the ensemble card names \"\(spec.members[i])\"")
        }
        if let id = Dictionary(grouping: spec.members, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw DetectorError("\(prefix)two ensemble members share the id \"\(id)\"")
        }
        try Self.checkSharedCrop(members, source: source)
        guard Self.cropKey(card) == Self.cropKey(members[0].card) else {
            throw DetectorError("\(prefix)the ensemble card crops faces as \(Self.cropKey(card)), its members as \(Self.cropKey(members[0].card))")
        }
        (self.card, self.members) = (card, members)
    }

    /// How a card cuts its inputs, in words: what members must share. Face crops: crop size, margin, mode and
    /// landmark source; clips: the same plus T; whole frames: the input size and resize filter.
    static func cropKey(_ card: DetectorCard) -> String {
        let crop = "\(card.cropSize) px, margin \(card.cropMargin), \(card.cropMode.rawValue), \((card.landmarks ?? .mtcnn).rawValue) landmarks"
        switch card.inputKind {
        case .faceCrop: return crop
        case .trackClip: return "clips of \(card.clipLength) crops of \(crop)"
        case .wholeImage: return "whole frames at \(card.inputSize) px, \((card.interpolation ?? .bilinear).rawValue)"
        case .mouthMotion:
            let m = card.motion ?? MotionSampling()
            return "mouth motion in \(m.count) windows of \(m.seconds) s, thumbnails of \(crop)"
        }
    }

    /// Throws a one-line `DetectorError` naming the first two members that take different inputs (kinds, or crops of
    /// one kind cut differently).
    public static func checkSharedCrop(_ members: [any Detector], source: String? = nil) throws {
        guard let first = members.first else { return }
        let prefix = source.map { $0 + ": " } ?? ""
        for other in members.dropFirst() where other.inputKind != first.inputKind {
            throw DetectorError("\(prefix)ensemble members \"\(first.card.id)\" (input \(first.inputKind.rawValue)) and \"\(other.card.id)\" "
                                + "(input \(other.inputKind.rawValue)) take different inputs; members must share one input kind")
        }
        for other in members.dropFirst() where cropKey(other.card) != cropKey(first.card) {
            throw DetectorError("\(prefix)ensemble members \"\(first.card.id)\" (\(cropKey(first.card))) and "
                                + "\"\(other.card.id)\" (\(cropKey(other.card))) crop faces differently; members must share one crop")
        }
    }

    /// The stacking in force (read from the card, so a card edit takes effect).
    public var combiner: StackingCombiner { card.ensemble?.combiner ?? StackingCombiner(weights: members.map { _ in 1 }, bias: 0) }

    /// The members' card ids, in member order.
    public var memberIDs: [String] { members.map(\.card.id) }

    /// Each member's calibrated P(fake) for every crop: `[member][face]`. Each member scores each crop once, in
    /// batches of `batchSize`.
    public func memberProbabilities(_ faces: [RGBImage], batchSize: Int = 16) -> [[Float]] {
        members.map { $0.probabilities(faces, batchSize: batchSize) }
    }

    /// Per face crop: each member's P(fake), the combined logit and the combined P(fake).
    public func scores(_ faces: [RGBImage], batchSize: Int = 16) -> [EnsembleFaceScore] {
        scores(.faces(faces), batchSize: batchSize)
    }

    /// Per input of `batch` (crop, clip or frame, the kind the members share): each member's P(fake), the combined
    /// logit and the combined P(fake). A member that returns the wrong number of scores counts as P(fake) 0.5.
    ///
    /// - Parameter stillImage: the inputs come from a photo: the still-image stacking applies when the card has one
    ///   (`StillImageStacking`, its P(fake) mapped onto the card threshold). Members outside the route in force
    ///   (`activeMembers`) are not run; their entry in `members` is 0.5.
    public func scores(_ batch: DetectorBatch, batchSize: Int = 16, stillImage: Bool = false) -> [EnsembleFaceScore] {
        let active = Set(activeMembers(stillImage: stillImage))
        let perMember = members.enumerated().map { i, member in
            let p = active.contains(i) ? member.probabilities(batch, batchSize: batchSize) : []
            return p.count == batch.count ? p : [Float](repeating: 0.5, count: batch.count)
        }
        let still = stillImage ? card.ensemble?.stillImages : nil
        let combiner = still?.combiner ?? self.combiner
        return (0..<batch.count).map { f in
            let p = perMember.map { $0[f] }
            let z = combiner.logit(p.map { StackingCombiner.feature(probability: Double($0)) })
            guard let still else { return EnsembleFaceScore(members: p, logit: Float(z), probability: probability(logit: Float(z))) }
            let mapped = still.probability(logit: z, onto: Double(card.threshold))
            return EnsembleFaceScore(members: p, logit: Float(StackingCombiner.feature(probability: mapped)), probability: Float(mapped))
        }
    }

    /// The combined logit z of each crop (P(fake) = σ(z): the ensemble card has no calibration of its own).
    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        scores(faces, batchSize: batchSize).map(\.logit)
    }

    /// The combined logit of each clip (members that take clips score it once each).
    public func clipLogits(_ clips: [[RGBImage]]) -> [Float] { scores(.clips(clips)).map(\.logit) }

    /// The combined logit of each whole frame.
    public func imageLogits(_ images: [RGBImage]) -> [Float] { scores(.images(images)).map(\.logit) }

    /// The combined logit of each motion window.
    public func motionLogits(_ windows: [MotionWindow]) -> [Float] { scores(.motion(windows)).map(\.logit) }

    /// Member i's term w_i · logit(p_i) in a face's combined logit, for every member (the still-image stacking's
    /// weights for crops of a photo, when the card has one).
    public func contributions(_ score: EnsembleFaceScore, stillImage: Bool = false) -> [Double] {
        let weights = (stillImage ? card.ensemble?.stillImages?.weights : nil) ?? combiner.weights
        return zip(weights, score.members).map { $0 * StackingCombiner.feature(probability: Double($1)) }
    }

    /// The member that explains a face: the one contributing most (largest w_i · logit(p_i)) among those that ran
    /// and give heatmaps; nil when none does.
    public func explainingMember(_ score: EnsembleFaceScore, stillImage: Bool = false) -> Int? {
        let active = Set(activeMembers(stillImage: stillImage))
        return contributions(score, stillImage: stillImage).enumerated().sorted { $0.element > $1.element }.map(\.offset)
            .first { active.contains($0) && members[$0] is any ExplainableDetector }
    }

    /// Grad-CAM of each crop by the member that contributes most to its combined logit (`explainingMember`), so the
    /// map shows the evidence that weighed most in the verdict. Maps of members with a different side are resampled
    /// (bilinear) to the largest; a crop no member can explain gets a map of zeros.
    public func gradCAM(_ faces: [RGBImage]) -> (maps: [[Float]], side: Int) { gradCAM(faces, stillImage: false) }

    /// `gradCAM` for crops of a photo (`stillImage`: members chosen by the still-image stacking) or of a video.
    public func gradCAM(_ faces: [RGBImage], stillImage: Bool) -> (maps: [[Float]], side: Int) {
        let chosen = scores(.faces(faces), stillImage: stillImage).map { explainingMember($0, stillImage: stillImage) }
        var byMember: [Int: (maps: [[Float]], side: Int, faces: [Int])] = [:]
        for m in Set(chosen.compactMap { $0 }).sorted() {
            let indices = faces.indices.filter { chosen[$0] == m }
            let (maps, side) = (members[m] as! any ExplainableDetector).gradCAM(indices.map { faces[$0] })
            byMember[m] = (maps, side, indices)
        }
        let side = byMember.values.map(\.side).max() ?? 1
        var out = [[Float]](repeating: [Float](repeating: 0, count: side * side), count: faces.count)
        for (_, entry) in byMember {
            for (map, face) in zip(entry.maps, entry.faces) {
                out[face] = entry.side == side ? map
                    : Tensor(map, shape: [1, 1, entry.side, entry.side]).upsampleBilinear((side, side)).scalars
            }
        }
        return (out, side)
    }
}
