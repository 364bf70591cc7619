import Foundation
import ForensightTensor
import ForensightNN
import ForensightOptim
import ForensightFaces
import ForensightDetect
import ForensightEvaluation

/// How the mouth-motion detector is trained (stored in its card's notes and the run's `recipe.json`).
public struct MouthMotionRecipe: Codable, Sendable, Equatable {
    public var seed: UInt64 = 0
    public var epochs = 80
    public var batchSize = 64
    public var learningRate: Float = 1e-3
    public var weightDecay: Float = 1e-3
    /// The windows `detect` reads; training cuts windows of the same length.
    public var sampling = MotionSampling()
    /// Step between training windows, as a share of the window.
    public var stride = 0.5
    /// The simulated lip-sync fakes, one drawn at random per real window and epoch.
    public var simulations: [LipSyncSimulation] = LipSyncSimulation.allCases
    /// `desync`'s lower face comes from at least this many seconds away.
    public var desyncMinimumLag = 0.3

    public init() {}
}

/// A real video's face followed over every frame (`MotionCache.track`), with the id of its sample.
public struct MotionTrack: Sendable {
    public var id: String
    public var window: MotionWindow
    public init(id: String, window: MotionWindow) { (self.id, self.window) = (id, window) }
}

/// Validation of one epoch: AUC of validation real windows against each simulation of them, and their mean.
public struct MouthMotionValidation: Codable, Sendable {
    public var epoch: Int
    public var loss: Double
    public var auc: Double
    public var aucBySimulation: [String: Double]
}

/// Trains `MouthMotionNet` on real windows against their simulated lip-sync twins (`LipSyncSimulation`), keeps the
/// epoch with the best validation AUC, then calibrates (Platt scaling on validation windows) and places the
/// threshold on validation videos (max over their windows, as `detect` aggregates). Deterministic for a seed; it
/// takes seconds once the tracks are cached, so a re-run with the same recipe simply trains again.
public final class MouthMotionTrainer {
    public let recipe: MouthMotionRecipe
    /// Training windows per video (all windows of the recipe's length at its stride).
    let trainWindows: [[FaceMotion]]
    /// Validation windows as `detect` cuts them, with the video each belongs to.
    let validationWindows: [(video: Int, motion: FaceMotion)]

    public init(recipe: MouthMotionRecipe, train: [MotionTrack], validation: [MotionTrack]) throws {
        self.recipe = recipe
        trainWindows = train.map { Self.windows(of: $0.window, seconds: recipe.sampling.seconds, stride: recipe.stride) }.filter { !$0.isEmpty }
        validationWindows = validation.enumerated().flatMap { v, track in
            Self.detectWindows(of: track.window, sampling: recipe.sampling).map { (v, $0) }
        }
        guard !trainWindows.isEmpty else { throw TrainingError("no training video has a face followed for \(recipe.sampling.seconds) s") }
        guard !validationWindows.isEmpty else { throw TrainingError("no validation video has a face followed for two frames or more") }
        guard !recipe.simulations.isEmpty else { throw TrainingError("no lip-sync simulation chosen") }
    }

    /// Training windows.
    public var trainWindowCount: Int { trainWindows.reduce(0) { $0 + $1.count } }
    /// Validation windows.
    public var validationWindowCount: Int { validationWindows.count }

    /// Windows of `seconds` at `stride` × their length over each run of consecutive frames of `track`.
    static func windows(of track: MotionWindow, seconds: Double, stride: Double) -> [FaceMotion] {
        let length = max(2, Int((seconds * track.fps).rounded()))
        let step = max(1, Int((Double(length) * stride).rounded()))
        var out: [FaceMotion] = []
        for run in runs(track.frames) where run.count >= length {
            for start in Swift.stride(from: run.lowerBound, through: run.upperBound - length, by: step) {
                let range = start..<(start + length), patched = track.mouthPatches.count == track.frames.count
                if let m = FaceMotion(meshes: Array(track.landmarks[range]), fps: track.fps, mouthPatches: patched ? Array(track.mouthPatches[range]) : [],
                                      referencePatches: patched ? Array(track.referencePatches[range]) : []) { out.append(m) }
            }
        }
        return out
    }

    /// The windows `detect` would read from this video (`MotionSampling.windowStarts` over its frames).
    static func detectWindows(of track: MotionWindow, sampling: MotionSampling) -> [FaceMotion] {
        guard let last = track.frames.last else { return [] }
        let (starts, length) = sampling.windowStarts(frameCount: last + 1, fps: track.fps)
        let position = Dictionary(track.frames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return starts.compactMap { start in
            let indices = (start..<(start + length)).compactMap { position[$0] }
            let patched = track.mouthPatches.count == track.frames.count
            let window = MotionWindow(track: 0, fps: track.fps, frames: indices.map { track.frames[$0] }, times: indices.map { track.times[$0] },
                                      landmarks: indices.map { track.landmarks[$0] }, mouthPatches: patched ? indices.map { track.mouthPatches[$0] } : [],
                                      referencePatches: patched ? indices.map { track.referencePatches[$0] } : [])
            return FaceMotion(window: window)
        }
    }

    /// Index ranges of runs of consecutive frame numbers.
    static func runs(_ frames: [Int]) -> [Range<Int>] {
        var out: [Range<Int>] = [], start = 0
        for i in 1...max(frames.count, 1) where i == frames.count || frames[i] != frames[i - 1] + 1 {
            if i > start { out.append(start..<i) }
            start = i
        }
        return frames.isEmpty ? [] : out
    }

    /// A simulated fake of window `w` of `windows` (one video's), drawn with `random`.
    func fake(_ windows: [FaceMotion], _ w: Int, random: inout SeededRandom) -> FaceMotion {
        let simulation = recipe.simulations[Int(random.next() % UInt64(recipe.simulations.count))]
        var donor: FaceMotion?
        if simulation == .desync {
            let lag = recipe.desyncMinimumLag / max(recipe.sampling.seconds * recipe.stride, 1e-3)
            let far = windows.indices.filter { Double(abs($0 - w)) >= max(1, lag.rounded(.up)) && windows[$0].count == windows[w].count }
            if !far.isEmpty { donor = windows[far[Int(random.next() % UInt64(far.count))]] }
        }
        // Fakes are softened all over as often as reals (below), so that overall sharpness tells nothing.
        let source = random.nextFloat() < 0.3 ? LipSyncSimulation.softened(windows[w], radius: 1 + Int(random.next() % 2)) : windows[w]
        return simulation.apply(to: source, donor: donor, random: &random)
    }

    /// Trains; `progress` gets each epoch's validation. Returns the detector at its best epoch, calibrated, and every
    /// epoch's validation.
    public func train(card: DetectorCard, progress: (MouthMotionValidation) -> Void = { _ in }) throws
        -> (detector: MouthMotionDetector, history: [MouthMotionValidation], best: MouthMotionValidation, calibration: CalibrationChoice) {
        ParameterInit.seed(recipe.seed)
        let detector = try MouthMotionDetector(card: card)
        let net = detector.network
        var random = SeededRandom(seed: recipe.seed ^ 0x4C49_5053)
        // A fixed 30 % of the real windows are shown soft all over (both patches blurred alike), and as many fakes
        // (`fake`), so that a blurry video is neither a blurry mouth nor a sign of a real one.
        let reals = trainWindows.flatMap { $0 }.map { w -> [Float] in
            random.nextFloat() < 0.3 ? MouthMotionFeatures.compute(LipSyncSimulation.softened(w, radius: 1 + Int(random.next() % 2))) : MouthMotionFeatures.compute(w)
        }
        let firstFakes = trainWindows.flatMap { v in v.indices.map { MouthMotionFeatures.compute(fake(v, $0, random: &random)) } }
        let (mean, std) = Self.standardisation(reals + firstFakes)
        net.setStandardisation(mean: mean, std: std)
        let validation = validationSet()
        let optimizer = Adam(net.trainableParameters(), learningRate: recipe.learningRate, weightDecay: recipe.weightDecay, decoupled: true)
        var history: [MouthMotionValidation] = [], best: (MouthMotionValidation, [String: Tensor])?
        for epoch in 1...recipe.epochs {
            var epochRandom = SeededRandom(seed: recipe.seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            let fakes = epoch == 1 ? firstFakes : trainWindows.flatMap { v in v.indices.map { MouthMotionFeatures.compute(fake(v, $0, random: &epochRandom)) } }
            var rows = reals.map { ($0, Float(0)) } + fakes.map { ($0, Float(1)) }
            rows.shuffle(using: &epochRandom)
            net.train()
            var (lossSum, batches) = (0.0, 0)
            for start in Swift.stride(from: 0, to: rows.count, by: recipe.batchSize) {
                let batch = rows[start..<min(start + recipe.batchSize, rows.count)]
                let x = Tensor(batch.flatMap(\.0), shape: [batch.count, mean.count])
                let y = Tensor(batch.map(\.1), shape: [batch.count, 1])
                optimizer.zeroGrad()
                let loss = Tensor.binaryCrossEntropyWithLogits(net(x), targets: y)
                loss.backward()
                optimizer.step()
                lossSum += Double(loss.scalars[0]); batches += 1
            }
            net.eval()
            var result = try evaluate(detector, on: validation)
            (result.epoch, result.loss) = (epoch, lossSum / Double(max(batches, 1)))
            history.append(result)
            progress(result)
            if best == nil || result.auc > best!.0.auc {
                best = (result, Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.0, $0.1.detached()) }))
            }
        }
        _ = try net.loadStateDict(best!.1, strict: true)
        net.eval()
        let calibration = try calibrate(detector, on: validation)
        return (detector, history, best!.0, calibration)
    }

    /// Per-feature mean and standard deviation.
    static func standardisation(_ rows: [[Float]]) -> ([Float], [Float]) {
        let f = rows.first?.count ?? 0, n = Float(max(rows.count, 1))
        let mean = (0..<f).map { c in rows.reduce(0) { $0 + $1[c] } / n }
        let std = (0..<f).map { c in (rows.reduce(0) { $0 + ($1[c] - mean[c]) * ($1[c] - mean[c]) } / n).squareRoot() }
        return (mean, std)
    }

    /// Validation rows: each real window (label 0) and each simulation of it (label 1, fixed draws).
    struct ValidationRows {
        var features: [[Float]], labels: [Int], videos: [Int], simulation: [LipSyncSimulation?]
    }

    func validationSet() -> ValidationRows {
        var out = ValidationRows(features: [], labels: [], videos: [], simulation: [])
        var random = SeededRandom(seed: recipe.seed ^ 0x5641_4C49)
        let byVideo = Dictionary(grouping: validationWindows.indices, by: { validationWindows[$0].video })
        for (w, item) in validationWindows.enumerated() {
            out.features.append(MouthMotionFeatures.compute(item.motion)); out.labels.append(0); out.videos.append(item.video)
            out.simulation.append(nil)
            let siblings = byVideo[item.video]!.map { validationWindows[$0].motion }
            let own = byVideo[item.video]!.firstIndex(of: w)!
            for simulation in recipe.simulations {
                let donor = siblings.indices.filter { $0 != own && siblings[$0].count == item.motion.count }.first.map { siblings[$0] }
                out.features.append(MouthMotionFeatures.compute(simulation.apply(to: item.motion, donor: donor, random: &random)))
                out.labels.append(1); out.videos.append(item.video); out.simulation.append(simulation)
            }
        }
        return out
    }

    func evaluate(_ detector: MouthMotionDetector, on v: ValidationRows) throws -> MouthMotionValidation {
        let scores = detector.logits(features: v.features).map(Double.init)
        var bySimulation: [String: Double] = [:]
        for simulation in recipe.simulations {
            let keep = v.labels.indices.filter { v.simulation[$0] == nil || v.simulation[$0] == simulation }
            bySimulation[simulation.rawValue] = try Metrics.auc(scores: keep.map { scores[$0] }, labels: keep.map { v.labels[$0] })
        }
        return MouthMotionValidation(epoch: 0, loss: 0, auc: try Metrics.auc(scores: scores, labels: v.labels), aucBySimulation: bySimulation)
    }

    /// Platt scaling on the validation windows. The threshold caps the validation real *windows* that reach it at
    /// 2 %: a video's score is the mean of its windows' P(fake) (they are tracks of equal length, so max-mean is their
    /// mean), so no video reaches a threshold none of its windows reaches, and a few validation videos give many more
    /// windows to place it on. The share of validation videos called FAKE is reported.
    func calibrate(_ detector: MouthMotionDetector, on v: ValidationRows) throws -> CalibrationChoice {
        let logits = detector.logits(features: v.features).map(Double.init)
        let fitted = try PlattScaling.fit(logits: logits, labels: v.labels)
        let fit = fitted.scale > 0 ? fitted : PlattScaling.identity
        let raw = logits.map { 1 / (1 + exp(-$0)) }, calibrated = logits.map { fit.probability(logit: $0) }
        var sums: [Int: (Double, Int)] = [:]
        for i in v.labels.indices where v.labels[i] == 0 { sums[v.videos[i], default: (0, 0)].0 += calibrated[i]; sums[v.videos[i], default: (0, 0)].1 += 1 }
        let reals = sums.values.map { $0.0 / Double($0.1) }
        let realWindows = v.labels.indices.filter { v.labels[$0] == 0 }.map { calibrated[$0] }
        let threshold = DecisionThreshold.capping(realScores: realWindows, realFlagRate: 0.02)
        return CalibrationChoice(calibration: fit, threshold: Float(threshold),
                                 eceBefore: try Metrics.expectedCalibrationError(probabilities: raw, labels: v.labels, bins: 10),
                                 eceAfter: try Metrics.expectedCalibrationError(probabilities: calibrated, labels: v.labels, bins: 10),
                                 realFlaggedRate: Double(reals.filter { $0 >= threshold }.count) / Double(max(reals.count, 1)),
                                 realUnits: reals.count, fakeUnits: v.labels.filter { $0 == 1 }.count)
    }
}
