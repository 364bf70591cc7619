import XCTest
import ForensightTensor

/// `VectorISA`: the ISA the kernels were compiled for (Package.swift's `FORENSIGHT_AVX512` / `FORENSIGHT_AVX2`
/// condition, which also picks the register tiles) agrees with the CPU the tests run on, and the benchmark line names it.
final class VectorISATests: XCTestCase {
    func testCompiledISAIsKnownAndRunsOnThisCPU() throws {
        let compiled = VectorISA.compiled
        #if arch(x86_64)
        // Every x86-64 build Package.swift makes is for an AVX2 or AVX-512 CPU; portable tiles here would mean the
        // condition did not reach the kernels (or the CPU name is missing from Package.swift's table).
        XCTAssertNotEqual(compiled, .portable, "x86-64 build without FORENSIGHT_AVX512 / FORENSIGHT_AVX2")
        #endif
        let rank: [VectorISA: Int] = [.portable: 0, .avx2: 1, .avx512: 2]
        let best = try XCTUnwrap(VectorISA.cpuBest, "no vector features read from the CPU")
        XCTAssertLessThanOrEqual(rank[compiled]!, rank[best]!, "compiled for \(compiled), the CPU has \(best)")
    }

    func testRegisterFileAndSummary() {
        XCTAssertEqual(VectorISA.avx512.registers * VectorISA.avx512.floatsPerRegister, 512)
        XCTAssertEqual(VectorISA.avx2.registers * VectorISA.avx2.floatsPerRegister, 128)
        let summary = VectorISA.summary
        XCTAssertTrue(summary.hasPrefix("kernels \(VectorISA.compiled.rawValue) "), summary)
        #if arch(x86_64)
        XCTAssertTrue(summary.contains("AVX2") && summary.contains("FMA"), summary)
        #endif
    }
}
