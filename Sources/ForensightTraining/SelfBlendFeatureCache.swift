import Foundation
import ForensightTensor
import ForensightMedia
import ForensightDetect

/// Training a `FrozenBackboneDetector` from cached features (`train --feature-cache DIR --cache-views N`): before the
/// first epoch, each training face's N (real, fake) pairs are drawn as a step would draw them (`trainingPair`, seeded
/// by the run seed, the face and the view), run through the frozen part once, and stored in half precision
/// (`FeatureCache`); each step then reads its batch's features and trains the head alone. Validation still runs whole
/// crops through the whole network.
extension SelfBlendTrainer {
    /// What `prepareFeatureCache` found and did.
    public struct FeatureCacheReport: Sendable {
        /// The cache's manifest (complete after a successful preparation).
        public var manifest: FeatureCacheManifest
        /// Shards written now and shards found whole on disk.
        public var builtShards: Int, reusedShards: Int
        /// Seconds spent building (0 when everything was reused), and the shards' bytes on disk.
        public var seconds: Double, bytes: Int
    }

    /// Opens the feature cache in `directory` for this run and writes the shards it lacks (all of them for a new cache,
    /// the rest of a build that was killed, none for a complete one); from then on steps train from it. Throws when
    /// the detector has no frozen backbone, the recipe has no `featureCacheViews` or has a consistency term (its views
    /// are drawn afresh each step), or the folder holds a cache for another recipe, other faces or another backbone
    /// (unless `rebuild`, which replaces it). A new cache puts `facesPerShard` faces in each file. `progress` gets
    /// (faces done, faces) after each shard.
    @discardableResult
    public func prepareFeatureCache(at directory: String, rebuild: Bool = false, facesPerShard: Int = 32,
                                    progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> FeatureCacheReport {
        guard let frozen = detector as? any FrozenBackboneDetector else {
            throw TrainingError("\(detector.card.architecture) has no frozen backbone whose features could be cached (--feature-cache)")
        }
        guard recipe.featureCacheViews > 0 else { throw TrainingError("a feature cache needs at least one view per face (--cache-views)") }
        guard consistencyPairs == 0 else {
            throw TrainingError("the consistency term draws fresh views every step; it cannot train from a feature cache (--consistency-weight 0)")
        }
        let shapes = withoutGrad { frozen.frozenFeatures(detector.inputTensor([train[0].image])).map { Array($0.shape.dropFirst()) } }
        let wanted = FeatureCacheManifest(recipeSHA256: featureCacheRecipeSHA256, backboneSHA256: frozen.frozenWeightsSHA256,
                                          backbone: frozen.frozenDescription, architecture: detector.card.architecture, shapes: shapes,
                                          faces: train.count, views: recipe.featureCacheViews, facesPerShard: facesPerShard)
        let cache = try FeatureCache(directory: directory, wanted: wanted, rebuild: rebuild)
        let missing = cache.missingShards, started = Date()
        var done = cache.manifest.faces - missing.reduce(0) { $0 + cache.manifest.faceRange(shard: $1).count }
        progress(done, cache.manifest.faces)
        for s in missing {
            try cache.writeShard(s, records: featureRecords(faces: cache.manifest.faceRange(shard: s), detector: frozen))
            done += cache.manifest.faceRange(shard: s).count
            progress(done, cache.manifest.faces)
        }
        if !cache.manifest.complete { try cache.markComplete() }
        featureCache = cache
        return FeatureCacheReport(manifest: cache.manifest, builtShards: missing.count, reusedShards: cache.manifest.shardCount - missing.count,
                                  seconds: missing.isEmpty ? 0 : Date().timeIntervalSince(started), bytes: cache.bytesOnDisk)
    }

    /// The training pair of view `view` of training face `face` that the feature cache stores: `trainingPair` drawn
    /// from a generator seeded by (seed, face, view).
    public func cachedPair(face: Int, view: Int) -> (real: RGBImage, fake: RGBImage) {
        var random = Self.cachedPairRandom(seed: recipe.seed, face: face, view: view)
        return trainingPair(train[face], using: &random)
    }

    /// The generator of view `view` of face `face`.
    static func cachedPairRandom(seed: UInt64, face: Int, view: Int) -> SeededRandom {
        SeededRandom(seed: mix(seed, 0xFC, UInt64(face), UInt64(view)))
    }

    /// The cached view a step reads for the face at `position` of `epoch`'s order: a seeded draw among the views.
    public func cachedView(face: Int, epoch: Int, position: Int) -> Int {
        var random = SeededRandom(seed: mix(recipe.seed, 0xFD, UInt64(epoch), UInt64(position), UInt64(face)))
        return Int(random.next() % UInt64(max(1, recipe.featureCacheViews)))
    }

    /// SHA-256 of everything that decides the cached pairs and their network input: the recipe without its
    /// optimisation, schedule and batch fields, the card's input fields, and each training face (id, size) in order,
    /// with the dataset fakes a pair may draw.
    public var featureCacheRecipeSHA256: String {
        var pairs = recipe
        (pairs.epochs, pairs.realsPerStep, pairs.learningRate, pairs.weightDecay, pairs.warmupSteps) = (0, 0, 0, 0, 0)
        (pairs.frozenBlocks, pairs.validationFramesPerVideo, pairs.stepsPerEpoch, pairs.balanceDatasets) = (0, 0, 0, false)
        (pairs.consistencyWeight, pairs.branchConsistencyWeight, pairs.featureCacheViews) = (0, 0, 0)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var text = String(decoding: (try? encoder.encode(pairs)) ?? Data(), as: UTF8.self) + "\n"
        let card = detector.card
        text += "input \(card.inputSize) mean \(card.mean) std \(card.std) scale \(card.pixelScale.map { "\($0)" } ?? "-") "
            + "interpolation \(card.interpolation.map { "\($0)" } ?? "-")\n"
        for face in train { text += "\(face.sample.id) \(face.image.width)x\(face.image.height) \(face.mesh == nil ? 0 : 1)\n" }
        for fake in datasetFakes { text += "fake \(fake.sample.id) \(fake.image.width)x\(fake.image.height)\n" }
        return FileDigest.sha256Hex(Array(text.utf8))
    }

    /// The records of `faces` in shard order (face, view, real then fake), each image's outputs flattened in turn.
    func featureRecords(faces range: Range<Int>, detector frozen: any FrozenBackboneDetector) -> [Float] {
        let views = recipe.featureCacheViews, pairs = range.count * views
        var images = [RGBImage?](repeating: nil, count: 2 * pairs)
        let faces = train, recipe = recipe, blend = blend, augment = augment, simulator = simulator, fakes = datasetFakes
        images.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes only its own two slots.
            nonisolated(unsafe) let out = slots
            DispatchQueue.concurrentPerform(iterations: pairs) { p in
                let (face, view) = (range.lowerBound + p / views, p % views)
                var random = Self.cachedPairRandom(seed: recipe.seed, face: face, view: view)
                (out[2 * p], out[2 * p + 1]) = Self.trainingPair(faces[face], recipe: recipe, blend: blend, simulator: simulator,
                                                                 datasetFakes: fakes, augment: augment, using: &random)
            }
        }
        var records: [Float] = []
        let batch = 16
        for start in stride(from: 0, to: images.count, by: batch) {
            let chunk = images[start..<min(images.count, start + batch)].map { $0! }
            let outputs = withoutGrad { frozen.frozenFeatures(detector.inputTensor(chunk)) }
            for row in 0..<chunk.count {
                for output in outputs {
                    let n = output.count / output.shape[0]
                    records.append(contentsOf: UnsafeBufferPointer(start: output.data + row * n, count: n))
                }
            }
        }
        return records
    }

    /// The logits [2k, 1] of one step's reals and fakes from the cache, and their targets [2k, 1].
    func cachedLogits(_ members: [Int], epoch: Int, firstPosition: Int, cache: FeatureCache) -> (Tensor, Tensor) {
        let k = members.count
        let views = members.enumerated().map { j, face in cachedView(face: face, epoch: epoch, position: firstPosition + j) }
        let items = (0..<(2 * k)).map { FeatureCache.Item(face: members[$0 % k], view: views[$0 % k], fake: $0 >= k) }
        let features: [Tensor]
        do { features = try cache.features(items) } catch { fatalError("\(error)") }
        let targets = Tensor((0..<(2 * k)).map { $0 < k ? 0 : 1 }, shape: [2 * k, 1])
        return ((detector as! any FrozenBackboneDetector).trainingLogits(fromFrozen: features), targets)
    }
}
