import Foundation
import ForensightTensor
import ONNXProto

/// A writer of ONNX models (`onnx.proto`'s `ModelProto`, IR version 8, default opset 13).
///
/// The messages are swift-protobuf's, generated once from onnx.proto into the ONNXProto target and committed
/// (scripts/reference/generate_onnx_proto.sh regenerates them; the file's header names the onnx version): field numbers,
/// types and the wire format come from a maintained library and the specification itself rather than from code of
/// ours, and a newer onnx.proto is one regeneration away. Only the SwiftProtobuf library is built with the project;
/// the protoc plugin is needed only to regenerate. ONNX Runtime and `onnx.checker` read the result (`ONNXExportTests`).
public struct ONNXGraph {
    /// A node's attribute.
    public enum Attribute {
        case int(Int), ints([Int]), float(Float), string(String)
    }

    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    var counter = 0

    public init() {}

    /// A fresh value name with `prefix`.
    public mutating func name(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)_\(counter)"
    }

    /// Adds a float32 constant (a weight) and returns its name.
    @discardableResult
    public mutating func initializer(_ name: String, _ tensor: Tensor) -> String {
        let bits = tensor.scalars.map { $0.bitPattern.littleEndian }
        initializers.append(Self.tensor(name, dims: tensor.shape, type: .float, raw: bits.withUnsafeBytes { Data($0) }))
        return name
    }

    /// Adds an int64 constant (a shape or an axis list) and returns its name.
    @discardableResult
    public mutating func int64Initializer(_ name: String, _ values: [Int64], shape: [Int]? = nil) -> String {
        let raw = values.map { $0.littleEndian }.withUnsafeBytes { Data($0) }
        initializers.append(Self.tensor(name, dims: shape ?? [values.count], type: .int64, raw: raw))
        return name
    }

    /// A constant tensor with its values as little-endian `raw_data`.
    private static func tensor(_ name: String, dims: [Int], type: Onnx_TensorProto.DataType, raw: Data) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.dims = dims.map(Int64.init)
        t.dataType = Int32(type.rawValue)
        t.name = name
        t.rawData = raw
        return t
    }

    /// Adds a node `op` from `inputs` to one new output, returned.
    @discardableResult
    public mutating func node(_ op: String, _ inputs: [String], _ attributes: [(String, Attribute)] = [], output: String? = nil) -> String {
        let out = output ?? name(op.lowercased())
        var n = Onnx_NodeProto()
        n.input = inputs
        n.output = [out]
        n.name = out
        n.opType = op
        n.attribute = attributes.map { key, value in
            var a = Onnx_AttributeProto()
            a.name = key
            switch value {
            case .int(let i): (a.i, a.type) = (Int64(i), .int)
            case .ints(let list): (a.ints, a.type) = (list.map(Int64.init), .ints)
            case .float(let f): (a.f, a.type) = (f, .float)
            case .string(let text): (a.s, a.type) = (Data(text.utf8), .string)
            }
            return a
        }
        nodes.append(n)
        return out
    }

    /// The model file's bytes: one float32 input `input` [batch, C, H, W] and one output `output` [batch, outputs];
    /// `metadata` becomes `metadata_props` (e.g. the model card).
    public func model(input: String, inputShape: [Int], output: String, outputWidth: Int, graphName: String, metadata: [String: String]) -> Data {
        model(inputs: [(input, inputShape)], output: output, outputWidth: outputWidth, graphName: graphName, metadata: metadata)
    }

    /// The model file's bytes with several float32 inputs, each [batch] + its shape, in order.
    public func model(inputs: [(name: String, shape: [Int])], output: String, outputWidth: Int, graphName: String,
                      metadata: [String: String]) -> Data {
        /// A float32 tensor's name and shape, `nil` dimensions being the symbolic batch.
        func valueInfo(_ name: String, _ dims: [Int?]) -> Onnx_ValueInfoProto {
            var tensorType = Onnx_TypeProto.Tensor()
            tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            tensorType.shape.dim = dims.map { d in
                var dim = Onnx_TensorShapeProto.Dimension()
                if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "batch" }
                return dim
            }
            var info = Onnx_ValueInfoProto()
            info.name = name
            info.type.tensorType = tensorType
            return info
        }
        var graph = Onnx_GraphProto()
        graph.node = nodes
        graph.name = graphName
        graph.initializer = initializers
        graph.input = inputs.map { valueInfo($0.name, [nil] + $0.shape.map { $0 }) }
        graph.output = [valueInfo(output, [nil, outputWidth])]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "forensight"
        model.graph = graph
        var opset = Onnx_OperatorSetIdProto()
        (opset.domain, opset.version) = ("", 13)  // the default domain (ai.onnx)
        model.opsetImport = [opset]
        model.metadataProps = metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            (entry.key, entry.value) = (key, value)
            return entry
        }
        do {
            return try model.serializedData()
        } catch {
            // onnx.proto has no required fields, so encoding fails only past protobuf's 2 GiB message limit.
            preconditionFailure("ONNX model \(graphName) cannot be encoded: \(error)")
        }
    }
}
