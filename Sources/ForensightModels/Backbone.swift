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

extension EfficientNetLite: Backbone {
    public var featureWidth: Int { config.headChannels }
    public var layerCount: Int { blocks.count }

    public func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor] {
        precondition(layers.allSatisfy { (0..<blocks.count).contains($0) }, "EfficientNet-Lite has blocks 0..<\(blocks.count)")
        guard let deepest = layers.max() else { return [:] }
        var out: [Int: Tensor] = [:]
        var h = convStem.withBatchNorm(bn0, activation: .relu6, x)
        for (i, block) in blocks.prefix(deepest + 1).enumerated() {
            h = block(h)
            if layers.contains(i) { out[i] = h }
        }
        return out
    }
}

extension VisionTransformer: Backbone {
    public var featureWidth: Int { config.width }
    public var layerCount: Int { blocks.count }

    public func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor] {
        precondition(layers.allSatisfy { (0..<blocks.count).contains($0) }, "this ViT has blocks 0..<\(blocks.count)")
        guard let deepest = layers.max() else { return [:] }
        var out: [Int: Tensor] = [:]
        var h = embeddedTokens(x)
        for (i, block) in blocks.prefix(deepest + 1).enumerated() {
            h = block(h)
            if layers.contains(i) { out[i] = h }
        }
        return out
    }
}
