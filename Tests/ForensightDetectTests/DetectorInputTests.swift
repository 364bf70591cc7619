import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightDetect
import ForensightEvaluation

/// A toy clip detector (input `track-clip`): records every clip it is given, and scores the k-th clip it has ever
/// seen with logit k, so a score can be traced back to its clip.
final class RecordingClipDetector: Detector {
    var card: DetectorCard
    var weightsSHA256 = ""
    private(set) var clips: [[RGBImage]] = []

    init(card: DetectorCard) { self.card = card }

    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] { faces.map { _ in 0 } }

    func clipLogits(_ clips: [[RGBImage]]) -> [Float] {
        let first = self.clips.count
        self.clips += clips
        return clips.indices.map { Float(first + $0) }
    }

    func save(to path: String, dtype: SafetensorsDType) throws {
        try Safetensors.write(["unused": Tensor([0], shape: [1])], to: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    static let entry = DetectorRegistry.Entry(architecture: "toy-clip", summary: "numbers the clips it sees (a test detector)",
                                              make: { RecordingClipDetector(card: $0) }, load: { card, _, _ in RecordingClipDetector(card: card) })

    static func card(id: String = "clip", frames: Int = 3) -> DetectorCard {
        var card = DetectorCard(id: id, architecture: "toy-clip")
        (card.input, card.clipFrames) = (.trackClip, frames)
        return card
    }
}

/// A toy whole-image detector (input `whole-image`): records every frame it is given and scores it by its mean red
/// level, logit = (red − 128) / 32.
final class RecordingImageDetector: Detector {
    var card: DetectorCard
    var weightsSHA256 = ""
    private(set) var images: [RGBImage] = []

    init(card: DetectorCard) { self.card = card }

    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] { faces.map { _ in 0 } }

    func imageLogits(_ images: [RGBImage]) -> [Float] {
        self.images += images
        return images.map(Self.redLogit)
    }

    static func redLogit(_ image: RGBImage) -> Float {
        var sum = 0
        for i in 0..<image.pixelCount { sum += Int(image.pixels[3 * i]) }
        return (Float(sum) / Float(max(image.pixelCount, 1)) - 128) / 32
    }

    func save(to path: String, dtype: SafetensorsDType) throws {
        try Safetensors.write(["unused": Tensor([0], shape: [1])], to: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    static let entry = DetectorRegistry.Entry(architecture: "toy-image", summary: "mean red level of the whole frame (a test detector)",
                                              make: { RecordingImageDetector(card: $0) }, load: { card, _, _ in RecordingImageDetector(card: card) })

    static func card(id: String = "image", side: Int = 48, interpolation: ResizeMethod? = .area) -> DetectorCard {
        var card = DetectorCard(id: id, architecture: "toy-image")
        (card.input, card.inputSize, card.interpolation) = (.wholeImage, side, interpolation)
        return card
    }
}

/// The card's input fields (input kind, clip length, pixel scale, interpolation), clip windows and ensembles of kinds.
final class DetectorInputTests: XCTestCase {
    override func setUp() {
        DetectorRegistry.register(RecordingClipDetector.entry)
        DetectorRegistry.register(RecordingImageDetector.entry)
    }

    func testACardWithoutTheNewFieldsIsAFaceCropCardAndWritesNoNewKeys() throws {
        let old = #"{"aggregation":"max-mean","architecture":"efficientnet-lite0","crop_margin":1.3,"crop_mode":"aligned","crop_size":256,"#
            + #""id":"old","input_size":224,"mean":[127,127,127],"notes":"","schema":1,"std":[128,128,128],"threshold":0.5}"#
        let card = try JSONDecoder().decode(DetectorCard.self, from: Data(old.utf8))
        XCTAssertNil(card.input)
        XCTAssertEqual(card.inputKind, .faceCrop)
        XCTAssertNil(card.clipFrames); XCTAssertNil(card.pixelScale); XCTAssertNil(card.interpolation)
        XCTAssertEqual(card.json, old, "an old card is written back byte for byte")
        // The shipped model's card, too.
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models/sbi-efficientnet-lite0.safetensors")
            .standardized.path
        if FileManager.default.fileExists(atPath: shipped) {
            let file = try SafetensorsFile(path: shipped)
            let stored = try XCTUnwrap(file.metadata["forensight.card"])
            let shippedCard = try DetectorCard.read(from: file, path: shipped)
            XCTAssertEqual(shippedCard.inputKind, .faceCrop)
            XCTAssertEqual(shippedCard.json, stored)
        }
        // The new fields round-trip under their JSON names.
        var clip = RecordingClipDetector.card(frames: 8)
        (clip.pixelScale, clip.interpolation) = (1, .bicubic)
        for key in [#""input":"track-clip""#, #""clip_frames":8"#, #""pixel_scale":1"#, #""interpolation":"bicubic""#] {
            XCTAssertTrue(clip.json.contains(key), "\(key) in \(clip.json)")
        }
        var stored = clip
        stored.schema = 2
        XCTAssertEqual(try JSONDecoder().decode(DetectorCard.self, from: Data(clip.json.utf8)), stored)
        var whole = DetectorCard(id: "w", architecture: "toy-image")
        whole.input = .wholeImage
        XCTAssertEqual(try JSONDecoder().decode(DetectorCard.self, from: Data(whole.json.utf8)).inputKind, .wholeImage)
    }

    /// A card whose input an older build would misread is stored as schema 2, which such a build refuses; a plain
    /// face-crop card stays schema 1 so older builds keep reading it; a schema newer than this build is refused.
    func testCardsNeedingTheInputFieldsAreStoredAsSchemaTwo() throws {
        XCTAssertTrue(DetectorCard(id: "f", architecture: "efficientnet-lite0").json.contains(#""schema":1"#))
        var scaled = DetectorCard(id: "s", architecture: "efficientnet-lite0")
        scaled.pixelScale = 1
        var filtered = DetectorCard(id: "i", architecture: "efficientnet-lite0")
        filtered.interpolation = .bicubic
        var whole = DetectorCard(id: "w", architecture: "toy-image")
        whole.input = .wholeImage
        for card in [RecordingClipDetector.card(frames: 4), scaled, filtered, whole] {
            XCTAssertEqual(card.requiredSchema, 2, card.id)
            XCTAssertTrue(card.json.contains(#""schema":2"#), card.json)
        }
        // Round trip through a file: a schema-2 card loads; a card of a newer schema than this build reads is refused
        // with a one-line error.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let two = dir.appendingPathComponent("two.safetensors").path
        try RecordingClipDetector(card: RecordingClipDetector.card(frames: 4)).save(to: two, dtype: .f32)
        XCTAssertEqual(try DetectorCard.read(from: SafetensorsFile(path: two), path: two).schema, 2)
        let three = dir.appendingPathComponent("newer.safetensors").path
        let newer = DetectorCard.currentSchema + 1
        let json = DetectorCard(id: "n", architecture: "efficientnet-lite0").json.replacingOccurrences(of: #""schema":1"#, with: "\"schema\":\(newer)")
        try Safetensors.write(["w": Tensor.zeros([1])], to: three, metadata: ["forensight.card": json])
        XCTAssertThrowsError(try DetectorCard.read(from: SafetensorsFile(path: three), path: three)) { error in
            XCTAssertTrue("\(error)".hasPrefix(three + ": model card schema \(newer) is newer"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    func testInputFieldsAPipelineCannotHonourAreOneLineErrors() throws {
        var noLength = RecordingClipDetector.card()
        noLength.clipFrames = nil
        let zero = RecordingClipDetector.card(frames: 0)
        var stray = DetectorCard(id: "f", architecture: "toy-clip")
        stray.clipFrames = 4
        var scale = DetectorCard(id: "s", architecture: "toy-clip")
        scale.pixelScale = -1
        for card in [noLength, zero, stray, scale] {
            XCTAssertThrowsError(try DetectorRegistry.make(card: card)) { error in
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
                XCTAssertTrue("\(error)".contains("\"\(card.id)\""), "\(error)")
            }
        }
        // A file with such a card is refused on load, naming the file.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clip-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try RecordingClipDetector(card: noLength).save(to: path, dtype: .f32)
        XCTAssertThrowsError(try DetectorRegistry.load(path: path)) { XCTAssertTrue("\($0)".hasPrefix(path + ": "), "\($0)") }
        // An unknown input kind is an unreadable card.
        let unknown = RecordingClipDetector.card().json.replacingOccurrences(of: "track-clip", with: "hologram")
        XCTAssertThrowsError(try JSONDecoder().decode(DetectorCard.self, from: Data(unknown.utf8)))
        // A valid clip card builds.
        XCTAssertEqual(try DetectorRegistry.make(card: RecordingClipDetector.card()).inputKind, .trackClip)
    }

    func testPixelScaleAndInterpolationApplyOnlyWhenPresent() throws {
        var card = DetectorCard(id: "t", architecture: "efficientnet-lite0")
        card.inputSize = 24
        var random = SeededRandom(seed: 11)
        let face = RGBImage(width: 40, height: 40, pixels: (0..<(40 * 40 * 3)).map { _ in UInt8(random.next() % 256) })
        let plain = try DeepfakeDetector(card: card)
        // Without the fields: bilinear and (pixel − mean) / std, as before.
        let bilinear = face.resized(width: 24, height: 24, method: .bilinear)
        let x = plain.inputTensor([face])
        for i in stride(from: 0, to: 24 * 24, by: 37) {
            XCTAssertEqual(x.data[i], (Float(bilinear.pixels[3 * i]) - 127) / 128)
        }
        // With them: the card's filter, and pixels scaled to 0...pixelScale before mean/std.
        (card.pixelScale, card.interpolation, card.mean, card.std) = (1, .area, [0.5, 0.25, 0], [0.25, 0.5, 1])
        let scaled = try DeepfakeDetector(card: card).inputTensor([face])
        let area = face.resized(width: 24, height: 24, method: .area)
        XCTAssertNotEqual(area, bilinear)
        for c in 0..<3 {
            for i in stride(from: 0, to: 24 * 24, by: 29) {
                let expected = (Float(area.pixels[3 * i + c]) * (1 / 255) - card.mean[c]) / card.std[c]
                XCTAssertEqual(scaled.data[c * 24 * 24 + i], expected, accuracy: 1e-6)
            }
        }
    }

    func testClipWindowsAreTConsecutiveCropsOfOneTrackPaddedWithTheLast() {
        // Track 0 in frames 0…6 and track 5 in frames 2, 4, listed out of order.
        let crops: [(track: Int, frame: Int)] = [(0, 3), (5, 4), (0, 0), (0, 6), (0, 1), (5, 2), (0, 5), (0, 2), (0, 4)]
        let windows = TrackClips.windows(crops, length: 3)
        XCTAssertEqual(windows.map { $0.map { crops[$0].frame } }, [[0, 1, 2], [3, 4, 5], [6, 6, 6], [2, 4, 4]])
        XCTAssertEqual(windows.map { Set($0.map { crops[$0].track }) }, [[0], [0], [0], [5]])
        XCTAssertEqual(Set(windows.flatMap { $0 }), Set(crops.indices), "every crop is in a window")
        XCTAssertEqual(TrackClips.windows(crops, length: 1).count, crops.count)
        XCTAssertEqual(TrackClips.windows([], length: 4).count, 0)
        XCTAssertEqual(TrackClips.windows(crops, length: 0).count, crops.count, "T below 1 counts as 1")
    }

    func testDefaultClipAndImageLogitsFallBackOnFaceLogits() {
        let green = GreenDetector(card: DetectorCard(id: "g", architecture: "toy-green"), scale: 1)
        let a = RGBImage(width: 4, height: 4, fill: (0, 100, 0)), b = RGBImage(width: 4, height: 4, fill: (0, 160, 0))
        XCTAssertEqual(green.clipLogits([[a, b], [b]]), [2, 32])           // mean of −28 and 32; 32
        XCTAssertEqual(green.imageLogits([a, b]), green.faceLogits([a, b], batchSize: 16))
        XCTAssertEqual(green.logits(.clips([])), [])
    }

    func testAnEnsembleRequiresOneInputKind() throws {
        let face = GreenDetector(card: DetectorCard(id: "green", architecture: "toy-green"))
        let clip = RecordingClipDetector(card: RecordingClipDetector.card())
        let image = RecordingImageDetector(card: RecordingImageDetector.card())
        let combiner = StackingCombiner(weights: [1, 1], bias: 0)
        for members in [[face, clip], [clip, image], [image, face]] as [[any Detector]] {
            XCTAssertThrowsError(try EnsembleDetector(id: "mixed", members: members, combiner: combiner)) { error in
                let text = "\(error)"
                XCTAssertFalse(text.contains("\n"), text)
                XCTAssertTrue(text.contains("\"\(members[0].card.id)\"") && text.contains("\"\(members[1].card.id)\"")
                              && text.contains("input kind"), text)
            }
        }
        // Clip members must also agree on T; whole-image members on the input size.
        XCTAssertThrowsError(try EnsembleDetector(id: "t", members: [clip, RecordingClipDetector(card: RecordingClipDetector.card(id: "c4", frames: 4))],
                                                  combiner: combiner)) { XCTAssertTrue("\($0)".contains("clips of 3"), "\($0)") }
        XCTAssertThrowsError(try EnsembleDetector(id: "s", members: [image, RecordingImageDetector(card: RecordingImageDetector.card(id: "i2", side: 64))],
                                                  combiner: combiner)) { XCTAssertTrue("\($0)".contains("48 px"), "\($0)") }
        // Members of one kind make an ensemble of that kind, scoring each clip once per member.
        let other = RecordingClipDetector(card: RecordingClipDetector.card(id: "clip2"))
        let ensemble = try EnsembleDetector(id: "clips", members: [clip, other], combiner: combiner)
        XCTAssertEqual(ensemble.card.inputKind, .trackClip)
        XCTAssertEqual(ensemble.card.clipFrames, 3)
        let crop = RGBImage(width: 8, height: 8)
        let z = ensemble.clipLogits([[crop, crop, crop], [crop, crop, crop]])
        XCTAssertEqual(clip.clips.count, 2); XCTAssertEqual(other.clips.count, 2)
        XCTAssertEqual(z[0], 0, accuracy: 1e-5)                                  // logit(σ(0)) twice
        XCTAssertEqual(z[1], 2, accuracy: 1e-4)                                  // logit(σ(1)) twice
        // The ensemble file keeps the kind: a round trip through the registry gives a clip ensemble with the same logits.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clips-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ensemble.save(to: path, dtype: .f32)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? EnsembleDetector)
        var stored = ensemble.card
        stored.schema = 2   // a clip card is written as schema 2
        XCTAssertEqual(loaded.card, stored)
        XCTAssertEqual(loaded.members.map(\.inputKind), [.trackClip, .trackClip])
        XCTAssertEqual(loaded.clipLogits([[crop, crop, crop]]), [0])
        // Stacking scores come from face crops only.
        XCTAssertThrowsError(try StackingScores.score(members: [clip], faces: [crop], labels: [0]))
    }
}
