import ArgumentParser
import Foundation
import ForensightModels
import ForensightDetect

/// `forensight export MODEL --onnx FILE`: a detector file's networks as ONNX graphs (input tensor → logit), each with
/// its card in the graph's metadata; an ensemble or a fusion gives one graph per member network.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a detector's networks as ONNX models (input tensor to logit), each with its card in the metadata.",
        discussion: """
        Each graph takes the network's input tensor and gives the raw logit [batch, 1] (before the card's calibration), in evaluation mode (BatchNorm with running statistics, no dropout):
          efficientnet-lite0/-lite2  the normalised crop [batch, 3, side, side] (resize and normalise as the card says); with the card's flip_average the graph averages the crop's and its mirror image's logits, as detect does
          meso4, mesoinception4      the normalised crop [batch, 3, side, side]
          mouth-motion-mlp           the window features [batch, 47] of MouthMotionFeatures (computed from FaceMesh tracks outside the graph)
          m2tr-efficientnet-lite0    the normalised crop [batch, 3, 224, 224]; the frequency filter is written as one MatMul per channel (it is linear for a fixed map size)
          rffr-efficientnet-lite0    two inputs, the same face crop twice: crop [batch, 3, side, side] normalised as the card says, and working [batch, 3, W, W] at the inpainter's working size W (128 for the default), pixels / 127.5 − 1; the frozen inpainter, its fixed masks, the residual 4 · (x̂ − x) and both branches are inside the graph (with flip_average, both inputs are mirrored in the graph)
        The card is stored as the metadata entry forensight.card, so the preprocessing travels with the file. Opset 13, IR version 8; ONNX Runtime gives our logits within 1e-4 (ONNXExportTests).

        An ensemble or a fusion is several networks: each is written to its own file, FILE with its member number and id before the extension (default.onnx → default.0-sbi-lite2-256.onnx, …), with the member's card as forensight.card and the whole detector's card (the stacking weights, the fusion rule, the thresholds) as forensight.parent_card. A member network with no exporter yet (forgelens-efficientnet-lite0, clip-adapter-efficientnet-lite0, dfd-fcg-efficientnet-lite0) is skipped with a line on stderr and the others are written; a file whose networks none can be exported exits 1. Every network of the default model exports.

        `forensight models export-onnx MODEL --out FILE` is the same command under its former name.

        Examples:
          forensight export models/sbi-efficientnet-lite0.safetensors --onnx sbi.onnx
          forensight export models/ensemble-default.safetensors --onnx default.onnx      five files, one per network
          forensight export ~/.cache/forensight/weights/meso4-df.safetensors --onnx meso4-df.onnx
          python3 scripts/reference/run_onnx.py sbi.onnx in.safetensors out.safetensors  run it in ONNX Runtime
        """)

    @Argument(help: "A detector file (.safetensors with a forensight.card).")
    var model: String

    @Option(help: ArgumentHelp("The ONNX file to write (for several networks, the pattern of their names).", valueName: "file"))
    var onnx: String

    func run() throws { try ONNXExport.write(model: model, to: onnx) }
}

/// `forensight models export-onnx MODEL --out FILE`: the former name of `forensight export MODEL --onnx FILE`, kept as
/// an alias (the same function does the work).
struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx",
        abstract: "Alias of `forensight export MODEL --onnx FILE`: a detector's networks as ONNX models.",
        discussion: """
        The same export as `forensight export MODEL --onnx FILE` (see `forensight export --help` for what each graph takes and gives), under its former name.

        Examples:
          forensight models export-onnx models/sbi-efficientnet-lite0.safetensors --out sbi.onnx
          same as: forensight export models/sbi-efficientnet-lite0.safetensors --onnx sbi.onnx
        """)

    @Argument(help: "A detector file (.safetensors with a forensight.card).")
    var model: String

    @Option(help: "The ONNX file to write (for several networks, the pattern of their names).")
    var out: String

    func run() throws { try ONNXExport.write(model: model, to: out) }
}

/// The ONNX export behind `forensight export --onnx` and `forensight models export-onnx`.
enum ONNXExport {
    /// Writes the networks of the detector file `model` as ONNX graphs: to `out` for a single network, else to `out`
    /// with each member's number and id before the extension. Throws the exit status after a one-line error.
    static func write(model: String, to out: String) throws {
        let detector: any Detector
        do { detector = try DetectorRegistry.load(path: model) } catch { throw fail("\(error)") }
        let networks = Self.networks(of: detector)
        let takes = "ONNX export takes efficientnet-lite0, efficientnet-lite2, meso4, mesoinception4, m2tr-efficientnet-lite0, mouth-motion-mlp and rffr-efficientnet-lite0, alone or in ensembles and fusions"
        if networks.count == 1, let only = networks.first, !Self.exportable(only.detector) {
            throw fail("\(model): a \(only.detector.card.architecture) network cannot be exported to ONNX yet (\(takes))")
        }
        guard networks.contains(where: { Self.exportable($0.detector) }) else {
            throw fail("\(model): none of its \(networks.count) networks can be exported to ONNX yet (\(takes))")
        }
        let source = (model as NSString).lastPathComponent
        for (number, part) in networks.enumerated() {
            guard Self.exportable(part.detector) else {
                // The others still make sense alone: they reproduce the scores of the routes that do not use it.
                note("skipped \(number)-\(part.id): a \(part.detector.card.architecture) network has no ONNX exporter yet; the graphs written do not reproduce scores that use it")
                continue
            }
            var metadata = ["forensight.card": part.detector.card.json, "forensight.source": source]
            let path: String
            if networks.count == 1 {
                path = out
            } else {
                metadata["forensight.parent_card"] = detector.card.json
                let ext = (out as NSString).pathExtension
                let stem = ext.isEmpty ? out : (out as NSString).deletingPathExtension
                path = "\(stem).\(number)-\(part.id)" + (ext.isEmpty ? ".onnx" : ".\(ext)")
            }
            let bytes = Self.graph(of: part.detector, metadata: metadata)!
            do { try bytes.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw fail("\(path): cannot be written (\(error.localizedDescription))")
            }
            note("wrote \(path): \(part.detector.card.architecture) as ONNX (opset 13), \(bytes.count) bytes")
        }
    }

    /// The single networks of `detector` with the ids that name their files: itself, or its members (recursively).
    static func networks(of detector: any Detector) -> [(id: String, detector: any Detector)] {
        let direct = Models.Extract.directMembers(of: detector)
        return direct.isEmpty ? [(detector.card.id, detector)] : direct.flatMap { networks(of: $0) }
    }

    /// Whether a single network's detector has an ONNX exporter.
    static func exportable(_ detector: any Detector) -> Bool {
        detector is DeepfakeDetector || detector is MesoNetDetector || detector is MouthMotionDetector || detector is RFFRDetector || detector is M2TRDetector
    }

    /// The ONNX bytes of one network's detector, or nil for an architecture with no exporter.
    static func graph(of detector: any Detector, metadata: [String: String]) -> Data? {
        switch detector {
        case let d as DeepfakeDetector:
            d.network.eval()
            return EfficientNetLiteONNX.export(d.network, side: d.card.inputSize, flipAverage: d.card.flipAverage == true, metadata: metadata)
        case let d as MesoNetDetector:
            d.network.eval()
            return MesoNetONNX.export(d.network, metadata: metadata)
        case let d as MouthMotionDetector:
            d.network.eval()
            return MouthMotionNetONNX.export(d.network, metadata: metadata)
        case let d as M2TRDetector:
            d.network.eval()
            return M2TRNetworkONNX.export(d.network, flipAverage: d.card.flipAverage == true, metadata: metadata)
        case let d as RFFRDetector:
            d.network.eval()
            return RFFRNetworkONNX.export(d.network, side: d.card.inputSize, flipAverage: d.card.flipAverage == true, metadata: metadata)
        default:
            return nil
        }
    }
}
