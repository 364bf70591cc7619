import ArgumentParser
import Foundation
import ForensightTensor
import ForensightCheckpoint
import ForensightDetect

/// `forensight models`: bring third-party weights in, and look at weight files.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import PyTorch checkpoints as safetensors, describe weight files, list detector architectures, and build ensembles.",
        discussion: """
        `import` reads a PyTorch checkpoint (the zip format of torch.save since 1.6, or the legacy pickle format), memory-mapped and parsed in place, and writes its tensors as one safetensors file that Forensight's loaders read. Nothing is executed from the pickle: only tensors, dicts and lists are rebuilt.

        `import clip` reads a CLIP image encoder (Hugging Face, open_clip or OpenAI TorchScript), infers its size from the shapes, checks every key and shape, and writes it in Forensight's layout with its configuration (its own --help).

        `import mesonet` reads the MesoNet authors' Keras HDF5 weights (Meso4 or MesoInception4) and writes a detector file (its own --help).

        `info` prints a safetensors file's tensors (name, dtype, shape) and its metadata (a Forensight detector's card is the `forensight.card` entry).

        `architectures` lists the detector architectures this build knows (a card's `architecture`), and which of them `forensight train --architecture` can train.

        `export-onnx` is an alias of `forensight export MODEL --onnx FILE`: a detector's networks as ONNX graphs, each with its card in the metadata (its own --help).

        `ensemble` combines detector files into one ensemble file by logistic stacking fitted on scored validation faces (its own --help); `route` joins a video and a photo ensemble, `fuse` joins detectors that read a file differently, and `extract` writes one member of such a file back out as a detector file of its own.

        Examples:
          forensight models import ViT-B-16.pt --out ~/.cache/forensight/weights/vit_b16.safetensors
          forensight models import checkpoint.pth --strip-prefix module. --dtype f16 --out model.safetensors
          forensight models import clip ViT-B-16.pt --out ~/.cache/forensight/weights/clip_vit_b16.safetensors
          forensight models import mesonet Meso4_DF.h5 --out ~/.cache/forensight/weights/meso4-df.safetensors
          forensight models info models/sbi-efficientnet-lite0.safetensors
          forensight models architectures
          forensight models ensemble --member a.safetensors --member b.safetensors --fit scores.csv --out ensemble.safetensors
          forensight models extract models/ensemble-default.safetensors --member sbi-lite2-256 --out sbi-lite2-256.safetensors
        """,
        subcommands: [Import.self, Info.self, Architectures.self, Ensemble.self, Route.self, Fuse.self, Extract.self, ExportONNX.self])

    /// `models import FILE` (a plain checkpoint, the default) or `models import clip FILE` (a checked CLIP encoder).
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a PyTorch checkpoint to safetensors (`import FILE`), check and convert a CLIP encoder (`import clip FILE`) or MesoNet's Keras weights (`import mesonet FILE.h5`).",
            subcommands: [ImportCheckpoint.self, ImportCLIP.self, ImportMesoNet.self], defaultSubcommand: ImportCheckpoint.self)
    }

    struct ImportCheckpoint: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "torch", abstract: "Convert a PyTorch checkpoint to safetensors (the default).")

        @Argument(help: "A PyTorch checkpoint (.pt, .pth, .bin) holding a state dict.")
        var checkpoint: String

        @Option(help: "The safetensors file to write.")
        var out: String

        @Option(help: "Remove this prefix from every tensor name that has it (e.g. module. from DataParallel checkpoints).")
        var stripPrefix: String?

        @Option(help: "Keep only tensors whose name starts with this prefix (repeat for several).")
        var only: [String] = []

        @Option(help: "Stored precision: f32, f16 or bf16.")
        var dtype: String = "f32"

        func run() throws {
            guard let storage = SafetensorsDType(rawValue: dtype.uppercased()) else { throw fail("--dtype must be f32, f16 or bf16", code: 2) }
            let tensors: [String: CheckpointTensor]
            do { tensors = try TorchCheckpoint.read(path: checkpoint) } catch { throw fail("\(error)") }
            var converted: [String: Tensor] = [:]
            for (name, t) in tensors {
                var key = name
                if let stripPrefix, key.hasPrefix(stripPrefix) { key.removeFirst(stripPrefix.count) }
                guard only.isEmpty || only.contains(where: { key.hasPrefix($0) }) else { continue }
                guard converted[key] == nil else { throw fail("\(checkpoint): two tensors become \(key) after --strip-prefix") }
                converted[key] = Tensor(t.values, shape: t.shape)
            }
            guard !converted.isEmpty else { throw fail("\(checkpoint): no tensors left to write (check --only)") }
            do {
                try Safetensors.write(converted, to: out, dtype: storage, metadata: ["forensight.source": (checkpoint as NSString).lastPathComponent])
            } catch { throw fail("\(out): \(error)") }
            let count = converted.values.reduce(0) { $0 + $1.count }
            note("wrote \(out): \(converted.count) tensors, \(count) values (\(dtype))")
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a safetensors file's tensors and metadata.")

        @Argument(help: "A safetensors file.")
        var file: String

        @Flag(help: "One JSON object: tensors and metadata.")
        var json = false

        func run() throws {
            let header: SafetensorsFile
            do { header = try SafetensorsFile(path: file) } catch { throw fail("\(file): \(error)") }
            let names = header.names.sorted()
            if json {
                let object: [String: Any] = [
                    "file": file, "metadata": header.metadata,
                    "tensors": names.map { ["name": $0, "shape": header.entries[$0]!.shape, "dtype": header.entries[$0]!.dtype.rawValue] },
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            for name in names {
                let entry = header.entries[name]!
                print("\(name)\t\(entry.dtype.rawValue)\t\(entry.shape.map(String.init).joined(separator: "×"))")
            }
            for (key, value) in header.metadata.sorted(by: { $0.key < $1.key }) { print("# \(key): \(value)") }
        }
    }

    struct Architectures: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the detector architectures this build can load, and those `train --architecture` can train.")

        @Flag(help: "One JSON array: architecture, trainable, summary.")
        var json = false

        func run() throws {
            let trainable = Set(DetectorRegistry.trainableArchitectures)
            let rows = DetectorRegistry.architectures.map { ($0, trainable.contains($0), DetectorRegistry.entry(for: $0)?.summary ?? "") }
            if json {
                let object = rows.map { ["architecture": $0.0, "trainable": $0.1, "summary": $0.2] as [String: Any] }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            for (name, canTrain, summary) in rows { print("\(name)\t\(canTrain ? "trainable" : "-")\t\(summary)") }
        }
    }
}
