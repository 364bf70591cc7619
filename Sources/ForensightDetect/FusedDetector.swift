import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces

/// The fusion part of a detector card (`DetectorCard.fusion`): the members, in order, and each one's threshold.
public struct FusionSpec: Codable, Sendable, Equatable {
    /// The members' card ids; the first is the primary member, whose faces and threshold the record keeps.
    public var members: [String]
    public init(members: [String]) { self.members = members }
}

/// A detector of detectors that look at different things in a file: each member reads the file its own way (face
/// crops; windows of mouth motion) and gives its own verdict, and the file is FAKE when any member calls it FAKE.
///
/// The first member is the primary one: its P(fake), faces and threshold T are the record's. Another member changes
/// the record only when it calls the file FAKE at its own threshold t; its P(fake) p is then mapped onto the primary
/// scale, T + (p − t)(1 − T)/(1 − t) (so t lands on T and 1 on 1), and the record's P(fake) is the larger of the two.
/// Below its threshold a member moves nothing, so the fusion ranks and calls files as the primary member does unless
/// another member is sure. The fused P(fake) is therefore the primary member's calibrated probability, raised to
/// "FAKE by another detector" where one fires; it is not calibrated as a whole.
///
/// Stored as one safetensors file in the members' layout of ensembles (`MemberFile`). Built by
/// `forensight models fuse` (docs/LIPSYNC.md).
public final class FusedDetector: ExplainableDetector {
    /// The card `architecture` of fusions.
    public static let architecture = "fusion"

    public let members: [any Detector]
    public var card: DetectorCard
    public internal(set) var weightsSHA256 = ""

    /// A fusion of `members` (at least two, distinct ids); the card copies the primary member's crop, input, threshold
    /// and aggregation.
    public convenience init(id: String, members: [any Detector], notes: String = "") throws {
        guard let primary = members.first else { throw DetectorError("a fusion needs members") }
        var card = primary.card
        (card.id, card.architecture, card.notes) = (id, Self.architecture, notes)
        (card.calibration, card.ensemble, card.flipAverage) = (nil, nil, nil)
        card.fusion = FusionSpec(members: members.map(\.card.id))
        try self.init(card: card, members: members, source: nil)
    }

    init(card: DetectorCard, members: [any Detector], source: String?) throws {
        let prefix = source.map { $0 + ": " } ?? ""
        guard card.architecture == Self.architecture, let spec = card.fusion else {
            throw DetectorError("\(prefix)not a fusion card (architecture \(card.architecture), no fusion block)")
        }
        guard members.count >= 2, spec.members.count == members.count else {
            throw DetectorError("\(prefix)a fusion needs two or more members (card names \(spec.members.count), file holds \(members.count))")
        }
        for (i, member) in members.enumerated() where member.card.id != spec.members[i] {
            throw DetectorError("\(prefix)member \(i) is \"\(member.card.id)\" but the fusion card names \"\(spec.members[i])\"")
        }
        if let id = Dictionary(grouping: spec.members, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw DetectorError("\(prefix)two fusion members share the id \"\(id)\"")
        }
        if let nested = members.first(where: { $0 is FusedDetector }) {
            throw DetectorError("\(prefix)fusion member \"\(nested.card.id)\" is itself a fusion; list its members instead")
        }
        (self.card, self.members) = (card, members)
    }

    /// The registry line of fusions.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture, summary: "members that read a file differently (faces; mouth motion), FAKE when any member says so (forensight models fuse)",
        make: { card in throw DetectorError("\(card.id): a fusion is built from trained members (forensight models fuse), not from a card") },
        load: { card, file, path in
            guard let spec = card.fusion else { throw DetectorError("\(path): fusion card without members (no fusion.members)") }
            let fused = try FusedDetector(card: card, members: try MemberFile.read(ids: spec.members, file: file, path: path, what: "fusion"),
                                          source: path)
            fused.weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
            return fused
        })

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try MemberFile.write(card: card, members: members, dtype: dtype, to: path)
    }

    /// The primary member's logits: a fusion scores face crops as its primary member does.
    public func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] { members[0].faceLogits(faces, batchSize: batchSize) }

    /// The primary member's heatmaps (zeros when it gives none).
    public func gradCAM(_ faces: [RGBImage]) -> (maps: [[Float]], side: Int) {
        gradCAM(faces, stillImage: false)
    }

    /// The primary member's heatmaps for crops of a photo or a video.
    public func gradCAM(_ faces: [RGBImage], stillImage: Bool) -> (maps: [[Float]], side: Int) {
        (members[0] as? any ExplainableDetector)?.gradCAM(faces, stillImage: stillImage) ?? (faces.map { _ in [0] }, 1)
    }

    /// Member `p` on the primary scale when it reaches its threshold `t`: T + (p − t)(1 − T)/(1 − t); nil below `t`.
    public static func raised(_ p: Double, threshold t: Double, onto primary: Double) -> Double? {
        p >= t ? ThresholdMap.rescaled(p, from: t, onto: primary) : nil
    }

    /// The file's record from each member's record (in member order): the primary record, its P(fake) raised by any
    /// other member that calls the file FAKE, the verdict at `threshold` (the primary member's unless overridden), the
    /// fusion as `model`, and every member's own summary in `members`.
    public func combine(_ verdicts: [Verdict], model: Verdict.Model) -> Verdict {
        var out = verdicts[0]
        out.model = model
        let threshold = model.threshold
        var p = out.probability
        for v in verdicts.dropFirst() {
            guard let q = v.probability, let raised = Self.raised(q, threshold: v.model.threshold, onto: threshold) else { continue }
            p = max(p ?? 0, raised)
        }
        out.probability = p
        if let p { out.verdict = p >= threshold ? .fake : .real }
        out.members = verdicts.enumerated().map { i, v in
            Verdict.MemberVerdict(id: v.model.id, input: v.model.input, threshold: v.model.threshold, verdict: v.verdict, probability: v.probability,
                                  frames: v.frames, framesWithFaces: v.framesWithFaces, faces: i == 0 ? nil : v.faces)
        }
        // On a photo a mouth-motion member has nothing to read: that is not something to warn about in the fusion.
        let applicable = verdicts.enumerated().filter { i, v in i == 0 || !(out.kind == "image" && v.model.input == .mouthMotion) }
        out.warnings = Array(Set(applicable.flatMap(\.element.warnings))).sorted()
        let t = verdicts.map(\.timingsMs)
        out.timingsMs = Verdict.Timings(decode: t.map(\.decode).reduce(0, +), faces: t.map(\.faces).reduce(0, +), model: t.map(\.model).reduce(0, +),
                                        total: t.map(\.total).reduce(0, +))
        return out
    }
}
