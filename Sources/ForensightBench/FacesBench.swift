import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces

/// `forensight bench faces`: frame sampling and face extraction on a 720p clip, MTCNN against facenet-pytorch
/// (the reference implementation of the same cascade) on the same frames, settings and threads.
public enum FacesBench {
    public struct Options: Sendable {
        /// A clip with faces; by default the 720p FF++ original `192.mp4` from ../shared/datasets.
        public var video: String?
        public var threads: Int
        public var runs: Int
        /// Run the facenet-pytorch peer (needs torch and facenet-pytorch).
        public var facenet: Bool
        public init(video: String? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount, runs: Int = 3, facenet: Bool = true) {
            (self.video, self.threads, self.runs, self.facenet) = (video, threads, runs, facenet)
        }
    }

    /// The default clip, when the shared datasets are next to the project.
    static func defaultVideo() -> String? {
        guard let root = PythonPeer.projectRoot() else { return nil }
        let p = URL(fileURLWithPath: root).appendingPathComponent("../shared/datasets/ffpp-c23-mini/original_youtube_c23/192.mp4").standardizedFileURL.path
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    public static func run(_ options: Options, progress: (String) -> Void = { _ in }) throws -> [BenchRow] {
        ComputeThreads.set(options.threads)
        guard let video = options.video ?? defaultVideo() else {
            throw PeerError(description: "no clip: pass --video with a clip that shows faces (the default, ../shared/datasets/ffpp-c23-mini/original_youtube_c23/192.mp4, is absent)")
        }
        let reader = try VideoReader(path: video)
        let clip = "\(reader.info.width)×\(reader.info.height) \(String(format: "%.1f", reader.info.duration ?? 0)) s"
        var rows: [BenchRow] = []

        progress("sampling 32 frames from \(clip)")
        var frames: [VideoFrame] = []
        let sampleMs = try medianMilliseconds(runs: options.runs, warmup: 0) { frames = try reader.readFrames(sampling: .uniform(count: 32)).frames }
        let allMs = try medianMilliseconds(runs: 1, warmup: 0) { _ = try reader.frames(sampling: .all) { _ in .continue } }
        rows.append(BenchRow(name: "sample 32 frames, \(clip)", oursMs: sampleMs, peerMs: allMs, peer: "decoding every frame (same reader)",
                             note: "\(frames.count) frames"))

        let detector = try MTCNN()
        let probe = Array(frames.prefix(8))
        progress("MTCNN on \(probe.count) frames, full pyramid")
        let perFrame = medianMilliseconds(runs: options.runs) { for f in probe { _ = detector.detect(f.image) } } / Double(probe.count)
        var peerPerFrame: Double? = nil, peerNote = "none (--no-facenet)"
        if options.facenet {
            progress("facenet-pytorch on the same frames")
            do {
                peerPerFrame = try facenetMilliseconds(probe, threads: options.threads, runs: options.runs)
                peerNote = "facenet-pytorch 2.6.0, torch \(options.threads) threads"
            } catch { peerNote = "unavailable: \(error)" }
        }
        rows.append(BenchRow(name: "MTCNN per frame, full pyramid, min face 20", oursMs: perFrame, peerMs: peerPerFrame, peer: peerNote))

        progress("video mode on 32 frames")
        let extractMs = medianMilliseconds(runs: options.runs) {
            let extractor = FaceExtractor(detector: detector)
            for f in frames { _ = extractor.process(f.image, frameIndex: f.index, time: f.time) }
        }
        rows.append(BenchRow(name: "faces for 32 frames, video mode", oursMs: extractMs, peerMs: peerPerFrame.map { $0 * Double(frames.count) },
                             peer: peerPerFrame == nil ? peerNote : "facenet-pytorch, full detection on each frame"))

        progress("end to end: sample, detect, track, crop")
        let faceReader = MediaFaceReader(detector: detector)
        var found = 0
        let endToEnd = try medianMilliseconds(runs: options.runs, warmup: 0) { found = try faceReader.read(path: video).crops.count }
        rows.append(BenchRow(name: "faces end to end, 32 frames of \(clip)", oursMs: endToEnd, peerMs: nil, peer: "target ≤ 1000 ms (detection part)",
                             note: "\(found) face crops"))
        return rows
    }

    /// facenet-pytorch's milliseconds per frame on `frames` (through scripts/bench/mtcnn_peer.py).
    static func facenetMilliseconds(_ frames: [VideoFrame], threads: Int, runs: Int) throws -> Double {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-frames-\(getpid()).bin")
        defer { try? FileManager.default.removeItem(at: file) }
        var data = Data()
        for f in frames { data.append(contentsOf: f.image.pixels) }
        try data.write(to: file)
        let (w, h) = (frames[0].image.width, frames[0].image.height)
        let result = try PythonPeer.facenet.run(["--frames", file.path, "--shape", "\(frames.count),\(h),\(w)", "--threads", "\(threads)",
                                                 "--runs", "\(runs)", "--min-face", "20"])
        guard let ms = result["ms_per_frame_median"] as? Double else { throw PeerError(description: "facenet peer gave no timing") }
        return ms
    }
}
