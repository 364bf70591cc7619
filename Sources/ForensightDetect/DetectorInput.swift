import Foundation
import ForensightMedia
import ForensightFaces

/// What a detector's network is fed (the card's `input`; absent = `faceCrop`). `Pipeline` cuts each kind from a file.
public enum DetectorInput: String, Codable, Sendable, CaseIterable {
    /// One aligned face crop per tracked face per sampled frame (the card's crop fields), scored on its own.
    case faceCrop = "face-crop"
    /// T consecutive sampled crops of one tracked face (T = the card's `clipFrames`), in frame order, scored as one
    /// clip; the clip's score goes to each of its face-frames (`TrackClips`).
    case trackClip = "track-clip"
    /// Each sampled frame whole, resized to `inputSize` × `inputSize` (aspect not kept) with the card's
    /// `interpolation`; no face detection.
    case wholeImage = "whole-image"
    /// Windows of consecutive frames at the video's own rate (the card's `motion`), one face followed through each by
    /// FaceMesh (`MotionWindow`); each window's score goes to each of its frames. Still images give no windows.
    case mouthMotion = "mouth-motion"
}

/// A batch of the inputs of one kind, as `Detector.logits(_:)` takes them.
public enum DetectorBatch {
    /// Face crops (`faceLogits`).
    case faces([RGBImage])
    /// Clips of T crops of one track each, in frame order (`clipLogits`).
    case clips([[RGBImage]])
    /// Whole frames at the card's input size (`imageLogits`).
    case images([RGBImage])
    /// Motion windows of one face each (`motionLogits`).
    case motion([MotionWindow])

    /// The number of inputs (crops, clips or frames), i.e. of logits a detector returns for it.
    public var count: Int {
        switch self {
        case .faces(let f): f.count
        case .clips(let c): c.count
        case .images(let i): i.count
        case .motion(let w): w.count
        }
    }
}

extension DetectorCard {
    /// The input kind in force: `input`, or `faceCrop` when the card has none.
    public var inputKind: DetectorInput { input ?? .faceCrop }

    /// T for a `trackClip` card: `clipFrames` clamped to 1...4096 (1 when absent; `validateInput` rejects both).
    public var clipLength: Int { min(max(1, clipFrames ?? 1), 4096) }

    /// Throws a one-line `DetectorError` (prefixed by `source`) for input fields a pipeline cannot honour: a
    /// `trackClip` card without `clipFrames` ≥ 1, `clipFrames` on another kind, a `pixelScale` that is not a positive
    /// finite number, an input size below 1, or `mean`/`std` without three entries (or a zero `std`).
    public func validateInput(source: String? = nil) throws {
        let prefix = source.map { $0 + ": " } ?? ""
        switch inputKind {
        case .trackClip:
            guard let t = clipFrames, t >= 1, t <= 4096 else {
                throw DetectorError("\(prefix)model card \"\(id)\": input track-clip needs clip_frames between 1 and 4096")
            }
        case .mouthMotion:
            guard clipFrames == nil else { throw DetectorError("\(prefix)model card \"\(id)\": clip_frames is only for input track-clip") }
            if let m = motion, !(m.count >= 1 && m.count <= 64 && m.seconds.isFinite && m.seconds > 0 && m.seconds <= 60) {
                throw DetectorError("\(prefix)model card \"\(id)\": motion needs 1–64 windows of 0–60 s")
            }
        case .faceCrop, .wholeImage:
            guard clipFrames == nil else { throw DetectorError("\(prefix)model card \"\(id)\": clip_frames is only for input track-clip") }
        }
        if let scale = pixelScale, !(scale.isFinite && scale > 0) {
            throw DetectorError("\(prefix)model card \"\(id)\": pixel_scale must be a positive number (255 or 1, say)")
        }
        guard inputSize >= 1, inputSize <= 8192 else { throw DetectorError("\(prefix)model card \"\(id)\": input_size \(inputSize) out of range") }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }) else {
            throw DetectorError("\(prefix)model card \"\(id)\": mean and std need three entries, std non-zero")
        }
    }
}

extension Detector {
    /// The input kind this detector takes (its card's `input`, face crops without one).
    public var inputKind: DetectorInput { card.inputKind }

    /// The raw logit of each input of `batch`, by the method for its kind.
    public func logits(_ batch: DetectorBatch, batchSize: Int = 16) -> [Float] {
        switch batch {
        case .faces(let faces): faceLogits(faces, batchSize: batchSize)
        case .clips(let clips): clipLogits(clips)
        case .images(let images): imageLogits(images)
        case .motion(let windows): motionLogits(windows)
        }
    }

    /// P(fake) of each input of `batch` (calibrated when the card has a calibration).
    public func probabilities(_ batch: DetectorBatch, batchSize: Int = 16) -> [Float] {
        logits(batch, batchSize: batchSize).map(probability(logit:))
    }

    /// Default for detectors that do not look at clips themselves: the mean of the face-crop logits of each clip's
    /// crops (all crops scored in batches of 16).
    public func clipLogits(_ clips: [[RGBImage]]) -> [Float] {
        let z = faceLogits(clips.flatMap { $0 }, batchSize: 16)
        var out: [Float] = [], start = 0
        for clip in clips {
            let end = min(start + clip.count, z.count)
            let part = start < end ? z[start..<end] : []
            out.append(part.isEmpty ? 0 : part.reduce(0, +) / Float(part.count))
            start += clip.count
        }
        return out
    }

    /// Default for detectors that do not treat frames differently: each frame (already at the input size) scored as
    /// a face crop would be.
    public func imageLogits(_ images: [RGBImage]) -> [Float] { faceLogits(images, batchSize: 16) }

    /// Default for detectors that do not look at motion: logit 0 (P(fake) ½ before calibration) per window. Only a
    /// `mouthMotion` detector is given windows.
    public func motionLogits(_ windows: [MotionWindow]) -> [Float] { windows.map { _ in 0 } }
}

/// How a `trackClip` detector's clips are cut from a file's tracked crops.
///
/// Each track's crops, in frame order, are cut into windows of T consecutive crops with stride T (no overlap). A
/// last window shorter than T (or a track shorter than T) is padded by repeating its last crop, so every clip has
/// exactly T crops; the padding copies get no score of their own. Each window's score goes to every face-frame in it.
public enum TrackClips {
    /// The windows over `crops` (track id and frame index of each crop; any order): each window lists T indices into
    /// `crops`, of one track, in frame order, the last index repeated as padding. Windows come by track id, then frame.
    public static func windows(_ crops: [(track: Int, frame: Int)], length: Int) -> [[Int]] {
        let t = max(1, length)
        let byTrack = Dictionary(grouping: crops.indices, by: { crops[$0].track })
        var windows: [[Int]] = []
        for track in byTrack.keys.sorted() {
            let ordered = byTrack[track]!.sorted { (crops[$0].frame, $0) < (crops[$1].frame, $1) }
            var start = 0
            while start < ordered.count {
                var window = Array(ordered[start..<min(start + t, ordered.count)])
                while window.count < t { window.append(window[window.count - 1]) }
                windows.append(window)
                start += t
            }
        }
        return windows
    }
}
