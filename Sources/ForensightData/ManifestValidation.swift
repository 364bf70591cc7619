import Foundation

/// One problem found by `Manifest.validate`.
public struct ManifestIssue: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Two samples share an id.
        case duplicateID
        /// A label other than 0 or 1 (possible after mutating `label`).
        case invalidLabel
        /// An empty id, path or dataset, or a negative frame index.
        case invalidField
        /// The sample's file does not exist (only with `checkFiles`).
        case missingFile
        /// One video (dataset + videoID) carries both labels.
        case conflictingVideoLabel
        /// One person (dataset + identity) appears in more than one split (only with `checkLeakage`).
        case identityInSeveralSplits
    }

    public let kind: Kind
    /// The sample id, video or identity concerned.
    public let subject: String
    public let detail: String

    public var description: String { "\(kind.rawValue): \(subject): \(detail)" }
}

extension Manifest {
    /// Every problem of the manifest, in sample order: duplicate ids, labels not 0/1, empty id/path/dataset,
    /// negative frame indices and videos with both labels always; absent files with `checkFiles`; persons present
    /// in several splits with `checkLeakage` (by `identity`, the target person, as the project splits FF++; unset
    /// splits are ignored).
    public func validate(checkFiles: Bool = false, checkLeakage: Bool = false) -> [ManifestIssue] {
        var issues: [ManifestIssue] = []
        var seenIDs = Set<String>(), reported = Set<String>()
        var videoLabels: [String: Int] = [:], conflictingVideos = Set<String>()
        for s in samples {
            if !seenIDs.insert(s.id).inserted, reported.insert(s.id).inserted {
                issues.append(ManifestIssue(kind: .duplicateID, subject: s.id, detail: "id used by more than one sample"))
            }
            if s.label != 0 && s.label != 1 {
                issues.append(ManifestIssue(kind: .invalidLabel, subject: s.id, detail: "label \(s.label) is not 0 (real) or 1 (fake)"))
            }
            for (name, value) in [("id", s.id), ("path", s.path), ("dataset", s.dataset)] where value.isEmpty {
                issues.append(ManifestIssue(kind: .invalidField, subject: s.id, detail: "empty \(name)"))
            }
            if let f = s.frameIndex, f < 0 {
                issues.append(ManifestIssue(kind: .invalidField, subject: s.id, detail: "negative frame_index \(f)"))
            }
            if checkFiles && !s.path.isEmpty && !FileManager.default.fileExists(atPath: s.path) {
                issues.append(ManifestIssue(kind: .missingFile, subject: s.id, detail: "no file at \(s.path)"))
            }
            if let v = s.videoID {
                let key = s.dataset + ":" + v
                if let other = videoLabels[key], other != s.label, conflictingVideos.insert(key).inserted {
                    issues.append(ManifestIssue(kind: .conflictingVideoLabel, subject: key, detail: "video has samples labelled real and fake"))
                }
                videoLabels[key] = videoLabels[key] ?? s.label
            }
        }
        if checkLeakage {
            for (person, splits) in identitySplits() where splits.count > 1 {
                issues.append(ManifestIssue(kind: .identityInSeveralSplits, subject: person,
                                            detail: "appears in splits \(splits.sorted().joined(separator: ", "))"))
            }
        }
        return issues
    }

    /// The manifest itself when `validate` finds nothing; otherwise a `DatasetError` (`invalidManifest`) giving the
    /// issue count and the first few issues.
    @discardableResult
    public func validated(checkFiles: Bool = false, checkLeakage: Bool = false, source: String = "manifest") throws -> Manifest {
        let issues = validate(checkFiles: checkFiles, checkLeakage: checkLeakage)
        guard issues.isEmpty else {
            let shown = issues.prefix(DatasetError.listedExamples).map(\.description).joined(separator: "; ")
            throw DatasetError(.invalidManifest, path: source,
                               reason: "\(issues.count) problem\(issues.count == 1 ? "" : "s"): \(shown)\(issues.count > DatasetError.listedExamples ? "; …" : "")")
        }
        return self
    }

    /// For each person ("dataset:identity"), the splits they appear in; samples without a split are ignored.
    /// With `includingSources`, a face-swap fake also counts for its `sourceIdentity` (the pasted-in face).
    public func identitySplits(includingSources: Bool = false) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for s in samples {
            guard let split = s.split else { continue }
            for person in [s.identity, includingSources ? s.sourceIdentity : nil].compactMap({ $0 }) {
                result[s.dataset + ":" + person, default: []].insert(split)
            }
        }
        return result
    }
}
