import Foundation
import Hummingbird
import Mustache
import ForensightDetect

/// Renders the web app's pages from `PageTemplates` (swift-mustache).
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in PageTemplates.all { try library.register(text, named: name) }
        self.library = library
    }

    func render(_ name: String, _ values: [String: Any]) -> Response {
        let html = library.render(values, withTemplate: name) ?? "<!doctype html><title>Forensight</title><p>page missing</p>"
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}

extension ForensightServer {
    func addPageRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ -> Response in
            self.pages.render("index", ["title": "Upload", "model": self.analyzer.modelVersion,
                                        "maxUpload": ByteCountFormatter.string(fromByteCount: Int64(self.configuration.maxUploadBytes), countStyle: .file)])
        }

        // The form's POST: the same upload as the API, then the browser goes to the analysis page.
        router.post("upload") { request, _ -> Response in
            let submission = try await self.accept(request)
            return Response(status: .seeOther, headers: [.location: "/analyses/\(submission.record.id)"])
        }

        router.get("analyses/:id") { _, context -> Response in
            let record = try await self.analysis(context)
            return self.pages.render("analysis", try await self.analysisValues(record))
        }

        router.get("history") { request, _ -> Response in
            let (page, perPage) = try self.paging(request)
            let (records, total) = try await self.store.page(offset: (page - 1) * perPage, limit: perPage)
            let pages = max(1, (total + perPage - 1) / perPage)
            var values: [String: Any] = ["title": "History", "page": String(page), "pages": String(pages)]
            values["items"] = records.map { record -> [String: Any] in
                let verdict = record.result.flatMap { try? JSONDecoder().decode(Verdict.self, from: Data($0.utf8)) }
                var item: [String: Any] = ["id": record.id, "filename": record.filename, "status": record.status.rawValue,
                                           "created": Self.timestamp(record.createdAt)]
                if let verdict { item["verdict"] = verdict.verdict.rawValue }
                if let p = verdict?.probability { item["probability"] = String(format: "%.3f", p) }
                return item
            }
            if page > 1 { values["previous"] = String(page - 1) }
            if page < pages { values["next"] = String(page + 1) }
            return self.pages.render("history", values)
        }
    }

    /// The values of an analysis page: status, and when done the verdict, faces and explanation images.
    func analysisValues(_ record: AnalysisRecord) async throws -> [String: Any] {
        var values: [String: Any] = ["title": record.filename, "filename": record.filename, "status": record.status.rawValue,
                                     "statusURL": "/api/v1/analyses/\(record.id)"]
        if record.status == .queued || record.status == .running { values["pending"] = true; values["refresh"] = "2" }
        if record.status == .running, let frames = runner.progress(of: record.id) {
            values["progress"] = frames.planned.map { "frame \(frames.done) of \($0)" } ?? "frame \(frames.done)"
        }
        if let error = record.error { values["error"] = error }
        guard let json = record.result, let v = try? JSONDecoder().decode(Verdict.self, from: Data(json.utf8)) else { return values }
        let artifacts = Set(try await store.artifactNames(id: record.id))
        let base = "/api/v1/analyses/\(record.id)/artifacts/"
        var result: [String: Any] = ["verdict": v.verdict.rawValue, "threshold": String(format: "%.2f", v.model.threshold),
                                     "faceCount": String(v.faces.count), "framesWithFaces": String(v.framesWithFaces),
                                     "frames": String(v.frames), "kind": v.kind ?? "file", "modelID": v.model.id,
                                     "modelSHA": String(v.model.sha256.prefix(12)), "aggregation": v.aggregation, "warnings": v.warnings]
        if let p = v.probability { result["probability"] = String(format: "%.3f", p) }
        if artifacts.contains("timeline.svg") { result["timeline"] = base + "timeline.svg" }
        result["faces"] = v.faces.map { face -> [String: Any] in
            var row: [String: Any] = ["track": String(face.track), "verdict": face.verdict.rawValue,
                                      "probability": String(format: "%.3f", face.probability), "frames": String(face.frames.count)]
            if artifacts.contains("face\(face.track).png") { row["image"] = base + "face\(face.track).png" }
            return row
        }
        // A fusion's other members (the default model's mouth-motion detector): each one's own verdict; none on photos.
        let others = (v.members ?? []).dropFirst().filter { !($0.input == .mouthMotion && v.kind == "image") }
        result["hasDetectors"] = !others.isEmpty
        result["detectors"] = others.map { m -> [String: Any] in
            ["id": m.id, "input": m.input.rawValue, "verdict": m.verdict.rawValue, "threshold": String(format: "%.2f", m.threshold),
             "probability": m.probability.map { String(format: "%.3f", $0) } ?? "–", "units": String(m.faces?.count ?? 0)]
        }
        values["result"] = result
        return values
    }

    static func timestamp(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }
}
