import Foundation

/// K-fold cross-validation over the manipulation pairs of forgery datasets: the in-domain protocol, in which a
/// detector trains on real fakes (FF++'s `target_source` videos and their originals) and is tested on the fakes of
/// other pairs. Numbers from it are in-domain only; the project's headline protocol is `ProtocolSplit`.
///
/// People who appear together in a fake (target and source, as in `033_097` and `097_033`) form one group, and
/// groups are joined through every fake that links them, so no person is on both sides of a fold. A real whose person
/// is in no fake is a group of its own (its person, video or photo, as `ProtocolSplit` draws units). Each group goes
/// to fold `h · folds` for a stable hash h of (seed, dataset, group); the draw depends only on the group and the seed.
///
/// `parts(of:fold:)` gives fold `k` as test, and the other folds as training, from which a seeded
/// `validationFraction` of the groups is held out for validation (epoch choice, calibration, threshold).
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
    public func foldIndices(of manifest: Manifest) -> [Int] {
        groups(of: manifest).map { min(folds - 1, Int(ProtocolSplit.unitHash("\(seed)/fold/\($0)") * Double(folds))) }
    }

    /// Fold `fold` as test; the other folds as training, less a seeded `validationFraction` of their groups as
    /// validation. Fakes are kept in every part.
    public func parts(of manifest: Manifest, fold: Int) -> (train: Manifest, validation: Manifest, test: Manifest) {
        precondition((0..<folds).contains(fold), "pair folds: fold \(fold) of \(folds)")
        let keys = groups(of: manifest), assigned = foldIndices(of: manifest)
        var train: [Sample] = [], validation: [Sample] = [], test: [Sample] = []
        for (i, s) in manifest.enumerated() {
            if assigned[i] == fold {
                test.append(s)
            } else if ProtocolSplit.unitHash("\(seed)/val/\(keys[i])") < validationFraction {
                validation.append(s)
            } else {
                train.append(s)
            }
        }
        return (Manifest(train), Manifest(validation), Manifest(test))
    }

    /// `dataset/person:…` keys of the people a sample shows: its identity, a fake's source identity, and the video
    /// its original came from (keyed as the original's own identity or video).
    static func personKeys(of s: Sample) -> [String] {
        var keys = [s.identity, s.sourceIdentity].compactMap { $0 }.map { "\(s.dataset)/person:\($0)" }
        if s.identity == nil, let video = s.isFake ? s.originalVideoID : s.videoID { keys.append("\(s.dataset)/video:\(video)") }
        return keys
    }
}
