import Foundation
import ForensightTensor
import ForensightMedia

/// Why the detector scored a face as it did: Grad-CAM heatmaps (Selvaraju et al., ICCV 2017) on the last feature
/// map, and overlays on the crop.
extension DeepfakeDetector {
    /// Grad-CAM of the fake logit for each face crop: for the final 1280-channel feature map A (7×7 at 224 px),
    /// channel weights w_c = mean over positions of ∂logit/∂A_c, map = ReLU(Σ_c w_c·A_c), scaled to a peak of 1
    /// (all zeros when nothing pushes towards FAKE). Returns one row-major map per crop with its side length.
    public func gradCAM(_ faces: [RGBImage]) -> (maps: [[Float]], side: Int) {
        let input = inputTensor(faces)
        let features = withoutGrad { network.featureMap(input) }.detached()
        features.requiresGrad = true
        // The head runs on detached copies of its weights (dropout is the identity in evaluation), so the backward
        // pass writes only to this call's own feature tensor: no shared parameter gradient is touched, and Grad-CAM
        // can run beside detection or another Grad-CAM on the same detector.
        let head = network.fc
        let logits = Tensor.linear(features.adaptiveAvgPool2d((1, 1)).flattened(from: 1), weight: head.weight.detached(),
                                   bias: head.bias?.detached())
        logits.sum().backward()
        let (n, c, h, w) = (features.shape[0], features.shape[1], features.shape[2], features.shape[3])
        let grad = features.grad!
        var maps: [[Float]] = []
        for i in 0..<n {
            var map = [Float](repeating: 0, count: h * w)
            for ch in 0..<c {
                let base = (i * c + ch) * h * w
                var weight: Float = 0
                for p in 0..<(h * w) { weight += grad.data[base + p] }
                weight /= Float(h * w)
                for p in 0..<(h * w) { map[p] += weight * features.data[base + p] }
            }
            let peak = map.map { max($0, 0) }.max() ?? 0
            maps.append(map.map { peak > 0 ? max($0, 0) / peak : 0 })
        }
        return (maps, h)
    }
}

/// Colour overlays of heatmaps on face crops.
public enum HeatmapOverlay {
    /// `face` with `map` (side × side, values 0…1) upsampled bilinearly, coloured from transparent blue to red and
    /// blended at up to `opacity`.
    public static func render(_ face: RGBImage, map: [Float], side: Int, opacity: Float = 0.55) -> RGBImage {
        let plane = Tensor(map, shape: [1, 1, side, side]).upsampleBilinear((face.height, face.width)).scalars
        var pixels = face.pixels
        for i in 0..<face.pixelCount {
            let v = min(max(plane[i], 0), 1)
            // Blue → yellow → red as v grows; weight grows with v so cold areas keep the face visible.
            let (r, g, b): (Float, Float, Float) = v < 0.5 ? (2 * v * 255, 2 * v * 255, (1 - 2 * v) * 255) : (255, (2 - 2 * v) * 255, 0)
            let a = opacity * (0.25 + 0.75 * v)
            pixels[3 * i] = UInt8(min(max((1 - a) * Float(face.pixels[3 * i]) + a * r, 0), 255).rounded())
            pixels[3 * i + 1] = UInt8(min(max((1 - a) * Float(face.pixels[3 * i + 1]) + a * g, 0), 255).rounded())
            pixels[3 * i + 2] = UInt8(min(max((1 - a) * Float(face.pixels[3 * i + 2]) + a * b, 0), 255).rounded())
        }
        return RGBImage(width: face.width, height: face.height, pixels: pixels)
    }
}
