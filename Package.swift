// swift-tools-version:6.0
// Forensight: deepfake detection on its own Swift numerical core.
// The target graph below is the architecture: arrows follow the data flow (docs/ARCHITECTURE.md).
import PackageDescription
import Foundation

// Numeric kernels use 16-lane SIMD. On x86-64 they need at least AVX2 + FMA ("haswell", the x86-64-v3 level: Intel
// since 2013, AMD since 2015) to compile to vector instructions instead of per-lane code. Forensight is built on the
// machine that runs it (scripts/run.sh, scripts/test.sh), so where the building CPU has AVX-512 F/BW/DQ/VL the
// kernels are compiled for it ("skylake-avx512"): one 512-bit register per SIMD16<Float> instead of two 256-bit ones.
// FORENSIGHT_TARGET_CPU overrides the choice, e.g. `haswell` for a binary that must also run on AVX2-only machines
// (SwiftPM caches this manifest: remove .build after changing it).
// The kernels size their register tiles for the ISA they are compiled for (AVX-512: 32 registers of 16 floats;
// AVX2: 16 registers of 8 floats), so the chosen CPU is also passed down as a compilation condition:
// FORENSIGHT_AVX512, FORENSIGHT_AVX2, or neither (the portable tiles, e.g. on arm64).
#if arch(x86_64)
func buildMachineTargetCPU() -> String {
    if let chosen = ProcessInfo.processInfo.environment["FORENSIGHT_TARGET_CPU"], !chosen.isEmpty { return chosen }
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return "haswell" }
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) ? "skylake-avx512" : "haswell"
}
/// The kernels' tiling condition for an LLVM CPU name: AVX-512 CPUs, AVX2 + FMA CPUs, or none (portable tiles).
func vectorISACondition(_ cpu: String) -> String? {
    let avx512 = ["skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client", "icelake-server",
                  "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d",
                  "diamondrapids", "znver4", "znver5", "x86-64-v4", "knl", "knm"]
    let avx2 = ["haswell", "broadwell", "skylake", "kabylake", "coffeelake", "cometlake", "alderlake", "raptorlake",
                "meteorlake", "arrowlake", "arrowlake-s", "lunarlake", "gracemont", "sierraforest", "grandridge",
                "clearwaterforest", "pantherlake", "znver1", "znver2", "znver3", "x86-64-v3", "bdver4"]
    if avx512.contains(cpu) { return "FORENSIGHT_AVX512" }
    return avx2.contains(cpu) ? "FORENSIGHT_AVX2" : nil
}
let targetCPU = buildMachineTargetCPU()
let vectorISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU])]
    + (vectorISACondition(targetCPU).map { [SwiftSetting.define($0)] } ?? [])
#else
let vectorISA: [SwiftSetting] = []
#endif
/// Every target builds in Swift 6 language mode: strict concurrency checking, so code reachable from a server's many
/// tasks is checked for data races.
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Forensight",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "forensight", targets: ["forensight"]),
        .library(name: "ForensightTensor", targets: ["ForensightTensor"]),
        .library(name: "ForensightNN", targets: ["ForensightNN"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The web app and REST API (ForensightServer): HTTP, the SQLite job table, templates, metrics, multipart.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Tests only: reads docs/openapi.yaml to check the server against it.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // ONNX export: the messages of onnx.proto, generated once into Sources/ONNXProto (scripts/reference/generate_onnx_proto.sh).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .target(name: "ForensightTensor", dependencies: ["CBLAS"], swiftSettings: vectorISA + swift6),
        .target(name: "ForensightMedia", dependencies: ["CJPEG", "CPNG"], swiftSettings: vectorISA + swift6),
        .target(name: "ForensightNN", dependencies: ["ForensightTensor"], swiftSettings: vectorISA + swift6),
        .target(name: "ForensightCheckpoint", dependencies: [], swiftSettings: swift6),
        .target(name: "ForensightFaces", dependencies: ["ForensightTensor", "ForensightNN", "ForensightMedia"],
                swiftSettings: vectorISA + swift6),
        .target(name: "ForensightData", dependencies: ["ForensightMedia", "ForensightFaces"], swiftSettings: swift6),
        .target(name: "ForensightEvaluation", dependencies: [], swiftSettings: swift6),
        .target(name: "ForensightDetect", dependencies: ["ForensightTensor", "ForensightNN", "ForensightModels", "ForensightMedia",
                                                         "ForensightFaces", "ForensightEvaluation",
                                                         .product(name: "Crypto", package: "swift-crypto")], swiftSettings: vectorISA + swift6),
        .target(name: "ForensightProtocols", dependencies: ["ForensightTensor", "ForensightMedia", "ForensightFaces", "ForensightData", "ForensightDetect",
                                                            "ForensightEvaluation"], swiftSettings: swift6),
        // `forensight serve`: depends on the detect library, never the reverse.
        .target(name: "ForensightServer", dependencies: ["ForensightDetect", "ForensightMedia", "ForensightFaces", "ForensightTensor",
                                                         .product(name: "Hummingbird", package: "hummingbird"),
                                                         .product(name: "GRDB", package: "GRDB.swift"),
                                                         .product(name: "Mustache", package: "swift-mustache"),
                                                         .product(name: "Prometheus", package: "swift-prometheus"),
                                                         .product(name: "MultipartKit", package: "multipart-kit"),
                                                         .product(name: "Crypto", package: "swift-crypto"),
                                                         .product(name: "Logging", package: "swift-log"),
                                                         .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                         .product(name: "PostgresNIO", package: "postgres-nio")],
                swiftSettings: swift6),
        .target(name: "ForensightOptim", dependencies: ["ForensightTensor"], swiftSettings: swift6),
        .target(name: "ForensightTraining", dependencies: ["ForensightTensor", "ForensightOptim", "ForensightNN", "ForensightModels", "ForensightMedia",
                                                           "ForensightFaces", "ForensightData", "ForensightDetect", "ForensightEvaluation"],
                swiftSettings: swift6),
        .target(name: "ForensightModels", dependencies: ["ForensightTensor", "ForensightNN", "ForensightCheckpoint", "ONNXProto"],
                swiftSettings: vectorISA + swift6),
        // onnx.proto's messages as Swift (generated code, committed; its header names the onnx version).
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")], swiftSettings: swift6),
        .target(name: "ForensightBench", dependencies: ["ForensightTensor", "ForensightNN", "ForensightModels", "ForensightMedia",
                                                        "ForensightFaces", "ForensightOptim", "ForensightTraining", "ForensightDetect", "ForensightEvaluation"],
                swiftSettings: swift6),
        .target(name: "ForensightTestSupport", dependencies: ["ForensightTensor", "ForensightNN"]),
        .executableTarget(name: "forensight", dependencies: [
            "ForensightTensor", "ForensightNN", "ForensightModels", "ForensightBench", "ForensightMedia", "ForensightFaces",
            "ForensightData", "ForensightDetect", "ForensightOptim", "ForensightTraining", "ForensightEvaluation", "ForensightProtocols",
            "ForensightCheckpoint", "ForensightServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: swift6),
        .testTarget(name: "ForensightTensorTests", dependencies: ["ForensightTensor", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightCheckpointTests", dependencies: ["ForensightCheckpoint"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightNNTests", dependencies: ["ForensightNN", "ForensightTraining", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightModelsTests", dependencies: ["ForensightModels", "ForensightCheckpoint", "ForensightNN", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightFacesTests", dependencies: ["ForensightFaces", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightDataTests", dependencies: ["ForensightData", "ForensightFaces"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightEvaluationTests", dependencies: ["ForensightEvaluation"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightMediaTests", dependencies: ["ForensightMedia"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightDetectTests", dependencies: ["ForensightDetect", "ForensightData", "ForensightOptim", "ForensightTraining", "ForensightNN",
                                                                 "ForensightProtocols", "ForensightEvaluation",
                                                                 "ForensightTestSupport"]),
        .testTarget(name: "ForensightServerTests", dependencies: ["ForensightServer", "ForensightDetect", "ForensightMedia", "ForensightFaces",
                                                                 .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                                 .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "ForensightTrainingTests", dependencies: ["ForensightOptim", "ForensightTraining", "ForensightNN", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
