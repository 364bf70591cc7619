// swift-tools-version:6.0
// Forensight: deepfake detection on its own Swift numerical core.
// The target graph below is the architecture: arrows follow the data flow (docs/ARCHITECTURE.md).
import PackageDescription

// Numeric kernels use 16-lane SIMD; on x86-64 they need AVX2 + FMA ("haswell" = the x86-64-v3 level: Intel since 2013, AMD since 2015) to be
// compiled to vector instructions instead of per-lane code.
#if arch(x86_64)
let vectorISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let vectorISA: [SwiftSetting] = []
#endif

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
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .target(name: "ForensightTensor", dependencies: ["CBLAS"], swiftSettings: vectorISA),
        .target(name: "ForensightMedia", dependencies: ["CJPEG", "CPNG"], swiftSettings: vectorISA),
        .target(name: "ForensightNN", dependencies: ["ForensightTensor"], swiftSettings: vectorISA),
        .target(name: "ForensightFaces", dependencies: ["ForensightTensor", "ForensightNN", "ForensightMedia"],
                swiftSettings: vectorISA),
        .target(name: "ForensightData", dependencies: ["ForensightMedia", "ForensightFaces"]),
        .target(name: "ForensightEvaluation", dependencies: []),
        .target(name: "ForensightDetect", dependencies: ["ForensightTensor", "ForensightNN", "ForensightModels", "ForensightMedia",
                                                         "ForensightFaces", "ForensightEvaluation"], swiftSettings: vectorISA),
        .target(name: "ForensightProtocols", dependencies: ["ForensightMedia", "ForensightFaces", "ForensightData", "ForensightDetect",
                                                            "ForensightEvaluation"]),
        .target(name: "ForensightTraining", dependencies: ["ForensightTensor", "ForensightNN", "ForensightModels", "ForensightMedia",
                                                           "ForensightFaces", "ForensightData", "ForensightDetect", "ForensightEvaluation"]),
        .target(name: "ForensightModels", dependencies: ["ForensightTensor", "ForensightNN"], swiftSettings: vectorISA),
        .target(name: "ForensightBench", dependencies: ["ForensightTensor", "ForensightNN", "ForensightModels", "ForensightMedia",
                                                        "ForensightFaces", "ForensightTraining", "ForensightDetect"]),
        .target(name: "ForensightTestSupport", dependencies: ["ForensightTensor", "ForensightNN"]),
        .executableTarget(name: "forensight", dependencies: [
            "ForensightTensor", "ForensightNN", "ForensightModels", "ForensightBench", "ForensightMedia", "ForensightFaces",
            "ForensightData", "ForensightDetect", "ForensightTraining", "ForensightEvaluation", "ForensightProtocols",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ForensightTensorTests", dependencies: ["ForensightTensor", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightNNTests", dependencies: ["ForensightNN", "ForensightTraining", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightModelsTests", dependencies: ["ForensightModels", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightFacesTests", dependencies: ["ForensightFaces", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ForensightDataTests", dependencies: ["ForensightData", "ForensightFaces"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightEvaluationTests", dependencies: ["ForensightEvaluation"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightMediaTests", dependencies: ["ForensightMedia"], exclude: ["Fixtures"]),
        .testTarget(name: "ForensightDetectTests", dependencies: ["ForensightDetect", "ForensightData", "ForensightTraining", "ForensightNN",
                                                                 "ForensightProtocols", "ForensightEvaluation",
                                                                 "ForensightTestSupport"]),
        .testTarget(name: "ForensightTrainingTests", dependencies: ["ForensightTraining", "ForensightTestSupport"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
