import Foundation
import CBLAS

/// OpenBLAS kernel selection.
///
/// OpenBLAS picks its GEMM kernels for the CPU once, when the library loads. Older builds (Debian 12 ships 0.3.21) do
/// not recognise newer CPUs and fall back to generic SSE3 kernels ("Prescott"), four to five times slower than the
/// AVX-512 or AVX2 kernels the same library contains. The only switch is the `OPENBLAS_CORETYPE` environment variable,
/// read at load time, so a program that wants the fast kernels must be started with it: `relaunchWithFastKernels()`
/// restarts the current process with it set when that helps.
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

    /// Re-executes this process with `OPENBLAS_CORETYPE` set when OpenBLAS picked generic kernels and the user did not
    /// choose a core type. Returns normally when no restart is needed (or possible).
    public static func relaunchWithFastKernels() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["FORENSIGHT_BLAS_RELAUNCHED"] == nil, usesGenericKernels,
              let core = suitableCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("FORENSIGHT_BLAS_RELAUNCHED", "1", 1)
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // execv only returns on failure: carry on with the generic kernels.
    }
}
