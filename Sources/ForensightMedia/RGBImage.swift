/// An 8-bit RGB image, row-major, 3 interleaved bytes per pixel (R, G, B), top row first.
///
/// Images in Forensight never carry tensors: models convert them with their own preprocessing.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes.
    public var pixels: [UInt8]

    /// An image from existing bytes (`pixels.count` must be `width * height * 3`).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage \(width)×\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// A uniformly coloured image.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.0; p[3 * i + 1] = fill.1; p[3 * i + 2] = fill.2 }
        self.init(width: width, height: height, pixels: p)
    }

    /// The (r, g, b) value at column x, row y.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Number of pixels.
    public var pixelCount: Int { width * height }
}
