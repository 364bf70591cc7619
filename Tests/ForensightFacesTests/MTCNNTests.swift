import XCTest
import Foundation
import ForensightTensor
import ForensightFaces
import ForensightTestSupport

/// MTCNN against facenet-pytorch (fixtures from scripts/reference/make_mtcnn_fixtures.py).
final class MTCNNTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let datasets = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/datasets").standardizedFileURL

    func detector(_ options: MTCNNOptions = MTCNNOptions()) throws -> MTCNN {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }; return try MTCNN(options: options)
    }

    func testNetworksMatchFacenetPyTorch() throws {
        let mtcnn = try detector()
        let f = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("mtcnn_nets.safetensors").path)
        let (preg, pprob) = withoutGrad { mtcnn.pnet(try! f.tensor("pnet.input")) }
        XCTAssertLessThan(scaledMaxDifference(preg, try f.tensor("pnet.reg")), 1e-5)
        let expectedP = try f.tensor("pnet.prob")   // [N, 2, h, w]: channel 1 is the face
        let (n, h, w) = (expectedP.shape[0], expectedP.shape[2], expectedP.shape[3])
        XCTAssertLessThan(scaledMaxDifference(pprob, expectedP.slice(axis: 1, 1..<2).reshaped([n, h, w])), 1e-5)
        let (rreg, rprob) = withoutGrad { mtcnn.rnet(try! f.tensor("rnet.input")) }
        XCTAssertLessThan(scaledMaxDifference(rreg, try f.tensor("rnet.reg")), 1e-5)
        XCTAssertLessThan(scaledMaxDifference(rprob, try f.tensor("rnet.prob").slice(axis: 1, 1..<2).reshaped([rprob.count])), 1e-5)
        let (oreg, omarks, oprob) = withoutGrad { mtcnn.onet(try! f.tensor("onet.input")) }
        XCTAssertLessThan(scaledMaxDifference(oreg, try f.tensor("onet.reg")), 1e-5)
        XCTAssertLessThan(scaledMaxDifference(omarks, try f.tensor("onet.landmarks")), 1e-5)
        XCTAssertLessThan(scaledMaxDifference(oprob, try f.tensor("onet.prob").slice(axis: 1, 1..<2).reshaped([oprob.count])), 1e-5)
    }

    /// Decodes frame `k` exactly as the fixture's reference did.
    func decodeFrame(_ video: String, _ k: Int, width: Int, height: Int) throws -> Tensor {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg", "-v", "error", "-nostdin", "-i", video, "-vf", "select=eq(n\\,\(k))", "-fps_mode", "passthrough",
                       "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(data.count, width * height * 3, "decoded bytes of \(video) frame \(k)")
        let t = Tensor(uninitializedShape: [1, 3, height, width])
        data.withUnsafeBytes { raw in
            let px = raw.bindMemory(to: UInt8.self)
            for i in 0..<(width * height) { for c in 0..<3 { t.data[c * width * height + i] = Float(px[3 * i + c]) } }
        }
        return t
    }

    func testDetectionsMatchFacenetPyTorchOnRealFrames() throws {
        guard FileManager.default.fileExists(atPath: Self.datasets.path) else { throw XCTSkip("../shared/datasets absent") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("mtcnn_ffpp.json"))) as! [String: Any]
        let cases = (json["frames"] as! [[String: Any]]) + (json["variants"] as! [[String: Any]])
        var compared = 0
        for c in cases {
            let video = Self.datasets.appendingPathComponent(c["video"] as! String).path
            guard FileManager.default.fileExists(atPath: video) else { continue }
            let params = c["params"] as! [String: Any]
            let th = (params["thresholds"] as! [Double]).map(Float.init)
            let options = MTCNNOptions(minFaceSize: Float(params["min_face_size"] as! Double), thresholds: (th[0], th[1], th[2]),
                                       factor: Float(params["factor"] as! Double))
            let mtcnn = try detector(options)
            let img = try decodeFrame(video, c["frame"] as! Int, width: c["width"] as! Int, height: c["height"] as! Int)
            let faces = mtcnn.detect(imageTensor: img)
            let expected = c["detections"] as! [[String: Any]]
            let label = "\(c["video"]!) frame \(c["frame"]!) \(c["note"] ?? "")"
            XCTAssertEqual(faces.count, expected.count, label)
            for e in expected {
                let b = (e["box"] as! [Double]).map(Float.init)
                let ref = FaceBox(x1: b[0], y1: b[1], x2: b[2], y2: b[3])
                guard let best = faces.max(by: { $0.box.iou(ref) < $1.box.iou(ref) }) else { continue }
                XCTAssertGreaterThanOrEqual(best.box.iou(ref), 0.95, label)
                XCTAssertEqual(best.score, Float(e["prob"] as! Double), accuracy: 1e-3, label)
                for (p, q) in zip(best.landmarks, e["landmarks"] as! [[Double]]) {
                    XCTAssertLessThanOrEqual(hypot(p.x - Float(q[0]), p.y - Float(q[1])), 2, label)
                }
            }
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 10)
    }
}
