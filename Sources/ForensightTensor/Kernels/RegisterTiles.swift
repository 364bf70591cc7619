/// Register tiles sized for the vector ISA the kernels are compiled for (`VectorISA.compiled`).
///
/// Why this is ours to choose: the blocked kernels keep a whole tile of partial sums in registers for the length of
/// a reduction, which is what makes them as fast as ONNX Runtime's hand-written assembly. That only holds while the
/// tile fits the register file. A `SIMD16<Float>` is one AVX-512 register but two AVX2 registers, so a tile sized for
/// AVX-512's 32 registers of 16 floats (e.g. 6 pixels × 4 blocks = 24 accumulators) needs 48 of AVX2's 16 and spills
/// to the stack on every step. Each ISA gets the largest tile that fits:
///
/// | tile | AVX-512 (32 × 16 floats) | AVX2 + FMA (16 × 8 floats), portable |
/// |---|---|---|
/// | pointwise / linear | 6 rows × 4 blocks of 16: 24 accumulators + 4 weights | 6 rows × 1 block of 16: 12 + 2 registers |
/// | depthwise row (8 columns) | 16 channels: 8 accumulators + k weights | 8 channels, twice per block: 8 + k registers |
///
/// The portable build (arm64, or x86-64 without a known CPU) takes the AVX2 tiles: they are the smaller ones.
enum KernelTiling {
    #if FORENSIGHT_AVX512
    /// Blocks of 16 output channels per pointwise / `PackedLinear` register tile.
    static let outputBlocksPerTile = 4
    /// Inputs per `PackedLinear` pass (4 blocks × 512 inputs × 64 bytes = 128 KiB of weights, within L2).
    static let linearDepthPass = 512
    #else
    static let outputBlocksPerTile = 1
    /// 1 block × 256 inputs × 64 bytes = 16 KiB of weights: the panel and a 6-row input slice stay in L1.
    static let linearDepthPass = 256
    #endif
}

#if FORENSIGHT_AVX512
/// The vector one depthwise accumulator holds: a whole block of 16 channels where a register has 16 floats.
typealias LaneVector = SIMD16<Float>
#else
/// The vector one depthwise accumulator holds: half a block of 16 channels (one AVX2 register), so a row of 8 output
/// columns needs 8 accumulators, not 16.
typealias LaneVector = SIMD8<Float>
#endif

/// Loads `LaneVector.scalarCount` floats from `p` (no alignment needed).
@inline(__always) func loadLanes(_ p: UnsafePointer<Float>) -> LaneVector {
    UnsafeRawPointer(p).loadUnaligned(as: LaneVector.self)
}

/// Stores `v` at `p` (no alignment needed).
@inline(__always) func storeLanes(_ v: LaneVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: LaneVector.self)
}

/// Lane-wise maximum and minimum of 8 floats (see the 16-lane `vmax`).
@_transparent public func vmax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: a .< b) }
@_transparent public func vmin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }
