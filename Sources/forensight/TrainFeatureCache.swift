import Foundation
import ArgumentParser
import ForensightDetect
import ForensightTraining

extension Train {
    /// --feature-cache's usage rules: a face-crop recipe, an architecture with a frozen backbone, no consistency term.
    func validateFeatureCache() throws {
        guard (1...64).contains(cacheViews) else { throw ValidationError("--cache-views must be between 1 and 64") }
        guard detector == .sbi || detector == .synthesis else { throw ValidationError("--feature-cache trains --detector sbi or synthesis only") }
        guard (try? DetectorRegistry.makeTrainable(card: DetectorCard(id: "probe", architecture: architecture))) is any FrozenBackboneDetector else {
            throw ValidationError("--feature-cache: \(architecture) has no frozen backbone to cache (forgelens-efficientnet-lite0 has)")
        }
        guard consistencyWeight == 0 else { throw ValidationError("--feature-cache: the consistency term needs fresh views every step (--consistency-weight 0)") }
    }

    /// Builds what the cache lacks (a progress bar on stderr) or reuses it, and says which.
    func prepareFeatureCache(_ trainer: SelfBlendTrainer, at directory: String) throws {
        var bar: ProgressBar?
        let report: SelfBlendTrainer.FeatureCacheReport
        do {
            report = try trainer.prepareFeatureCache(at: directory, rebuild: rebuildFeatureCache) { done, total in
                if bar == nil { bar = ProgressBar("feature cache", total: total) }
                bar?.update(done)
            }
        } catch { throw fail("\(error)") }
        bar?.finish()
        let m = report.manifest
        let size = String(format: "%.1f MB", Double(report.bytes) / 1e6)
        if report.builtShards == 0 {
            note("feature cache: reusing \(directory) (\(m.faces) faces × \(m.views) views, \(size))")
        } else {
            note(String(format: "feature cache: %d of %d shards built in %.0f s (%d faces × %d views of %@, fp16), %@ in %@", report.builtShards,
                        m.shardCount, report.seconds, m.faces, m.views, m.backbone, size, directory))
        }
    }
}
