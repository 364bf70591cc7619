import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces

/// A face-forgery detector as `detect`, `evaluate` and the protocols use it: a card (input kind, preprocessing,
/// threshold, calibration, aggregation) and one raw logit per input: per face crop (`faceLogits`, the default kind),
/// per clip of one tracked face (`clipLogits`) or per whole frame (`imageLogits`), as the card's `input` says.
///
/// A new detector is one file with a class conforming to `Detector`, plus one line in `DetectorRegistry.builtIn`
/// naming its architecture (docs/ARCHITECTURE.md, "Adding a detector").
public protocol Detector: AnyObject {
    /// What travels with the weights: crop, input size, normalisation, threshold, calibration, aggregation.
    var card: DetectorCard { get set }
    /// SHA-256 of the weights file it was loaded from (empty for a detector that was not loaded from a file).
    var weightsSHA256: String { get }
    /// The raw logit of each face crop (the card's test-time averaging applied, its calibration not), in batches.
    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float]
    /// For `trackClip` detectors: the raw logit of each clip (the card's `clipFrames` crops of one tracked face, in
    /// frame order). The default is the mean face-crop logit of the clip's crops (DetectorInput.swift).
    func clipLogits(_ clips: [[RGBImage]]) -> [Float]
    /// For `wholeImage` detectors: the raw logit of each whole frame, given at `inputSize` × `inputSize`. The default
    /// scores each frame with `faceLogits`.
    func imageLogits(_ images: [RGBImage]) -> [Float]
    /// For `mouthMotion` detectors: the raw logit of each motion window. The default gives 0 (DetectorInput.swift).
    func motionLogits(_ windows: [MotionWindow]) -> [Float]
    /// Writes weights (in `dtype`) and the card as one safetensors file that `DetectorRegistry.load` reads back.
    func save(to path: String, dtype: SafetensorsDType) throws
}

extension Detector {
    /// P(fake) for a raw logit: the card's calibration, or the plain sigmoid without one.
    public func probability(logit z: Float) -> Float {
        if let calibration = card.calibration { return Float(calibration.probability(logit: Double(z))) }
        return 1 / (1 + Foundation.exp(-z))
    }

    /// P(fake) for each face crop (calibrated when the card has a calibration), in batches of `batchSize`.
    public func probabilities(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        faceLogits(faces, batchSize: batchSize).map(probability(logit:))
    }
}

/// A detector that can show where in a face crop its evidence lies (`detect --explain`).
public protocol ExplainableDetector: Detector {
    /// One heatmap per crop, `side` × `side`, values in 0...1 (Grad-CAM or the detector's own method).
    func gradCAM(_ faces: [RGBImage]) -> (maps: [[Float]], side: Int)
    /// The same for crops of a photo (`stillImage`) or of a video: detectors that score photos differently (an
    /// ensemble with a still-image stacking) explain them the way they score them. Default: `gradCAM(faces)`.
    func gradCAM(_ faces: [RGBImage], stillImage: Bool) -> (maps: [[Float]], side: Int)
}

extension ExplainableDetector {
    public func gradCAM(_ faces: [RGBImage], stillImage: Bool) -> (maps: [[Float]], side: Int) { gradCAM(faces) }
}

/// The detectors Forensight can build and load, by the `architecture` named in their card.
public enum DetectorRegistry {
    /// How to build a detector of one architecture.
    public struct Entry: Sendable {
        /// The card's `architecture`, e.g. `efficientnet-lite0`.
        public var architecture: String
        /// One line for `--help` and error messages.
        public var summary: String
        /// A fresh detector for `card` (weights initialised by the network; training loads its starting point).
        public var make: @Sendable (DetectorCard) throws -> any Detector
        /// The detector stored in `file` (at `path`), whose card is `card`.
        public var load: @Sendable (DetectorCard, SafetensorsFile, String) throws -> any Detector

        public init(architecture: String, summary: String, make: @escaping @Sendable (DetectorCard) throws -> any Detector,
                    load: @escaping @Sendable (DetectorCard, SafetensorsFile, String) throws -> any Detector) {
            (self.architecture, self.summary, self.make, self.load) = (architecture, summary, make, load)
        }
    }

    /// The detectors that ship: one line each.
    public static let builtIn: [Entry] = [
        DeepfakeDetector.registryEntry,
        DeepfakeDetector.lite2RegistryEntry,
        MesoNetDetector.registryEntry,
        MesoNetDetector.inceptionRegistryEntry,
        MouthMotionDetector.registryEntry,
        FusedDetector.registryEntry,
        EnsembleDetector.registryEntry,
        RFFRDetector.registryEntry,
        M2TRDetector.registryEntry,
        ForgeLensDetector.registryEntry,
        DFDFCGDetector.registryEntry,
        CLIPAdapterDetector.registryEntry,
        ForgeLensDetector.clipRegistryEntry,
        DFDFCGDetector.clipRegistryEntry,
        CLIPAdapterDetector.clipRegistryEntry,
    ]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var added: [String: Entry] = [:]

    /// Adds (or replaces) an entry at run time, e.g. a detector defined outside the library.
    public static func register(_ entry: Entry) {
        lock.lock(); defer { lock.unlock() }
        added[entry.architecture] = entry
    }

    /// The entry for `architecture`, if any.
    public static func entry(for architecture: String) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        return added[architecture] ?? builtIn.first { $0.architecture == architecture }
    }

    /// Every architecture that can be built, sorted.
    public static var architectures: [String] {
        lock.lock(); defer { lock.unlock() }
        return Set(builtIn.map(\.architecture) + added.keys).sorted()
    }

    /// A fresh detector for `card`.
    public static func make(card: DetectorCard) throws -> any Detector {
        guard let entry = entry(for: card.architecture) else { throw unknown(card.architecture, path: nil) }
        try card.validateInput()
        return try entry.make(card)
    }

    /// The detector in the safetensors file at `path`, built by the entry its card names.
    public static func load(path: String) throws -> any Detector {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw DetectorError("\(error)") }
        let card = try DetectorCard.read(from: file, path: path)
        guard let entry = entry(for: card.architecture) else { throw unknown(card.architecture, path: path) }
        return try entry.load(card, file, path)
    }

    static func unknown(_ architecture: String, path: String?) -> DetectorError {
        DetectorError("\(path.map { $0 + ": " } ?? "")unknown detector architecture \"\(architecture)\" (known: \(architectures.joined(separator: ", ")))")
    }
}

extension DetectorCard {
    /// The card in a detector file's metadata (`forensight.card`), checked for a schema this build understands.
    public static func read(from file: SafetensorsFile, path: String) throws -> DetectorCard {
        guard let json = file.metadata["forensight.card"] else {
            throw DetectorError("\(path): not a Forensight detector (no forensight.card metadata)")
        }
        let card: DetectorCard
        do { card = try JSONDecoder().decode(DetectorCard.self, from: Data(json.utf8)) } catch {
            throw DetectorError("\(path): unreadable model card: \(error)")
        }
        guard (1...DetectorCard.currentSchema).contains(card.schema) else {
            throw DetectorError("\(path): model card schema \(card.schema) is newer than this forensight (it reads 1–\(DetectorCard.currentSchema)); update forensight")
        }
        try card.validateInput(source: path)
        return card
    }

    /// The newest card schema this build reads. Schema 2 added `input`, `clip_frames`, `pixel_scale` and
    /// `interpolation`; schema 3 the `mouth-motion` input with its `motion` windows, and fusions (`fusion`).
    public static let currentSchema = 3

    /// The lowest schema that carries everything this card says: 1 when a build that knows nothing of input kinds,
    /// pixel scales or resize filters would feed the network correctly, 2 otherwise (so such a build refuses the
    /// file instead of feeding a clip model face crops).
    public var requiredSchema: Int {
        if input == .mouthMotion || motion != nil || fusion != nil { return 3 }
        return (input ?? .faceCrop) == .faceCrop && pixelScale == nil && interpolation == nil ? 1 : 2
    }

    /// The card as the JSON stored in a detector file, under the lowest schema that carries it (`requiredSchema`).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var stored = self
        stored.schema = requiredSchema
        return String(decoding: (try? encoder.encode(stored)) ?? Data(), as: UTF8.self)
    }
}
