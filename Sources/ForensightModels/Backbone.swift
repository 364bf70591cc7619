import ForensightTensor
import ForensightNN

/// A feature extractor that detectors are built on: pooled features for a head, and the intermediate outputs of its
/// layers for methods that read more than the last one (multi-layer CLIP adapters, RFFR's residual branches, t-SNE of
/// any layer).
///
/// Layers are numbered from 0 in the order the input meets them: EfficientNet-Lite's MBConv blocks (feature maps
/// [B, C, H, W]), a ViT's transformer blocks (token sequences [B, tokens, width], class token first).
public protocol Backbone: Module {
    /// Width of `features`.
    var featureWidth: Int { get }
    /// Number of numbered layers.
    var layerCount: Int { get }
    /// Pooled features: [B, 3, H, W] → [B, featureWidth].
    func features(_ x: Tensor) -> Tensor
    /// The outputs of the layers in `layers` (each in 0..<layerCount), by layer, from one forward pass that stops
    /// after the deepest one asked for.
    func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor]
}

/// Runs layers 0...max(`layers`) in order from `start()` (`apply(i, h)` is layer i) and keeps the outputs of `layers`.
private func collectIntermediates(_ layers: Set<Int>, count: Int, start: () -> Tensor, apply: (Int, Tensor) -> Tensor) -> [Int: Tensor] {
    precondition(layers.allSatisfy { (0..<count).contains($0) }, "layers are numbered 0..<\(count)")
    guard let deepest = layers.max() else { return [:] }
    var out: [Int: Tensor] = [:]
    var h = start()
    for i in 0...deepest {
        h = apply(i, h)
        if layers.contains(i) { out[i] = h }
    }
    return out
}

extension EfficientNetLite: Backbone {
    public var featureWidth: Int { config.headChannels }
    public var layerCount: Int { blocks.count }

    public func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor] {
        collectIntermediates(layers, count: blocks.count, start: { convStem.withBatchNorm(bn0, activation: .relu6, x) }) { blocks[$0]($1) }
    }
}

extension VisionTransformer: Backbone {
    public var featureWidth: Int { config.width }
    public var layerCount: Int { blocks.count }

    public func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor] {
        collectIntermediates(layers, count: blocks.count, start: { embeddedTokens(x) }) { blocks[$0]($1) }
    }
}

extension CLIPVisionEncoder: Backbone {
    public var featureWidth: Int { config.featureWidth }
    public var layerCount: Int { blocks.count }

    /// Each block's output tokens [B, tokens, width] (class token first), before `ln_post`: Hugging Face's
    /// `hidden_states[i + 1]`.
    public func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor] {
        collectIntermediates(layers, count: blocks.count, start: { embeddedTokens(x) }) { blocks[$0]($1) }
    }
}
