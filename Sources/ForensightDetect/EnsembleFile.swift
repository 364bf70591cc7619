import Foundation
import ForensightTensor

/// An ensemble's single safetensors file:
/// - `forensight.card`: the ensemble card (architecture `ensemble`, `ensemble.members`, stacking weights and bias);
/// - `forensight.member.<i>.card`: member i's own card (any other `forensight.<key>` metadata of the member's file is
///   kept as `forensight.member.<i>.<key>`);
/// - `member.<i>.<name>`: member i's tensors, named as in the member's own file.
///
/// Each member is written by its own `save` and read back by the registry entry its card names, so any registered
/// detector can be a member (an ensemble too).
extension EnsembleDetector {
    /// The registry line of ensembles.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture, summary: "logistic stacking of member detectors that share one face crop (forensight models ensemble)",
        make: { card in
            throw DetectorError("\(card.id): an ensemble is built from trained members (forensight models ensemble), not from a card")
        },
        load: { try EnsembleDetector.load(card: $0, file: $1, path: $2) })

    /// Writes the ensemble card and every member (its `save` output, in `dtype`) into one safetensors file.
    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try MemberFile.write(card: card, members: members, dtype: dtype, to: path)
    }

    /// The ensemble in `file` (at `path`) whose card has been read: each member built by its own registry entry from
    /// the tensors and metadata stored under its index. Every inconsistency is a one-line `DetectorError` naming `path`.
    static func load(card: DetectorCard, file: SafetensorsFile, path: String) throws -> EnsembleDetector {
        guard let spec = card.ensemble, !spec.members.isEmpty else {
            throw DetectorError("\(path): ensemble card without members (no ensemble.members)")
        }
        let members = try MemberFile.read(ids: spec.members, file: file, path: path, what: "ensemble")
        let ensemble = try EnsembleDetector(card: card, members: members, source: path)
        ensemble.weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
        return ensemble
    }
}

/// The one-file layout of detectors made of detectors (ensembles, fusions): the card in `forensight.card`, member i's
/// card (and other `forensight.<key>` metadata) as `forensight.member.<i>.<key>`, its tensors under `member.<i>.`.
enum MemberFile {
    /// The metadata key prefix of member `index`.
    static func metadataPrefix(_ index: Int) -> String { "forensight.member.\(index)." }
    /// The tensor name prefix of member `index`.
    static func tensorPrefix(_ index: Int) -> String { "member.\(index)." }

    /// Writes `card` and every member (its own `save` output, in `dtype`) into one safetensors file at `path`.
    static func write(card: DetectorCard, members: [any Detector], dtype: SafetensorsDType, to path: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-members-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true) } catch {
            throw DetectorError("\(path): cannot create a scratch folder (\(error.localizedDescription))")
        }
        defer { try? FileManager.default.removeItem(at: scratch) }
        var tensors: [String: Tensor] = [:]
        var metadata = ["forensight.card": card.json]
        for (i, member) in members.enumerated() {
            let memberPath = scratch.appendingPathComponent("member\(i).safetensors").path
            try member.save(to: memberPath, dtype: dtype)
            let file: SafetensorsFile
            do { file = try SafetensorsFile(path: memberPath) } catch { throw DetectorError("\(path): member \(i): \(error)") }
            for name in file.names { tensors[tensorPrefix(i) + name] = try file.tensor(name) }
            for (key, value) in file.metadata where key.hasPrefix("forensight.") {
                metadata[metadataPrefix(i) + key.dropFirst("forensight.".count)] = value
            }
        }
        do { try Safetensors.write(tensors, to: path, dtype: dtype, metadata: metadata) } catch { throw DetectorError("\(error)") }
    }

    /// The members stored in `file` (at `path`), whose card names them `ids`, each built by its own registry entry.
    /// Every inconsistency is a one-line `DetectorError` naming `path` (`what`: ensemble or fusion).
    static func read(ids: [String], file: SafetensorsFile, path: String, what: String) throws -> [any Detector] {
        let count = ids.count
        if let stray = file.names.first(where: { name in !(0..<count).contains { name.hasPrefix(tensorPrefix($0)) } }) {
            throw DetectorError("\(path): tensor \"\(stray)\" belongs to no member of this \(count)-member \(what)")
        }
        var members: [any Detector] = []
        for i in 0..<count {
            let prefix = metadataPrefix(i)
            var metadata: [String: String] = [:]
            for (key, value) in file.metadata where key.hasPrefix(prefix) { metadata["forensight." + key.dropFirst(prefix.count)] = value }
            guard metadata["forensight.card"] != nil else { throw DetectorError("\(path): member \(i) has no card (\(prefix)card)") }
            let view = file.subset(prefix: tensorPrefix(i), metadata: metadata)
            let memberCard: DetectorCard
            do { memberCard = try DetectorCard.read(from: view, path: path) } catch {
                throw DetectorError("\(path): member \(i): " + oneLine(error, without: path))
            }
            guard memberCard.id == ids[i] else {
                throw DetectorError("\(path): member \(i) is \"\(memberCard.id)\" but the \(what) card names \"\(ids[i])\"")
            }
            guard let entry = DetectorRegistry.entry(for: memberCard.architecture) else {
                throw DetectorError("\(path): member \(i) (\(memberCard.id)): \(DetectorRegistry.unknown(memberCard.architecture, path: nil))")
            }
            do { members.append(try entry.load(memberCard, view, path)) } catch {
                throw DetectorError("\(path): member \(i) (\(memberCard.id)): " + oneLine(error, without: path))
            }
        }
        return members
    }

    /// `error` on one line, without a leading "`path`: " (the caller names the file once).
    static func oneLine(_ error: Error, without path: String) -> String {
        var text = "\(error)".replacingOccurrences(of: "\n", with: " ")
        if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }
        return text
    }
}
