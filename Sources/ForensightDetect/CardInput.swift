import Foundation
import ForensightTensor
import ForensightMedia

extension DetectorCard {
    /// The network input for face crops: [N, 3, inputSize, inputSize], resized (the card's `interpolation`, bilinear
    /// without one) and normalised per the card: (pixel · pixelScale / 255 − mean) / std, or (pixel − mean) / std
    /// without a `pixelScale`. Every face-crop network in the registry is fed through this one function.
    public func inputTensor(_ faces: [RGBImage]) -> Tensor {
        let s = inputSize
        let out = Tensor.zeros([faces.count, 3, s, s])
        let method = interpolation ?? .bilinear
        let scale = pixelScale.map { $0 / 255 }
        for (n, face) in faces.enumerated() {
            let image = face.width == s && face.height == s ? face : face.resized(width: s, height: s, method: method)
            let base = out.data + n * 3 * s * s
            image.pixels.withUnsafeBufferPointer { px in
                for c in 0..<3 {
                    let (m, inv) = (mean[c], 1 / std[c])
                    let plane = base + c * s * s
                    if let scale {
                        for i in 0..<(s * s) { plane[i] = (Float(px[3 * i + c]) * scale - m) * inv }
                    } else {
                        for i in 0..<(s * s) { plane[i] = (Float(px[3 * i + c]) - m) * inv }
                    }
                }
            }
        }
        return out
    }

    /// One logit per face crop, in batches of `batchSize`, from `logits` (a prepared input batch → one logit per row).
    /// With the card's `flipAverage` each crop's logit is the mean of its own and its mirror image's, both in one pass.
    public func faceLogits(_ faces: [RGBImage], batchSize: Int, logits: (Tensor) -> [Float]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(faces.count)
        var start = 0
        while start < faces.count {
            let batch = Array(faces[start..<min(start + batchSize, faces.count)])
            if flipAverage == true {
                // The crops and their mirror images in one forward pass (a batch of one crop costs nearly a pass).
                let both = logits(inputTensor(batch + batch.map { ImageGeometry.flipHorizontal($0) }))
                out += batch.indices.map { (both[$0] + both[batch.count + $0]) / 2 }
            } else {
                out += logits(inputTensor(batch))
            }
            start += batchSize
        }
        return out
    }
}
