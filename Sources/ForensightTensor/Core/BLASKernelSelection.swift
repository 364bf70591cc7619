import Foundation
import CBLAS

/// OpenBLAS kernel selection.
///
/// OpenBLAS picks its GEMM kernels for the CPU once, when the library loads. Older builds (Debian 12 ships 0.3.21) do
/// not recognise newer CPUs and fall back to generic SSE3 kernels ("Prescott"), four to five times slower than the
/// AVX-512 or AVX2 kernels the same library contains. The only switch is the `OPENBLAS_CORETYPE` environment variable,
/// read at load time, so a program that wants the fast kernels must be started with it: `relaunchWithBLASSettings()`
/// restarts the current process with it set when that helps (and with OpenBLAS's idle threads set to sleep at once).
public enum BLASKernels {
    /// The kernel family OpenBLAS chose (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The `OPENBLAS_CORETYPE` that suits this CPU, from its instruction-set flags (Linux /proc/cpuinfo).
    public static func suitableCoreType() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy(flags.contains) { return "SKYLAKEX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "HASWELL" }
        return nil
    }

    /// Whether OpenBLAS is running generic kernels although the CPU has faster ones it knows.
    public static var usesGenericKernels: Bool {
        ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Unknown"].contains(coreName)
            && suitableCoreType() != nil
    }

    /// The `OPENBLAS_THREAD_TIMEOUT` the CLI starts OpenBLAS with: its idle worker threads sleep after 2⁴ cycles
    /// instead of the default 2²⁸ (about 0.1 s). Spinning, they took a core from our own worker pool for a tenth
    /// of a second after process start and after every multi-threaded GEMM (MTCNN's, in `detect`): EfficientNet-Lite0
    /// forwards in that window ran at single-thread speed, and `detect` on a 10-s clip was about 10 % slower. The
    /// price is a condition-variable wake-up per multi-threaded GEMM.
    public static let idleThreadTimeout = "4"

    /// Re-executes this process, once, with the OpenBLAS settings that only take effect at load time:
    /// `OPENBLAS_CORETYPE` when OpenBLAS picked generic kernels on a CPU with faster ones, and
    /// `OPENBLAS_THREAD_TIMEOUT` (`idleThreadTimeout`). Values the user has set are kept. Returns normally when no
    /// restart is needed (or possible).
    public static func relaunchWithBLASSettings() {
        let env = ProcessInfo.processInfo.environment
        guard env["FORENSIGHT_BLAS_RELAUNCHED"] == nil else { return }
        var changed = false
        if env["OPENBLAS_CORETYPE"] == nil, usesGenericKernels, let core = suitableCoreType() {
            setenv("OPENBLAS_CORETYPE", core, 1)
            changed = true
        }
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil {
            setenv("OPENBLAS_THREAD_TIMEOUT", idleThreadTimeout, 1)
            changed = true
        }
        guard changed else { return }
        setenv("FORENSIGHT_BLAS_RELAUNCHED", "1", 1)
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // execv only returns on failure: carry on with the settings OpenBLAS loaded with.
    }
}
