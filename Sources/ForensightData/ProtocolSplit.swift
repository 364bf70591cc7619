import Foundation

/// The project's train / validation / test protocol for detectors trained on real faces only (self-blending).
///
/// Every sample gets one of `train`, `val` or `test`, by rules that hold for any dataset layout:
/// - **Test.** Every fake; every real whose person appears in a fake of its dataset (as target or source, so both
///   ids of a `target_source` pair), which puts all of a small forgery dataset such as Celeb-DF mini in test; and a
///   seeded `testFraction` of the other real people (CelebA identities) or, where no person is known, of the photos
///   (FairFace, UTKFace) or real videos.
/// - **Validation.** A seeded `validationFraction` of what is left, by the same units: used for the epoch choice,
///   the threshold and the calibration, never for a reported number.
/// - **Train.** Everything else.
///
/// The draw is a stable hash of (seed, dataset, unit), so a sample's part depends only on itself and the seed, not on
/// which other datasets were imported beside it: `train` and `evaluate` agree on the split without sharing a file.
public struct ProtocolSplit: Sendable, Equatable {
    /// Share of the real units not already in test (no person in a fake) that go to test.
    public var testFraction: Double
    /// Share of the real units that go to validation.
    public var validationFraction: Double
    public var seed: UInt64

    public init(testFraction: Double = 0.2, validationFraction: Double = 0.1, seed: UInt64 = 0) {
        precondition(testFraction >= 0 && validationFraction >= 0 && testFraction + validationFraction < 1, "split fractions must leave a training share")
        (self.testFraction, self.validationFraction, self.seed) = (testFraction, validationFraction, seed)
    }

    /// The manifest with every sample's `split` set to `train`, `val` or `test`.
    public func apply(to manifest: Manifest) -> Manifest {
        var inFakes = Set<String>()
        for s in manifest where s.isFake {
            for key in [s.identity, s.sourceIdentity, s.originalVideoID].compactMap({ $0 }) { inFakes.insert("\(s.dataset)/\(key)") }
        }
        var result = manifest
        for i in result.samples.indices {
            let s = result.samples[i]
            let keys = [s.identity, s.videoID].compactMap { $0 }.map { "\(s.dataset)/\($0)" }
            if s.isFake || keys.contains(where: inFakes.contains) {
                result.samples[i].split = "test"
                continue
            }
            let u = ProtocolSplit.unitHash("\(seed)/\(s.dataset)/\(ProtocolSplit.unit(of: s))")
            result.samples[i].split = u < testFraction ? "test" : u < testFraction + validationFraction ? "val" : "train"
        }
        return result
    }

    /// The samples of each part.
    public func parts(of manifest: Manifest) -> (train: Manifest, validation: Manifest, test: Manifest) {
        let assigned = apply(to: manifest)
        func part(_ name: String) -> Manifest { Manifest(assigned.samples.filter { $0.split == name }) }
        return (part("train"), part("val"), part("test"))
    }

    /// What is drawn as one: the person when known, else the video, else the file.
    static func unit(of sample: Sample) -> String {
        if let identity = sample.identity { return "person:" + identity }
        if let video = sample.videoID { return "video:" + video }
        return "file:" + sample.id
    }

    /// A stable hash of `text` mapped into [0, 1).
    static func unitHash(_ text: String) -> Double {
        var hash = stableHash(text)                   // FNV-1a, then a finaliser
        hash ^= hash >> 33; hash &*= 0xff51_afd7_ed55_8ccd; hash ^= hash >> 33
        return Double(hash >> 11) / Double(1 << 53)
    }
}
