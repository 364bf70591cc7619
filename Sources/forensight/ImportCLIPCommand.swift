import ArgumentParser
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// `forensight models import clip`: a CLIP image encoder from any of the formats it is published in, checked and
/// converted to Forensight's layout.
struct ImportCLIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "Check a CLIP checkpoint's image encoder and convert it to Forensight's layout.",
        discussion: """
        Reads Hugging Face CLIPVisionModel/CLIPModel weights (model.safetensors or pytorch_model.bin), open_clip state dicts (.bin/.pt or .safetensors) and OpenAI's TorchScript archives (ViT-B-16.pt, ...). The size (patch, width, layers, MLP width, image size, projection) comes from the tensor shapes; a Hugging Face config.json (or NAME.config.json) beside the file gives the heads and the activation. Every vision-tower key must be known and every shape must fit, or nothing is written. The text tower is dropped.

        The output keeps the configuration in its metadata (clip.*), so it loads without options.

        Examples:
          forensight models import clip ViT-B-16.pt --out ~/.cache/forensight/weights/clip_vit_b16.safetensors
          forensight models import clip clip-vit-large-patch14/model.safetensors --out clip_vit_l14.safetensors
          forensight models import clip open_clip_pytorch_model.bin --activation gelu --out clip_laion_b32.safetensors
        """)

    @Argument(help: "The checkpoint: .safetensors, a torch zip/legacy file (.bin, .pt, .pth) or a TorchScript .pt.")
    var checkpoint: String

    @Option(help: "The safetensors file to write.")
    var out: String

    @Option(help: "Attention heads, where the shapes cannot say (default: width / 64, CLIP's head width).")
    var heads: Int?

    @Option(help: "quick_gelu (OpenAI weights) or gelu; required for open_clip state dicts.")
    var activation: String?

    @Option(help: "Stored precision: f32, f16 or bf16.")
    var dtype: String = "f32"

    func run() throws {
        guard let storage = SafetensorsDType(rawValue: dtype.uppercased()) else { throw fail("--dtype must be f32, f16 or bf16", code: 2) }
        var act: Activation?
        if let activation {
            guard let chosen = Activation(rawValue: activation), [.quickGelu, .gelu].contains(chosen) else {
                throw fail("--activation must be quick_gelu or gelu", code: 2)
            }
            act = chosen
        }
        let imported: CLIPCheckpoint
        do { imported = try CLIPCheckpoint(path: checkpoint, heads: heads, activation: act) } catch { throw fail("\(error)") }
        do {
            try imported.write(to: out, dtype: storage, source: (checkpoint as NSString).lastPathComponent)
        } catch { throw fail("\(out): \(error)") }
        let c = imported.config
        let name = c.variantName ?? "custom CLIP ViT"
        note("wrote \(out): \(name) from \(imported.format.rawValue): \(c.imageSize) px, patch \(c.patchSize), width \(c.width), "
             + "\(c.layers) layers, \(c.heads) heads, MLP \(c.mlpWidth), \(c.activation.rawValue), "
             + (c.outputDim.map { "projection to \($0)" } ?? "no projection"))
    }
}
