import Foundation

/// The weights of a Keras model saved to HDF5 by `model.save_weights(...)` (Keras 2 and tf.keras) or inside
/// `model.save(...)` (the `model_weights` group), read with `HDF5File`.
///
/// Layout: the root (or `model_weights`) has an attribute `layer_names` listing every layer in the model's order; each
/// layer is a group of that name whose attribute `weight_names` lists its weights (e.g. `conv2d_1/kernel:0`), each a
/// dataset at that path inside the layer's group. Layers without weights (pooling, dropout, …) have an empty list.
public struct KerasWeightFile {
    /// One weight array of a layer.
    public struct Weight {
        /// The weight's name in the file, e.g. `conv2d_1/kernel:0`.
        public var name: String
        /// Its short name: the last path component without the `:0` suffix, e.g. `kernel`, `moving_mean`.
        public var shortName: String
        /// Keras's shape (HWIO for convolution kernels, (in, out) for dense kernels).
        public var shape: [Int]
        /// Row-major values.
        public var values: [Float]
    }

    /// One layer: its name and its weights in the file's order (empty for layers without weights).
    public struct Layer {
        public var name: String
        public var weights: [Weight]

        /// The weight whose short name is `shortName`, if any.
        public func weight(_ shortName: String) -> Weight? { weights.first { $0.shortName == shortName } }
    }

    /// The path it was read from.
    public let path: String
    /// Every layer listed in `layer_names`, in that order.
    public let layers: [Layer]
    /// The `keras_version` and `backend` attributes, where present.
    public let kerasVersion: String?, backend: String?

    /// Reads the weight file at `path`; a file that is not HDF5, or not laid out by Keras, is a one-line error.
    public init(path: String) throws {
        self.path = path
        let file = try HDF5File(path: path)
        var group = file.root
        var attributes = try group.attributes()
        if attributes["layer_names"] == nil, let weights = try group.child("model_weights") {
            group = weights
            attributes = try group.attributes()
        }
        guard let names = attributes["layer_names"]?.stringList else {
            throw HDF5Error("\(path): not a Keras weight file (no layer_names attribute at the root or in model_weights; was it written by model.save_weights?)")
        }
        kerasVersion = attributes["keras_version"]?.stringList?.first
        backend = attributes["backend"]?.stringList?.first
        var layers: [Layer] = []
        for name in names {
            guard let layerGroup = try group.child(name) else {
                throw HDF5Error("\(path): Keras layer \(name) is listed in layer_names but has no group")
            }
            let weightNames = try layerGroup.attributes()["weight_names"]?.stringList ?? []
            var weights: [Weight] = []
            for weightName in weightNames {
                var dataset = layerGroup
                for part in weightName.split(separator: "/") {
                    guard let next = try dataset.child(String(part)) else {
                        throw HDF5Error("\(path): weight \(weightName) of Keras layer \(name) is listed but missing")
                    }
                    dataset = next
                }
                let (values, shape) = try dataset.readFloats()
                var short = String(weightName.split(separator: "/").last ?? "")
                if let colon = short.lastIndex(of: ":") { short = String(short[..<colon]) }
                weights.append(Weight(name: weightName, shortName: short, shape: shape, values: values))
            }
            layers.append(Layer(name: name, weights: weights))
        }
        self.layers = layers
    }

    /// Keras's creation number of a layer name: `conv2d_7` → 7, `conv2d` → 0 (tf.keras leaves the first unnumbered;
    /// Keras 2.1 numbers from 1). Layers of one kind are numbered in the order the model's code created them.
    public static func creationNumber(_ name: String) -> Int {
        guard let underscore = name.lastIndex(of: "_"), let n = Int(name[name.index(after: underscore)...]) else { return 0 }
        return n
    }
}
