import XCTest
import Foundation
import ForensightMedia
import ForensightDetect

extension CommandLineTests {
    /// `models import mesonet` turns a Keras HDF5 weight file (h5py-written, Keras's layout) into a detector file that
    /// the registry loads as MesoInception-4 with MesoNet's input; a file with a missing layer or one that is not HDF5
    /// is one stderr line and exit 1, with nothing written.
    func testModelsImportMesoNet() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightModelsTests/Fixtures/keras")
        let weights = fixtures.appendingPathComponent("mesoinception4_256.h5").path
        guard FileManager.default.fileExists(atPath: weights) else { throw XCTSkip("Keras fixtures absent (make_keras_mesonet_fixtures.py)") }
        let out = dir.appendingPathComponent("mesoinception.safetensors").path
        let imported = try run(["models", "import", "mesonet", weights, "--out", out])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stderr.contains("mesoinception4") && imported.stderr.contains("256 px"), imported.stderr)
        let detector = try DetectorRegistry.load(path: out)
        XCTAssertTrue(detector is MesoNetDetector)
        XCTAssertEqual(detector.card.architecture, "mesoinception4")
        XCTAssertEqual(detector.card.inputSize, 256)
        XCTAssertEqual(detector.card.pixelScale, 1)
        XCTAssertEqual(detector.card.id, "mesoinception4_256")
        XCTAssertEqual(detector.faceLogits([RGBImage(width: 256, height: 256, fill: (90, 60, 200))], batchSize: 1).count, 1)

        for (file, cause) in [("meso4_missing_dense.h5", "1 Dense layers"), ("mesonet_keras_reference.safetensors", "not an HDF5 file")] {
            let bad = dir.appendingPathComponent("bad.safetensors").path
            let result = try run(["models", "import", "mesonet", fixtures.appendingPathComponent(file).path, "--out", bad])
            XCTAssertEqual(result.status, 1, file)
            XCTAssertTrue(result.stderr.contains(file) && result.stderr.contains(cause), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: bad))
        }
        let wrong = try run(["models", "import", "mesonet", weights, "--architecture", "meso4", "--out", dir.appendingPathComponent("w.safetensors").path])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("holds a mesoinception4"), wrong.stderr)
    }
}
