import Hummingbird

/// The methods each route answers (docs/openapi.yaml), so that a request to a known path with another method gets
/// `405 method_not_allowed` and an `Allow` header instead of the router's `404`. `*` matches one path segment.
enum AllowedMethods {
    static let routes: [(pattern: [Substring], methods: [String])] = [
        ("/api/v1/analyses", ["GET", "POST"]), ("/api/v1/analyses/*", ["GET", "DELETE"]), ("/api/v1/analyses/*/artifacts/*", ["GET"]),
        ("/healthz", ["GET"]), ("/api/v1/healthz", ["GET"]), ("/metrics", ["GET"]), ("/api/v1/metrics", ["GET"]),
        ("/", ["GET"]), ("/upload", ["POST"]), ("/analyses/*", ["GET"]), ("/history", ["GET"]),
    ].map { (pattern: $0.0.split(separator: "/"), methods: $0.1) }

    /// The methods `path` is served with; empty for an unknown path.
    static func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        return routes.first { route in
            route.pattern.count == segments.count && zip(route.pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.methods ?? []
    }
}
