import Foundation

/// How a split keeps samples together: every sample of one group lands in the same split.
public enum SplitGrouping: String, Sendable {
    /// By person: `identity` (the target person — FF++'s target id, Celeb-DF's `idX`); samples without one fall back
    /// to `.video`. This is the project's FF++ rule: split by target id.
    case identity
    /// By video: `originalVideoID` when set (a fake stays with the real video it was made from), else `videoID`,
    /// else the sample id.
    case video
    /// Stricter than `.identity`: a face-swap fake also ties its `sourceIdentity` to its target, and persons tied
    /// through any chain of fakes form one group. On datasets where everyone was swapped with everyone (Celeb-DF),
    /// this can leave one giant group.
    case linkedIdentities
}

/// The named parts of a split and their share of the samples, e.g. train 0.8 / val 0.1 / test 0.1.
public struct SplitPlan: Sendable, Equatable {
    public var parts: [Part]
    public struct Part: Sendable, Equatable {
        public var name: String, fraction: Double
        public init(_ name: String, _ fraction: Double) { (self.name, self.fraction) = (name, fraction) }
    }

    /// Fractions must be positive; they are normalised to sum to 1.
    public init(_ parts: [Part]) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.fraction > 0 }, "a split plan needs positive fractions")
        let total = parts.reduce(0) { $0 + $1.fraction }
        self.parts = parts.map { Part($0.name, $0.fraction / total) }
    }

    public static let trainValTest = SplitPlan([Part("train", 0.8), Part("val", 0.1), Part("test", 0.1)])
    public static let trainVal = SplitPlan([Part("train", 0.9), Part("val", 0.1)])
}

extension Manifest {
    /// The same manifest with every sample's `split` set so that no group (by default: no person) lands in two
    /// splits. Deterministic: the groups are sorted, shuffled with `seed`, then dealt out in that order so that each
    /// split receives close to its fraction of the *samples* (a group goes to the split its middle sample falls in).
    /// With `stratifyByLabel`, groups holding a fake and groups holding only reals are dealt separately, so every
    /// split gets its share of both (FF++: a target with fakes vs. an original without). The result depends on the
    /// set of samples, not their order. Existing splits are overwritten.
    public func split(byIdentity plan: SplitPlan = .trainValTest, seed: UInt64 = 0, grouping: SplitGrouping = .identity,
                      stratifyByLabel: Bool = true) -> Manifest {
        let keys = groupKeys(grouping)
        var sizes: [String: Int] = [:], hasFake = Set<String>()
        for (k, s) in zip(keys, samples) {
            sizes[k, default: 0] += 1
            if s.label == 1 { hasFake.insert(k) }
        }
        var order = sizes.keys.sorted()
        var rng = SplitMix64(seed: seed)
        // Fisher–Yates written out (not `shuffle(using:)`, whose algorithm the standard library may change).
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let strata = stratifyByLabel ? [order.filter { hasFake.contains($0) }, order.filter { !hasFake.contains($0) }] : [order]
        var bounds: [Double] = [], running = 0.0
        for part in plan.parts { running += part.fraction; bounds.append(running) }
        var assignment: [String: String] = [:]
        for stratum in strata {
            let total = Double(Swift.max(stratum.reduce(0) { $0 + sizes[$1]! }, 1))
            var dealt = 0
            for key in stratum {
                let size = sizes[key]!
                let middle = (Double(dealt) + Double(size) / 2) / total
                assignment[key] = plan.parts[bounds.firstIndex { middle <= $0 } ?? plan.parts.count - 1].name
                dealt += size
            }
        }
        var result = self
        for i in result.samples.indices { result.samples[i].split = assignment[keys[i]] }
        return result
    }

    /// The group key of every sample (in order) under `grouping`, prefixed by the dataset so that ids of different
    /// datasets never merge.
    public func groupKeys(_ grouping: SplitGrouping) -> [String] {
        func videoKey(_ s: Sample) -> String { "video:" + (s.originalVideoID ?? s.videoID ?? s.id) }
        func personKey(_ s: Sample) -> String { s.identity.map { "person:" + $0 } ?? videoKey(s) }
        switch grouping {
        case .video: return samples.map { $0.dataset + "/" + videoKey($0) }
        case .identity: return samples.map { $0.dataset + "/" + personKey($0) }
        case .linkedIdentities:
            var sets = UnionFind()
            for s in samples {
                let key = s.dataset + "/" + personKey(s)
                sets.add(key)
                if let source = s.sourceIdentity { sets.union(key, s.dataset + "/person:" + source) }
            }
            return samples.map { sets.find($0.dataset + "/" + personKey($0)) }
        }
    }
}

/// Union-find over strings; `find` returns the smallest key of the set, so results do not depend on insertion order.
struct UnionFind {
    private var parent: [String: String] = [:]

    mutating func add(_ x: String) { if parent[x] == nil { parent[x] = x } }

    mutating func find(_ x: String) -> String {
        add(x)
        var root = x
        while let p = parent[root], p != root { root = p }
        var node = x
        while let p = parent[node], p != root { parent[node] = root; node = p }
        return root
    }

    mutating func union(_ a: String, _ b: String) {
        let (ra, rb) = (find(a), find(b))
        if ra == rb { return }
        if ra < rb { parent[rb] = ra } else { parent[ra] = rb }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, seedable, portable generator, so splits are the same on every
/// platform and Swift version.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
