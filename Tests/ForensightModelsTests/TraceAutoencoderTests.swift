import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightTestSupport

/// `TraceAutoencoder` against a float64 numpy reference written from the layers' definitions
/// (scripts/reference/make_trace_autoencoder_fixtures.py): the transposed stage is checked against PyTorch's
/// ConvTranspose2d(kernel 4, stride 2, padding 1) computed by scattering, not by zero insertion.
final class TraceAutoencoderTests: XCTestCase {
    func fixture() throws -> [String: Tensor] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/trace_autoencoder.safetensors")
        return try Safetensors.read(path: url.path)
    }

    func testEachDecoderMatchesTheReference() throws {
        let tensors = try fixture()
        for kind in UpsamplingKind.allCases {
            let prefix = kind.rawValue + "."
            let net = TraceAutoencoder(TraceAutoencoderConfig(upsampling: kind, width: 4, stages: 2))
            var state: [String: Tensor] = [:]
            for (key, value) in tensors where key.hasPrefix(prefix) && !key.hasSuffix(".input") && !key.hasSuffix(".output") {
                state[String(key.dropFirst(prefix.count))] = value
            }
            let report = try net.loadStateDict(state, strict: true)
            XCTAssertTrue(report.isClean, "\(kind): \(report)")
            let output = withoutGrad { net(tensors[prefix + "input"]!) }
            let expected = tensors[prefix + "output"]!
            XCTAssertEqual(output.shape, expected.shape, "\(kind)")
            let worst = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-4, "\(kind): largest difference \(worst)")
        }
    }

    func testOutputsKeepTheInputShape() {
        for kind in UpsamplingKind.allCases {
            let net = ParameterInit.withSeed(1) { TraceAutoencoder(TraceAutoencoderConfig(upsampling: kind, width: 8, stages: 3)) }
            var random = SeededRandom(seed: 2)
            let x = Tensor.randn([1, 3, 24, 40], using: &random)
            XCTAssertEqual(withoutGrad { net(x) }.shape, [1, 3, 24, 40])
        }
    }
}
