import XCTest
import Foundation
import Hummingbird
import HummingbirdTesting
import ForensightDetect
import ForensightMedia
import ForensightServer

/// An analyzer that needs no weights: a fixed REAL verdict for every file, counting its calls. Queue, storage and
/// route tests use it; the real detector has its own test.
final class FakeAnalyzer: Analyzer, @unchecked Sendable {
    let modelVersion: String
    private let lock = NSLock()
    private var names: [String] = []
    var failWith: String?
    /// Gives each record a fusion's `members`: the primary one and a mouth-motion member with `mouthP`.
    var mouthP: Double?

    init(modelVersion: String = "fake-model@0001") { self.modelVersion = modelVersion }

    var calls: [String] { lock.withLock { names } }

    func analyze(path: String, name: String, progress: @escaping @Sendable (Int, Int?) -> Void) throws -> AnalysisOutput {
        lock.withLock { names.append(name) }
        progress(1, 1)
        if let failWith { throw ServerFailure(failWith) }
        var verdict = try JSONDecoder().decode(Verdict.self, from: Data(Self.record.utf8))
        verdict.source = name
        if let mouthP {
            verdict.kind = "video"
            verdict.members = [Verdict.MemberVerdict(id: "faces", input: .faceCrop, threshold: 0.5, verdict: .real, probability: 0.25, frames: 1,
                                                     framesWithFaces: 1, faces: nil),
                               Verdict.MemberVerdict(id: "mouth-motion", input: .mouthMotion, threshold: 0.9, verdict: mouthP >= 0.9 ? .fake : .real,
                                                     probability: mouthP, frames: 150, framesWithFaces: 150, faces: [])]
        }
        return AnalysisOutput(verdict: verdict, artifacts: [ExplanationArtifact(name: "timeline.svg", mediaType: "image/svg+xml",
                                                                                bytes: Array("<svg xmlns=\"http://www.w3.org/2000/svg\"/>".utf8))])
    }

    static let record = """
    {"aggregation":"max-mean","error":null,"faces":[{"frames":[{"box":[1,2,30,40],"detector_score":0.99,"frame":0,"members":null,
    "probability":0.25,"time":0}],"members":null,"probability":0.25,"track":0,"verdict":"REAL"}],"frames":1,"frames_with_faces":1,
    "kind":"image","model":{"id":"fake","input_size":224,"sha256":"00","threshold":0.5},"probability":0.25,"schema":"forensight.detect/3",
    "source":"x","timings_ms":{"decode":1,"faces":1,"model":1,"total":3},"verdict":"REAL","warnings":[]}
    """
}

/// A fresh data folder per test, removed afterwards.
func temporaryDataDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-serve-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A small PNG (flat colour, so no face): `seed` changes its bytes, hence its SHA-256.
func pngBytes(seed: UInt8 = 0, width: Int = 48, height: Int = 40) throws -> [UInt8] {
    try ImageEncoder.png(RGBImage(width: width, height: height, fill: (seed, 120, 200)))
}

/// A multipart/form-data body with one file part (and optionally another field).
func multipart(_ bytes: [UInt8], name: String = "file", filename: String = "photo.png", boundary: String = "XyZbOuNdArY42",
               extraField: Bool = false) -> (body: ByteBuffer, contentType: String) {
    var body = ByteBuffer()
    if extraField {
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n")
    }
    body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\n")
    body.writeString("Content-Type: application/octet-stream\r\n\r\n")
    body.writeBytes(bytes)
    body.writeString("\r\n--\(boundary)--\r\n")
    return (body, "multipart/form-data; boundary=\(boundary)")
}

extension TestClientProtocol {
    /// POSTs `bytes` as the `file` part of a form to `uri`.
    func upload(_ bytes: [UInt8], uri: String = "/api/v1/analyses", filename: String = "photo.png", headers: HTTPFields = [:]) async throws
        -> TestResponse {
        let (body, contentType) = multipart(bytes, filename: filename)
        var fields = headers
        fields[.contentType] = contentType
        return try await execute(uri: uri, method: .post, headers: fields, body: body)
    }
}

extension TestClientProtocol {
    /// Uploads and returns the new (or existing) analysis id, failing the test when there is none.
    func uploadID(_ bytes: [UInt8], filename: String = "photo.png") async throws -> String {
        let response = try await upload(bytes, filename: filename)
        return try XCTUnwrap(try response.json["id"] as? String, response.text)
    }
}

extension TestResponse {
    /// The body parsed as a JSON object.
    var json: [String: Any] {
        get throws {
            let data = Data(body.readableBytesView)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: data, as: UTF8.self))
        }
    }

    /// The `error.code` of a JSON error body.
    var errorCode: String? { (try? json["error"] as? [String: Any])?["code"] as? String }

    var text: String { String(buffer: body) }
}

/// A server on `data` with the given analyzer, no background workers (tests run the queue with `processQueued`).
func makeServer(data: String, analyzer: any Analyzer = FakeAnalyzer(), queue: (any JobQueue)? = nil,
                configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> ForensightServer {
    var configuration = ServerConfiguration(dataDirectory: data)
    configuration.workers = 0
    configure(&configuration)
    return try ForensightServer(configuration: configuration, analyzer: analyzer, queue: queue)
}

extension ForensightServer {
    /// The SQLite job table of a server made without a shared queue (synchronous calls, for assertions).
    var sqlite: JobStore { store as! JobStore }
}
