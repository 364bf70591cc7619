import XCTest
import Foundation
import Hummingbird
import HummingbirdTesting
import ForensightServer

/// Bad requests get a 4xx with a JSON error code, keep nothing on disk, and the server goes on serving.
final class RequestErrorTests: XCTestCase {
    var data = ""
    override func setUpWithError() throws { data = try temporaryDataDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: data) }

    func testMalformedUploadsAreRejectedWithStableCodes() async throws {
        let server = try makeServer(data: data) { $0.maxUploadBytes = 4000 }
        let png = try pngBytes()
        try await server.makeApplication().test(.router) { client in
            func post(_ body: ByteBuffer?, contentType: String?) async throws -> TestResponse {
                var headers: HTTPFields = [:]
                if let contentType { headers[.contentType] = contentType }
                return try await client.execute(uri: "/api/v1/analyses", method: .post, headers: headers, body: body)
            }
            let (good, contentType) = multipart(png)
            // Not multipart at all.
            var r = try await post(ByteBuffer(bytes: png), contentType: "image/png")
            XCTAssertEqual(r.status, .unsupportedMediaType); XCTAssertEqual(r.errorCode, "not_multipart")
            r = try await post(nil, contentType: nil)
            XCTAssertEqual(r.status, .unsupportedMediaType); XCTAssertEqual(r.errorCode, "not_multipart")
            r = try await post(good, contentType: "multipart/form-data")
            XCTAssertEqual(r.status, .unsupportedMediaType, "no boundary"); XCTAssertEqual(r.errorCode, "not_multipart")
            // Truncated inside the file part.
            r = try await post(good.getSlice(at: 0, length: good.readableBytes - 30)!, contentType: contentType)
            XCTAssertEqual(r.status, .badRequest); XCTAssertEqual(r.errorCode, "malformed_multipart")
            // Broken part headers.
            r = try await post(ByteBuffer(string: "--XyZbOuNdArY42\r\nno colon here\r\n\r\nbody\r\n--XyZbOuNdArY42--\r\n"), contentType: contentType)
            XCTAssertEqual(r.status, .badRequest); XCTAssertTrue(["malformed_multipart", "missing_file"].contains(r.errorCode ?? ""), r.text)
            // A form without a `file` part.
            let (other, otherType) = multipart(png, name: "picture")
            r = try await post(other, contentType: otherType)
            XCTAssertEqual(r.status, .badRequest); XCTAssertEqual(r.errorCode, "missing_file")
            // Empty file, and bytes that are no image or video (sniffed, whatever the name says).
            r = try await client.upload([])
            XCTAssertEqual(r.status, .badRequest); XCTAssertEqual(r.errorCode, "empty_file")
            r = try await client.upload(Array("#!/bin/sh\nrm -rf /\n".utf8), filename: "clip.mp4")
            XCTAssertEqual(r.status, .unsupportedMediaType); XCTAssertEqual(r.errorCode, "unsupported_type")
            // Larger than the limit: refused while streaming, nothing kept.
            let big = try pngBytes(width: 400, height: 400) + [UInt8](repeating: 7, count: 5000)
            r = try await client.upload(big)
            XCTAssertEqual(r.status, .contentTooLarge); XCTAssertEqual(r.errorCode, "too_large")

            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: server.media.mediaDirectory), [])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: server.media.temporaryDirectory), [])
            XCTAssertEqual(try server.sqlite.page(offset: 0, limit: 10).total, 0)
            // Still serving.
            let answer1 = try await client.upload(png)
            XCTAssertEqual(answer1.status, .accepted)
        }
    }

    func testIdsAreValidatedOnEveryRoute() async throws {
        let server = try makeServer(data: data)
        try await server.makeApplication().test(.router) { client in
            let bad = ["abc", "../../etc/passwd", "..%2F..%2Fjobs.sqlite", "0123456789ABCDEF0123456789ABCDEF", String(repeating: "a", count: 33),
                       "%00", "0123456789abcdef0123456789abcde%2F"]
            for id in bad {
                for (method, suffix) in [(HTTPRequest.Method.get, ""), (.delete, ""), (.get, "/artifacts/timeline.svg")] {
                    let r = try await client.execute(uri: "/api/v1/analyses/\(id)\(suffix)", method: method)
                    XCTAssertTrue((400..<500).contains(r.status.code), "\(method) \(id): \(r.status)")
                    XCTAssertNotNil(r.errorCode, "\(method) \(id): \(r.text)")
                }
                let page = try await client.execute(uri: "/analyses/\(id)", method: .get)
                XCTAssertTrue((400..<500).contains(page.status.code), "page \(id): \(page.status)")
            }
            let unknown = try await client.execute(uri: "/api/v1/analyses/0123456789abcdef0123456789abcdef", method: .get)
            XCTAssertEqual(unknown.status, .notFound); XCTAssertEqual(unknown.errorCode, "not_found")
            let badID = try await client.execute(uri: "/api/v1/analyses/abc", method: .get)
            XCTAssertEqual(badID.errorCode, "invalid_id")
            let artifact = try await client.execute(uri: "/api/v1/analyses/0123456789abcdef0123456789abcdef/artifacts/..%2Fjobs.sqlite", method: .get)
            XCTAssertEqual(artifact.status, .badRequest); XCTAssertEqual(artifact.errorCode, "invalid_name")
            let route = try await client.execute(uri: "/api/v1/nothing-here", method: .get)
            XCTAssertEqual(route.status, .notFound); XCTAssertEqual(route.errorCode, "not_found")
            for query in ["page=0", "page=x", "per_page=1000", "per_page=-1"] {
                let r = try await client.execute(uri: "/api/v1/analyses?\(query)", method: .get)
                XCTAssertEqual(r.status, .badRequest, query); XCTAssertEqual(r.errorCode, "invalid_query", query)
            }
        }
    }

    func testATokenGuardsEverythingButHealth() async throws {
        XCTAssertThrowsError(try makeServer(data: data) { $0.host = "0.0.0.0" }, "no token off loopback")
        let server = try makeServer(data: data) { $0.host = "0.0.0.0"; $0.token = "s3cret-token" }
        try await server.makeApplication().test(.router) { client in
            let anonymous = try await client.execute(uri: "/api/v1/analyses", method: .get)
            XCTAssertEqual(anonymous.status, .unauthorized); XCTAssertEqual(anonymous.errorCode, "unauthorized")
            let wrong = try await client.execute(uri: "/api/v1/analyses", method: .get, headers: [.authorization: "Bearer s3cret-tokem"])
            XCTAssertEqual(wrong.status, .unauthorized)
            let answer2 = try await client.upload(try pngBytes())
            XCTAssertEqual(answer2.status, .unauthorized)
            let good = try await client.execute(uri: "/api/v1/analyses", method: .get, headers: [.authorization: "Bearer s3cret-token"])
            XCTAssertEqual(good.status, .ok)
            let answer3 = try await client.execute(uri: "/healthz", method: .get)
            XCTAssertEqual(answer3.status, .ok)
        }
    }
}
