import Foundation
import XCTest
import ForensightData

/// Identity/video splits: deterministic, order-independent, no group in two splits, close to the asked fractions.
final class SplitTests: XCTestCase {
    /// An FF++-like set: 100 originals, each with two fakes (target_source pairs with the next id).
    static let ffpp: Manifest = {
        var samples: [Sample] = []
        let ids = (0..<100).map { String(format: "%03d", $0) }
        for (i, t) in ids.enumerated() {
            let s = ids[(i + 1) % ids.count]
            samples.append(Sample(id: "ff:\(t)", path: "/\(t).mp4", label: 0, dataset: "ff", videoID: t, identity: t))
            for m in ["Deepfakes", "FaceSwap"] {
                samples.append(Sample(id: "ff:\(m)/\(t)_\(s)", path: "/\(m)/\(t)_\(s).mp4", label: 1, method: m, dataset: "ff",
                                      videoID: "\(t)_\(s)", identity: t, sourceIdentity: s, originalVideoID: t))
            }
        }
        return Manifest(samples)
    }()

    func testIdentitySplitIsDisjointDeterministicAndProportional() {
        let a = Self.ffpp.split(byIdentity: .trainValTest, seed: 7)
        XCTAssertEqual(a, Self.ffpp.split(byIdentity: .trainValTest, seed: 7))
        XCTAssertNotEqual(a, Self.ffpp.split(byIdentity: .trainValTest, seed: 8))
        XCTAssertEqual(a.validate(checkLeakage: true), [])
        XCTAssertTrue(a.identitySplits().values.allSatisfy { $0.count == 1 })
        let counts = a.summary.bySplit
        XCTAssertEqual(counts["train"]! + counts["val"]! + counts["test"]!, 300)
        XCTAssertEqual(Double(counts["train"]!), 240, accuracy: 6)
        XCTAssertEqual(Double(counts["val"]!), 30, accuracy: 6)
        // Independent of sample order.
        let reversed = Manifest(Array(Self.ffpp.reversed())).split(byIdentity: .trainValTest, seed: 7)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: reversed.map { ($0.id, $0.split) }),
                       Dictionary(uniqueKeysWithValues: a.map { ($0.id, $0.split) }))
    }

    func testLinkedIdentitiesKeepSourcesOnTheSameSide() {
        // With a chain 000→001→…→099→000 every person is linked: one group.
        XCTAssertEqual(Set(Self.ffpp.groupKeys(.linkedIdentities)).count, 1)
        // Reciprocal pairs (the official FF++ design) link two persons each.
        var pairs: [Sample] = []
        for k in stride(from: 0, to: 40, by: 2) {
            let (t, s) = (String(format: "%03d", k), String(format: "%03d", k + 1))
            pairs += [Sample(id: t, path: "/\(t)", label: 0, dataset: "ff", videoID: t, identity: t),
                      Sample(id: s, path: "/\(s)", label: 0, dataset: "ff", videoID: s, identity: s),
                      Sample(id: t + s, path: "/\(t)_\(s)", label: 1, dataset: "ff", videoID: "\(t)_\(s)", identity: t, sourceIdentity: s),
                      Sample(id: s + t, path: "/\(s)_\(t)", label: 1, dataset: "ff", videoID: "\(s)_\(t)", identity: s, sourceIdentity: t)]
        }
        let m = Manifest(pairs).split(byIdentity: .trainVal, seed: 1, grouping: .linkedIdentities)
        XCTAssertEqual(Set(Manifest(pairs).groupKeys(.linkedIdentities)).count, 20)
        XCTAssertTrue(m.identitySplits(includingSources: true).values.allSatisfy { $0.count == 1 })
        XCTAssertEqual(Set(m.compactMap(\.split)), ["train", "val"])
    }

    func testVideoGroupingAndFallbacks() {
        let m: Manifest = [
            Sample(id: "r", path: "/r", label: 0, dataset: "d", videoID: "orig"),
            Sample(id: "f", path: "/f", label: 1, dataset: "d", videoID: "fake1", originalVideoID: "orig"),
            Sample(id: "x", path: "/x", label: 1, dataset: "d"),
            Sample(id: "y", path: "/y", label: 1, dataset: "e", videoID: "orig"),
        ]
        XCTAssertEqual(m.groupKeys(.video), ["d/video:orig", "d/video:orig", "d/video:x", "e/video:orig"])
        XCTAssertEqual(m.groupKeys(.identity), m.groupKeys(.video))   // no identities: falls back to videos
        for seed in 0..<20 as Range<UInt64> {
            let s = m.split(byIdentity: SplitPlan([.init("a", 1), .init("b", 1)]), seed: seed, grouping: .video)
            XCTAssertEqual(s[0].split, s[1].split)
            XCTAssertTrue(s.allSatisfy { $0.split == "a" || $0.split == "b" })
        }
    }

    func testStratificationGivesEverySplitBothLabels() {
        // 10 persons with fakes (4 samples each) and 30 real-only persons.
        var samples: [Sample] = []
        for p in 0..<40 {
            samples.append(Sample(id: "r\(p)", path: "/r\(p)", label: 0, dataset: "d", identity: "p\(p)"))
            if p < 10 { for k in 0..<3 { samples.append(Sample(id: "f\(p)-\(k)", path: "/f\(p)-\(k)", label: 1, dataset: "d", identity: "p\(p)")) } }
        }
        for seed in 0..<10 as Range<UInt64> {
            let s = Manifest(samples).split(byIdentity: .trainValTest, seed: seed).summary.bySplitAndLabel
            for split in ["train", "val", "test"] {
                XCTAssertGreaterThan(s[split]?[1] ?? 0, 0, "seed \(seed) \(split)")
                XCTAssertGreaterThan(s[split]?[0] ?? 0, 0, "seed \(seed) \(split)")
            }
        }
    }

    func testSplitPlanNormalises() {
        XCTAssertEqual(SplitPlan([.init("train", 3), .init("val", 1)]).parts.map(\.fraction), [0.75, 0.25])
        XCTAssertEqual(Manifest().split(byIdentity: .trainVal).count, 0)
    }
}
