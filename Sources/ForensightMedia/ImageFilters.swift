#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageGeometry {
    /// Separable Gaussian blur identical to OpenCV's `cv2.GaussianBlur(img, (k, k), sigma,
    /// borderType=BORDER_REFLECT_101)` with `k = 2·⌈3σ⌉ + 1`, bit for bit on 8-bit images.
    ///
    /// OpenCV's 8-bit path quantises the normalised kernel to multiples of 1/256 (error diffusion from the tails,
    /// the centre takes the remainder so the taps sum to exactly 1), filters rows into 8.8 fixed point, then columns,
    /// and rounds half up. `sigma <= 0` returns the image unchanged.
    public static func gaussianBlur(_ image: RGBImage, sigma: Double) -> RGBImage {
        guard sigma > 0, image.width > 0, image.height > 0 else { return image }
        let radius = Int((3 * sigma).rounded(.up))
        let kernel = openCVGaussianKernel(size: 2 * radius + 1, sigma: sigma)
        let (w, h) = (image.width, image.height)
        let taps = 2 * radius + 1
        // Source column of tap k for output column x, flattened: columns[x * taps + k].
        var columns = [Int](repeating: 0, count: w * taps)
        for x in 0..<w { for k in 0..<taps { columns[x * taps + k] = reflect101(x + k - radius, w) * 3 } }
        var rows = [Int32](repeating: 0, count: w * h * 3)
        image.pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { dst in
                columns.withUnsafeBufferPointer { cols in
                    kernel.withUnsafeBufferPointer { kern in
                        for y in 0..<h {
                            let line = src.baseAddress! + y * w * 3, out = dst.baseAddress! + y * w * 3
                            for x in 0..<w {
                                var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0
                                let base = x * taps
                                for k in 0..<taps {
                                    let p = line + cols[base + k], weight = kern[k]
                                    s0 += weight * Int32(p[0]); s1 += weight * Int32(p[1]); s2 += weight * Int32(p[2])
                                }
                                out[3 * x] = s0; out[3 * x + 1] = s1; out[3 * x + 2] = s2
                            }
                        }
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let rowLength = w * 3
        rows.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let sums = UnsafeMutablePointer<Int32>.allocate(capacity: rowLength)
                defer { sums.deallocate() }
                for y in 0..<h {
                    sums.initialize(repeating: 1 << 15, count: rowLength)
                    for k in 0..<taps {
                        let line = src.baseAddress! + reflect101(y + k - radius, h) * rowLength, weight = kernel[k]
                        guard weight != 0 else { continue }
                        for i in 0..<rowLength { sums[i] += weight * line[i] }
                    }
                    let out = dst.baseAddress! + y * rowLength
                    for i in 0..<rowLength { out[i] = UInt8(clamping: sums[i] >> 16) }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// OpenCV's `BORDER_REFLECT_101` index (…, 2, 1 | 0, 1, 2, …, n−1 | n−2, …), repeated for far indices.
func reflect101(_ i: Int, _ n: Int) -> Int {
    guard n > 1 else { return 0 }
    var i = i
    while i < 0 || i >= n {
        if i < 0 { i = -i }
        if i >= n { i = 2 * n - 2 - i }
    }
    return i
}

/// OpenCV's bit-exact 8-bit Gaussian kernel: taps exp(−x²/2σ²) normalised to sum 1, then quantised to integers
/// summing to 256 by rounding with error diffusion from the outermost tap inwards; the centre tap takes the rest.
func openCVGaussianKernel(size n: Int, sigma: Double) -> [Int32] {
    let half = (n - 1) / 2
    let scale = -0.125 / (sigma * sigma)  // applied to (2·offset)²
    var values = [Double]()
    var sum = 0.0
    for i in 0..<half {
        let x = Double(1 - n + 2 * i)
        let t = exp(x * x * scale)
        values.append(t)
        sum += t
    }
    sum = sum * 2 + 1
    let normaliser = 1 / sum
    var kernel = [Int32](repeating: 0, count: n)
    var error = 0.0, total: Int32 = 0
    for i in 0..<half {
        let adjusted = values[i] * normaliser * 256 + error
        let rounded = adjusted.rounded(.toNearestOrEven)
        error = adjusted - rounded
        kernel[i] = Int32(rounded)
        kernel[n - 1 - i] = Int32(rounded)
        total += Int32(rounded)
    }
    kernel[half] = 256 - 2 * total
    return kernel
}

/// A small deterministic generator for image noise (SplitMix64 → uniform → Box–Muller normals).
///
/// Kept inside ForensightMedia so the media layer needs no tensor library; the same seed gives the same noise on
/// every run and platform with an IEEE libm.
struct MediaNoiseGenerator {
    private var state: UInt64
    private var spare: Double?

    init(seed: UInt64) { state = seed }

    /// SplitMix64 (Steele, Lea & Flood 2014).
    mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1): 53 random bits, never exactly 0.
    mutating func nextUnit() -> Double { (Double(nextUInt64() >> 11) + 0.5) * 0x1p-53 }

    /// A standard normal sample (Box–Muller, both outputs used).
    mutating func nextGaussian() -> Double {
        if let value = spare { spare = nil; return value }
        let radius = (-2 * log(nextUnit())).squareRoot(), angle = 2 * Double.pi * nextUnit()
        spare = radius * sin(angle)
        return radius * cos(angle)
    }
}
