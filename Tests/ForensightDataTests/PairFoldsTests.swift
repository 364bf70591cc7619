import Foundation
import XCTest
import ForensightData

/// The in-domain protocol's folds: people linked by a fake stay on one side, every sample lands in one part, the
/// folds are balanced and follow the seed, and fakes are kept for training.
final class PairFoldsTests: XCTestCase {
    /// FF++-like: 24 originals; fakes in both directions of the pairs (0,1), (2,3), …, (10,11) for two methods, and
    /// one chain 12 → 13 → 14 that links three people.
    static let manifest: Manifest = {
        var samples = (0..<24).map { n -> Sample in
            let id = String(format: "%03d", n)
            return Sample(id: "ff:original/\(id)", path: "/o/\(id).mp4", label: 0, dataset: "ff", videoID: id, identity: id)
        }
        func fake(_ a: Int, _ b: Int, _ method: String) -> Sample {
            let (x, y) = (String(format: "%03d", a), String(format: "%03d", b))
            return Sample(id: "ff:\(method)/\(x)_\(y)", path: "/\(method)/\(x)_\(y).mp4", label: 1, method: method, dataset: "ff",
                          videoID: "\(x)_\(y)", identity: x, sourceIdentity: y, originalVideoID: x)
        }
        for method in ["Deepfakes", "FaceSwap"] {
            for a in stride(from: 0, to: 12, by: 2) { samples += [fake(a, a + 1, method), fake(a + 1, a, method)] }
            samples += [fake(12, 13, method), fake(13, 14, method)]
        }
        return Manifest(samples)
    }()

    func people(_ s: Sample) -> [String] { [s.identity, s.sourceIdentity].compactMap { $0 } }

    func testLinkedPeopleShareAFoldAndEverySampleLandsOnce() {
        let folds = PairFolds(folds: 2, validationFraction: 0.2, seed: 1)
        let groups = folds.groups(of: Self.manifest)
        let byID = Dictionary(uniqueKeysWithValues: zip(Self.manifest.map(\.id), groups))
        XCTAssertEqual(byID["ff:original/000"], byID["ff:Deepfakes/001_000"])
        XCTAssertEqual(byID["ff:original/012"], byID["ff:original/014"], "a chain of fakes is one group")
        XCTAssertNotEqual(byID["ff:original/000"], byID["ff:original/002"])
        XCTAssertEqual(byID["ff:original/020"], "ff/person:020", "a person in no fake is a group of its own")
        for k in 0..<2 {
            let (train, val, test) = folds.parts(of: Self.manifest, fold: k)
            XCTAssertEqual(Set(train.map(\.id) + val.map(\.id) + test.map(\.id)).count, Self.manifest.count)
            XCTAssertEqual(train.count + val.count + test.count, Self.manifest.count)
            let testPeople = Set(test.flatMap(people)), seenPeople = Set((train.samples + val.samples).flatMap(people))
            XCTAssertTrue(testPeople.isDisjoint(with: seenPeople), "fold \(k): a person on both sides")
            XCTAssertTrue(train.contains(where: \.isFake) && test.contains(where: \.isFake), "fold \(k): fakes on one side only")
        }
        // The two folds' tests partition the manifest.
        let tests = (0..<2).map { Set(folds.parts(of: Self.manifest, fold: $0).test.map(\.id)) }
        XCTAssertTrue(tests[0].isDisjoint(with: tests[1]))
        XCTAssertEqual(tests[0].count + tests[1].count, Self.manifest.count)
    }

    func testFoldsAreBalancedAndTheDrawFollowsTheSeed() {
        let plan = PairFolds(folds: 3, validationFraction: 0.25, seed: 4)
        let all = plan.foldIndices(of: Self.manifest)
        XCTAssertEqual(all, plan.foldIndices(of: Self.manifest))
        XCTAssertNotEqual(PairFolds(folds: 3, seed: 5).foldIndices(of: Self.manifest), all)
        // 7 groups with fakes (6 pairs and the chain) and 9 originals alone: 3 or 2 of the first, 3 of the second, per fold.
        let groups = PairFolds(folds: 3).groups(of: Self.manifest)
        for k in 0..<3 {
            let members = zip(Self.manifest, zip(groups, all)).filter { $0.1.1 == k }
            let withFake = Set(members.filter { $0.0.isFake }.map(\.1.0))
            let alone = Set(members.map(\.1.0)).subtracting(withFake)
            XCTAssertTrue((2...3).contains(withFake.count), "fold \(k): \(withFake.count) groups with fakes")
            XCTAssertEqual(alone.count, 3, "fold \(k)")
            // Validation holds groups of both kinds, taken from the training folds.
            let (_, val, test) = plan.parts(of: Self.manifest, fold: k)
            XCTAssertTrue(val.contains(where: \.isFake) && val.contains(where: { !$0.isFake }), "fold \(k): validation lacks a kind")
            XCTAssertTrue(Set(val.map(\.id)).isDisjoint(with: Set(test.map(\.id))))
        }
    }
}
