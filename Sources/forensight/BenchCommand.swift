import ArgumentParser
import Foundation
import ForensightBench
import ForensightDetect
import ForensightOptim

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed against a peer run in the same process and session.",
        discussion: "Speeds are reported as ratios (ours / peer) because absolute times drift between runs on shared machines.",
        subcommands: [Engine.self, FacesBenchmark.self, DetectBenchmark.self, TrainingBenchmark.self, TSNEBenchmark.self])

    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "GEMM, convolutions, ViT-B/16 and EfficientNet-Lite0 forward against OpenBLAS and ONNX Runtime.",
            discussion: """
            GEMM rows compare our matmul with OpenBLAS's cblas_sgemm called directly. Convolution and model rows build the same graph with the same random weights in ONNX Runtime (python3 scripts/bench/ort_peer.py; needs the PyPI packages onnx, onnxruntime and numpy), check that both outputs agree, and time both with the same thread count. Model rows run the networks compiled for inference, as detect does. A ratio below 1 means Forensight is faster.
            """)

        @Flag(help: "Print one JSON object per row (name, ours_ms, peer_ms, ratio, peer, note, isa, cpu_isa).")
        var json = false

        @Option(help: "Threads for both engines.")
        var threads = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: "Timed runs per row and round (the median is reported).")
        var runs = 5

        @Option(help: "Alternating rounds of ours and ONNX Runtime per row (the median over rounds is reported).")
        var rounds = 3

        @Flag(help: "A few small rows only (a smoke test).")
        var quick = false

        @Option(help: "Only rows whose name contains this text, e.g. --filter ViT.")
        var filter: String?

        @Flag(inversion: .prefixedNo, help: "Run ONNX Runtime as the peer of convolution and model rows.")
        var onnxruntime = true

        func run() throws {
            var options = EngineBench.Options(threads: threads, runs: runs, quick: quick, onnxRuntime: onnxruntime)
            options.filter = filter
            options.rounds = rounds
            let rows: [BenchRow]
            do {
                rows = try EngineBench.run(options) { FileHandle.standardError.write(Data("bench: \($0)…\n".utf8)) }
            } catch {
                throw fail("\(error)")
            }
            printRows(rows, json: json)
        }
    }

    struct FacesBenchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "faces",
            abstract: "Frame sampling, MTCNN and video-mode face extraction on a 720p clip, against facenet-pytorch.",
            discussion: """
            MTCNN runs on the same decoded frames in Forensight and in facenet-pytorch (python3 scripts/bench/mtcnn_peer.py; needs torch and facenet-pytorch) with the same settings (minimum face 20, thresholds 0.6/0.7/0.7, factor 0.709) and thread count.
            """)

        @Option(help: "A clip with faces (default: ../shared/datasets/ffpp-c23-mini/original_youtube_c23/192.mp4, 720p, 9.6 s).")
        var video: String?

        @Flag(help: "Print one JSON object per row.")
        var json = false

        @Option(help: "Threads for both sides.")
        var threads = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: "Timed runs per row (the median is reported).")
        var runs = 3

        @Flag(inversion: .prefixedNo, help: "Run facenet-pytorch as the peer.")
        var facenet = true

        func run() throws {
            let rows: [BenchRow]
            do {
                rows = try FacesBench.run(FacesBench.Options(video: video, threads: threads, runs: runs, facenet: facenet)) {
                    FileHandle.standardError.write(Data("bench: \($0)…\n".utf8))
                }
            } catch { throw fail("\(error)") }
            printRows(rows, json: json)
        }
    }

    struct DetectBenchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "detect",
            abstract: "The detect pipeline end to end on a 10-s 720p clip: decode, faces, model, total, against a Python pipeline.",
            discussion: """
            The peer runs the same stages in Python on the same clip (scripts/bench/pipeline_peer.py): ffprobe and ffmpeg's select filter for the same 32 frames, facenet-pytorch MTCNN with a 40-px minimum face on every frame, and ONNX Runtime on the detector's face networks, which this command exports as ONNX graphs first (as `forensight export --onnx`). It needs a python3 with torch, facenet-pytorch and onnxruntime; without them the rows say how to install them and the total compares against the 2-s target. A mouth-motion member has no peer stage. For long, 4K and folder inputs as whole processes, see scripts/bench/detect_scaling.py (docs/BENCHMARKS.md).

            Examples:
              forensight bench detect
              forensight bench detect --model models/sbi-efficientnet-lite0.safetensors --runs 5 --json
              forensight bench detect --video long.mp4 --no-peer
            """)

        @Option(help: "A clip with faces (default: ../shared/datasets/ffpp-c23-mini/original_youtube_c23/192.mp4, 720p, 9.6 s).")
        var video: String?

        @Option(help: "Detector weights (default: the shipped model).")
        var model: String?

        @Option(help: "Timed runs (the median of each stage is reported).")
        var runs = 3

        @Flag(help: "Skip the Python pipeline peer.")
        var noPeer = false

        @Flag(help: "Print one JSON object per row.")
        var json = false

        func run() throws {
            guard let path = model ?? ModelLocations.defaultModel() else { throw fail("no detector found: pass --model FILE") }
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-bench-detect-\(getpid())").path
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let graphs = noPeer ? [] : try Self.faceGraphs(of: path, in: scratch)
            let rows: [BenchRow]
            do {
                rows = try DetectBench.run(video: video, model: path, runs: runs, peerGraphs: graphs) {
                    FileHandle.standardError.write(Data("bench: \($0)…\n".utf8))
                }
            } catch { throw fail("\(error)") }
            printRows(rows, json: json)
        }

        /// The detector's EfficientNet-Lite networks (crop in, logit out) written as ONNX graphs into `folder`.
        static func faceGraphs(of model: String, in folder: String) throws -> [String] {
            let detector: any Detector
            do { detector = try DetectorRegistry.load(path: model) } catch { throw fail("\(error)") }
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var paths: [String] = []
            for (number, part) in ONNXExport.networks(of: detector).enumerated() where part.detector is DeepfakeDetector {
                guard let bytes = ONNXExport.graph(of: part.detector, metadata: [:]) else { continue }
                let path = folder + "/\(number)-\(part.id).onnx"
                do { try bytes.write(to: URL(fileURLWithPath: path)) } catch { throw fail("\(path): \(error.localizedDescription)") }
                paths.append(path)
            }
            return paths
        }
    }

    struct TrainingBenchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Training throughput of the default detector's network (EfficientNet-Lite0 step: forward, backward, AdamW).")

        @Option(help: "Images per step.")
        var batch = 16

        @Option(parsing: .upToNextOption, help: "Input sizes in pixels.")
        var sizes: [Int] = [224]

        @Option(help: "Freeze the stem and this many MBConv blocks (as `train --frozen-blocks`).")
        var frozenBlocks = 0

        @Option(help: "Timed steps per size (the median is reported).")
        var runs = 3

        @Flag(help: "Print one JSON object per row.")
        var json = false

        func run() throws {
            let rows = TrainingBench.run(batch: batch, sizes: sizes, runs: runs, frozenBlocks: frozenBlocks) {
                FileHandle.standardError.write(Data("bench: \($0)…\n".utf8))
            }
            printRows(rows, json: json)
        }
    }
}

extension Bench {
    struct TSNEBenchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tsne",
            abstract: "Barnes–Hut t-SNE of N points (10 Gaussian clusters) against scikit-learn's on the same points.")

        @Option(help: "Points to embed.")
        var points = 5000

        @Option(help: "Features per point (1,280: EfficientNet-Lite's penultimate layer).")
        var width = 1280

        @Flag(inversion: .prefixedNo, help: "Run scikit-learn as the peer (python3 with scikit-learn and numpy).")
        var sklearn = true

        @Flag(help: "Print one JSON object per row.")
        var json = false

        func validate() throws {
            guard (100...50_000).contains(points) else { throw ValidationError("--points must be between 100 and 50000") }
            guard (2...10_000).contains(width) else { throw ValidationError("--width must be between 2 and 10000") }
        }

        func run() throws {
            let rows = TSNEBench.run(points: points, width: width, peer: sklearn) { FileHandle.standardError.write(Data("bench: \($0)…\n".utf8)) }
            printRows(rows, json: json)
        }
    }
}

/// Prints benchmark rows as a table or as JSON lines.
func printRows(_ rows: [BenchRow], json: Bool) {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for row in rows { if let d = try? encoder.encode(row) { print(String(decoding: d, as: UTF8.self)) } }
    } else {
        print(formatTable(rows))
    }
}
