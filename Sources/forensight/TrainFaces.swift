import Foundation
import ForensightFaces
import ForensightData
import ForensightTraining

extension Train {
    /// --cache, or `$FORENSIGHT_CACHE/faces` (default `~/.cache/forensight/faces`): the face cache, with the motion tracks.
    var cacheRoot: String {
        cache ?? ((ProcessInfo.processInfo.environment["FORENSIGHT_CACHE"] ?? NSHomeDirectory() + "/.cache/forensight") + "/faces")
    }

    /// The 32-frame face cache: --cache (other frame counts: `FaceCache.withFrames`).
    func openCache() throws -> FaceCache {
        let root = cacheRoot
        let detector: MTCNN
        do { detector = try MTCNN() } catch { throw fail("\(error)") }
        let reader = MediaFaceReader(detector: detector, extraction: FaceExtractionOptions(selection: .largest),
                                     cropper: FaceCropper(size: 256, margin: 1.3, mode: .aligned), sampling: .uniform(count: 32))
        return FaceCache(root: root, reader: reader)
    }

    /// Cuts (or finds cached) faces for `items` and loads them with their landmarks.
    func loadFaces(_ items: Manifest, cache: FaceCache, label: String) throws -> [TrainingFace] {
        var bar = ProgressBar(label, total: items.count)
        var failures = 0
        for (i, sample) in items.enumerated() {
            if case .failed(let reason) = cache.prepare(sample) { failures += 1; if failures <= 5 { note("forensight: \(reason)") } }
            bar.update(i + 1)
        }
        bar.finish()
        do {
            return try TrainingFace.load(try cache.faceManifest(for: items))
        } catch { throw fail("\(error)") }
    }

    /// The faces with their FaceMesh landmarks (the dense mask), with a count of those FaceMesh rejected.
    func addingMeshes(_ faces: [TrainingFace], label: String) throws -> [TrainingFace] {
        let mesh: FaceMesh
        do { mesh = try FaceMesh() } catch { throw fail("\(error) (or train with --mask five-point)") }
        var bar = ProgressBar(label, total: faces.count)
        let (out, meshed) = TrainingFace.addingMeshes(faces, mesh: mesh) { bar.update($0) }
        bar.finish()
        let byDataset = Dictionary(grouping: out, by: { $0.sample.dataset }).sorted { $0.key < $1.key }
            .map { "\($0.key) \($0.value.filter { $0.mesh != nil }.count)/\($0.value.count)" }.joined(separator: ", ")
        note("\(label): \(meshed) of \(faces.count) faces have a dense mesh (\(byDataset)); the rest blend inside the five-point outline")
        return out
    }
}
