import Foundation

extension EvaluationReport {
    /// Markdown: tables as GitHub tables, charts as `![caption](<name>.svg)` (write `svgFiles` beside it).
    public func markdown() -> String {
        var out = ""
        var first = true
        for block in blocks {
            switch block {
            case .heading(let text):
                out += (first ? "# " : "\n## ") + text + "\n\n"
                first = false
            case .paragraph(let text):
                out += text + "\n\n"
            case .table(let header, let rows):
                func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
                out += line(header) + "|" + String(repeating: "---|", count: header.count) + "\n"
                for row in rows { out += line(row) }
                out += "\n"
            case .figure(let name, let caption, _):
                out += "![\(caption)](\(name).svg)\n\n"
            }
        }
        return out
    }

    /// The charts as (file name, SVG text), for the Markdown report.
    public var svgFiles: [(String, String)] {
        blocks.compactMap { if case .figure(let name, _, let svg) = $0 { return (name + ".svg", svg) } else { return nil } }
    }

    /// One HTML page with inline SVG charts and inline styles: no scripts, nothing fetched.
    public func html() -> String {
        var body = ""
        var first = true
        for block in blocks {
            switch block {
            case .heading(let text):
                body += first ? "<h1>\(SVGChart.escape(text))</h1>\n" : "<h2>\(SVGChart.escape(text))</h2>\n"
                first = false
            case .paragraph(let text):
                body += "<p>\(inlineCode(SVGChart.escape(text)))</p>\n"
            case .table(let header, let rows):
                body += "<table><thead><tr>" + header.map { "<th>\(SVGChart.escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
                for row in rows { body += "<tr>" + row.map { "<td>\(SVGChart.escape($0))</td>" }.joined() + "</tr>\n" }
                body += "</tbody></table>\n"
            case .figure(_, let caption, let svg):
                body += "<figure>\(svg)<figcaption>\(SVGChart.escape(caption))</figcaption></figure>\n"
            }
        }
        let style = """
        body{font-family:sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
        table{border-collapse:collapse;margin:8px 0 20px;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
        th{background:#f2f2f2}figure{display:inline-block;margin:8px 12px 16px 0}figcaption{font-size:12px;color:#555}
        code{background:#f4f4f4;padding:1px 4px}
        """
        return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Forensight evaluation</title><style>\(style)</style></head>\n<body>\n"
            + body + "</body></html>\n"
    }

    /// `text` → <code>text</code> for backtick spans (already escaped input).
    func inlineCode(_ s: String) -> String {
        var out = "", open = false
        for ch in s {
            if ch == "`" { out += open ? "</code>" : "<code>"; open.toggle() } else { out.append(ch) }
        }
        return out + (open ? "</code>" : "")
    }
}
