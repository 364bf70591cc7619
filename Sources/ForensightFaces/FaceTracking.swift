/// Which faces of a frame are kept.
public enum FaceSelection: String, Sendable, CaseIterable, Codable {
    /// Only the largest face (DeepfakeBench).
    case largest
    /// Every face at least half the area of the largest (SBI's rule for multi-face frames).
    case halfOfLargest = "half-of-largest"
}

/// One detection inside a track.
public struct TrackedFace: Sendable, Equatable {
    public var frameIndex: Int
    public var time: Double
    public var face: DetectedFace
}

/// The same face followed across sampled frames, with a stable id (0, 1, … in order of appearance).
public struct FaceTrack: Sendable, Equatable {
    public let id: Int
    public private(set) var faces: [TrackedFace] = []
    public var last: TrackedFace? { faces.last }
    mutating func append(_ f: TrackedFace) { faces.append(f) }
}

/// Links detections frame by frame into tracks: greedy matching by a cost that mixes box overlap and landmark
/// distance (relative to face size); a detection that matches no live track starts a new one.
public struct FaceTracker: Sendable {
    public var selection: FaceSelection
    /// Faces whose box side is below this many pixels are dropped.
    public var minimumFaceSize: Float
    /// Smallest IoU with a track's last box that counts as the same face.
    public var minimumIoU: Float
    /// A track not matched for more than this many sampled frames is closed.
    public var maximumGap: Int
    public private(set) var tracks: [FaceTrack] = []
    private var lastSeen: [Int: Int] = [:]
    private var frameCounter = 0

    public init(selection: FaceSelection = .halfOfLargest, minimumFaceSize: Float = 20, minimumIoU: Float = 0.3, maximumGap: Int = 4) {
        (self.selection, self.minimumFaceSize, self.minimumIoU, self.maximumGap) = (selection, minimumFaceSize, minimumIoU, maximumGap)
    }

    /// Applies the size rule and the selection policy to one frame's detections.
    public func select(_ faces: [DetectedFace]) -> [DetectedFace] {
        let big = faces.filter { Swift.min($0.box.width, $0.box.height) >= minimumFaceSize }
        guard let largest = big.map(\.box.area).max() else { return [] }
        switch selection {
        case .largest: return [big.first { $0.box.area == largest }!]
        case .halfOfLargest: return big.filter { $0.box.area >= largest / 2 }.sorted { $0.box.area > $1.box.area }
        }
    }

    /// Cost of assigning `face` to a track ending in `previous` (nil when they cannot be the same face).
    func cost(_ face: DetectedFace, _ previous: DetectedFace) -> Float? {
        let iou = face.box.iou(previous.box)
        guard iou >= minimumIoU else { return nil }
        let scale = Swift.max(previous.box.width, previous.box.height, 1)
        let landmarkShift = zip(face.landmarks, previous.landmarks).map { (($0.x - $1.x) * ($0.x - $1.x) + ($0.y - $1.y) * ($0.y - $1.y)).squareRoot() }
        let shift = landmarkShift.isEmpty ? 0 : landmarkShift.reduce(0, +) / Float(landmarkShift.count) / scale
        return (1 - iou) + shift
    }

    /// Adds one sampled frame's detections (after `select`); returns the track id given to each, in order.
    @discardableResult
    public mutating func update(frameIndex: Int, time: Double, faces: [DetectedFace]) -> [Int] {
        frameCounter += 1
        let live = tracks.indices.filter { frameCounter - (lastSeen[tracks[$0].id] ?? 0) <= maximumGap + 1 }
        var pairs: [(cost: Float, face: Int, track: Int)] = []
        for (fi, f) in faces.enumerated() {
            for ti in live { if let prev = tracks[ti].last?.face, let c = cost(f, prev) { pairs.append((c, fi, ti)) } }
        }
        var assigned = [Int?](repeating: nil, count: faces.count), usedTracks = Set<Int>()
        for p in pairs.sorted(by: { $0.cost < $1.cost }) where assigned[p.face] == nil && !usedTracks.contains(p.track) {
            assigned[p.face] = p.track
            usedTracks.insert(p.track)
        }
        var ids: [Int] = []
        for (fi, f) in faces.enumerated() {
            let ti: Int
            if let t = assigned[fi] { ti = t } else { tracks.append(FaceTrack(id: tracks.count)); ti = tracks.count - 1 }
            tracks[ti].append(TrackedFace(frameIndex: frameIndex, time: time, face: f))
            lastSeen[tracks[ti].id] = frameCounter
            ids.append(tracks[ti].id)
        }
        return ids
    }
}
