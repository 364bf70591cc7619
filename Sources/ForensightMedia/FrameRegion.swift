/// A rectangle of an upright video frame that a ``VideoReader`` delivers instead of the whole frame.
///
/// The crop runs inside ffmpeg, before the frame is converted to RGB and piped, so a reader that only needs the part
/// of the picture around a face it already knows (the mouth-motion windows) pays the colour conversion and the pipe
/// for that part alone: on a 720p clip a face region is a fifth of the frame or less. Coordinates are frame pixels
/// of the upright picture (rotation applied), the origin top left. Made with ``init(around:grow:frameWidth:frameHeight:maximumShare:)``
/// or ``clamped(frameWidth:frameHeight:)``, a region is whole, even-aligned (ffmpeg crops 4:2:0 chroma on even
/// pixels) and inside the frame.
public struct FrameRegion: Sendable, Equatable, Codable {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) { (self.x, self.y, self.width, self.height) = (x, y, width, height) }

    /// The box (x1, y1)–(x2, y2) grown by `grow` pixels on every side, clamped to the frame and even-aligned. Nil
    /// when the box is empty or not finite, or when the region would cover more than `maximumShare` of the frame
    /// (then cropping saves too little to be worth it).
    public init?(around box: (x1: Float, y1: Float, x2: Float, y2: Float), grow: Float, frameWidth: Int, frameHeight: Int,
                 maximumShare: Double = 0.6) {
        guard [box.x1, box.y1, box.x2, box.y2, grow].allSatisfy(\.isFinite), box.x2 > box.x1, box.y2 > box.y1 else { return nil }
        let g = max(0, grow)
        let x1 = Int((box.x1 - g).rounded(.down)), y1 = Int((box.y1 - g).rounded(.down))
        let x2 = Int((box.x2 + g).rounded(.up)), y2 = Int((box.y2 + g).rounded(.up))
        let region = FrameRegion(x: x1, y: y1, width: x2 - x1, height: y2 - y1).clamped(frameWidth: frameWidth, frameHeight: frameHeight)
        guard let region, Double(region.width * region.height) <= maximumShare * Double(frameWidth * frameHeight) else { return nil }
        self = region
    }

    /// The region inside a `frameWidth` × `frameHeight` frame, its origin and size rounded down to even numbers;
    /// nil when less than 2 × 2 pixels of it lie inside.
    public func clamped(frameWidth: Int, frameHeight: Int) -> FrameRegion? {
        let x1 = max(0, x) & ~1, y1 = max(0, y) & ~1
        let x2 = min(frameWidth, x + width), y2 = min(frameHeight, y + height)
        let w = (x2 - x1) & ~1, h = (y2 - y1) & ~1
        guard w >= 2, h >= 2 else { return nil }
        return FrameRegion(x: x1, y: y1, width: w, height: h)
    }

    /// Bytes of one RGB frame of the region.
    public var rgbBytes: Int { width * height * 3 }

    /// The filters that turn a decoded frame into the delivered picture: the crop (when there is a region), then a
    /// `scale` that is a no-op for ordinary video but keeps every piped frame exactly the planned size if the stream
    /// changes size mid-way.
    static func filters(_ region: FrameRegion?, info: VideoInfo) -> [String] {
        guard let region else { return ["scale=\(info.width):\(info.height)"] }
        return ["crop=\(region.width):\(region.height):\(region.x):\(region.y)", "scale=\(region.width):\(region.height)"]
    }
}

extension VideoInfo {
    /// Width, height and RGB bytes of each delivered frame: the region's, or the whole frame's.
    func output(_ region: FrameRegion?) -> (width: Int, height: Int, bytes: Int) {
        guard let region else { return (width, height, frameBytes) }
        return (region.width, region.height, region.rgbBytes)
    }
}
