import Foundation

/// Converts checkpoint storage bytes into contiguous Float32 values.
///
/// Callers validate the geometry first (see `TorchCheckpoint`): every element index
/// `offset + Σ iₖ·strideₖ` must lie inside the storage, and strides of dimensions of
/// size 0 or 1 must be zero, so no arithmetic here can overflow or read out of bounds.
enum CheckpointTensorDecoding {
    /// A strided view of a storage: where it starts and how it is laid out, in elements.
    struct Layout {
        var dtype: CheckpointDType
        var offset: Int
        var shape: [Int]
        var strides: [Int]
        var count: Int
        var bigEndian: Bool
    }

    /// Writes the `layout.count` elements of the view, in row-major order, to `out`.
    ///
    /// - Parameters:
    ///   - raw: the whole file.
    ///   - base: byte offset of element 0 of the storage within `raw`.
    static func gather(_ layout: Layout, from raw: UnsafeRawBufferPointer, base: Int, into out: UnsafeMutablePointer<Float>) {
        let shape = layout.shape, strides = layout.strides, rank = shape.count
        guard layout.count > 0 else { return }
        guard rank > 0 else {
            decodeRow(layout, raw, base, first: layout.offset, count: 1, stride: 0, out)
            return
        }
        // Odometer over all dimensions but the innermost, which is decoded as one row.
        var index = [Int](repeating: 0, count: rank - 1)
        var start = layout.offset, written = 0
        while written < layout.count {
            decodeRow(layout, raw, base, first: start, count: shape[rank - 1], stride: strides[rank - 1], out + written)
            written += shape[rank - 1]
            var dim = rank - 2
            while dim >= 0 {
                index[dim] += 1
                start += strides[dim]
                if index[dim] < shape[dim] { break }
                start -= strides[dim] * shape[dim]
                index[dim] = 0
                dim -= 1
            }
        }
    }

    /// Converts `count` elements at element indices `first + i * stride` to Float.
    private static func decodeRow(_ layout: Layout, _ raw: UnsafeRawBufferPointer, _ base: Int,
                                  first: Int, count: Int, stride: Int, _ out: UnsafeMutablePointer<Float>) {
        let swap = layout.bigEndian
        func row<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Float) {
            for i in 0..<count {
                let loaded = raw.loadUnaligned(fromByteOffset: base + (first + i * stride) * MemoryLayout<T>.size, as: T.self)
                out[i] = convert(swap ? T(bigEndian: loaded) : T(littleEndian: loaded))
            }
        }
        switch layout.dtype {
        case .float32: row(UInt32.self) { Float(bitPattern: $0) }
        case .float64: row(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .float16: row(UInt16.self, float(fromHalf:))
        case .bfloat16: row(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .int64: row(UInt64.self) { Float(Int64(bitPattern: $0)) }
        case .int32: row(UInt32.self) { Float(Int32(bitPattern: $0)) }
        case .uint8: row(UInt8.self) { Float($0) }
        case .int8: row(UInt8.self) { Float(Int8(bitPattern: $0)) }
        case .bool: row(UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }

    /// Converts IEEE 754 binary16 bits to Float (exact; handles subnormals, infinities, NaN).
    static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}
