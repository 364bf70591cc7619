import Foundation
import Hummingbird

/// An error the API answers with: an HTTP status and a JSON body `{"error": {"code": …, "message": …}}` whose
/// `code` is stable (docs/API.md lists them) and whose message is for people.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// Stable, machine-readable: `not_found`, `invalid_id`, `too_large`, …
    public var code: String
    public var message: String
    /// Extra response headers (`Retry-After` for `queue_full`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        (self.status, self.code, self.message, self.headers) = (status, code, message, headers)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse()
    }

    /// The JSON response for this error.
    public func jsonResponse() -> Response {
        struct Body: Encodable { var error: Inner }
        struct Inner: Encodable { var code: String; var message: String; var status: Int }
        let data = (try? JSONEncoder().encode(Body(error: Inner(code: code, message: message, status: status.code)))) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func notFound(_ what: String = "no such analysis") -> APIError { APIError(.notFound, "not_found", what) }
    static let invalidID = APIError(.badRequest, "invalid_id", "an analysis id is 32 lower-case hex digits")
    static let unauthorized = APIError(.unauthorized, "unauthorized", "this server needs `Authorization: Bearer <token>`",
                                       headers: [.wwwAuthenticate: "Bearer"])
}

/// Turns every error a route throws, and every unmatched route, into a JSON error with a stable code, so clients
/// never see an HTML or empty error page and no error escapes as a dropped connection.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.jsonResponse()
        } catch let error as HTTPError where error.status == .notFound && !AllowedMethods.methods(for: request.uri.path).isEmpty {
            let allowed = AllowedMethods.methods(for: request.uri.path)
            return APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not served here; use \(allowed.joined(separator: " or "))",
                            headers: [.allow: allowed.joined(separator: ", ")]).jsonResponse()
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "too_large"
            case .unauthorized: code = "unauthorized"
            default: code = error.status.code < 500 ? "bad_request" : "internal"
            }
            return APIError(error.status, code, error.body ?? error.status.reasonPhrase).jsonResponse()
        } catch {
            context.logger.error("request failed: \(error)")
            return APIError(.internalServerError, "internal", "the server could not answer this request").jsonResponse()
        }
    }
}

/// Checks `Authorization: Bearer <token>` on every request when the server has a token (`/healthz` excepted, so a
/// load balancer can probe it). The comparison takes the same time whatever prefix matches.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" || request.uri.path == "/api/v1/healthz" { return try await next(request, context) }
        let given = request.headers[.authorization] ?? ""
        let expected = "Bearer " + token
        guard Self.constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else { throw APIError.unauthorized }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return difference == 0
    }
}
