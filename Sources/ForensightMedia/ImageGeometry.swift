/// How pixels outside the source image are filled when a geometric operation reads them.
public enum ImageBorder: Sendable, Equatable {
    /// A fixed colour (OpenCV `BORDER_CONSTANT` with `borderValue`).
    case constant(UInt8, UInt8, UInt8)
    /// The nearest edge pixel (OpenCV `BORDER_REPLICATE`).
    case replicate

    /// Black constant border, OpenCV's default.
    public static let black = ImageBorder.constant(0, 0, 0)
}

/// A 2×3 affine matrix `[[a, b, c], [d, e, f]]` mapping (x, y) to (a·x + b·y + c, d·x + e·y + f), in pixel
/// coordinates whose integer points are pixel centres (OpenCV's convention).
public struct AffineMatrix: Sendable, Equatable {
    public var a, b, c, d, e, f: Double

    /// The matrix `[[a, b, c], [d, e, f]]`.
    public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
        (self.a, self.b, self.c, self.d, self.e, self.f) = (a, b, c, d, e, f)
    }

    /// From two rows of three, as `cv2.getAffineTransform` / `estimateAffinePartial2D` return them.
    public init(rows: [[Double]]) {
        precondition(rows.count == 2 && rows.allSatisfy { $0.count == 3 }, "an affine matrix has 2 rows of 3")
        self.init(a: rows[0][0], b: rows[0][1], c: rows[0][2], d: rows[1][0], e: rows[1][1], f: rows[1][2])
    }

    /// The identity map.
    public static let identity = AffineMatrix(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

    /// The image of point (x, y).
    public func apply(x: Double, y: Double) -> (x: Double, y: Double) { (a * x + b * y + c, d * x + e * y + f) }

    /// The inverse map, computed as OpenCV's `invertAffineTransform` does (a singular matrix gives all zeros).
    public func inverted() -> AffineMatrix {
        let det = a * e - b * d
        let r = det != 0 ? 1.0 / det : 0
        let (ia, ib, id, ie) = (e * r, -b * r, -d * r, a * r)
        return AffineMatrix(a: ia, b: ib, c: -ia * c - ib * f, d: id, e: ie, f: -id * c - ie * f)
    }
}

/// Geometric operations on `RGBImage`: resizing (`ImageResize.swift`), cropping, padding, flips, EXIF orientation
/// and affine warps. All are pure functions returning new images.
public enum ImageGeometry {
    /// The `width × height` window whose top-left corner is (x, y) in `image`; parts outside are `fill`.
    public static func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int,
                            fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> RGBImage {
        precondition(width >= 0 && height >= 0, "crop size must not be negative")
        var out = RGBImage(width: width, height: height, fill: fill)
        let x0 = max(x, 0), x1 = min(x + width, image.width)
        guard x0 < x1 else { return out }
        let count = (x1 - x0) * 3
        for row in max(y, 0)..<max(max(y, 0), min(y + height, image.height)) {
            let source = (row * image.width + x0) * 3, target = ((row - y) * width + (x0 - x)) * 3
            out.pixels.replaceSubrange(target..<(target + count), with: image.pixels[source..<(source + count)])
        }
        return out
    }

    /// `image` with borders of the given widths added, filled with `fill`.
    public static func pad(_ image: RGBImage, top: Int, left: Int, bottom: Int, right: Int,
                           fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> RGBImage {
        precondition(top >= 0 && left >= 0 && bottom >= 0 && right >= 0, "padding must not be negative")
        return crop(image, x: -left, y: -top, width: image.width + left + right, height: image.height + top + bottom, fill: fill)
    }

    /// Copies `tile` into `canvas` with its top-left corner at (x, y); parts falling outside the canvas are dropped.
    public static func paste(_ tile: RGBImage, into canvas: inout RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(canvas.width, x + tile.width)
        guard x0 < x1 else { return }
        for row in max(0, y)..<max(max(0, y), min(canvas.height, y + tile.height)) {
            let src = ((row - y) * tile.width + (x0 - x)) * 3, dst = (row * canvas.width + x0) * 3
            canvas.pixels.replaceSubrange(dst..<(dst + (x1 - x0) * 3), with: tile.pixels[src..<(src + (x1 - x0) * 3)])
        }
    }

    /// Mirror image left ↔ right.
    public static func flipHorizontal(_ image: RGBImage) -> RGBImage {
        remap(image, width: image.width, height: image.height) { x, y in (image.width - 1 - x, y) }
    }

    /// Applies an EXIF orientation (1...8) so that the result is upright, as Pillow's `ImageOps.exif_transpose`.
    public static func applyEXIFOrientation(_ image: RGBImage, orientation: Int) -> RGBImage {
        let (w, h) = (image.width, image.height)
        switch orientation {
        case 2: return flipHorizontal(image)
        case 3: return remap(image, width: w, height: h) { x, y in (w - 1 - x, h - 1 - y) }
        case 4: return remap(image, width: w, height: h) { x, y in (x, h - 1 - y) }
        case 5: return remap(image, width: h, height: w) { x, y in (y, x) }                   // transpose
        case 6: return remap(image, width: h, height: w) { x, y in (y, h - 1 - x) }           // rotate 90° clockwise
        case 7: return remap(image, width: h, height: w) { x, y in (w - 1 - y, h - 1 - x) }   // transverse
        case 8: return remap(image, width: h, height: w) { x, y in (w - 1 - y, x) }           // rotate 90° counter-clockwise
        default: return image
        }
    }

    /// Output pixel (x, y) takes the source pixel `source(x, y)`.
    private static func remap(_ image: RGBImage, width: Int, height: Int, _ source: (Int, Int) -> (Int, Int)) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for x in 0..<width {
                        let (sx, sy) = source(x, y)
                        let s = (sy * image.width + sx) * 3, d = (y * width + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Affine warp with bilinear sampling, reproducing OpenCV's `cv2.warpAffine(src, M, (width, height),
    /// flags=INTER_LINEAR, borderMode=…, borderValue=…)` on 8-bit images bit for bit.
    ///
    /// - Parameters:
    ///   - matrix: maps **source → destination** coordinates, like OpenCV's `M`; it is inverted internally. With
    ///     `inverseMap: true` it is taken as destination → source instead (OpenCV's `WARP_INVERSE_MAP`).
    ///   - outputSize: the destination size (OpenCV's `dsize`).
    ///   - border: colour for samples outside the source, or edge replication.
    ///
    /// Like OpenCV, source coordinates are quantised to 1/32 pixel and the four weights are 15-bit fixed point.
    public static func warpAffine(_ image: RGBImage, matrix: AffineMatrix, outputSize: (width: Int, height: Int),
                                  border: ImageBorder = .black, inverseMap: Bool = false) -> RGBImage {
        let (width, height) = outputSize
        precondition(width >= 0 && height >= 0, "output size must not be negative")
        let m = inverseMap ? matrix : matrix.inverted()
        var out = [UInt8](repeating: 0, count: width * height * 3)
        guard image.width > 0, image.height > 0 else { return RGBImage(width: width, height: height, pixels: out) }
        let fill: (Int32, Int32, Int32)
        if case .constant(let r, let g, let b) = border { fill = (Int32(r), Int32(g), Int32(b)) } else { fill = (0, 0, 0) }
        let replicate = border == .replicate
        // OpenCV: AB_BITS = 10 fractional bits for the coordinate increments, INTER_BITS = 5 for the sample position.
        func fixed(_ v: Double) -> Int { Int(max(min((v * 1024).rounded(.toNearestOrEven), 2147483647), -2147483648)) }
        let aDelta = (0..<width).map { fixed(m.a * Double($0)) }, bDelta = (0..<width).map { fixed(m.d * Double($0)) }
        let (sw, sh) = (image.width, image.height)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let x0 = fixed(m.b * Double(y) + m.c) + 16, y0 = fixed(m.e * Double(y) + m.f) + 16
                    for x in 0..<width {
                        let px = (x0 + aDelta[x]) >> 5, py = (y0 + bDelta[x]) >> 5
                        let sx = max(min(px >> 5, 32767), -32768), sy = max(min(py >> 5, 32767), -32768)
                        let fx = Int32(px & 31), fy = Int32(py & 31)
                        var sums: (Int32, Int32, Int32) = (1 << 14, 1 << 14, 1 << 14)
                        @inline(__always) func add(_ cx: Int, _ cy: Int, _ weight: Int32) {
                            guard weight != 0 else { return }
                            var (cx, cy) = (cx, cy)
                            if replicate {
                                cx = min(max(cx, 0), sw - 1); cy = min(max(cy, 0), sh - 1)
                            } else if cx < 0 || cx >= sw || cy < 0 || cy >= sh {
                                sums.0 += weight * fill.0; sums.1 += weight * fill.1; sums.2 += weight * fill.2
                                return
                            }
                            let s = (cy * sw + cx) * 3
                            sums.0 += weight * Int32(src[s]); sums.1 += weight * Int32(src[s + 1]); sums.2 += weight * Int32(src[s + 2])
                        }
                        add(sx, sy, (32 - fx) * (32 - fy) * 32)
                        add(sx + 1, sy, fx * (32 - fy) * 32)
                        add(sx, sy + 1, (32 - fx) * fy * 32)
                        add(sx + 1, sy + 1, fx * fy * 32)
                        let d = (y * width + x) * 3
                        dst[d] = UInt8(clamping: sums.0 >> 15); dst[d + 1] = UInt8(clamping: sums.1 >> 15)
                        dst[d + 2] = UInt8(clamping: sums.2 >> 15)
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

extension RGBImage {
    /// The `width × height` window at (x, y); parts outside the image are `fill` (see `ImageGeometry.crop`).
    public func cropped(x: Int, y: Int, width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> RGBImage {
        ImageGeometry.crop(self, x: x, y: y, width: width, height: height, fill: fill)
    }

    /// This image mirrored left ↔ right.
    public func flippedHorizontally() -> RGBImage { ImageGeometry.flipHorizontal(self) }
}
