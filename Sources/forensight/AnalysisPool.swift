import Foundation
import ForensightTensor
import ForensightMedia

/// The tensor reuse pool of commands that analyse media files (`TensorMemory.idleLimitBytes`; docs/ARCHITECTURE.md,
/// "Memory"). Face detection meets a new tensor shape in nearly every frame and window, so a large pool only fills
/// up with shapes never met again: these commands keep 64 MB, and 16 MB while a video larger than 1080p is analysed,
/// whose own frames and decoders then take most of the memory (the 10-s 4K clip of docs/BENCHMARKS.md peaked at 628
/// MB with 64 MB and 589 MB with 16 MB, no slower). `FORENSIGHT_POOL_MB` overrides both.
enum AnalysisPool {
    /// The pool size `FORENSIGHT_POOL_MB` asks for, if any.
    static var configuredBytes: Int? { Int(ProcessInfo.processInfo.environment["FORENSIGHT_POOL_MB"] ?? "").map { $0 << 20 } }
    static let defaultBytes = 64 << 20
    static let largeVideoBytes = 16 << 20

    /// Sets the pool for a run of analyses.
    static func apply() { TensorMemory.idleLimitBytes = configuredBytes ?? defaultBytes }

    /// Sets the pool for analysing `path`: smaller for a video above 1920×1088 (probed once; the probe is remembered
    /// for the read that follows).
    static func apply(forFile path: String) {
        guard configuredBytes == nil else { return apply() }
        let large = MediaFiles.isVideo(path: path) && ((try? VideoProbe.probe(path: path)).map { $0.width * $0.height > 1920 * 1088 } ?? false)
        TensorMemory.idleLimitBytes = large ? largeVideoBytes : defaultBytes
    }
}
