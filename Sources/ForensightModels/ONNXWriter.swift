import Foundation
import ForensightTensor

/// A writer of ONNX models (`onnx.proto`'s `ModelProto`, IR version 8, default opset 13), protobuf-encoded by hand.
///
/// Why by hand and not swift-protobuf with generated code: an exported graph needs eight messages of `onnx.proto`
/// (model, graph, node, attribute, tensor, value info, type, shape) and only the writing side; the protobuf wire format
/// for them is three field kinds (varint, length-delimited, 32-bit float), about 60 lines here, against a new package
/// dependency (and its build time on every machine) plus generated code to keep in step. Field numbers are
/// onnx.proto's, named at each use; ONNX Runtime and `onnx.checker` read the result (`ONNXExportTests`).
public struct ONNXGraph {
    /// A node's attribute.
    public enum Attribute {
        case int(Int), ints([Int]), float(Float), string(String)
    }

    var nodes: [[UInt8]] = []
    var initializers: [[UInt8]] = []
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
        var t = Proto()
        for d in tensor.shape { t.varint(1, UInt64(d)) }  // TensorProto.dims
        t.varint(2, 1)  // data_type FLOAT
        t.string(8, name)  // name
        var raw = [UInt8](); raw.reserveCapacity(tensor.count * 4)
        for v in tensor.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        t.bytes(9, raw)  // raw_data
        initializers.append(t.buffer)
        return name
    }

    /// Adds an int64 constant (a shape or an axis list) and returns its name.
    @discardableResult
    public mutating func int64Initializer(_ name: String, _ values: [Int64], shape: [Int]? = nil) -> String {
        var t = Proto()
        for d in shape ?? [values.count] { t.varint(1, UInt64(d)) }  // TensorProto.dims
        t.varint(2, 7)  // data_type INT64
        t.string(8, name)  // name
        var raw = [UInt8](); raw.reserveCapacity(values.count * 8)
        for v in values { withUnsafeBytes(of: v.littleEndian) { raw += $0 } }
        t.bytes(9, raw)  // raw_data
        initializers.append(t.buffer)
        return name
    }

    /// Adds a node `op` from `inputs` to one new output, returned.
    @discardableResult
    public mutating func node(_ op: String, _ inputs: [String], _ attributes: [(String, Attribute)] = [], output: String? = nil) -> String {
        let out = output ?? name(op.lowercased())
        var n = Proto()
        for i in inputs { n.string(1, i) }  // NodeProto.input
        n.string(2, out)  // output
        n.string(3, out)  // name
        n.string(4, op)  // op_type
        for (key, value) in attributes {
            var a = Proto()
            a.string(1, key)  // AttributeProto.name
            switch value {
            case .int(let i): a.varint(3, UInt64(bitPattern: Int64(i))); a.varint(20, 2)  // i, type INT
            case .ints(let list): for i in list { a.varint(8, UInt64(bitPattern: Int64(i))) }; a.varint(20, 7)  // ints, INTS
            case .float(let f): a.float(2, f); a.varint(20, 1)  // f, FLOAT
            case .string(let text): a.string(4, text); a.varint(20, 3)  // s, STRING
            }
            n.message(5, a)  // attribute
        }
        nodes.append(n.buffer)
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
        func valueInfo(_ name: String, _ dims: [Int?]) -> Proto {
            var shape = Proto()
            for d in dims {
                var dim = Proto()
                if let d { dim.varint(1, UInt64(d)) } else { dim.string(2, "batch") }  // dim_value / dim_param
                shape.message(1, dim)  // TensorShapeProto.dim
            }
            var tensorType = Proto()
            tensorType.varint(1, 1)  // elem_type FLOAT
            tensorType.message(2, shape)  // shape
            var type = Proto()
            type.message(1, tensorType)  // TypeProto.tensor_type
            var info = Proto()
            info.string(1, name)
            info.message(2, type)
            return info
        }
        var graph = Proto()
        for n in nodes { graph.bytes(1, n) }  // GraphProto.node
        graph.string(2, graphName)
        for t in initializers { graph.bytes(5, t) }  // initializer
        for (name, shape) in inputs { graph.message(11, valueInfo(name, [nil] + shape.map { $0 })) }  // input
        graph.message(12, valueInfo(output, [nil, outputWidth]))  // output
        var model = Proto()
        model.varint(1, 8)  // ir_version
        model.string(2, "forensight")  // producer_name
        model.message(7, graph)  // graph
        var opset = Proto()
        opset.string(1, "")
        opset.varint(2, 13)
        model.message(8, opset)  // opset_import
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            var entry = Proto()
            entry.string(1, key)
            entry.string(2, value)
            model.message(14, entry)  // metadata_props
        }
        return Data(model.buffer)
    }
}

/// Protobuf wire encoding: varints (type 0), length-delimited fields (type 2) and 32-bit floats (type 5).
struct Proto {
    var buffer: [UInt8] = []

    private mutating func raw(_ value: UInt64) {
        var v = value
        while v >= 0x80 { buffer.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        buffer.append(UInt8(v))
    }

    mutating func varint(_ field: Int, _ value: UInt64) { raw(UInt64(field << 3)); raw(value) }
    mutating func bytes(_ field: Int, _ value: [UInt8]) { raw(UInt64(field << 3 | 2)); raw(UInt64(value.count)); buffer += value }
    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
    mutating func message(_ field: Int, _ value: Proto) { bytes(field, value.buffer) }
    mutating func float(_ field: Int, _ value: Float) {
        raw(UInt64(field << 3 | 5))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { buffer += $0 }
    }
}
