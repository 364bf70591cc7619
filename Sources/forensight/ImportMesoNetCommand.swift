import ArgumentParser
import Foundation
import ForensightTensor
import ForensightNN
import ForensightCheckpoint
import ForensightModels
import ForensightDetect

/// `forensight models import mesonet`: the MesoNet authors' Keras weights (HDF5) as a Forensight detector file.
struct ImportMesoNet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesonet",
        abstract: "Convert the MesoNet authors' Keras weights (Meso4 or MesoInception4, .h5) to a detector file.",
        discussion: """
        Reads a Keras HDF5 weight file as written by model.save_weights (or model.save) for the authors' Meso4 or MesoInception4 (DariusAf/MesoNet: Meso4_DF.h5, Meso4_F2F.h5, MesoInception_DF.h5, MesoInception_F2F.h5). The HDF5 file is read by Forensight itself (no libhdf5 needed). The architecture comes from the layers (4 convolutions: meso4, 16: mesoinception4), the input side from the first dense layer (256 px for the authors' weights); every layer must be there with Keras's shape, or nothing is written.

        Kernels are converted to Forensight's layout (HWIO → OIHW convolutions, (in, out) → (out, in) dense layers, channel-last → channel-first flatten). The authors' sigmoid gives P(real) (Keras's flow_from_directory numbers the folders alphabetically: df/f2f = 0, real = 1), so the last layer is negated to give the logit of fake; --output-means fake keeps it for weights trained the other way round.

        The output is a detector file (architecture meso4 or mesoinception4, 256 px aligned crops scaled to 0…1, threshold 0.5, uncalibrated) that detect, evaluate and embed take with --model.

        Examples:
          forensight models import mesonet Meso4_DF.h5 --out ~/.cache/forensight/weights/meso4-df.safetensors
          forensight models import mesonet MesoInception_F2F.h5 --architecture mesoinception4 --out mesoinception-f2f.safetensors
        """)

    @Argument(help: "The Keras HDF5 weight file (.h5).")
    var weights: String

    @Option(help: "The detector file to write (.safetensors).")
    var out: String

    @Option(help: "The architecture the file must hold: meso4 or mesoinception4 (default: whichever it holds).")
    var architecture: String?

    @Option(help: "What the Keras model's sigmoid output means: real (the authors' weights) or fake.")
    var outputMeans: String = "real"

    @Option(help: "The model id in the card (default: the file's name without extension).")
    var id: String?

    func run() throws {
        if let architecture, !MesoNetDetector.architectures.contains(architecture) {
            throw fail("--architecture must be meso4 or mesoinception4, not \(architecture)", code: 2)
        }
        guard let output = MesoNetKerasWeights.Output(rawValue: outputMeans) else {
            throw fail("--output-means must be real or fake, not \(outputMeans)", code: 2)
        }
        let imported: MesoNetKerasWeights
        do {
            imported = try MesoNetKerasWeights(try KerasWeightFile(path: weights), architecture: architecture, output: output)
        } catch { throw fail("\(error)") }
        let name = ((weights as NSString).lastPathComponent as NSString).deletingPathExtension
        var card = DetectorCard(id: id ?? name, architecture: imported.architecture)
        (card.inputSize, card.pixelScale, card.mean, card.std) = (imported.inputSize, 1, [0, 0, 0], [1, 1, 1])
        card.notes = "Imported from the Keras weights \((weights as NSString).lastPathComponent) (MesoNet, Afchar et al. 2018) "
            + "by forensight models import mesonet; sigmoid output of the Keras model = P(\(output.rawValue))."
        do {
            let detector = try MesoNetDetector(card: card)
            _ = try detector.module.loadStateDict(imported.tensors, strict: true)
            detector.module.eval()
            try detector.save(to: out, dtype: .f32)
        } catch { throw fail("\(out): \(error)") }
        let count = imported.tensors.values.reduce(0) { $0 + $1.count }
        note("wrote \(out): \(imported.architecture) from \((weights as NSString).lastPathComponent), \(imported.inputSize) px, "
             + "\(imported.tensors.count) tensors, \(count) values, output = P(\(output.rawValue)) in Keras")
    }
}
