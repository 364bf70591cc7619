import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia

/// A face-crop detector that can show the features its decision rests on: the penultimate activations for each crop
/// (what its last layer turns into a logit). `forensight embed` lays them out in 2-D with t-SNE, so one can see how a
/// detector separates real from fake, and each method from the others.
public protocol FeatureDetector: Detector {
    /// The width of `features`' vectors.
    var featureWidth: Int { get }
    /// The penultimate features of each face crop, in evaluation mode (no test-time averaging), in batches.
    func features(_ faces: [RGBImage], batchSize: Int) -> [[Float]]
}

extension FeatureDetector {
    /// Splits `faces` into batches, runs `forward` (input tensor → [N, featureWidth]) on each without recording
    /// gradients, and returns one row per face.
    func batchedFeatures(_ faces: [RGBImage], batchSize: Int, forward: (Tensor) -> Tensor) -> [[Float]] {
        var out: [[Float]] = []
        var start = 0
        while start < faces.count {
            let batch = Array(faces[start..<min(start + batchSize, faces.count)])
            let f = withoutGrad { forward(card.inputTensor(batch)) }
            let width = f.count / max(batch.count, 1)
            let values = f.scalars
            out += (0..<batch.count).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
            start += batchSize
        }
        return out
    }
}

extension DeepfakeDetector: FeatureDetector {
    /// EfficientNet-Lite's pooled head: 1,280 features.
    public var featureWidth: Int { network.config.headChannels }

    public func features(_ faces: [RGBImage], batchSize: Int = 16) -> [[Float]] {
        batchedFeatures(faces, batchSize: batchSize) { network.features($0) }
    }
}

extension MesoNetDetector: FeatureDetector {
    /// MesoNet's 16 classifier features (after the leaky ReLU).
    public var featureWidth: Int { 16 }

    public func features(_ faces: [RGBImage], batchSize: Int = 16) -> [[Float]] {
        batchedFeatures(faces, batchSize: batchSize) { network.features($0) }
    }
}
