import XCTest
import Foundation
import Hummingbird
import HummingbirdTesting
import Yams
import ForensightServer

/// docs/openapi.yaml and the server agree: every documented path and method is served and answers with a status
/// the document lists for it, and every error code the server can send is in the document's list.
final class OpenAPIConformanceTests: XCTestCase {
    static var document: [String: Any] {
        get throws {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("docs/openapi.yaml")
            let text = try String(contentsOf: url, encoding: .utf8)
            return try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        }
    }

    func testEveryDocumentedOperationIsServedWithADocumentedStatus() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let paths = try XCTUnwrap(try Self.document["paths"] as? [String: [String: Any]])
        let server = try makeServer(data: data)
        let checked = try await server.makeApplication().test(.router) { client in
            var checked = 0
            let id = try await client.uploadID(try pngBytes(seed: 99))
            await server.runner.processQueued()
            // DELETE last, so the other operations see the analysis.
            let operations = paths.flatMap { path, item in
                item.keys.filter { ["get", "post", "delete", "put", "patch"].contains($0) }.map { (path, $0) }
            }.sorted { ($0.1 == "delete" ? 1 : 0, $0.0, $0.1) < ($1.1 == "delete" ? 1 : 0, $1.0, $1.1) }
            for (path, method) in operations {
                let operation = try XCTUnwrap(paths[path]?[method] as? [String: Any])
                let documented = Set(try XCTUnwrap(operation["responses"] as? [String: Any]).keys.compactMap { Int($0) })
                let uri = path.replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{name}", with: "timeline.svg")
                let response: TestResponse
                switch method {
                case "post": response = try await client.upload(try pngBytes(seed: UInt8(checked)), uri: uri)
                case "delete": response = try await client.execute(uri: uri, method: .delete)
                default: response = try await client.execute(uri: uri, method: .get)
                }
                XCTAssertTrue(documented.contains(Int(response.status.code)),
                              "\(method.uppercased()) \(path) answered \(response.status.code), documented \(documented.sorted())")
                XCTAssertLessThan(response.status.code, 400, "\(method.uppercased()) \(path) should succeed here: \(response.text)")
                checked += 1
            }
            return checked
        }
        XCTAssertEqual(checked, 13, "every operation of the document was tried")
    }

    func testMethodsTheDocumentDoesNotListAnswer405WithAllow() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let paths = try XCTUnwrap(try Self.document["paths"] as? [String: [String: Any]])
        let server = try makeServer(data: data)
        try await server.makeApplication().test(.router) { client in
            for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
                let listed = Set(item.keys.filter { ["get", "post", "delete", "put", "patch"].contains($0) }.map { $0.uppercased() })
                let uri = path.replacingOccurrences(of: "{id}", with: "0123456789abcdef0123456789abcdef")
                    .replacingOccurrences(of: "{name}", with: "timeline.svg")
                for method in [HTTPRequest.Method.put, .patch, .delete, .post] where !listed.contains(method.rawValue) {
                    let response = try await client.execute(uri: uri, method: method)
                    XCTAssertEqual(response.status, .methodNotAllowed, "\(method) \(path)")
                    XCTAssertEqual(response.errorCode, "method_not_allowed")
                    XCTAssertEqual(Set((response.headers[.allow] ?? "").components(separatedBy: ", ")), listed, "Allow of \(path)")
                }
            }
        }
    }

    func testErrorCodesAreDocumented() throws {
        let schemas = try XCTUnwrap((try Self.document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let error = try XCTUnwrap(((schemas["Error"] as? [String: Any])?["properties"] as? [String: Any])?["error"] as? [String: Any])
        let code = try XCTUnwrap((error["properties"] as? [String: Any])?["code"] as? [String: Any])
        let documented = Set(try XCTUnwrap(code["enum"] as? [String]))
        // Every `APIError(…, "code", …)` in the server's sources.
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ForensightServer")
        var used = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: sources.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            let pattern = try NSRegularExpression(pattern: #"(?:APIError\(\.[A-Za-z]+, |code = )"([a-z_]+)""#)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                used.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
        }
        XCTAssertGreaterThan(used.count, 10)
        XCTAssertEqual(used.subtracting(documented), [], "codes the server sends but docs/openapi.yaml does not list")
    }
}
