import Foundation
import ForensightTensor
import ForensightNN
import ForensightCheckpoint

/// A CLIP image encoder read from a checkpoint: its configuration (inferred from the tensor shapes), where it came
/// from, and the encoder holding its weights.
public struct CLIPCheckpoint {
    /// The encoder's size, inferred from the shapes (heads and activation as documented at `init(path:heads:activation:)`).
    public let config: CLIPVisionConfig
    /// The format the weights were read from.
    public let format: CLIPCheckpointFormat
    /// The encoder with the weights, in evaluation mode (every key and shape checked).
    public let encoder: CLIPVisionEncoder

    /// Reads a CLIP vision tower from `path`: Hugging Face `CLIPVisionModel`/`CLIPModel` safetensors or
    /// `pytorch_model.bin`, an open_clip state dict (`.bin`/`.pt` torch zip or `.safetensors`), OpenAI's TorchScript
    /// `.pt` archive, or a file this importer wrote.
    ///
    /// What the shapes cannot say is taken from `heads` and `activation` when given, else from a Hugging Face
    /// `config.json` beside the file, else from CLIP's conventions: 64-wide attention heads; QuickGELU for Hugging Face
    /// and OpenAI weights. An open_clip state dict does not record its activation, so it needs `activation`.
    /// Every failure is a `CLIPImportError` of one line.
    public init(path: String, heads: Int? = nil, activation: Activation? = nil) throws {
        let name = (path as NSString).lastPathComponent
        do {
            try self.init(reading: path, heads: heads, activation: activation)
        } catch let error as CLIPImportError {
            throw CLIPImportError("\(name): \(error.description)")
        } catch {
            throw CLIPImportError("\(name): \(String(describing: error).split(separator: "\n").joined(separator: " "))")
        }
    }

    private init(reading path: String, heads: Int?, activation: Activation?) throws {
        var source: [String: Tensor]
        var metadata: [String: String] = [:]
        var torchScript = false
        var allKeys: [String]
        // Only the vision tower's tensors are decoded (and the projection); a text tower is never copied.
        if path.hasSuffix(".safetensors") {
            let file = try SafetensorsFile(path: path)
            metadata = file.metadata
            allKeys = file.names
            let everything = CLIPVisionConfig(metadata: metadata) != nil || allKeys.contains(Self.bareTowerKey)
            source = try Dictionary(uniqueKeysWithValues: allKeys.filter { everything || Self.isVisionKey($0) }.map { ($0, try file.tensor($0)) })
        } else {
            torchScript = TorchCheckpoint.isTorchScript(path: path)
            let read = try TorchCheckpoint.read(path: path)
            allKeys = read.keys.sorted()
            let everything = read[Self.bareTowerKey] != nil
            source = [:]
            for (key, t) in read where everything || Self.isVisionKey(key) { source[key] = Tensor(t.values, shape: t.shape) }
        }
        if let stored = CLIPVisionConfig(metadata: metadata) {
            try self.init(format: .forensight, config: stored, tensors: source)
            return
        }
        let hfConfig = Self.huggingFaceConfig(besides: path)
        if source[Self.bareTowerKey] != nil {
            // transformers 5 saves a CLIPVisionModel's tower without the `vision_model.` prefix.
            source = Dictionary(uniqueKeysWithValues: source.map { ("vision_model." + $0.key, $0.value) })
        }
        if source.keys.contains(where: { $0.hasPrefix("vision_model.") }) {
            let tensors = try CLIPKeyMapping.fromHuggingFace(source)
            let act = try activation ?? hfConfig.activation.map(Self.activation(named:)) ?? .quickGelu
            try self.init(format: .huggingFace, tensors: tensors, heads: heads ?? hfConfig.heads, activation: act)
        } else if source.keys.contains(where: { $0.hasPrefix("visual.") }) {
            let format: CLIPCheckpointFormat = torchScript ? .openAITorchScript : .openCLIP
            let tensors = try CLIPKeyMapping.fromOpenCLIP(source, format: format)
            guard let act = activation ?? (torchScript ? .quickGelu : nil) else {
                throw CLIPImportError("an open_clip state dict does not record its activation: pass quick_gelu (OpenAI weights, "
                                      + "*-quickgelu models) or gelu (most LAION/DataComp trainings)")
            }
            try self.init(format: format, tensors: tensors, heads: heads, activation: act)
        } else {
            let sample = allKeys.prefix(3).joined(separator: ", ")
            throw CLIPImportError("unknown variant: neither Hugging Face (vision_model.…) nor open_clip/OpenAI (visual.…) keys (found \(sample))")
        }
    }

    /// Converted weights with the configuration their shapes give.
    init(format: CLIPCheckpointFormat, tensors: [String: Tensor], heads: Int?, activation: Activation) throws {
        let config = try Self.inferConfig(tensors, heads: heads, activation: activation)
        try self.init(format: format, config: config, tensors: tensors)
    }

    /// Loads `tensors` into an encoder of `config`, which they must fit exactly (every key, every shape).
    init(format: CLIPCheckpointFormat, config: CLIPVisionConfig, tensors: [String: Tensor]) throws {
        let model = CLIPVisionEncoder(config)
        let report = try model.loadStateDict(tensors, strict: false)
        guard report.isClean else {
            throw CLIPImportError("does not fit \(config.variantName ?? "a \(config.width)-wide, \(config.layers)-layer CLIP ViT"): \(report)")
        }
        model.eval()
        (self.format, self.config, self.encoder) = (format, config, model)
    }

    /// Writes the weights and the configuration (safetensors metadata) to `path`, which `CLIPCheckpoint(path:)` and
    /// `CLIPVisionEncoder.load(clip:)` read back.
    public func write(to path: String, dtype: SafetensorsDType = .f32, source: String) throws {
        var metadata = config.metadata
        metadata["forensight.source"] = source
        metadata["forensight.source_format"] = format.rawValue
        try encoder.save(safetensors: path, dtype: dtype, metadata: metadata)
    }

    /// Whether `key` belongs to the vision tower of a whole CLIP model (or is the image projection).
    static func isVisionKey(_ key: String) -> Bool {
        ["visual.", "vision_model.", "visual_projection."].contains(where: key.hasPrefix)
    }

    /// The key that marks a Hugging Face vision tower saved on its own, without `vision_model.` (every key is its).
    static let bareTowerKey = "embeddings.patch_embedding.weight"

    /// The configuration the shapes of converted weights give (heads and activation excepted).
    static func inferConfig(_ t: [String: Tensor], heads: Int?, activation: Activation) throws -> CLIPVisionConfig {
        func tensor(_ key: String) throws -> Tensor {
            guard let value = t[key] else { throw CLIPImportError("missing key: \(key) (in our layout)") }
            return value
        }
        let patch = try tensor("patch_embed.proj.weight").shape
        guard patch.count == 4, patch[1] == 3, patch[2] == patch[3] else {
            throw CLIPImportError("mis-shaped patch embedding \(patch), expected [width, 3, p, p]")
        }
        let (width, p) = (patch[0], patch[2])
        let positions = try tensor("positional_embedding").shape
        let grid = Int(Double(max(positions.first ?? 1, 1) - 1).squareRoot().rounded())
        guard positions.count == 2, positions[1] == width, grid * grid + 1 == positions[0] else {
            throw CLIPImportError("mis-shaped positional embedding \(positions), expected [grid² + 1, \(width)]")
        }
        let layers = Set(t.keys.compactMap { key -> Int? in
            guard key.hasPrefix("blocks.") else { return nil }
            return key.dropFirst("blocks.".count).split(separator: ".").first.flatMap { Int($0) }
        })
        guard !layers.isEmpty, layers == Set(0..<layers.count) else {
            throw CLIPImportError("missing key: transformer blocks are numbered \(layers.sorted()), expected 0..<\(layers.count)")
        }
        let mlp = try tensor("blocks.0.mlp.fc1.weight").shape
        guard mlp.count == 2, mlp[1] == width else { throw CLIPImportError("mis-shaped blocks.0.mlp.fc1.weight \(mlp), expected [hidden, \(width)]") }
        let output = t["proj.weight"].map(\.shape)
        if let output, output.count != 2 || output[1] != width {
            throw CLIPImportError("mis-shaped projection \(output), expected [output, \(width)]")
        }
        guard let heads = heads ?? (width % 64 == 0 ? width / 64 : nil) else {
            throw CLIPImportError("unknown variant: width \(width) is not a multiple of CLIP's 64-wide heads; give the number of heads")
        }
        guard heads > 0, width % heads == 0 else { throw CLIPImportError("unknown variant: \(heads) heads do not divide width \(width)") }
        return CLIPVisionConfig(imageSize: grid * p, patchSize: p, width: width, layers: layers.count, heads: heads, mlpWidth: mlp[0],
                                outputDim: output?[0], activation: activation)
    }

    /// `hidden_act` and `num_attention_heads` of the vision tower from a Hugging Face `config.json` (or
    /// `NAME.config.json`) beside `path`, when there is one.
    static func huggingFaceConfig(besides path: String) -> (activation: String?, heads: Int?) {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        for candidate in [url.deletingLastPathComponent().appendingPathComponent("\(stem).config.json"),
                          url.deletingLastPathComponent().appendingPathComponent("config.json")] {
            guard let data = try? Data(contentsOf: candidate),
                  let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
            let vision = root["vision_config"] as? [String: Any] ?? root
            return (vision["hidden_act"] as? String, vision["num_attention_heads"] as? Int)
        }
        return (nil, nil)
    }

    /// Our activation for a Hugging Face `hidden_act`.
    static func activation(named name: String) throws -> Activation {
        switch name {
        case "quick_gelu": return .quickGelu
        case "gelu": return .gelu
        default: throw CLIPImportError("unknown variant: activation \(name) (quick_gelu and gelu are supported)")
        }
    }
}

extension CLIPVisionEncoder {
    /// Reads any CLIP checkpoint `CLIPCheckpoint` reads (a converted file needs no options) into an encoder in
    /// evaluation mode.
    public static func load(clip path: String, heads: Int? = nil, activation: Activation? = nil) throws -> CLIPVisionEncoder {
        try CLIPCheckpoint(path: path, heads: heads, activation: activation).encoder
    }
}
