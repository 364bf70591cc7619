/// The channel-blocked activation layout for inference: [N, ⌈C/16⌉, H, W, 16], i.e. NCHW with the channels cut into
/// blocks of 16 that sit innermost (oneDNN and ONNX Runtime call it NCHW16c).
///
/// Why: in NCHW a kernel vectorises over the pixels of one channel, and the small late planes of a CNN (7×7, 14×14)
/// leave vector lanes idle. With 16 channels per vector every pixel fills a whole vector at any plane size, a pointwise
/// convolution becomes a GEMM that broadcasts one input value against weight vectors packed once, and a depthwise
/// convolution is a plain FMA per tap. Channels past C in the last block are zero.
public struct ChannelBlocked: @unchecked Sendable {
    /// Storage [N, ⌈C/16⌉, H, W, 16].
    public let storage: Tensor
    /// The logical number of channels (C).
    public let channels: Int

    /// Images (N).
    public var batch: Int { storage.shape[0] }
    /// Channel blocks (⌈C/16⌉).
    public var blocks: Int { storage.shape[1] }
    /// Height.
    public var height: Int { storage.shape[2] }
    /// Width.
    public var width: Int { storage.shape[3] }

    /// Uninitialised storage for `channels` channels of `height`×`width` pixels.
    public init(batch: Int, channels: Int, height: Int, width: Int) {
        storage = Tensor(uninitializedShape: [batch, (channels + 15) / 16, height, width, 16])
        self.channels = channels
    }

    /// `x` [N, C, H, W] in the blocked layout.
    public init(_ x: Tensor) {
        precondition(x.rank == 4, "ChannelBlocked: input \(x.shape) is not [N, C, H, W]")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        self.init(batch: n, channels: c, height: h, width: w)
        let (src, dst, plane, cb) = (UnsafePointer(x.data), storage.data, h * w, (c + 15) / 16)
        parallelChunks(n * cb, minimumPerThread: 1) { range in
            for unit in range {
                let (image, block) = (unit / cb, unit % cb)
                let lanes = Swift.min(16, c - block * 16)
                let from = src + (image * c + block * 16) * plane, to = dst + unit * plane * 16
                for p in 0..<plane {
                    var v = Float16x(repeating: 0)
                    for l in 0..<lanes { v[l] = from[l * plane + p] }
                    store16(v, to + p * 16)
                }
            }
        }
        withExtendedLifetime(x) {}
    }

    /// Back to [N, C, H, W].
    public func unblocked() -> Tensor {
        let (n, c, h, w) = (batch, channels, height, width)
        let out = Tensor(uninitializedShape: [n, c, h, w])
        let (src, dst, plane) = (UnsafePointer(storage.data), out.data, h * w)
        parallelChunks(n * c, minimumPerThread: Swift.max(1, 4096 / Swift.max(plane, 1))) { range in
            for i in range {
                let (image, ch) = (i / c, i % c)
                let from = src + ((image * blocks + ch / 16) * plane) * 16 + ch % 16, to = dst + i * plane
                for p in 0..<plane { to[p] = from[p * 16] }
            }
        }
        return out
    }

    /// Mean over the pixels of each channel: [N, C].
    public func globalAveragePool() -> Tensor {
        let (n, c, plane) = (batch, channels, height * width)
        let out = Tensor(uninitializedShape: [n, c])
        let (src, dst, inv) = (UnsafePointer(storage.data), out.data, 1 / Float(plane))
        for image in 0..<n {
            for block in 0..<blocks {
                let from = src + (image * blocks + block) * plane * 16
                var sum = Float16x(repeating: 0)
                for p in 0..<plane { sum += load16(from + p * 16) }
                sum *= inv
                for l in 0..<Swift.min(16, c - block * 16) { dst[image * c + block * 16 + l] = sum[l] }
            }
        }
        return out
    }
}

/// A per-channel affine map and clamp applied as a blocked convolution stores its output: y = clamp(x·scale + shift),
/// e.g. a folded BatchNorm followed by ReLU6 (clamp to [0, 6]) or by nothing (no clamp). Scale and shift are padded
/// with zeros to whole blocks, so padding channels stay zero.
public struct BlockedEpilogue: @unchecked Sendable {
    let affine: Tensor   // [2, blocks·16]: scale, then shift
    let low: Float, high: Float
    let padded: Int

    /// `scale` and `shift` per output channel; the output is clamped to [low, high].
    public init(scale: [Float], shift: [Float], low: Float = -.infinity, high: Float = .infinity) {
        precondition(scale.count == shift.count, "BlockedEpilogue: \(scale.count) scales, \(shift.count) shifts")
        padded = (scale.count + 15) / 16 * 16
        let pad = [Float](repeating: 0, count: padded - scale.count)
        affine = Tensor(scale + pad + shift + pad, shape: [2, padded])
        (self.low, self.high) = (low, high)
    }

    var scale: UnsafePointer<Float> { UnsafePointer(affine.data) }
    var shift: UnsafePointer<Float> { UnsafePointer(affine.data + padded) }
}

/// `weight` as `rows` rows of `columns` values (e.g. [O, C·kh·kw]) packed into blocks of 16 rows:
/// [⌈rows/16⌉, paddedColumns, 16], row r's value c at [r / 16, c, r % 16]; rows past the last and columns past
/// `columns` are zero. The weight layout of every blocked kernel and of `PackedLinear`.
func packedInBlocksOf16(_ weight: Tensor, rows: Int, columns: Int, paddedColumns: Int) -> Tensor {
    precondition(weight.count == rows * columns && paddedColumns >= columns, "packedInBlocksOf16: \(weight.shape) as \(rows)×\(columns)")
    let packed = Tensor.zeros([(rows + 15) / 16, paddedColumns, 16])
    let (src, dst) = (weight.data, packed.data)
    for r in 0..<rows { for c in 0..<columns { dst[(r / 16 * paddedColumns + c) * 16 + r % 16] = src[r * columns + c] } }
    return packed
}

/// A compile-time count of 16-channel output blocks per register tile (1…4), so each tile size gets its own
/// specialised loop with no dead accumulators.
protocol BlockCount { static var count: Int { get } }
enum OneBlock: BlockCount { static var count: Int { 1 } }
enum TwoBlocks: BlockCount { static var count: Int { 2 } }
enum ThreeBlocks: BlockCount { static var count: Int { 3 } }
enum FourBlocks: BlockCount { static var count: Int { 4 } }
/// A full 6-pixel tile, or a partial one whose pixel count is only known at run time.
enum SixRows: BlockCount { static var count: Int { 6 } }
enum PartialRows: BlockCount { static var count: Int { 0 } }
