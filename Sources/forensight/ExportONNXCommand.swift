import ArgumentParser
import Foundation
import ForensightModels
import ForensightDetect

/// `forensight models export-onnx`: a detector file's network as an ONNX graph (input tensor → logit), its card in the
/// graph's metadata.
struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx",
        abstract: "Write a detector's network as an ONNX model (input tensor to logit), its card in the metadata.",
        discussion: """
        The graph takes the network's input tensor [batch, 3, side, side] (the crop already resized and normalised as the card says) and gives the raw logit [batch, 1] (P(fake) = sigmoid, before the card's calibration), in evaluation mode (BatchNorm with running statistics, no dropout). The card is stored as the metadata entry forensight.card, so the preprocessing travels with the file. Opset 13, IR version 8; ONNX Runtime gives our logits within 1e-4 (ONNXExportTests).

        Exported architectures: meso4 and mesoinception4.

        Example:
          forensight models export-onnx ~/.cache/forensight/weights/meso4-df.safetensors --out meso4-df.onnx
        """)

    @Argument(help: "A detector file (.safetensors with a forensight.card).")
    var model: String

    @Option(help: "The ONNX file to write.")
    var out: String

    func run() throws {
        let detector: any Detector
        do { detector = try DetectorRegistry.load(path: model) } catch { throw fail("\(error)") }
        guard let meso = detector as? MesoNetDetector else {
            throw fail("\(model): a \(detector.card.architecture) detector cannot be exported to ONNX yet (export-onnx takes meso4 and mesoinception4)")
        }
        meso.network.eval()
        let bytes = MesoNetONNX.export(meso.network, metadata: ["forensight.card": meso.card.json, "forensight.source": (model as NSString).lastPathComponent])
        do { try bytes.write(to: URL(fileURLWithPath: out), options: .atomic) } catch { throw fail("\(out): cannot be written (\(error.localizedDescription))") }
        note("wrote \(out): \(meso.card.architecture) as ONNX (opset 13), input [batch, 3, \(meso.network.inputSize), \(meso.network.inputSize)], output logits [batch, 1], \(bytes.count) bytes")
    }
}
