import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// RFFR's networks: the block masking, the residual, the restoration's assembly, and both networks against an
/// independent PyTorch reference (scripts/reference/make_rffr_fixtures.py).
final class RFFRModelTests: XCTestCase {
    func fixture() throws -> [String: Tensor] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/rffr_reference.safetensors")
        return try Safetensors.read(path: url.path)
    }

    /// The fixture's inpainter shape: 32 px, 4 × 4 blocks of 8 px in 4 masks, width 4.
    static let tinyInpainter = BlockInpainterConfig(workingSize: 32, blockSize: 8, passes: 4, width: 4, maskSeed: 3)

    /// The fixture's crop branch: stem 8, an MBConv (expansion 1, 3×3, stride 1) and two MBConvs (expansion 2, 5×5, the
    /// first of stride 2), all 8 channels, head 16.
    static var tinyBackbone: EfficientNetLiteConfig {
        var c = EfficientNetLiteConfig.lite0
        var first = c.stages[0], second = c.stages[2]
        (first.inputChannels, first.outputChannels) = (8, 8)
        (second.repeats, second.expandRatio, second.inputChannels, second.outputChannels) = (2, 2, 8, 8)
        (c.stages, c.stemChannels, c.headChannels) = ([first, second], 8, 16)
        return c
    }

    func sub(_ tensors: [String: Tensor], _ prefix: String) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }

    func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float, _ what: String) {
        XCTAssertEqual(a.shape, b.shape, what)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
        XCTAssertLessThan(worst, tolerance, "\(what): largest relative difference \(worst)")
    }

    func testMasksPartitionTheGrid() {
        for (side, passes, seed) in [(8, 4, UInt64(0)), (4, 4, 3), (5, 3, 9), (8, 2, 1)] {
            let assignment = BlockMasking.partition(gridSide: side, passes: passes, seed: seed)
            XCTAssertEqual(assignment.count, side * side)
            // Every block belongs to exactly one pass, and the passes hide equal shares (±1).
            let counts = (0..<passes).map { p in assignment.filter { $0 == p }.count }
            XCTAssertEqual(counts.reduce(0, +), side * side)
            XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1, "\(counts)")
            // The K pixel masks are complementary: they sum to one everywhere.
            let masks = (0..<passes).map { BlockMasking.pixelMask(assignment, pass: $0, gridSide: side, blockSize: 3) }
            let total = (0..<(side * 3 * side * 3)).map { i in masks.reduce(Float(0)) { $0 + $1[i] } }
            XCTAssertEqual(Set(total), [1])
            // A mask is constant inside each block.
            let m = masks[0]
            for by in 0..<side { for bx in 0..<side {
                let values = Set((0..<9).map { m[(by * 3 + $0 / 3) * side * 3 + bx * 3 + $0 % 3] })
                XCTAssertEqual(values.count, 1)
            } }
            XCTAssertEqual(assignment, BlockMasking.partition(gridSide: side, passes: passes, seed: seed))
        }
        XCTAssertNotEqual(BlockMasking.partition(gridSide: 8, passes: 4, seed: 0), BlockMasking.partition(gridSide: 8, passes: 4, seed: 1))
    }

    func testResidualIsZeroWhereTheRestorationIsPerfectAndFourTimesTheErrorElsewhere() {
        var random = SeededRandom(seed: 4)
        let x = Tensor.uniform([2, 3, 8, 8], low: -1, high: 1, using: &random)
        XCTAssertEqual(Set(BlockInpainter.residual(restored: x, input: x).scalars), [0])
        // Restoration wrong by 0.1 in one pixel of one channel only.
        var values = x.scalars
        values[77] += 0.1
        let r = BlockInpainter.residual(restored: Tensor(values, shape: x.shape), input: x).scalars
        XCTAssertEqual(r[77], 0.4, accuracy: 1e-5)
        XCTAssertEqual(r.enumerated().filter { $0.offset != 77 }.map { abs($0.element) }.max(), 0)
    }

    func testRestorationTakesEveryPixelFromThePassThatHidIt() {
        let net = ParameterInit.withSeed(2) { BlockInpainter(Self.tinyInpainter) }
        net.eval()
        var random = SeededRandom(seed: 5)
        let images = Tensor.uniform([2, 3, 32, 32], low: -1, high: 1, using: &random)
        let restored = net.restore(images)
        let masks = net.masks
        XCTAssertEqual(masks.count, 4)
        let restoredValues = restored.scalars
        for (j, mask) in masks.enumerated() {
            let pass = withoutGrad { net(BlockInpainter.maskedInput(images, masks: [mask, mask])) }.scalars
            for i in 0..<2 { for c in 0..<3 { for p in 0..<(32 * 32) where mask[p] > 0 {
                let k = (i * 3 + c) * 1024 + p
                XCTAssertEqual(restoredValues[k], pass[k], accuracy: 1e-5, "pass \(j)")
            } } }
        }
        // A pass never sees what it restores: changing hidden pixels leaves the restoration of those pixels alone.
        let maskedInput = BlockInpainter.maskedInput(images, masks: [masks[0], masks[0]])
        XCTAssertEqual(Set((0..<(32 * 32)).filter { masks[0][$0] > 0 }.map { maskedInput.scalars[$0] }), [0])
        XCTAssertEqual(Set((0..<(32 * 32)).map { maskedInput.scalars[3 * 1024 + $0] }), [0, 1])
    }

    func testInpainterMatchesPyTorch() throws {
        let tensors = try fixture()
        let net = BlockInpainter(Self.tinyInpainter)
        XCTAssertTrue(try net.loadStateDict(sub(tensors, "inpainter."), strict: true).isClean)
        net.eval()
        assertClose(withoutGrad { net(tensors["inpainter_input"]!) }, tensors["inpainter_output"]!, tolerance: 1e-4, "inpainter")
    }

    func testClassifierMatchesPyTorch() throws {
        let tensors = try fixture()
        let net = RFFRNetwork(inpainter: BlockInpainter(Self.tinyInpainter), backbone: Self.tinyBackbone)
        let report = try net.loadStateDict(sub(tensors, "network."), strict: true)
        XCTAssertTrue(report.isClean, report.description)
        net.eval()
        assertClose(withoutGrad { net(tensors["network_input"]!) }, tensors["network_output"]!, tolerance: 1e-4, "rffr classifier")
    }

    func testInpainterFileRoundTripAndRefusals() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-rffr-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let net = ParameterInit.withSeed(7) { BlockInpainter(Self.tinyInpainter) }
        let path = dir.appendingPathComponent("inpainter.safetensors").path
        try net.save(to: path)
        let loaded = try BlockInpainter(path: path)
        XCTAssertEqual(loaded.config, Self.tinyInpainter)
        var random = SeededRandom(seed: 1)
        let x = Tensor.uniform([1, 3, 32, 32], low: -1, high: 1, using: &random)
        XCTAssertEqual(loaded.amplifiedResidual(x).scalars, net.amplifiedResidual(x).scalars)
        // Not an inpainter, or not a file: one line naming the file and the remedy.
        let other = dir.appendingPathComponent("other.safetensors").path
        try Safetensors.write(["x": Tensor([1, 2])], to: other)
        XCTAssertThrowsError(try BlockInpainter(path: other)) {
            XCTAssertTrue("\($0)".contains(other) && "\($0)".contains("rffr-inpainter"), "\($0)")
        }
        XCTAssertThrowsError(try BlockInpainter(path: dir.appendingPathComponent("missing").path)) { XCTAssertTrue("\($0)".contains("missing")) }
        XCTAssertNotNil(BlockInpainterConfig(workingSize: 100, blockSize: 16).problem)
        XCTAssertNotNil(BlockInpainterConfig(passes: 1).problem)
        XCTAssertNil(BlockInpainterConfig().problem)
    }
}
