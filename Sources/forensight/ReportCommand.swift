import ArgumentParser
import Foundation
import ForensightEvaluation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render an evaluation results file as HTML and Markdown with SVG charts.",
        discussion: """
        Reads the JSON written by `forensight evaluate` and writes, into --out:
          report.html   one self-contained page (inline SVG charts, no scripts, nothing fetched)
          report.md     the same tables in Markdown, with the charts as SVG files beside it
        Charts: ROC curves per dataset, video AUC per manipulation method, real/fake score histograms, and video
        AUC against JPEG quality when the results hold the JPEG sweep. Tables: every metric per model, dataset and
        method, the cross-dataset matrix, and the robustness conditions.

        Example:
          forensight report results.json --out report/
        """)

    @Argument(help: "A results file from `forensight evaluate`.")
    var results: String

    @Option(help: "Folder for report.html, report.md and the SVG charts (created).")
    var out: String

    func run() throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: results)) } catch { throw fail("\(results): cannot read (\(error.localizedDescription))") }
        let parsed: EvaluationResults
        do { parsed = try JSONDecoder().decode(EvaluationResults.self, from: data) } catch {
            throw fail("\(results): not a forensight evaluate results file (\(error))")
        }
        guard parsed.schema == EvaluationResults.schemaName else { throw fail("\(results): schema \(parsed.schema), expected \(EvaluationResults.schemaName)") }
        let report = EvaluationReport(parsed)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try report.html().write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
            try report.markdown().write(toFile: out + "/report.md", atomically: true, encoding: .utf8)
            for (name, svg) in report.svgFiles { try svg.write(toFile: out + "/" + name, atomically: true, encoding: .utf8) }
        } catch { throw fail("\(out): \(error)") }
    }
}
