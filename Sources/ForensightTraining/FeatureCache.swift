import Foundation
import ForensightTensor

/// What a feature cache folder holds (`manifest.json`): the recipe and frozen weights its features came from, their
/// shapes, and how many training faces and views it covers. Two manifests that agree on everything but `complete`
/// describe the same features.
public struct FeatureCacheManifest: Codable, Sendable, Equatable {
    /// The on-disk layout's version.
    public var format = 1
    /// How values are stored: IEEE 754 half precision, little-endian.
    public var dtype = "f16-le"
    /// SHA-256 of what decides the training pairs: the recipe's pair-making fields, the card's input fields and the
    /// training faces in order (`SelfBlendTrainer.featureCacheRecipeSHA256`).
    public var recipeSHA256: String
    /// SHA-256 of the frozen part's state dict (`FrozenBackboneDetector.frozenWeightsSHA256`).
    public var backboneSHA256: String
    /// The frozen part and its outputs, in words (`FrozenBackboneDetector.frozenDescription`).
    public var backbone: String
    /// The detector architecture (`DetectorCard.architecture`).
    public var architecture: String
    /// Each stored output's shape for one image (without the batch axis).
    public var shapes: [[Int]]
    /// Training faces, and views (augmented real / fake pairs) per face.
    public var faces: Int, views: Int
    /// Faces per shard file (`shard-NNNNN.f16`); the last shard may hold fewer.
    public var facesPerShard: Int
    /// Whether every shard has been written.
    public var complete = false

    /// A manifest of an unfinished cache.
    public init(recipeSHA256: String, backboneSHA256: String, backbone: String, architecture: String, shapes: [[Int]], faces: Int,
                views: Int, facesPerShard: Int = 32) {
        (self.recipeSHA256, self.backboneSHA256, self.backbone, self.architecture) = (recipeSHA256, backboneSHA256, backbone, architecture)
        (self.shapes, self.faces, self.views, self.facesPerShard) = (shapes, faces, views, facesPerShard)
    }

    enum CodingKeys: String, CodingKey {
        case format, dtype, recipeSHA256 = "recipe_sha256", backboneSHA256 = "backbone_sha256", backbone, architecture, shapes
        case faces, views, facesPerShard = "faces_per_shard", complete
    }

    /// Values per image record (all outputs).
    public var recordValues: Int { shapes.map { $0.reduce(1, *) }.reduce(0, +) }
    /// Shard files.
    public var shardCount: Int { (faces + facesPerShard - 1) / facesPerShard }
    /// The faces of shard `s`.
    public func faceRange(shard s: Int) -> Range<Int> { (s * facesPerShard)..<min(faces, (s + 1) * facesPerShard) }

    /// Why `self` (found on disk) cannot serve `wanted`, or nil when it can.
    func mismatch(with wanted: FeatureCacheManifest) -> String? {
        if format != wanted.format || dtype != wanted.dtype { return "format \(format) \(dtype), this build writes \(wanted.format) \(wanted.dtype)" }
        if architecture != wanted.architecture || backboneSHA256 != wanted.backboneSHA256 || backbone != wanted.backbone {
            return "built on another backbone (\(architecture), \(backbone), weights sha256 \(backboneSHA256.prefix(12))…; this run: "
                + "\(wanted.architecture), \(wanted.backbone), \(wanted.backboneSHA256.prefix(12))…)"
        }
        if recipeSHA256 != wanted.recipeSHA256 || faces != wanted.faces {
            return "built for another recipe or other training faces (recipe sha256 \(recipeSHA256.prefix(12))… with \(faces) faces; this run: "
                + "\(wanted.recipeSHA256.prefix(12))… with \(wanted.faces))"
        }
        if views != wanted.views { return "built with \(views) views per face; this run asks for \(wanted.views)" }
        if shapes != wanted.shapes || facesPerShard != wanted.facesPerShard { return "holds other shapes (\(shapes)) or shards" }
        return nil
    }
}

/// A folder of frozen-backbone features for every training face, `views` (real, fake) pairs each, stored as IEEE half
/// floats, little-endian, in shard files of `facesPerShard` faces, beside `manifest.json`. Within a shard, records run
/// face-major, then view, then real before fake; a record is every output of one image, flattened, one after another.
/// A shard is written under a temporary name and renamed, so a shard file of the expected size is whole, and a killed
/// build continues with the shards it lacks.
public final class FeatureCache {
    public let directory: String
    public private(set) var manifest: FeatureCacheManifest

    /// The cache in `directory` for `wanted`: the one there when its manifest agrees (complete or not), else a new one
    /// (an empty folder, or with `rebuild` a folder whose cache files are removed first). Throws a one-line error for a
    /// cache made for another recipe, other faces or another backbone, unless `rebuild`.
    public init(directory: String, wanted: FeatureCacheManifest, rebuild: Bool = false) throws {
        self.directory = directory
        manifest = wanted
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let data = fm.contents(atPath: manifestPath) {
            let found: FeatureCacheManifest
            do { found = try JSONDecoder().decode(FeatureCacheManifest.self, from: data) } catch {
                throw TrainingError("\(directory): manifest.json is not a feature cache manifest (\(error))")
            }
            if let problem = found.mismatch(with: wanted) {
                guard rebuild else {
                    throw TrainingError("\(directory): the feature cache there was \(problem); remove it, pass --rebuild-feature-cache, "
                                        + "or give another --feature-cache folder")
                }
                try removeCacheFiles()
            } else {
                manifest = found
                return
            }
        }
        manifest.complete = false
        try writeManifest()
    }

    var manifestPath: String { directory + "/manifest.json" }

    /// The file of shard `s`.
    public func shardPath(_ s: Int) -> String { directory + String(format: "/shard-%05d.f16", s) }

    /// Bytes of a whole shard `s`.
    func shardBytes(_ s: Int) -> Int { manifest.faceRange(shard: s).count * manifest.views * 2 * manifest.recordValues * 2 }

    /// Whether shard `s` is on disk whole.
    public func hasShard(_ s: Int) -> Bool {
        ((try? FileManager.default.attributesOfItem(atPath: shardPath(s)))?[.size] as? Int) == shardBytes(s)
    }

    /// The shards not yet written.
    public var missingShards: [Int] { (0..<manifest.shardCount).filter { !hasShard($0) } }

    /// Writes shard `s` from its records in file order (`faceRange(shard:)` × views × [real, fake]), each
    /// `recordValues` floats, rounded to half precision; then renames it into place.
    public func writeShard(_ s: Int, records: [Float]) throws {
        precondition(records.count * 2 == shardBytes(s), "shard \(s): \(records.count) values, expected \(shardBytes(s) / 2)")
        var bytes = [UInt8](repeating: 0, count: records.count * 2)
        bytes.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let out = slots
            records.withUnsafeBufferPointer { source in
                nonisolated(unsafe) let values = source
                // Each chunk writes only its own bytes.
                let chunk = 1 << 16, chunks = (values.count + chunk - 1) / chunk
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    for i in (c * chunk)..<min(values.count, (c + 1) * chunk) {
                        let h = halfBits(from: values[i])
                        (out[2 * i], out[2 * i + 1]) = (UInt8(h & 0xFF), UInt8(h >> 8))
                    }
                }
            }
        }
        let temporary = shardPath(s) + ".tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, shardPath(s)) == 0 else { throw TrainingError("\(shardPath(s)): cannot rename the written shard into place") }
    }

    /// Marks the cache complete (every shard written).
    public func markComplete() throws {
        guard missingShards.isEmpty else { throw TrainingError("\(directory): shards \(missingShards.prefix(5)) are missing") }
        manifest.complete = true
        try writeManifest()
    }

    /// One record: the image of `face`'s view `view`, real (`fake` false) or fake, each output's values.
    public struct Item: Sendable, Hashable {
        public var face: Int, view: Int, fake: Bool
        public init(face: Int, view: Int, fake: Bool) { (self.face, self.view, self.fake) = (face, view, fake) }
    }

    /// The stored features of `items`, stacked: one tensor per output, [items.count] + that output's shape.
    public func features(_ items: [Item]) throws -> [Tensor] {
        let record = manifest.recordValues, shapes = manifest.shapes
        let outputs = shapes.map { Tensor(uninitializedShape: [items.count] + $0) }
        var raw = [UInt16](repeating: 0, count: record)
        for (row, item) in items.enumerated() {
            precondition((0..<manifest.faces).contains(item.face) && (0..<manifest.views).contains(item.view), "feature cache: no \(item)")
            let shard = item.face / manifest.facesPerShard
            let index = ((item.face - shard * manifest.facesPerShard) * manifest.views + item.view) * 2 + (item.fake ? 1 : 0)
            let fd = open(shardPath(shard), O_RDONLY)
            guard fd >= 0 else { throw TrainingError("\(shardPath(shard)): cannot open (\(String(cString: strerror(errno))))") }
            defer { close(fd) }
            let wanted = record * 2
            let got = raw.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(index * wanted)) }
            guard got == wanted else { throw TrainingError("\(shardPath(shard)): short read (the feature cache is damaged; rebuild it)") }
            var offset = 0
            for (output, shape) in zip(outputs, shapes) {
                let n = shape.reduce(1, *), base = output.data + row * n
                for i in 0..<n { base[i] = floatFromHalfBits(UInt16(littleEndian: raw[offset + i])) }
                offset += n
            }
        }
        return outputs
    }

    /// Bytes of the shard files on disk.
    public var bytesOnDisk: Int {
        (0..<manifest.shardCount).reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: shardPath($1)))?[.size] as? Int) ?? 0) }
    }

    func writeManifest() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let temporary = manifestPath + ".tmp"
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, manifestPath) == 0 else { throw TrainingError("\(manifestPath): cannot rename into place") }
    }

    /// Removes the files a cache writes (the manifest, the shards and their temporary copies), nothing else.
    func removeCacheFiles() throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: directory)
        where name == "manifest.json" || (name.hasPrefix("shard-") && (name.hasSuffix(".f16") || name.hasSuffix(".f16.tmp"))) {
            try fm.removeItem(atPath: directory + "/" + name)
        }
    }
}
