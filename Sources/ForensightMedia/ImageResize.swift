/// Resampling filters, each reproducing one reference library (the one the model's training pipeline used).
public enum ResizeMethod: String, Sendable, CaseIterable, Codable {
    /// OpenCV `cv2.resize(…, INTER_LINEAR)` on 8-bit images: half-pixel centres, edge replication, no antialiasing,
    /// OpenCV's 11-bit fixed-point weights and rounding (an exact 2× downscale is a 2×2 average, as in OpenCV).
    /// Matches OpenCV 4.x bit for bit, except ±1 on the first and last rows of some upscales.
    case bilinear
    /// OpenCV `INTER_AREA`: exact pixel-area averaging when shrinking (integer factors take OpenCV's block-average
    /// path); when enlarging, OpenCV's area-style bilinear weights. Bit-exact with OpenCV 4.x.
    case area
    /// Pillow `Image.resize(…, Image.BICUBIC)` (a = −0.5, support widened by the scale factor when shrinking, i.e.
    /// antialiased; the filter torchvision/CLIP preprocessing applies to PIL images). Bit-exact with Pillow.
    case bicubic
}

extension ImageGeometry {
    /// `image` resampled to `width × height` with `method` (see `ResizeMethod` for which library each matches).
    public static func resize(_ image: RGBImage, width: Int, height: Int, method: ResizeMethod = .bilinear) -> RGBImage {
        precondition(width > 0 && height > 0, "resize target must be positive, got \(width)×\(height)")
        precondition(image.width > 0 && image.height > 0, "cannot resize an empty image")
        if width == image.width && height == image.height { return image }
        switch method {
        case .bicubic:
            return pillowResample(image, width: width, height: height)
        case .bilinear:
            if let fast = areaFastFactor(image, width: width, height: height), fast == (2, 2) {
                return areaFast(image, width: width, height: height, factor: fast)
            }
            return openCVLinear(image, width: width, height: height, areaWeights: false)
        case .area:
            let shrinkX = Double(image.width) / Double(width) >= 1, shrinkY = Double(image.height) / Double(height) >= 1
            guard shrinkX && shrinkY else { return openCVLinear(image, width: width, height: height, areaWeights: true) }
            if let fast = areaFastFactor(image, width: width, height: height) {
                return areaFast(image, width: width, height: height, factor: fast)
            }
            return openCVArea(image, width: width, height: height)
        }
    }
}

extension RGBImage {
    /// This image resampled to `width × height` (see `ResizeMethod`).
    public func resized(width: Int, height: Int, method: ResizeMethod = .bilinear) -> RGBImage {
        ImageGeometry.resize(self, width: width, height: height, method: method)
    }
}

// MARK: - OpenCV INTER_LINEAR / upscaling INTER_AREA

/// OpenCV's scale: the reciprocal of `dst/src` (not `src/dst`; the two differ in the last bit).
private func openCVScale(source: Int, destination: Int) -> (scale: Double, inverse: Double) {
    let inverse = Double(destination) / Double(source)
    return (1.0 / inverse, inverse)
}

/// Per-output-index source offset and 11-bit weights of OpenCV's linear resize along one axis.
private func linearTable(source: Int, destination: Int, areaWeights: Bool) -> (offset: [Int], weight0: [Int32], weight1: [Int32]) {
    let (scale, inverse) = openCVScale(source: source, destination: destination)
    var offset = [Int](repeating: 0, count: destination)
    var weight0 = [Int32](repeating: 0, count: destination), weight1 = [Int32](repeating: 0, count: destination)
    for d in 0..<destination {
        var s: Int
        var f: Float
        if areaWeights {
            s = Int((Double(d) * scale).rounded(.down))
            f = Float(Double(d + 1) - Double(s + 1) * inverse)
            f = f <= 0 ? 0 : f - f.rounded(.down)
        } else {
            f = Float((Double(d) + 0.5) * scale - 0.5)
            s = Int(f.rounded(.down))
            f -= Float(s)
        }
        if s < 0 { (s, f) = (0, 0) }
        if s >= source - 1 { (s, f) = (source - 1, 0) }
        offset[d] = s
        weight0[d] = Int32(((1 - f) * 2048).rounded(.toNearestOrEven))
        weight1[d] = Int32((f * 2048).rounded(.toNearestOrEven))
    }
    return (offset, weight0, weight1)
}

private func openCVLinear(_ image: RGBImage, width: Int, height: Int, areaWeights: Bool) -> RGBImage {
    let x = linearTable(source: image.width, destination: width, areaWeights: areaWeights)
    let y = linearTable(source: image.height, destination: height, areaWeights: areaWeights)
    let rowLength = width * 3
    // Horizontal pass of every source row that the vertical pass reads (values scaled by 2048).
    var horizontal = [Int32](repeating: 0, count: image.height * rowLength)
    let lastColumn = image.width - 1
    image.pixels.withUnsafeBufferPointer { src in
        horizontal.withUnsafeMutableBufferPointer { dst in
            for row in 0..<image.height {
                let s = src.baseAddress! + row * image.width * 3
                let d = dst.baseAddress! + row * rowLength
                for dx in 0..<width {
                    let s0 = x.offset[dx] * 3, s1 = min(x.offset[dx] + 1, lastColumn) * 3
                    let a0 = x.weight0[dx], a1 = x.weight1[dx]
                    for c in 0..<3 { d[dx * 3 + c] = Int32(s[s0 + c]) * a0 + Int32(s[s1 + c]) * a1 }
                }
            }
        }
    }
    // Vertical pass with OpenCV's SIMD rounding: ((b0·(r0≫4))≫16 + (b1·(r1≫4))≫16 + 2) ≫ 2.
    var out = [UInt8](repeating: 0, count: height * rowLength)
    horizontal.withUnsafeBufferPointer { h in
        out.withUnsafeMutableBufferPointer { o in
            for dy in 0..<height {
                let r0 = h.baseAddress! + y.offset[dy] * rowLength
                let r1 = h.baseAddress! + min(y.offset[dy] + 1, image.height - 1) * rowLength
                let b0 = y.weight0[dy], b1 = y.weight1[dy]
                let d = o.baseAddress! + dy * rowLength
                for i in 0..<rowLength {
                    let v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2
                    d[i] = UInt8(clamping: v)
                }
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: out)
}

// MARK: - OpenCV INTER_AREA (shrinking)

/// The integer factors when both scales are exact integers (OpenCV's "fast area" condition), else nil.
private func areaFastFactor(_ image: RGBImage, width: Int, height: Int) -> (Int, Int)? {
    let sx = openCVScale(source: image.width, destination: width).scale
    let sy = openCVScale(source: image.height, destination: height).scale
    let ix = Int(sx.rounded(.toNearestOrEven)), iy = Int(sy.rounded(.toNearestOrEven))
    guard ix >= 1, iy >= 1, abs(sx - Double(ix)) < Double.ulpOfOne, abs(sy - Double(iy)) < Double.ulpOfOne else { return nil }
    return (ix, iy)
}

/// Block average over `factor` pixels; 2×2 rounds half up ((sum + 2) ≫ 2), others round float(sum)·(1/area) to even.
private func areaFast(_ image: RGBImage, width: Int, height: Int, factor: (Int, Int)) -> RGBImage {
    let (fx, fy) = factor
    let area = fx * fy
    let reciprocal = 1 / Float(area)
    var out = [UInt8](repeating: 0, count: width * height * 3)
    image.pixels.withUnsafeBufferPointer { src in
        for dy in 0..<height {
            for dx in 0..<width {
                for c in 0..<3 {
                    var sum = 0
                    for yy in 0..<fy {
                        let row = (dy * fy + yy) * image.width
                        for xx in 0..<fx { sum += Int(src[(row + dx * fx + xx) * 3 + c]) }
                    }
                    let value = area == 4 ? (sum + 2) >> 2 : Int((Float(sum) * reciprocal).rounded(.toNearestOrEven))
                    out[(dy * width + dx) * 3 + c] = UInt8(clamping: value)
                }
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: out)
}

/// OpenCV's area table: for each output index, the covered source indices and their float weights.
private func areaTable(source: Int, destination: Int) -> [(d: Int, s: Int, w: Float)] {
    let scale = openCVScale(source: source, destination: destination).scale
    var table: [(d: Int, s: Int, w: Float)] = []
    for d in 0..<destination {
        let f1 = Double(d) * scale, f2 = f1 + scale
        let cell = min(scale, Double(source) - f1)
        var s1 = Int(f1.rounded(.up)), s2 = Int(f2.rounded(.down))
        s2 = min(s2, source - 1)
        s1 = min(s1, s2)
        if Double(s1) - f1 > 1e-3 { table.append((d, s1 - 1, Float((Double(s1) - f1) / cell))) }
        for s in s1..<max(s1, s2) { table.append((d, s, Float(1.0 / cell))) }
        if f2 - Double(s2) > 1e-3 { table.append((d, s2, Float(min(min(f2 - Double(s2), 1.0), cell) / cell))) }
    }
    return table
}

private func openCVArea(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
    let xTable = areaTable(source: image.width, destination: width)
    let yTable = areaTable(source: image.height, destination: height)
    let rowLength = width * 3
    var horizontal = [Float](repeating: 0, count: image.height * rowLength)
    image.pixels.withUnsafeBufferPointer { src in
        horizontal.withUnsafeMutableBufferPointer { h in
            for row in 0..<image.height {
                let s = src.baseAddress! + row * image.width * 3
                let d = h.baseAddress! + row * rowLength
                for entry in xTable {
                    for c in 0..<3 { d[entry.d * 3 + c] += Float(s[entry.s * 3 + c]) * entry.w }
                }
            }
        }
    }
    var sums = [Float](repeating: 0, count: height * rowLength)
    horizontal.withUnsafeBufferPointer { h in
        sums.withUnsafeMutableBufferPointer { o in
            for entry in yTable {
                let r = h.baseAddress! + entry.s * rowLength, d = o.baseAddress! + entry.d * rowLength
                for i in 0..<rowLength { d[i] += r[i] * entry.w }
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: sums.map { UInt8(clamping: Int($0.rounded(.toNearestOrEven))) })
}

// MARK: - Pillow BICUBIC

/// Pillow's bicubic kernel (a = −0.5).
private func bicubicWeight(_ t: Double) -> Double {
    let a = -0.5, x = abs(t)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
}

/// Pillow's per-output-index source window and 22-bit fixed-point weights along one axis.
private func pillowTable(source: Int, destination: Int) -> (start: [Int], weights: [[Int]]) {
    let precision = 22
    let scale = Double(source) / Double(destination)
    let filterScale = max(scale, 1)
    let support = 2.0 * filterScale
    let inverseFilterScale = 1.0 / filterScale  // Pillow multiplies by the reciprocal (rounding matters)
    var start = [Int](repeating: 0, count: destination)
    var weights = [[Int]](repeating: [], count: destination)
    for d in 0..<destination {
        let center = (Double(d) + 0.5) * scale
        let lo = max(Int(center - support + 0.5), 0)
        let hi = min(Int(center + support + 0.5), source)
        var k = (lo..<max(lo, hi)).map { bicubicWeight((Double($0) - center + 0.5) * inverseFilterScale) }
        let total = k.reduce(0, +)
        if total != 0 { k = k.map { $0 / total } }
        start[d] = lo
        weights[d] = k.map { Int($0 < 0 ? -0.5 + $0 * Double(1 << precision) : 0.5 + $0 * Double(1 << precision)) }
    }
    return (start, weights)
}

@inline(__always) private func pillowClip(_ sum: Int) -> UInt8 { UInt8(clamping: sum >> 22) }

private func pillowResample(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
    var current = image
    if width != image.width {
        let table = pillowTable(source: image.width, destination: width)
        var out = [UInt8](repeating: 0, count: width * image.height * 3)
        current.pixels.withUnsafeBufferPointer { src in
            for row in 0..<image.height {
                let s = row * image.width * 3
                for dx in 0..<width {
                    var sums = (1 << 21, 1 << 21, 1 << 21)
                    for (i, w) in table.weights[dx].enumerated() {
                        let p = s + (table.start[dx] + i) * 3
                        sums.0 += Int(src[p]) * w; sums.1 += Int(src[p + 1]) * w; sums.2 += Int(src[p + 2]) * w
                    }
                    let o = (row * width + dx) * 3
                    (out[o], out[o + 1], out[o + 2]) = (pillowClip(sums.0), pillowClip(sums.1), pillowClip(sums.2))
                }
            }
        }
        current = RGBImage(width: width, height: image.height, pixels: out)
    }
    if height != image.height {
        let table = pillowTable(source: image.height, destination: height)
        let rowLength = width * 3
        var out = [UInt8](repeating: 0, count: height * rowLength)
        current.pixels.withUnsafeBufferPointer { src in
            for dy in 0..<height {
                for i in 0..<rowLength {
                    var sum = 1 << 21
                    for (j, w) in table.weights[dy].enumerated() { sum += Int(src[(table.start[dy] + j) * rowLength + i]) * w }
                    out[dy * rowLength + i] = pillowClip(sum)
                }
            }
        }
        current = RGBImage(width: width, height: height, pixels: out)
    }
    return current
}
