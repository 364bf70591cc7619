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
    /// A mouth-motion detector (or a fusion with one) always gets one: FaceMesh follows its faces.
    public static func landmarkRefiner(for detector: any Detector, override: LandmarkSource? = nil) throws -> LandmarkRefiner? {
        needsMesh(detector, override: override) ? try LandmarkRefiner() : nil
    }

    static func needsMesh(_ detector: any Detector, override: LandmarkSource? = nil) -> Bool {
        if let fused = detector as? FusedDetector { return fused.members.contains { needsMesh($0, override: override) } }
        return landmarkSource(of: detector, override: override) == .facemesh || detector.inputKind == .mouthMotion
    }

    /// For a fusion: one pipeline per member, sharing this pipeline's face detector, reader settings and crop transform
    /// (FaceMesh only for members that use it); the primary member takes this pipeline's aggregation. nil otherwise.
    func memberPipelines() -> [Pipeline]? {
        guard let fused = detector as? FusedDetector else { return nil }
        return fused.members.enumerated().map { i, member in
            var part = Pipeline(detector: member, faceDetector: reader.detector,
                                landmarkRefiner: Self.needsMesh(member) ? reader.landmarkRefiner : nil)
            (part.reader.sampling, part.reader.extraction) = (reader.sampling, reader.extraction)
            (part.reader.frameTransform, part.reader.detectionScale, part.cropTransform) = (reader.frameTransform, reader.detectionScale, cropTransform)
            if i == 0 { part.aggregation = aggregation }
            return part
        }
    }

    /// The same pipeline with a face detector (and FaceMesh refiner) of its own, loaded again from the weight cache, so
    /// that two threads can read files at once (`ReadAhead`).
    public func withOwnFaceDetector() throws -> Pipeline {
        var copy = self
        copy.reader.detector = try MTCNN()
        if reader.landmarkRefiner != nil { copy.reader.landmarkRefiner = try LandmarkRefiner() }
        return copy
    }

    /// The threshold in force.
    public var decisionThreshold: Double { threshold ?? Double(detector.card.threshold) }

    /// The model block of every verdict.
    public var modelInfo: Verdict.Model {
        Verdict.Model(id: detector.card.id, sha256: detector.weightsSHA256, threshold: decisionThreshold, inputSize: detector.card.inputSize,
                      input: detector.inputKind)
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
        if let fused = detector as? FusedDetector, let parts = memberPipelines() {
            return try analyzeOverlapped(fused, parts: parts, path: path, started: started, progress: progress)
        }
        let media = try read(path: path, progress: progress)
        return try score(media, path: path, readMs: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6, cropTransform: cropTransform)
    }

    /// Frames of at most this many pixels (1920×1088) let a fusion's other reads overlap the primary scoring.
    static let overlapPixelLimit = 1920 * 1088

    /// A fusion's `analyzeKeepingCrops` with the other members' reads (a mouth read decodes the file again and runs
    /// FaceMesh on every frame of its windows) on a second thread while the primary member scores its crops, so that
    /// both cores stay busy (for frames up to 1080p; larger ones read after the scoring, to bound memory). The verdict equals `score(read(path))`'s; its total time is the wall time, not the sum
    /// of the members' times.
    func analyzeOverlapped(_ fused: FusedDetector, parts: [Pipeline], path: String, started: UInt64, progress: (Int, Int?) -> Void) throws
        -> (verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]) {
        @Sendable func ms(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
        let primaryMedia = try parts[0].read(path: path, progress: progress)
        let primaryReadMs = ms(since: started)
        let region = primaryMedia.motionRegion()
        // The companions' reads use the shared MTCNN and FaceMesh, which the primary member's scoring does not touch.
        final class Box: @unchecked Sendable { var reads: Result<[(MediaFaces, Double)], Error> = .success([]) }
        let box = Box(), group = DispatchGroup()
        nonisolated(unsafe) let others = Array(parts.dropFirst())
        let readOthers: @Sendable () -> Void = {
            box.reads = Result {
                try others.map { part in
                    let start = DispatchTime.now().uptimeNanoseconds
                    return (try part.read(path: path, faceRegion: region), ms(since: start))
                }
            }
        }
        // Above 1080p the two at once would hold a large decode and the scoring's memory together: one after the other.
        let overlap = primaryMedia.frameSize.width * primaryMedia.frameSize.height <= Self.overlapPixelLimit
        if overlap { DispatchQueue.global(qos: .userInitiated).async(group: group, execute: readOthers) }
        let primary: Result<(verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]), Error> =
            Result { try parts[0].score(primaryMedia, path: path, readMs: primaryReadMs, cropTransform: cropTransform) }
        if overlap { group.wait() } else { readOthers() }
        let (scored, reads) = (try primary.get(), try box.reads.get())
        let verdicts = try reads.enumerated().map { i, read in
            try parts[i + 1].score(read.0, path: path, readMs: read.1, cropTransform: cropTransform).verdict
        }
        var combined = fused.combine([scored.verdict] + verdicts, model: modelInfo)
        combined.timingsMs.total = ms(since: started)
        return (combined, scored.crops)
    }

    /// What `score` takes for `path`: its tracked face crops (`reader.read`), or for a whole-image detector its
    /// sampled frames at the input size (`reader.readWholeFrames`, no face detection).
    public func read(path: String, progress: (Int, Int?) -> Void = { _, _ in }) throws -> MediaFaces {
        try read(path: path, progress: progress, faceRegion: nil)
    }

    /// `read`, where a mouth-motion read may decode only `faceRegion` of each frame (the faces another member found).
    func read(path: String, progress: (Int, Int?) -> Void = { _, _ in }, faceRegion: FrameRegion?) throws -> MediaFaces {
        if let parts = memberPipelines() {
            // Each member reads the file its own way; the others' reads travel with the primary one's, and a mouth
            // read decodes only the part of the frames where the primary read found faces.
            var primary = try parts[0].read(path: path, progress: progress)
            let region = primary.motionRegion()
            primary.companions = try parts.dropFirst().map { try $0.read(path: path, faceRegion: region) }
            return primary
        }
        if detector.inputKind == .mouthMotion {
            guard let mesh = reader.landmarkRefiner?.mesh else {
                throw DetectorError("detector \"\(detector.card.id)\" follows faces with FaceMesh: build the pipeline with landmarkRefiner(for:)")
            }
            let read = try reader.readMotionWindows(path: path, sampling: detector.card.motion ?? MotionSampling(), mesh: mesh,
                                                    region: faceRegion, progress: progress)
            var faces = read.faces
            faces.motionWindows = read.windows
            return faces
        }
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
        if let parts = memberPipelines(), let fused = detector as? FusedDetector {
            guard media.companions.count == parts.count - 1 else {
                throw DetectorError("fusion \"\(detector.card.id)\": \(media.companions.count + 1) reads for \(parts.count) members")
            }
            let scored = try parts.indices.map { i in
                try parts[i].score(i == 0 ? media : media.companions[i - 1], path: path, readMs: i == 0 ? readMs : 0, cropTransform: cropTransform)
            }
            return (fused.combine(scored.map(\.verdict), model: modelInfo), scored[0].crops)
        }
        let modelStarted = DispatchTime.now().uptimeNanoseconds
        let images = media.crops.map { cropTransform?($0.image) ?? $0.image }
        let scored = try scoreUnits(media.crops, images: images, windows: media.motionWindows, stillImage: media.kind == .image)
        return try verdict(media, path: path, readMs: readMs, images: images, scored: scored,
                           modelMs: Double(DispatchTime.now().uptimeNanoseconds - modelStarted) / 1e6)
    }

    /// Verdicts for several files' faces (`read`) at once, in their order: a face-crop detector scores all their
    /// crops in shared batches (a folder of photos with one face each then runs the network on full batches, not one
    /// crop at a time), and so does a fusion's primary member when every file is a photo; other detectors score file by
    /// file. Each verdict equals `score`'s for that file, but for the model time, which is the batch's shared out by
    /// crop count.
    public func score(batch reads: [(media: MediaFaces, path: String, readMs: Double)]) throws
        -> [(verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)])] {
        // Photos and videos take different stackings in an ensemble that routes still images: such a batch mixes none.
        let kinds = Set(reads.map(\.media.kind))
        if let fused = detector as? FusedDetector, let parts = memberPipelines(), reads.count > 1, kinds == [.image] {
            // Photos through a fusion: the primary member scores them in shared batches, the others file by file.
            guard reads.allSatisfy({ $0.media.companions.count == parts.count - 1 }) else {
                throw DetectorError("fusion \"\(detector.card.id)\": a read without its members' reads")
            }
            let primary = try parts[0].score(batch: reads)
            return try reads.indices.map { r in
                let others = try parts.indices.dropFirst().map { i in
                    try parts[i].score(reads[r].media.companions[i - 1], path: reads[r].path, cropTransform: cropTransform).verdict
                }
                return (fused.combine([primary[r].verdict] + others, model: modelInfo), primary[r].crops)
            }
        }
        let routed = (detector as? EnsembleDetector)?.routesStillImages ?? false
        guard detector.inputKind == .faceCrop, reads.count > 1, !(detector is FusedDetector), kinds.count == 1 || !routed else {
            return try reads.map { try score($0.media, path: $0.path, readMs: $0.readMs, cropTransform: cropTransform) }
        }
        let modelStarted = DispatchTime.now().uptimeNanoseconds
        let images = reads.map { read in read.media.crops.map { cropTransform?($0.image) ?? $0.image } }
        let all = try scoreUnits(reads.flatMap(\.media.crops), images: images.flatMap { $0 }, stillImage: kinds == [.image])
        let modelMs = Double(DispatchTime.now().uptimeNanoseconds - modelStarted) / 1e6
        let total = max(1, all.scores.count)
        var start = 0
        return try reads.indices.map { r in
            let n = images[r].count
            let part = UnitScores(scores: Array(all.scores[start..<(start + n)]), members: all.members.map { Array($0[start..<(start + n)]) },
                                  memberIDs: all.memberIDs)
            start += n
            return try verdict(reads[r].media, path: reads[r].path, readMs: reads[r].readMs, images: images[r], scored: part,
                               modelMs: modelMs * Double(n) / Double(total))
        }
    }

    /// P(fake) per face-frame, and each ensemble member's, for crops whose images (after the crop transform) are given.
    struct UnitScores {
        var scores: [Double]
        var members: [[Double]]?
        var memberIDs: [String]
    }

    /// Scores the units of `crops` (crops, clips or frames, `units`); each face-frame takes the score of its unit.
    /// `stillImage`: the crops come from photos (an ensemble with a still-image stacking then uses it).
    func scoreUnits(_ crops: [FaceCrop], images: [RGBImage], windows: [MotionWindow] = [], stillImage: Bool = false) throws -> UnitScores {
        let (batch, unitOf) = units(crops, images: images, windows: windows)
        // An ensemble's members each score every unit once; the probabilities of the members that ran go into the
        // record beside the combination.
        let unitScores: [Double], unitMembers: [[Double]]?, memberIDs: [String]
        if let ensemble = detector as? EnsembleDetector {
            let scored = ensemble.scores(batch, stillImage: stillImage)
            let active = ensemble.activeMembers(stillImage: stillImage)
            (unitScores, unitMembers, memberIDs) = (scored.map { Double($0.probability) }, scored.map { s in active.map { Double(s.members[$0]) } },
                                                    active.map { ensemble.memberIDs[$0] })
        } else {
            (unitScores, unitMembers, memberIDs) = (detector.probabilities(batch).map(Double.init), nil, [])
        }
        guard unitScores.count == batch.count else {
            throw DetectorError("detector \"\(detector.card.id)\" returned \(unitScores.count) scores for \(batch.count) inputs")
        }
        return UnitScores(scores: unitOf.map { unitScores[$0] }, members: unitMembers.map { m in unitOf.map { m[$0] } }, memberIDs: memberIDs)
    }

    /// The verdict of one file from its face-frames' scores.
    func verdict(_ media: MediaFaces, path: String, readMs: Double, images crops: [RGBImage], scored: UnitScores, modelMs: Double) throws
        -> (verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]) {
        let (scores, memberScores, memberIDs) = (scored.scores, scored.members, scored.memberIDs)
        func named(_ values: [Double]) -> [Verdict.MemberScore] { zip(memberIDs, values).map { Verdict.MemberScore(id: $0, pFake: $1) } }
        let timings = Verdict.Timings(decode: readMs - media.faceSeconds * 1000, faces: media.faceSeconds * 1000, model: modelMs,
                                      total: readMs + modelMs)
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
    /// to the input size if a caller passed other images), or motion windows (each crop's window is its track).
    func units(_ crops: [FaceCrop], images: [RGBImage], windows: [MotionWindow] = []) -> (DetectorBatch, [Int]) {
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
        case .mouthMotion:
            let position = Dictionary(windows.enumerated().map { ($1.track, $0) }, uniquingKeysWith: { a, _ in a })
            return (.motion(windows), crops.map { position[$0.trackID] ?? 0 })
        }
    }
}
