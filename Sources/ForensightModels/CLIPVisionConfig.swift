import ForensightNN

/// Hyper-parameters of a CLIP image encoder (Radford et al., 2021, https://arxiv.org/abs/2103.00020): a ViT with a
/// bias-free patch convolution, `ln_pre` before the blocks, LayerNorm ε 1e-5, `ln_post` on the class token and a
/// linear projection to the joint embedding.
public struct CLIPVisionConfig: Sendable, Equatable {
    public var imageSize: Int, patchSize: Int, width: Int, layers: Int, heads: Int, mlpWidth: Int
    /// Width of the joint embedding the class token is projected to; nil when there is no projection (a Hugging
    /// Face `CLIPVisionModel`), and the features are then `ln_post`'s output.
    public var outputDim: Int?
    /// QuickGELU (x·σ(1.702x)) for OpenAI's weights, exact GELU for most open_clip trainings.
    public var activation: Activation
    public var layerNormEps: Float

    public init(imageSize: Int, patchSize: Int, width: Int, layers: Int, heads: Int, mlpWidth: Int? = nil,
                outputDim: Int?, activation: Activation = .quickGelu, layerNormEps: Float = 1e-5) {
        (self.imageSize, self.patchSize, self.width, self.layers, self.heads) = (imageSize, patchSize, width, layers, heads)
        (self.mlpWidth, self.outputDim, self.activation, self.layerNormEps) = (mlpWidth ?? 4 * width, outputDim, activation, layerNormEps)
    }

    /// OpenAI ViT-B/16 (224 px, 512-wide embedding).
    public static let vitB16 = CLIPVisionConfig(imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12, outputDim: 512)
    /// OpenAI ViT-B/32 (224 px, 512-wide embedding).
    public static let vitB32 = CLIPVisionConfig(imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, outputDim: 512)
    /// OpenAI ViT-L/14 (224 px, 768-wide embedding).
    public static let vitL14 = CLIPVisionConfig(imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16, outputDim: 768)

    /// Patches per side.
    public var grid: Int { imageSize / patchSize }
    /// Patch tokens plus the class token.
    public var tokens: Int { grid * grid + 1 }
    /// Width of `CLIPVisionEncoder.features`.
    public var featureWidth: Int { outputDim ?? width }

    /// The released variant these sizes are, if any ("ViT-B/16", …), ignoring the activation.
    public var variantName: String? {
        let named: [(String, CLIPVisionConfig)] = [("ViT-B/16", .vitB16), ("ViT-B/32", .vitB32), ("ViT-L/14", .vitL14)]
        return named.first { _, c in
            (c.patchSize, c.width, c.layers, c.heads, c.mlpWidth, c.outputDim) == (patchSize, width, layers, heads, mlpWidth, outputDim)
        }.map { imageSize == 224 ? $0.0 : "\($0.0)@\(imageSize)" }
    }

    /// The same network as a `ViTConfig` (the compiled inference path's description; `classes` is the feature width).
    var vit: ViTConfig {
        ViTConfig(imageSize: imageSize, patchSize: patchSize, width: width, depth: layers, heads: heads,
                  mlpRatio: max(1, mlpWidth / width), classes: featureWidth, layerNormEps: layerNormEps, activation: activation)
    }

    /// The configuration as safetensors metadata (`clip.*` entries), as `forensight models import clip` writes it.
    public var metadata: [String: String] {
        var m = ["clip.image_size": "\(imageSize)", "clip.patch_size": "\(patchSize)", "clip.width": "\(width)",
                 "clip.layers": "\(layers)", "clip.heads": "\(heads)", "clip.mlp_width": "\(mlpWidth)",
                 "clip.activation": activation.rawValue, "clip.layer_norm_eps": "\(layerNormEps)"]
        if let outputDim { m["clip.output_dim"] = "\(outputDim)" }
        return m
    }

    /// Reads `metadata`'s entries back; nil when one is missing or malformed.
    public init?(metadata m: [String: String]) {
        func int(_ key: String) -> Int? { m["clip." + key].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } }
        guard let imageSize = int("image_size"), let patchSize = int("patch_size"), let width = int("width"),
              let layers = int("layers"), let heads = int("heads"), let mlpWidth = int("mlp_width"),
              let activation = m["clip.activation"].flatMap(Activation.init(rawValue:)),
              let eps = m["clip.layer_norm_eps"].flatMap(Float.init) else { return nil }
        let outputDim = int("output_dim")
        if m["clip.output_dim"] != nil && outputDim == nil { return nil }
        self.init(imageSize: imageSize, patchSize: patchSize, width: width, layers: layers, heads: heads, mlpWidth: mlpWidth,
                  outputDim: outputDim, activation: activation, layerNormEps: eps)
    }
}
