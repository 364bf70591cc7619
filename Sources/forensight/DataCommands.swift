import ArgumentParser
import Foundation
import ForensightData
import ForensightFaces

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "List a dataset, as its owners ship it, as one manifest (JSON Lines).",
        discussion: """
        Recognised layouts: FaceForensics++ (official tree or <Method>_c23/ folders), Celeb-DF v2, DFDC (metadata.json per part), a DeepfakeBench dataset JSON, an RFFR label list (JSON), real/ + fake/ folders, a CSV with path,label. Several datasets are merged into one manifest. Media files are not decoded. The counts are printed on stderr. See docs/DATASETS.md.

        Example:
          forensight import ../shared/datasets/ffpp-c23-mini --out ffpp.jsonl
        """)

    @Argument(help: "Dataset folders or label files.")
    var datasets: [String]

    @Option(help: "The manifest to write (JSON Lines, one sample per line).")
    var out: String

    func run() throws {
        var merged = Manifest()
        for path in datasets {
            do {
                let manifest = try DatasetLayout.importer(for: path).load()
                merged.append(contentsOf: manifest, skippingDuplicateIDs: true)
            } catch { throw fail("\(error)") }
        }
        do { try merged.write(to: out) } catch { throw fail("\(out): \(error)") }
        note(merged.summary.description)
    }
}

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cut face crops for every sample of a manifest into a resumable cache.",
        discussion: """
        DeepfakeBench parity by default: 32 frames per video spread evenly, faces by MTCNN, 5-point alignment, 1.3× margin, 256 px. Each item goes into CACHE/items/<id>/ and appears only when complete, so an interrupted run resumes where it stopped. CACHE/faces.jsonl lists every face crop with the sample's label, method, dataset, video id, identity, split and frame index. Items without a face or that fail to decode are reported at the end; the run goes on.

        Example:
          forensight prepare ffpp.jsonl --cache cache/ffpp
        """)

    @Argument(help: "A manifest written by `forensight import`.")
    var manifest: String

    @Option(help: "The cache folder.")
    var cache: String

    @Option(help: "Frames sampled per video.")
    var frames = 32

    @Option(help: "Crop side in pixels.")
    var size = 256

    @Option(help: "Crop side relative to the face.")
    var margin: Float = 1.3

    @Option(help: "Faces kept per frame: largest, or half-of-largest.")
    var select: FaceSelection = .largest

    @Option(help: "aligned (5-point similarity) or box.")
    var mode: CropMode = .aligned

    func run() throws {
        let started = Date()
        let samples: Manifest
        do { samples = try Manifest.read(from: manifest) } catch { throw fail("\(error)") }
        let detector: MTCNN
        do { detector = try MTCNN() } catch { throw fail("\(error)") }
        let reader = MediaFaceReader(detector: detector, extraction: FaceExtractionOptions(selection: select),
                                     cropper: FaceCropper(size: size, margin: margin, mode: mode), sampling: .uniform(count: frames))
        let faceCache = FaceCache(root: cache, reader: reader)
        var bar = ProgressBar("prepare", total: samples.count)
        var cached = 0, skipped = 0, noFace: [String] = [], failed: [String] = []
        for (i, sample) in samples.enumerated() {
            switch faceCache.prepare(sample) {
            case .cached: cached += 1
            case .skipped: skipped += 1
            case .noFace: noFace.append(sample.path)
            case .failed(let reason): failed.append(reason)
            }
            bar.update(i + 1)
        }
        bar.finish()
        do {
            let faces = try faceCache.faceManifest(for: samples)
            try faces.write(to: cache + "/faces.jsonl")
            note(String(format: "prepare: %d items (%d new, %d already cached), %d without a face, %d failed; %d face crops; %.1f s",
                        samples.count, cached + noFace.count, skipped, noFace.count, failed.count, faces.count, Date().timeIntervalSince(started)))
        } catch { throw fail("\(cache)/faces.jsonl: \(error)") }
        for path in noFace.prefix(20) { note("forensight: \(path): no face found") }
        for reason in failed.prefix(20) { note("forensight: \(reason)") }
        if !failed.isEmpty && failed.count == samples.count { throw ExitCode(1) }
    }
}
