import Foundation

// TorchScript archives (`torch.jit.save`) are zips like torch.save's, with the module tree pickled in `data.pkl` as
// objects whose state is a dict of attributes; `TorchCheckpoint.read` finds their tensors under the attribute paths
// and leaves `code/` (the TorchScript source) and `constants.pkl` unread.
extension TorchCheckpoint {
    /// Whether the file at `path` is a TorchScript archive (`torch.jit.save`, e.g. OpenAI's released CLIP `.pt`
    /// files): a zip with a `code/` folder and `constants.pkl` beside `data.pkl`. False for anything unreadable.
    public static func isTorchScript(path: String) -> Bool {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return false }
        return data.withUnsafeBytes { bytes in
            guard ZipArchive.looksLikeZip(bytes), let zip = try? ZipArchive(bytes: bytes) else { return false }
            return zip.entries.contains { $0.name.hasSuffix("constants.pkl") } && zip.entries.contains { $0.name.contains("/code/") }
        }
    }
}
