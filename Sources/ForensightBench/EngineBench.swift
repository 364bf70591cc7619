import Foundation
import CBLAS
import ForensightTensor
import ForensightNN
import ForensightModels

/// `forensight bench engine`: GEMM, convolution and whole-model forward passes, each against a peer measured in the
/// same run — OpenBLAS called directly for GEMM, ONNX Runtime (same graph, same weights, same threads) otherwise.
public enum EngineBench {
    public struct Options: Sendable {
        public var threads: Int
        public var runs: Int
        /// Fewer, smaller rows (for smoke tests).
        public var quick: Bool
        /// Whether to run the ONNX Runtime peer (without it, convolution and model rows have no peer column).
        public var onnxRuntime: Bool
        /// Only rows whose name contains this text (case-insensitive); all rows when nil.
        public var filter: String? = nil
        /// Alternating ours/peer timing rounds for the ONNX Runtime rows.
        public var rounds = 3
        public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, runs: Int = 10, quick: Bool = false,
                    onnxRuntime: Bool = true) {
            (self.threads, self.runs, self.quick, self.onnxRuntime) = (threads, runs, quick, onnxRuntime)
        }
    }

    /// Runs every row; `progress` receives a line before each.
    public static func run(_ options: Options, progress: (String) -> Void = { _ in }) throws -> [BenchRow] {
        ComputeThreads.set(options.threads)
        progress("OpenBLAS kernels \(BLASKernels.coreName), \(options.threads) threads; \(VectorISA.summary)")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        var rows: [BenchRow] = []
        let gemms: [(String, Int, Int, Int)] = options.quick
            ? [("sgemm 256³", 256, 256, 256)]
            : [("sgemm 1024³", 1024, 1024, 1024), ("sgemm ViT-B qkv 1576×768×2304", 1576, 2304, 768),
               ("sgemm ViT-B fc2 1576×3072×768", 1576, 768, 3072), ("sgemm ViT-B proj 197×768×768", 197, 768, 768)]
        let selected = { (name: String) in options.filter.map { name.lowercased().contains($0.lowercased()) } ?? true }
        for (name, m, n, k) in gemms where selected(name) {
            progress(name)
            rows.append(gemmRow(name, m: m, n: n, k: k, runs: options.runs))
        }
        let convs: [ConvCase] = options.quick
            ? [ConvCase(name: "conv3x3 16→16 @32²", c: 16, o: 16, hw: 32, k: 3, stride: 1, groups: 1)]
            : [ConvCase(name: "conv3x3 64→64 @56² b8", c: 64, o: 64, hw: 56, k: 3, stride: 1, groups: 1, batch: 8),
               ConvCase(name: "conv1x1 192→32 @28² b8", c: 192, o: 32, hw: 28, k: 1, stride: 1, groups: 1, batch: 8),
               ConvCase(name: "conv1x1 16→96 @112²", c: 16, o: 96, hw: 112, k: 1, stride: 1, groups: 1),
               ConvCase(name: "conv1x1 40→240 @28²", c: 40, o: 240, hw: 28, k: 1, stride: 1, groups: 1),
               ConvCase(name: "conv1x1 1152→192 @7²", c: 1152, o: 192, hw: 7, k: 1, stride: 1, groups: 1),
               ConvCase(name: "conv1x1 192→1152 @7²", c: 192, o: 1152, hw: 7, k: 1, stride: 1, groups: 1),
               ConvCase(name: "depthwise3x3 96 @112² s2", c: 96, o: 96, hw: 112, k: 3, stride: 2, groups: 96),
               ConvCase(name: "depthwise5x5 1152 @7²", c: 1152, o: 1152, hw: 7, k: 5, stride: 1, groups: 1152),
               ConvCase(name: "depthwise3x3 480 @14²", c: 480, o: 480, hw: 14, k: 3, stride: 1, groups: 480),
               ConvCase(name: "depthwise3x3 144 @56² s2 b8", c: 144, o: 144, hw: 56, k: 3, stride: 2, groups: 144, batch: 8),
               ConvCase(name: "depthwise5x5 240 @28² b8", c: 240, o: 240, hw: 28, k: 5, stride: 1, groups: 240, batch: 8)]
        for conv in convs where selected(conv.name) {
            progress(conv.name)
            rows.append(try convRow(conv, options: options, work: work))
        }
        let models: [(String, String, Int)] = options.quick
            ? [("efficientnet_lite0", "EfficientNet-Lite0", 1)]
            : [("vit_b16", "ViT-B/16", 1), ("vit_b16", "ViT-B/16", 8),
               ("efficientnet_lite0", "EfficientNet-Lite0", 1), ("efficientnet_lite0", "EfficientNet-Lite0", 8)]
        for (id, label, batch) in models where selected("\(label) forward b\(batch)") {
            progress("\(label) batch \(batch)")
            rows.append(try modelRow(id: id, label: label, batch: batch, options: options, work: work))
        }
        return rows
    }

    static func gemmRow(_ name: String, m: Int, n: Int, k: Int, runs: Int) -> BenchRow {
        var rng = SeededRandom(seed: 1)
        let a = Tensor.randn([m, k], using: &rng), b = Tensor.randn([k, n], using: &rng)
        let c = Tensor.zeros([m, n])
        let ours = withoutGrad { medianMilliseconds(runs: runs) { _ = Tensor.matmul(a, b) } }
        let peer = medianMilliseconds(runs: runs) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a.data, Int32(k),
                        b.data, Int32(n), 0, c.data, Int32(n))
        }
        let gflops = 2 * Double(m) * Double(n) * Double(k) / (ours * 1e6)
        return BenchRow(name: name, oursMs: ours, peerMs: peer, peer: "OpenBLAS cblas_sgemm",
                        note: String(format: "%.1f GFLOP/s", gflops))
    }

    struct ConvCase { var name: String; var c, o, hw, k, stride, groups: Int; var batch = 1 }

    static func convRow(_ cc: ConvCase, options: Options, work: URL) throws -> BenchRow {
        ParameterInit.seed(3)
        let conv = Conv2d(cc.c, cc.o, kernel: cc.k, stride: cc.stride, padding: cc.k / 2, groups: cc.groups)
        var rng = SeededRandom(seed: 4)
        let x = Tensor.randn([cc.batch, cc.c, cc.hw, cc.hw], using: &rng)
        let out = withoutGrad { conv(x) }
        let peerArgs = ["--model", "conv", "--stride", "\(cc.stride)", "--pad", "\(cc.k / 2)", "--groups", "\(cc.groups)"]
        return try compareWithPeer(name: cc.name, module: conv, input: x, output: out,
                                   measureOurs: { withoutGrad { medianMilliseconds(runs: options.runs) { _ = conv(x) } } },
                                   peerArgs: peerArgs, options: options, work: work)
    }

    static func modelRow(id: String, label: String, batch: Int, options: Options, work: URL) throws -> BenchRow {
        ParameterInit.seed(11)
        let model: Module
        let forward: (Tensor) -> Tensor
        switch id {
        case "vit_b16":
            // Compiled for inference: linear layers packed once, GELU and residual adds fused.
            let vit = VisionTransformer(.base16); model = vit
            let compiled = VisionTransformerInference(vit); forward = { compiled($0) }
        default:
            // What `detect` runs: the module compiled for inference (folded BatchNorm, channel-blocked layout).
            let net = EfficientNetLite(.lite0); model = net
            let compiled = EfficientNetLiteInference(net); forward = { compiled($0) }
        }
        model.eval()
        var rng = SeededRandom(seed: 5)
        let x = Tensor.randn([batch, 3, 224, 224], using: &rng)
        let out = withoutGrad { forward(x) }
        return try compareWithPeer(name: "\(label) forward b\(batch)", module: model, input: x, output: out,
                                   measureOurs: { withoutGrad { medianMilliseconds(runs: options.runs) { _ = forward(x) } } },
                                   peerArgs: ["--model", id], options: options, work: work)
    }

    /// Saves weights and input, runs the ONNX Runtime peer on them, and checks its output agrees with ours.
    ///
    /// Ours and the peer are timed in alternating rounds (`options.rounds`), each round giving one median per side;
    /// the row reports the median over rounds, so a drift of the machine's speed hits both sides alike.
    static func compareWithPeer(name: String, module: Module, input: Tensor, output: Tensor, measureOurs: () -> Double,
                                peerArgs: [String], options: Options, work: URL) throws -> BenchRow {
        guard options.onnxRuntime else {
            return BenchRow(name: name, oursMs: measureOurs(), peerMs: nil, peer: "none (--no-onnxruntime)")
        }
        let weights = work.appendingPathComponent("w.safetensors").path
        let inFile = work.appendingPathComponent("x.bin"), outFile = work.appendingPathComponent("y.bin")
        try module.save(safetensors: weights)
        try Data(buffer: UnsafeBufferPointer(start: input.data, count: input.count)).write(to: inFile)
        var ours: [Double] = [], peer: [Double] = []
        for _ in 0..<Swift.max(1, options.rounds) {
            ours.append(measureOurs())
            let result = try PythonPeer.onnxRuntime.run(peerArgs + ["--weights", weights, "--input", inFile.path,
                                                     "--shape", input.shape.map(String.init).joined(separator: ","),
                                                     "--threads", "\(options.threads)", "--runs", "\(options.runs)",
                                                     "--output", outFile.path])
            guard let ms = result["ms_median"] as? Double else { throw PeerError(description: "peer result lacks ms_median") }
            peer.append(ms)
        }
        let agree = try agreement(output, peerOutput: outFile, name: name)
        return BenchRow(name: name, oursMs: median(ours), peerMs: median(peer), peer: "ONNX Runtime \(options.threads) threads",
                        note: String(format: "outputs agree to %.1e; %d rounds", agree, ours.count))
    }

    /// max |ours − peer| / max |peer|; throws when above 1e-3 or when the sizes differ.
    static func agreement(_ output: Tensor, peerOutput file: URL, name: String) throws -> Float {
        let peerOut = try Data(contentsOf: file)
        guard peerOut.count == output.count * 4 else {
            throw PeerError(description: "\(name): peer output has \(peerOut.count / 4) values, ours \(output.count)")
        }
        var maxDiff: Float = 0, scale: Float = 1e-6
        peerOut.withUnsafeBytes { raw in
            let p = raw.bindMemory(to: Float.self)
            for i in 0..<output.count { maxDiff = Swift.max(maxDiff, Swift.abs(p[i] - output.data[i])); scale = Swift.max(scale, Swift.abs(p[i])) }
        }
        let agree = maxDiff / scale
        guard agree < 1e-3 else { throw PeerError(description: "\(name): outputs disagree with ONNX Runtime (max diff \(agree) of scale)") }
        return agree
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
