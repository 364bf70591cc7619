import Foundation

/// The vector instruction set the numeric kernels were compiled for, and what the running CPU supports.
///
/// Package.swift compiles the numeric targets for one CPU (`-target-cpu`, the building machine's unless
/// `FORENSIGHT_TARGET_CPU` says otherwise) and passes the matching condition, `FORENSIGHT_AVX512` or
/// `FORENSIGHT_AVX2`, so the kernels can size their register tiles for it (`KernelTiling`). A benchmark row is only
/// meaningful with the ISA beside it: the same source runs about twice as fast with AVX-512's 32 registers of 16
/// floats as with AVX2's 16 registers of 8.
public enum VectorISA: String, Sendable, CaseIterable {
    /// AVX-512 F/BW/DQ/VL (x86-64-v4): 32 registers of 16 floats.
    case avx512 = "AVX-512"
    /// AVX2 + FMA (x86-64-v3, `haswell`): 16 registers of 8 floats.
    case avx2 = "AVX2+FMA"
    /// Anything else (arm64, or an x86-64 build without a known `-target-cpu`): the portable tiles.
    case portable = "portable"

    /// The ISA this build's kernels were compiled for.
    public static var compiled: VectorISA {
        #if FORENSIGHT_AVX512
        return .avx512
        #elseif FORENSIGHT_AVX2
        return .avx2
        #else
        return .portable
        #endif
    }

    /// Architectural vector registers the compiled tiles are sized for.
    public var registers: Int {
        switch self {
        case .avx512: return 32
        case .avx2: return 16
        case .portable: return 16
        }
    }

    /// Floats per vector register.
    public var floatsPerRegister: Int {
        switch self {
        case .avx512: return 16
        case .avx2: return 8
        case .portable: return 4
        }
    }

    /// The running CPU's vector extensions that matter here, from `/proc/cpuinfo` (Linux): e.g.
    /// `["AVX-512F", "AVX-512BW", "AVX-512DQ", "AVX-512VL", "AVX2", "FMA"]`; `["NEON"]` on arm64; empty when unknown.
    public static let cpuFeatures: [String] = {
        #if arch(arm64)
        return ["NEON"]
        #else
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        let flags = Set(line.split(separator: " ").map(String.init))
        let named: [(String, String)] = [("avx512f", "AVX-512F"), ("avx512bw", "AVX-512BW"), ("avx512dq", "AVX-512DQ"),
                                         ("avx512vl", "AVX-512VL"), ("avx2", "AVX2"), ("fma", "FMA")]
        return named.filter { flags.contains($0.0) }.map(\.1)
        #endif
    }()

    /// The best ISA of `VectorISA` the running CPU supports, from `cpuFeatures` (nil when unknown).
    public static var cpuBest: VectorISA? {
        let f = Set(cpuFeatures)
        if f.isEmpty { return nil }
        if ["AVX-512F", "AVX-512BW", "AVX-512DQ", "AVX-512VL"].allSatisfy(f.contains) { return .avx512 }
        if f.contains("AVX2") && f.contains("FMA") { return .avx2 }
        return .portable
    }

    /// One line for benchmark output: `kernels AVX2+FMA (16 × 8 floats); CPU AVX-512F AVX-512BW … AVX2 FMA`.
    public static var summary: String {
        let isa = compiled
        let cpu = cpuFeatures.isEmpty ? "unknown" : cpuFeatures.joined(separator: " ")
        return "kernels \(isa.rawValue) (\(isa.registers) × \(isa.floatsPerRegister) floats); CPU \(cpu)"
    }
}
