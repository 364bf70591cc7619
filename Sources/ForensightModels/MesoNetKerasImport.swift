import ForensightTensor
import ForensightCheckpoint

/// The authors' Keras weights of Meso-4 or MesoInception-4 (DariusAf/MesoNet, `Meso4_DF.h5`, `MesoInception_F2F.h5`,
/// …, written by `model.save_weights`) as a state dict of `Meso4` / `MesoInception4`.
///
/// The file's weighted layers are sorted by kind — convolutions (4-D `kernel` + `bias`), BatchNorms (`gamma`, `beta`,
/// `moving_mean`, `moving_variance`), dense layers (2-D `kernel` + `bias`) — and, within a kind, by Keras's creation
/// number (`conv2d_7` → 7), which follows the order of the authors' code; names without numbers keep the file's
/// `layer_names` order. Four convolutions make a Meso-4, sixteen a MesoInception-4 (its Inception branches in
/// `MesoInceptionBlock.convolutionsInKerasOrder`). Layouts are converted: convolution kernels HWIO → OIHW, dense
/// kernels (in, out) → (out, in), and the first dense layer's inputs from Keras's channel-last flatten (h, w, c) to
/// our channel-first one (c, h, w). The input side comes from that layer's width: 16 · (side / 32)² inputs.
public struct MesoNetKerasWeights {
    /// What the Keras model's sigmoid output means. The authors trained with Keras's `flow_from_directory`, whose
    /// classes are the folder names in alphabetical order, so a fake folder (`df`, `f2f`) is class 0 and `real` is
    /// class 1: their output is P(real), and the importer negates the last layer to give Forensight's logit of fake.
    public enum Output: String, CaseIterable, Sendable {
        /// Sigmoid output = P(real) (the authors' released weights).
        case real
        /// Sigmoid output = P(fake) (a model trained with fake as class 1).
        case fake
    }

    /// `meso4` or `mesoinception4`.
    public let architecture: String
    /// The input side the classifier was sized for (256 for the authors' weights).
    public let inputSize: Int
    /// The state dict, under `Meso4` / `MesoInception4` keys.
    public let tensors: [String: Tensor]

    /// Converts `keras`; `architecture` (if given) must be what the file holds.
    public init(_ keras: KerasWeightFile, architecture expected: String? = nil, output: Output = .real) throws {
        let path = keras.path
        func fail(_ message: String) -> HDF5Error { HDF5Error("\(path): \(message)") }
        var convs: [KerasWeightFile.Layer] = [], norms: [KerasWeightFile.Layer] = [], denses: [KerasWeightFile.Layer] = []
        for layer in keras.layers where !layer.weights.isEmpty {
            let names = Set(layer.weights.map(\.shortName))
            if names == ["kernel", "bias"], let kernel = layer.weight("kernel"), kernel.shape.count == 4 {
                convs.append(layer)
            } else if names == ["kernel", "bias"], let kernel = layer.weight("kernel"), kernel.shape.count == 2 {
                denses.append(layer)
            } else if names == ["gamma", "beta", "moving_mean", "moving_variance"] {
                norms.append(layer)
            } else {
                throw fail("Keras layer \(layer.name) has weights \(layer.weights.map(\.shortName).sorted().joined(separator: ", ")), which no MesoNet layer has (not a Meso4/MesoInception4 weight file)")
            }
        }
        func creationOrder(_ layers: [KerasWeightFile.Layer]) -> [KerasWeightFile.Layer] {
            layers.enumerated().sorted {
                (KerasWeightFile.creationNumber($0.element.name), $0.offset) < (KerasWeightFile.creationNumber($1.element.name), $1.offset)
            }.map(\.element)
        }
        (convs, norms, denses) = (creationOrder(convs), creationOrder(norms), creationOrder(denses))
        let found: String
        switch convs.count {
        case 4: found = "meso4"
        case 16: found = "mesoinception4"
        default: throw fail("has \(convs.count) convolution layers: Meso4 has 4 and MesoInception4 16 (not a MesoNet weight file)")
        }
        if let expected, expected != found { throw fail("holds a \(found) (\(convs.count) convolutions), not a \(expected)") }
        guard norms.count == 4 else { throw fail("has \(norms.count) BatchNormalization layers, \(found) has 4 (missing layer?)") }
        guard denses.count == 2 else { throw fail("has \(denses.count) Dense layers, \(found) has 2 (missing layer?)") }
        let rows = denses[0].weight("kernel")!.shape[0]
        let side = Int(Double(rows / 16).squareRoot().rounded())
        guard rows % 16 == 0, side * side * 16 == rows, side > 0 else {
            throw fail("Dense layer \(denses[0].name) takes \(rows) inputs, not 16 · s² for a square feature map (wrong shape)")
        }
        (architecture, inputSize) = (found, side * 32)
        let model: any MesoNetwork = found == "meso4" ? Meso4(inputSize: inputSize) : MesoInception4(inputSize: inputSize)
        let reference = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.0, $0.1.shape) })

        var out: [String: Tensor] = [:]
        func put(_ key: String, _ values: [Float], _ shape: [Int], from layer: KerasWeightFile.Layer, _ weight: KerasWeightFile.Weight) throws {
            guard reference[key] == shape else {
                throw fail("Keras layer \(layer.name) weight \(weight.shortName) of shape \(weight.shape) does not fit \(found) \(key) \(reference[key] ?? []) (wrong shape)")
            }
            out[key] = Tensor(values, shape: shape)
        }
        let convKeys = found == "meso4" ? ["conv1", "conv2", "conv3", "conv4"]
            : ["block1", "block2"].flatMap { block in
                ["branch1", "branch2_reduce", "branch2", "branch3_reduce", "branch3", "branch4_reduce", "branch4"].map { "\(block).\($0)" }
            } + ["conv3", "conv4"]
        for (layer, key) in zip(convs, convKeys) {
            let kernel = layer.weight("kernel")!, bias = layer.weight("bias")!
            let (kh, kw, ci, co) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
            var oihw = [Float](repeating: 0, count: kernel.values.count)
            for y in 0..<kh { for x in 0..<kw { for i in 0..<ci { for o in 0..<co {
                oihw[((o * ci + i) * kh + y) * kw + x] = kernel.values[((y * kw + x) * ci + i) * co + o]
            } } } }
            try put("\(key).weight", oihw, [co, ci, kh, kw], from: layer, kernel)
            try put("\(key).bias", bias.values, bias.shape, from: layer, bias)
        }
        for (index, layer) in norms.enumerated() {
            for (keras, ours) in [("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var")] {
                let w = layer.weight(keras)!
                try put("bn\(index + 1).\(ours)", w.values, w.shape, from: layer, w)
            }
        }
        let sign: Float = output == .real ? -1 : 1
        for (index, layer) in denses.enumerated() {
            let kernel = layer.weight("kernel")!, bias = layer.weight("bias")!
            let (inputs, outputs) = (kernel.shape[0], kernel.shape[1])
            var weight = [Float](repeating: 0, count: kernel.values.count)
            let channels = index == 0 ? 16 : inputs, plane = inputs / channels
            for o in 0..<outputs {
                for c in 0..<channels { for p in 0..<plane {
                    weight[o * inputs + c * plane + p] = kernel.values[(p * channels + c) * outputs + o]
                } }
            }
            let scale: Float = index == 1 ? sign : 1
            try put("fc\(index + 1).weight", weight.map { $0 * scale }, [outputs, inputs], from: layer, kernel)
            try put("fc\(index + 1).bias", bias.values.map { $0 * scale }, bias.shape, from: layer, bias)
        }
        tensors = out
    }
}
