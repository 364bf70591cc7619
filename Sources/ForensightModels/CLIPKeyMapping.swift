import ForensightTensor

/// Where a CLIP checkpoint came from; its key names and its default activation follow from it.
public enum CLIPCheckpointFormat: String, Sendable {
    /// transformers `CLIPVisionModel`/`CLIPModel` (`vision_model.…`, `visual_projection`).
    case huggingFace = "Hugging Face CLIP"
    /// open_clip state dicts (`visual.conv1`, `visual.transformer.resblocks.N.…`, `visual.proj`).
    case openCLIP = "open_clip"
    /// OpenAI's TorchScript archives: open_clip's key names, float16 weights, QuickGELU.
    case openAITorchScript = "OpenAI TorchScript"
    /// Forensight's own layout with the configuration in the metadata (`forensight models import clip`'s output).
    case forensight = "Forensight CLIP"
}

/// A checkpoint that cannot become a CLIP image encoder; `description` is one line saying why.
public struct CLIPImportError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Renames the vision tower of Hugging Face and open_clip checkpoints to `CLIPVisionEncoder`'s keys. The text tower
/// and the contrastive head are dropped; an unknown key inside the vision tower is an error (another architecture).
enum CLIPKeyMapping {
    /// Hugging Face keys: `vision_model.embeddings.*`, `pre_layrnorm`, `encoder.layers.N.{layer_norm1, self_attn.{q,k,v,
    /// out}_proj, layer_norm2, mlp.fc1, mlp.fc2}`, `post_layernorm`, and `visual_projection.weight` in a `CLIPModel`.
    /// The separate q, k, v projections are stacked into one `qkv` (rows q, then k, then v).
    static func fromHuggingFace(_ source: [String: Tensor]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        var qkv: [String: [String: Tensor]] = [:]   // "blocks.N.attn.qkv.weight" → q/k/v
        let ignoredPrefixes = ["text_model.", "text_projection.", "logit_scale", "vision_model.embeddings.position_ids"]
        for (key, tensor) in source {
            if key == "visual_projection.weight" { out["proj.weight"] = tensor; continue }
            if ignoredPrefixes.contains(where: key.hasPrefix) { continue }
            guard key.hasPrefix("vision_model.") else { throw CLIPImportError("unexpected key \(key) in a Hugging Face CLIP checkpoint") }
            let name = String(key.dropFirst("vision_model.".count))
            let fixed = ["embeddings.patch_embedding.weight": "patch_embed.proj.weight", "embeddings.class_embedding": "class_embedding",
                         "embeddings.position_embedding.weight": "positional_embedding"]
            if let mapped = fixed[name] { out[mapped] = tensor; continue }
            if let mapped = renamed(name, [("pre_layrnorm.", "ln_pre."), ("post_layernorm.", "ln_post.")]) { out[mapped] = tensor; continue }
            guard let (layer, rest) = split(name, after: "encoder.layers.") else { throw unknown(key, .huggingFace) }
            if let mapped = renamed(rest, [("layer_norm1.", "norm1."), ("layer_norm2.", "norm2."), ("mlp.fc1.", "mlp.fc1."),
                                           ("mlp.fc2.", "mlp.fc2."), ("self_attn.out_proj.", "attn.proj.")]) {
                out["blocks.\(layer).\(mapped)"] = tensor
            } else if let part = ["q", "k", "v"].first(where: { rest.hasPrefix("self_attn.\($0)_proj.") }) {
                let field = rest.dropFirst("self_attn.q_proj.".count)
                qkv["blocks.\(layer).attn.qkv.\(field)", default: [:]][part] = tensor
            } else {
                throw unknown(key, .huggingFace)
            }
        }
        for (key, parts) in qkv {
            guard let q = parts["q"], let k = parts["k"], let v = parts["v"] else {
                throw CLIPImportError("missing key: \(key) needs q_proj, k_proj and v_proj, found \(parts.keys.sorted().joined(separator: ", "))")
            }
            guard q.shape == k.shape && k.shape == v.shape else {
                throw CLIPImportError("mis-shaped \(key): q \(q.shape), k \(k.shape), v \(v.shape)")
            }
            out[key] = Tensor(q.scalars + k.scalars + v.scalars, shape: [3 * q.shape[0]] + q.shape.dropFirst())
        }
        return out
    }

    /// open_clip (and OpenAI) keys under `visual.`: `conv1`, `class_embedding`, `positional_embedding`, `ln_pre`,
    /// `transformer.resblocks.N.{ln_1, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc,
    /// mlp.c_proj}`, `ln_post`, `proj` ([width, outputDim], used as x·proj, so stored transposed as a linear weight).
    static func fromOpenCLIP(_ source: [String: Tensor], format: CLIPCheckpointFormat) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (key, tensor) in source where key.hasPrefix("visual.") {
            let name = String(key.dropFirst("visual.".count))
            switch name {
            case "conv1.weight": out["patch_embed.proj.weight"] = tensor; continue
            case "class_embedding", "positional_embedding": out[name] = tensor; continue
            case "proj":
                guard tensor.rank == 2 else { throw CLIPImportError("mis-shaped \(key): \(tensor.shape), expected [width, output]") }
                out["proj.weight"] = transposed(tensor); continue
            default: break
            }
            if let mapped = renamed(name, [("ln_pre.", "ln_pre."), ("ln_post.", "ln_post.")]) { out[mapped] = tensor; continue }
            guard let (layer, rest) = split(name, after: "transformer.resblocks."),
                  let mapped = renamed(rest, [("ln_1.", "norm1."), ("ln_2.", "norm2."), ("attn.in_proj_weight", "attn.qkv.weight"),
                                              ("attn.in_proj_bias", "attn.qkv.bias"), ("attn.out_proj.", "attn.proj."),
                                              ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")]) else {
                throw unknown(key, format)
            }
            out["blocks.\(layer).\(mapped)"] = tensor
        }
        return out
    }

    /// `name` with the first matching prefix replaced, or nil.
    private static func renamed(_ name: String, _ prefixes: [(String, String)]) -> String? {
        prefixes.first { name.hasPrefix($0.0) }.map { $0.1 + name.dropFirst($0.0.count) }
    }

    /// "encoder.layers.3.mlp.fc1.weight" after "encoder.layers." → (3, "mlp.fc1.weight").
    private static func split(_ name: String, after prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }

    private static func unknown(_ key: String, _ format: CLIPCheckpointFormat) -> CLIPImportError {
        CLIPImportError("unknown variant: \(format.rawValue) key \(key) is not part of a ViT CLIP image encoder")
    }

    /// A [r, c] tensor transposed into a new [c, r] tensor.
    private static func transposed(_ t: Tensor) -> Tensor {
        let (r, c) = (t.shape[0], t.shape[1]), values = t.scalars
        var out = [Float](repeating: 0, count: values.count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = values[i * c + j] } }
        return Tensor(out, shape: [c, r])
    }
}
