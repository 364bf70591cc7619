import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightTraining
import ForensightOptim

/// Training throughput of the default detector's network: one EfficientNet-Lite0 step (forward, BCE loss, backward,
/// AdamW update) on random images.
public enum TrainingBench {
    /// Milliseconds per training step and images per second, for each input size.
    public static func run(batch: Int, sizes: [Int], runs: Int, frozenBlocks: Int = 0, log: (String) -> Void = { _ in }) -> [BenchRow] {
        var config = EfficientNetLiteConfig.lite0
        config.classes = 1
        let model = EfficientNetLite(config)
        model.train()
        if frozenBlocks > 0 { model.freezeStem(blocks: frozenBlocks) }
        let optimizer = AdamW(model.trainableParameters(), learningRate: 1e-4)
        var rng = SeededRandom(seed: 1)
        var rows: [BenchRow] = []
        for size in sizes {
            log("training step \(batch)×\(size)²")
            let x = Tensor.randn([batch, 3, size, size], using: &rng)
            let targets = Tensor((0..<batch).map { Float($0 % 2) }, shape: [batch, 1])
            let ms = medianMilliseconds(runs: runs) {
                optimizer.zeroGrad()
                let loss = Tensor.binaryCrossEntropyWithLogits(model(x), targets: targets)
                loss.backward()
                optimizer.step()
            }
            rows.append(BenchRow(name: "Lite0 train step b\(batch) \(size)px", oursMs: ms, peerMs: nil, peer: "–",
                                 note: String(format: "%.1f images/s", Double(batch) * 1000 / ms)))
        }
        return rows
    }
}
