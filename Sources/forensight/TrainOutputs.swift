import Foundation
import ForensightTensor
import ForensightMedia
import ForensightData
import ForensightDetect
import ForensightTraining

extension Train {
    /// A grid with one column per example face: the real crop, its blending mask, its self-blend (drawn as the recipe's
    /// training draws them: partial regions, dense or five-point mask). With a trace simulator (synthesis): the
    /// resampled real, four times the absolute difference, the simulated fake.
    func writePreview(_ faces: [TrainingFace], recipe: SelfBlendRecipe, simulator: GeneratorTraceSimulator?, to path: String) throws {
        guard !faces.isEmpty else { throw fail("no training faces to preview") }
        let columns = min(6, faces.count), side = 256
        // The same number of examples from each dataset, spread evenly within it.
        let datasets = Dictionary(grouping: faces.indices, by: { faces[$0].sample.dataset })
        let names = datasets.keys.sorted()
        let picked = (0..<columns).map { c -> Int in
            let members = datasets[names[c % names.count]]!
            let perDataset = (columns + names.count - 1 - c % names.count) / names.count
            return members[(c / names.count) * members.count / max(perDataset, 1)]
        }
        var grid = RGBImage(width: columns * side, height: 3 * side, fill: (255, 255, 255))
        let blend = recipe.selfBlend
        for c in 0..<columns {
            let face = faces[picked[c]]
            var random = SeededRandom(seed: seed &+ UInt64(c))
            if let simulator {
                let (real, fake) = simulator.pair(face.image, using: &random)
                var difference = real
                for i in difference.pixels.indices {
                    difference.pixels[i] = UInt8(min(255, 4 * abs(Int(real.pixels[i]) - Int(fake.pixels[i]))))
                }
                for (row, tile) in [real, difference, fake].enumerated() {
                    ImageGeometry.paste(tile.resized(width: side, height: side), into: &grid, x: c * side, y: row * side)
                }
                continue
            }
            let result = blend(face.image, landmarks: face.landmarks, mesh: recipe.denseMask ? face.mesh : nil, using: &random)
            let real = face.image.resized(width: side, height: side)
            let fake = result.image.resized(width: side, height: side)
            var mask = RGBImage(width: face.image.width, height: face.image.height)
            for i in 0..<mask.pixelCount {
                let v = UInt8(min(max(result.mask.values[i] * 255, 0), 255))
                mask.pixels[3 * i] = v; mask.pixels[3 * i + 1] = v; mask.pixels[3 * i + 2] = v
            }
            mask = mask.resized(width: side, height: side)
            for (row, tile) in [real, mask, fake].enumerated() { ImageGeometry.paste(tile, into: &grid, x: c * side, y: row * side) }
        }
        do { try ImageEncoder.write(grid, to: path) } catch { throw fail("\(path): \(error)") }
        note("wrote \(path): \(columns) examples (rows: " + (simulator == nil ? "real, mask, self-blend)" : "resampled real, 4 × |difference|, simulated fake)"))
    }

    /// Loads the run's best weights, picks the decision threshold on the validation faces and writes fp16 weights.
    func exportBest(validation: [TrainingFace], recipe: SelfBlendRecipe, simulator: GeneratorTraceSimulator?, to path: String) throws {
        let best: any TrainableDetector
        do {
            guard let loaded = try DetectorRegistry.load(path: out + "/best.safetensors") as? any TrainableDetector else {
                throw DetectorError("\(out)/best.safetensors: not a trainable detector")
            }
            best = loaded
        } catch { throw fail("\(error)") }
        best.card.flipAverage = flipAverage
        best.card.landmarks = testLandmarks == .mtcnn ? nil : testLandmarks
        let choice: CalibrationChoice
        do { choice = try SelfBlendTrainer.calibrate(best, validation: validation, recipe: recipe, simulator: simulator) } catch { throw fail("\(out): calibration: \(error)") }
        (best.card.calibration, best.card.threshold) = (choice.calibration, choice.threshold)
        note(String(format: "calibration: P = σ(%.4f·z %+.4f); validation ECE %.4f → %.4f; threshold %.4f calls %.1f %% of %d real units FAKE",
                    choice.calibration.scale, choice.calibration.bias, choice.eceBefore, choice.eceAfter, choice.threshold,
                    100 * choice.realFlaggedRate, choice.realUnits))
        let fakes = ["self-blend": "self-blended images", "generator-trace": "reals against generator-trace simulations",
                     "self-blend+generator-trace": "self-blends and generator-trace simulations"][recipe.fakes.rawValue] ?? recipe.fakes.rawValue
        best.card.notes = (recipe.inpainterSHA256 == nil ? "" : "RFFR (crop + real-face inpainter residual), ")
            + "\(fakes), seed \(recipe.seed), \(recipe.epochs) epochs; see models/MODEL_CARD.md"
        do {
            try best.save(to: path, dtype: .f16)
            // The samples it learned from, so `evaluate` leaves them out.
            let ids = (path as NSString).deletingPathExtension + ".training-ids.txt"
            try? FileManager.default.removeItem(atPath: ids)
            try FileManager.default.copyItem(atPath: out + "/training-ids.txt", toPath: ids)
        } catch { throw fail("\(path): \(error)") }
        note(String(format: "exported %@ (fp16, threshold %.4f)", path, best.card.threshold))
    }
}
