import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightCheckpoint
import ForensightModels

/// The MesoNet Keras importer on full Meso4 and MesoInception4 weight files written with h5py in Keras's layout
/// (scripts/reference/make_keras_mesonet_fixtures.py): the converted tensors equal the h5py-written arrays as converted
/// independently in Python, and the imported network's logits are the Keras model's (negated: P(real) in Keras)
/// computed by a PyTorch forward that follows Keras's channel-last flatten.
final class MesoNetKerasImportTests: XCTestCase {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/keras")

    private func path(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    /// The fixed input of the reference: x[n, c, h, w] = ((h·h·31 + w·17 + c·101 + n·7 + h·w·3) mod 256) / 255.
    private func input() -> Tensor {
        var values: [Float] = []
        for n in 0..<2 { for c in 0..<3 { for h in 0..<256 { for w in 0..<256 {
            values.append(Float((h * h * 31 + w * 17 + c * 101 + n * 7 + h * w * 3) % 256) / 255)
        } } } }
        return Tensor(values, shape: [2, 3, 256, 256])
    }

    private func check(file: String, model name: String) throws {
        let reference = try Safetensors.read(path: path("mesonet_keras_reference.safetensors"))
        let imported = try MesoNetKerasWeights(try KerasWeightFile(path: path(file)))
        XCTAssertEqual(imported.architecture, name)
        XCTAssertEqual(imported.inputSize, 256)
        let expectedKeys = reference.keys.filter { $0.hasPrefix(name + ".") && !$0.hasSuffix("keras_logits") && !$0.hasSuffix(".features") }
        XCTAssertEqual(Set(imported.tensors.keys), Set(expectedKeys.map { String($0.dropFirst(name.count + 1)) }))
        for key in expectedKeys {
            let want = reference[key]!, got = try XCTUnwrap(imported.tensors[String(key.dropFirst(name.count + 1))])
            XCTAssertEqual(got.shape, want.shape, key)
            XCTAssertEqual(got.scalars, want.scalars, "\(key) differs from the h5py-written array")
        }
        let model: any MesoNetwork = name == "meso4" ? Meso4() : MesoInception4()
        let report = try model.loadStateDict(imported.tensors, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        let x = input()
        let (logits, features) = withoutGrad { (model(x), model.features(x)) }
        let keras = try XCTUnwrap(reference[name + ".keras_logits"]).scalars
        for (ours, theirs) in zip(logits.scalars, keras) { XCTAssertEqual(ours, -theirs, accuracy: 1e-4 * max(1, abs(theirs))) }
        for (a, b) in zip(features.scalars, try XCTUnwrap(reference[name + ".features"]).scalars) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
    }

    /// Keras 2.1.5 names, fixed-length name strings, a chunked dense kernel.
    func testMeso4MatchesTheKerasModel() throws { try check(file: "meso4_256.h5", model: "meso4") }

    /// tf.keras names inside `model_weights`, variable-length names, layer_names not in creation order.
    func testMesoInception4MatchesTheKerasModel() throws { try check(file: "mesoinception4_256.h5", model: "mesoinception4") }

    func testTheKerasLayoutIsRead() throws {
        let keras = try KerasWeightFile(path: path("meso4_256.h5"))
        XCTAssertEqual(keras.kerasVersion, "2.1.5")
        XCTAssertEqual(keras.layers.count, 19)
        XCTAssertEqual(keras.layers.filter { !$0.weights.isEmpty }.map(\.name).prefix(2), ["conv2d_1", "batch_normalization_1"])
        XCTAssertEqual(keras.layers[1].weight("kernel")?.shape, [3, 3, 3, 8], "HWIO")
        XCTAssertEqual(KerasWeightFile.creationNumber("conv2d_12"), 12)
        XCTAssertEqual(KerasWeightFile.creationNumber("conv2d"), 0)
    }

    /// A missing layer, a wrong shape, the wrong architecture: one line naming the file and the cause.
    func testMismatchesAreOneLineErrors() throws {
        func message(_ file: String, architecture: String? = nil) -> String {
            do { _ = try MesoNetKerasWeights(try KerasWeightFile(path: path(file)), architecture: architecture); return "" } catch { return "\(error)" }
        }
        let missing = message("meso4_missing_dense.h5")
        XCTAssertTrue(missing.contains("meso4_missing_dense.h5") && missing.contains("1 Dense layers") && missing.contains("missing layer"), missing)
        let shape = message("meso4_wrong_shape.h5")
        XCTAssertTrue(shape.contains("meso4_wrong_shape.h5") && shape.contains("conv2d_2") && shape.contains("conv2.weight") && shape.contains("wrong shape"), shape)
        let architecture = message("meso4_256.h5", architecture: "mesoinception4")
        XCTAssertTrue(architecture.contains("holds a meso4"), architecture)
        for text in [missing, shape, architecture] { XCTAssertFalse(text.contains("\n"), text) }
    }
}
