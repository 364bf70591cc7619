import Foundation

/// K-fold cross-validation over the manipulation pairs of forgery datasets: the in-domain protocol, in which a
/// detector trains on real fakes (FF++'s `target_source` videos and their originals) and is tested on the fakes of
/// other pairs. Numbers from it are in-domain only; the project's headline protocol is `ProtocolSplit`.
///
/// People who appear together in a fake (target and source, as in `033_097` and `097_033`) form one group, and
/// groups are joined through every fake that links them, so no person is on both sides of a fold. A real whose person
/// is in no fake is a group of its own (its person, video or photo, as `ProtocolSplit` draws units). The groups with
/// a fake and those without are each put in a seeded order (a stable hash of seed and group) and dealt to the folds in
/// turn, so every fold gets its share of both, whatever the dataset's size.
///
/// `parts(of:fold:)` gives fold `k` as test, and the other folds as training, from which a seeded
/// `validationFraction` of the groups with a fake and of those without (at least one of each where the training
/// folds have two) is held out for validation (epoch choice, calibration, threshold).
public struct PairFolds: Sendable, Equatable {
    /// Number of folds (at least 2).
    public var folds: Int
    /// Share of the training folds' groups held out for validation.
    public var validationFraction: Double
    public var seed: UInt64

    public init(folds: Int = 2, validationFraction: Double = 0.1, seed: UInt64 = 0) {
        precondition(folds >= 2, "pair folds: at least 2 folds")
        precondition(validationFraction >= 0 && validationFraction < 1, "pair folds: validation fraction in [0, 1)")
        (self.folds, self.validationFraction, self.seed) = (folds, validationFraction, seed)
    }

    /// Each sample's group key: `dataset/` and the smallest person key of its connected group (people joined by fakes),
    /// or its own unit when it shows nobody who appears in a fake.
    public func groups(of manifest: Manifest) -> [String] {
        var parent: [String: String] = [:]
        func find(_ key: String) -> String {
            var root = key
            while let next = parent[root], next != root { root = next }
            var node = key
            while let next = parent[node], next != root { parent[node] = root; node = next }
            return root
        }
        func union(_ a: String, _ b: String) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { if ra < rb { parent[rb] = ra } else { parent[ra] = rb } }
        }
        for s in manifest where s.isFake {
            let keys = Self.personKeys(of: s)
            for key in keys where parent[key] == nil { parent[key] = key }
            for key in keys.dropFirst() { union(keys[0], key) }
        }
        return manifest.map { s in
            if let linked = Self.personKeys(of: s).first(where: { parent[$0] != nil }) { return find(linked) }
            return "\(s.dataset)/" + ProtocolSplit.unit(of: s)
        }
    }

    /// The fold (0..<folds) of every sample, in manifest order.
    public func foldIndices(of manifest: Manifest) -> [Int] { foldIndices(of: manifest, keys: groups(of: manifest)) }

    /// `foldIndices(of:)` for the manifest's group keys, already computed.
    private func foldIndices(of manifest: Manifest, keys: [String]) -> [Int] {
        var fold: [String: Int] = [:]
        for (_, members) in kinds(of: manifest, keys: keys) {
            for (position, key) in ordered(members, salt: "fold").enumerated() { fold[key] = position % folds }
        }
        return keys.map { fold[$0]! }
    }

    /// Fold `fold` as test; the other folds as training, less a seeded `validationFraction` of their groups (of each
    /// kind, with a fake or without) as validation. Fakes are kept in every part.
    public func parts(of manifest: Manifest, fold: Int) -> (train: Manifest, validation: Manifest, test: Manifest) {
        precondition((0..<folds).contains(fold), "pair folds: fold \(fold) of \(folds)")
        let keys = groups(of: manifest), assigned = foldIndices(of: manifest, keys: keys)
        let rest = Manifest(manifest.indices.filter { assigned[$0] != fold }.map { manifest[$0] })
        let restKeys = manifest.indices.filter { assigned[$0] != fold }.map { keys[$0] }
        var held = Set<String>()
        for (_, members) in kinds(of: rest, keys: restKeys) where validationFraction > 0 {
            let count = members.count >= 2 ? max(1, Int((validationFraction * Double(members.count)).rounded())) : 0
            held.formUnion(ordered(members, salt: "val").prefix(count))
        }
        var train: [Sample] = [], validation: [Sample] = [], test: [Sample] = []
        for (i, s) in manifest.enumerated() {
            if assigned[i] == fold { test.append(s) } else if held.contains(keys[i]) { validation.append(s) } else { train.append(s) }
        }
        return (Manifest(train), Manifest(validation), Manifest(test))
    }

    /// The distinct groups with a fake (`true`) and without (`false`).
    private func kinds(of manifest: Manifest, keys: [String]) -> [Bool: Set<String>] {
        var withFake = Set<String>(), all = Set<String>()
        for (s, key) in zip(manifest, keys) {
            all.insert(key)
            if s.isFake { withFake.insert(key) }
        }
        return [true: withFake, false: all.subtracting(withFake)]
    }

    /// `groups` in the seeded order of a stable hash of (seed, salt, group).
    private func ordered(_ groups: Set<String>, salt: String) -> [String] {
        groups.map { (ProtocolSplit.unitHash("\(seed)/\(salt)/\($0)"), $0) }.sorted { $0 < $1 }.map(\.1)
    }

    /// `dataset/person:…` keys of the people a sample shows: its identity, a fake's source identity, and the video
    /// its original came from (keyed as the original's own identity or video).
    static func personKeys(of s: Sample) -> [String] {
        var keys = [s.identity, s.sourceIdentity].compactMap { $0 }.map { "\(s.dataset)/person:\($0)" }
        if s.identity == nil, let video = s.isFake ? s.originalVideoID : s.videoID { keys.append("\(s.dataset)/video:\(video)") }
        return keys
    }
}
