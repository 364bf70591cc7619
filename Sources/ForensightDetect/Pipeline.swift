import Foundation
import ForensightMedia
import ForensightFaces
import ForensightEvaluation

/// The one path from a media file to a verdict (DESIGN §2): sample frames → find, track and align faces → P(fake)
/// per face-frame → aggregate per face and per input → REAL / FAKE / NO_FACE.
///
/// What is scored follows the detector's input kind (`DetectorCard.input`): each face crop (`faceCrop`); windows of
/// T crops of one track, whose score goes to each of their face-frames (`trackClip`, `TrackClips`); or each sampled
/// frame whole, without face detection, recorded as track 0 with the whole frame as its box (`wholeImage`).
public struct Pipeline {
    public let detector: any Detector
    public var reader: MediaFaceReader
    public var aggregation: VerdictAggregation
    /// Overrides the model's threshold when set.
    public var threshold: Double?
    /// Applied to every face crop before scoring (robustness protocols degrade crops here): each crop of a clip, and
    /// for a whole-image detector the whole frame at its input size.
    public var cropTransform: (@Sendable (RGBImage) -> RGBImage)?

    /// - Parameters:
    ///   - frames: frames sampled per video, spread evenly (32, as DeepfakeBench).
    ///   - selection: faces kept per frame (default: every face at least half the largest's area, tracked).
    ///   - landmarkRefiner: FaceMesh for detectors whose landmark source (`landmarkSource`) is `.facemesh`; without
    ///     it such a detector's crops are aligned on MTCNN's landmarks.
    public init(detector: any Detector, faceDetector: MTCNN, frames: Int = 32, selection: FaceSelection = .halfOfLargest,
                aggregation: VerdictAggregation? = nil, threshold: Double? = nil, landmarkRefiner: LandmarkRefiner? = nil) {
        self.detector = detector
        reader = MediaFaceReader(detector: faceDetector, extraction: FaceExtractionOptions(selection: selection),
                                 cropper: detector.card.cropper, sampling: .uniform(count: frames))
        reader.landmarkRefiner = landmarkRefiner
        self.aggregation = aggregation ?? VerdictAggregation(cardName: detector.card.aggregation) ?? .maxMean
        self.threshold = threshold
    }

    /// The landmark source a detector's crops use: `override` when given, else its card's, else MTCNN.
    public static func landmarkSource(of detector: any Detector, override: LandmarkSource? = nil) -> LandmarkSource {
        override ?? detector.card.landmarks ?? .mtcnn
    }

    /// The refiner a pipeline for `detector` needs: nil for MTCNN landmarks, FaceMesh loaded from the weight cache for
    /// `.facemesh` (a missing weights file throws, naming it and the setup command).
    public static func landmarkRefiner(for detector: any Detector, override: LandmarkSource? = nil) throws -> LandmarkRefiner? {
        landmarkSource(of: detector, override: override) == .facemesh ? try LandmarkRefiner() : nil
    }

    /// The threshold in force.
    public var decisionThreshold: Double { threshold ?? Double(detector.card.threshold) }

    /// The model block of every verdict.
    public var modelInfo: Verdict.Model {
        Verdict.Model(id: detector.card.id, sha256: detector.weightsSHA256, threshold: decisionThreshold, inputSize: detector.card.inputSize)
    }

    /// Scores one image or video. Unreadable files throw `MediaError`; a file without faces gives NO_FACE.
    ///
    /// - Parameter progress: called after each decoded frame with (frames done, frames planned or nil).
    public func analyze(path: String, progress: (Int, Int?) -> Void = { _, _ in }) throws -> Verdict {
        try analyzeKeepingCrops(path: path, progress: progress).verdict
    }

    /// `analyze`, also returning the face crops that were scored (track, frame, crop image), for explanations.
    public func analyzeKeepingCrops(path: String, progress: (Int, Int?) -> Void = { _, _ in }) throws
        -> (verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]) {
        let started = DispatchTime.now().uptimeNanoseconds
        let media = try read(path: path, progress: progress)
        return try score(media, path: path, readMs: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6, cropTransform: cropTransform)
    }

    /// What `score` takes for `path`: its tracked face crops (`reader.read`), or for a whole-image detector its
    /// sampled frames at the input size (`reader.readWholeFrames`, no face detection).
    public func read(path: String, progress: (Int, Int?) -> Void = { _, _ in }) throws -> MediaFaces {
        guard detector.inputKind == .wholeImage else { return try reader.read(path: path, progress: progress) }
        return try reader.readWholeFrames(path: path, side: detector.card.inputSize, method: detector.card.interpolation ?? .bilinear,
                                          progress: progress)
    }

    /// The verdict for faces already read from `path` (`read`), each crop passed through `cropTransform` first.
    /// Protocols that degrade crops score one read under several transforms this way, without finding faces again.
    ///
    /// - Parameter readMs: the time the read took, for the verdict's timings.
    public func score(_ media: MediaFaces, path: String, readMs: Double = 0, cropTransform: (@Sendable (RGBImage) -> RGBImage)? = nil) throws
        -> (verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]) {
        func elapsed(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6 }
        let modelStarted = DispatchTime.now().uptimeNanoseconds
        let crops = media.crops.map { cropTransform?($0.image) ?? $0.image }
        // The detector scores units (crops, clips or frames); each face-frame takes the score of its unit.
        let (batch, unitOf) = units(media.crops, images: crops)
        // An ensemble's members each score every unit once; their probabilities go into the record beside the combination.
        let unitScores: [Double], unitMembers: [[Double]]?, memberIDs: [String]
        if let ensemble = detector as? EnsembleDetector {
            let scored = ensemble.scores(batch)
            (unitScores, unitMembers, memberIDs) = (scored.map { Double($0.probability) }, scored.map { $0.members.map(Double.init) }, ensemble.memberIDs)
        } else {
            (unitScores, unitMembers, memberIDs) = (detector.probabilities(batch).map(Double.init), nil, [])
        }
        guard unitScores.count == batch.count else {
            throw DetectorError("detector \"\(detector.card.id)\" returned \(unitScores.count) scores for \(batch.count) inputs")
        }
        let scores = unitOf.map { unitScores[$0] }, memberScores = unitMembers.map { m in unitOf.map { m[$0] } }
        func named(_ values: [Double]) -> [Verdict.MemberScore] { zip(memberIDs, values).map { Verdict.MemberScore(id: $0, pFake: $1) } }
        let modelMs = elapsed(since: modelStarted)
        let timings = Verdict.Timings(decode: readMs - media.faceSeconds * 1000, faces: media.faceSeconds * 1000, model: modelMs,
                                      total: readMs + elapsed(since: modelStarted))
        var verdict = Verdict(source: path, kind: media.kind.rawValue, verdict: .noFace, probability: nil, aggregation: aggregation.rawValue,
                              frames: media.frames, framesWithFaces: media.framesWithFaces, faces: [], model: modelInfo,
                              timingsMs: timings, warnings: media.warnings, error: nil)
        let kept = zip(media.crops, crops).map { (track: $0.0.trackID, frame: $0.0.frameIndex, image: $0.1) }
        guard !media.crops.isEmpty else { return (verdict, kept) }

        let records = zip(media.crops, scores).map { crop, score in
            FrameScore(videoID: "input", frameIndex: crop.frameIndex, faceID: crop.trackID, score: score, label: 0)
        }
        let overall = try aggregation.rule.aggregate(records).scores[0]
        verdict.probability = overall
        verdict.verdict = label(overall)
        let tracks = Dictionary(grouping: media.crops.indices, by: { media.crops[$0].trackID })
        verdict.faces = tracks.keys.sorted().map { track in
            let indices = tracks[track]!.sorted { media.crops[$0].frameIndex < media.crops[$1].frameIndex }
            let mean = indices.map { scores[$0] }.reduce(0, +) / Double(indices.count)
            let memberMeans = memberScores.map { perCrop in
                named(memberIDs.indices.map { m in indices.map { perCrop[$0][m] }.reduce(0, +) / Double(indices.count) })
            }
            return Verdict.Face(track: track, verdict: label(mean), probability: mean, frames: indices.map { i in
                let crop = media.crops[i], b = crop.face.box
                return Verdict.FaceFrame(frame: crop.frameIndex, time: crop.time, probability: scores[i], box: [b.x1, b.y1, b.x2, b.y2],
                                         detectorScore: crop.face.score, members: memberScores.map { named($0[i]) })
            }, members: memberMeans)
        }
        return (verdict, kept)
    }

    func label(_ probability: Double) -> Verdict.Label { probability >= decisionThreshold ? .fake : .real }

    /// The batch the detector scores for `crops` (their images after the crop transform) and, per crop, the index of
    /// the input its score comes from: crops one by one, clips of T (`TrackClips.windows`), or whole frames (resized
    /// to the input size if a caller passed other images).
    func units(_ crops: [FaceCrop], images: [RGBImage]) -> (DetectorBatch, [Int]) {
        let card = detector.card
        switch card.inputKind {
        case .faceCrop:
            return (.faces(images), Array(images.indices))
        case .wholeImage:
            let s = card.inputSize, method = card.interpolation ?? .bilinear
            let frames = images.map { $0.width == s && $0.height == s ? $0 : $0.resized(width: s, height: s, method: method) }
            return (.images(frames), Array(images.indices))
        case .trackClip:
            let windows = TrackClips.windows(crops.map { ($0.trackID, $0.frameIndex) }, length: card.clipLength)
            var unitOf = [Int](repeating: 0, count: crops.count)
            for (w, window) in windows.enumerated() { for i in window { unitOf[i] = w } }
            return (.clips(windows.map { $0.map { images[$0] } }), unitOf)
        }
    }
}
