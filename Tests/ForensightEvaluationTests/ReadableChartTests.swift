import XCTest
import Foundation
import ForensightEvaluation

/// Charts that stay readable with many series and methods: distinct colour-and-dash styles, wrapped legends that fit,
/// slanted category labels, and ROC curves per method family when a dataset has many methods.
final class ReadableChartTests: XCTestCase {
    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testTwelveLinesHaveTwelveDistinctStylesAndTheLegendFits() throws {
        let long = "stargan-celeba128 Black_Hair-Blond_Hair-Male-Young"
        let series = (0..<12).map { i in SVGChart.Series(name: i == 11 ? long : "method \(i)", points: [(0, 0), (0.5, Double(i) / 12), (1, 1)]) }
        let svg = SVGChart(title: "ROC", xLabel: "fpr", yLabel: "tpr").lines(series, diagonal: true)
        let styles = (0..<12).map { SVGChart.style($0) }
        XCTAssertEqual(Set(styles.map { "\($0.color)|\($0.dash)" }).count, 12, "colour and dash together tell every line apart")
        XCTAssertEqual(count("<polyline", in: svg), 12)
        // Lines 8…11 (palette used up) are dashed; the legend draws a sample of each line.
        XCTAssertEqual(count("<polyline points=", in: svg) - count("\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>", in: svg), 11)
        XCTAssertGreaterThanOrEqual(count("stroke-dasharray=\"7 3\"", in: svg), 2 * 4, "4 dashed lines and their 4 legend samples")
        // The long name is wrapped (no legend line over 22 characters) and every legend line lies inside the picture.
        XCTAssertEqual(SVGChart.wrapped(long), ["stargan-celeba128", "Black_Hair-Blond_Hair-", "Male-Young"])
        let height = try XCTUnwrap(Double(try XCTUnwrap(svg.firstMatch(of: try Regex(#"height="(\d+)""#, as: (Substring, Substring).self))?.1)))
        let legendY = svg.matches(of: try Regex(#"<text x="[0-9.]+" y="([0-9.]+)" font-size="11">"#, as: (Substring, Substring).self))
            .compactMap { Double($0.1) }
        XCTAssertEqual(legendY.count, 11 + 3)
        XCTAssertLessThan(legendY.max()!, height, "the legend is cut at the chart's edge")
    }

    func testManyCategoriesAreSlanted() {
        let categories = (0..<21).map { "attribute-change-\($0)" }
        var chart = SVGChart(title: "AUC per method", xLabel: "method", yLabel: "AUC")
        chart.yRange = 0...1
        let svg = chart.bars(categories: categories, series: [(name: "m", values: categories.map { _ in 0.7 })])
        XCTAssertEqual(count("rotate(-40)", in: svg), 21)
        for name in categories { XCTAssertTrue(svg.contains(">\(name)</text>"), name) }
        let few = chart.bars(categories: ["Deepfakes", "Face2Face"], series: [(name: "m", values: [0.8, 0.7])])
        XCTAssertFalse(few.contains("rotate(-40)"))
    }

    /// A dataset with 12 methods in 3 folders: the ROC chart draws "all" plus one curve per family, and the per-method
    /// bars list the methods family by family.
    func testAReportGroupsManyMethodsByFamily() throws {
        var items: [EvaluationResults.Item] = []
        var random = SystemRandomNumberGenerator()
        for i in 0..<10 {
            items.append(.init(model: "m", run: 0, condition: "clean", dataset: "gen", id: "gen:real/\(i).jpg", videoID: "\(i)", method: nil, label: 0,
                               faces: [.init(frame: 0, face: 0, score: Double.random(in: 0...0.6, using: &random))], error: nil))
        }
        let families = ["gan", "stargan", "sd"]
        for m in 0..<12 {
            for k in 0..<3 {
                let family = families[m % 3]
                items.append(.init(model: "m", run: 0, condition: "clean", dataset: "gen", id: "gen:\(family)/fake/\(m)-\(k).jpg", videoID: "\(m)-\(k)",
                                   method: "edit\(m)", label: 1, faces: [.init(frame: 0, face: 0, score: Double.random(in: 0.3...1, using: &random))], error: nil))
            }
        }
        let methods = (0..<12).map { "edit\($0)" }.sorted()
        var results = EvaluationResults(command: "t", seed: 0, framesPerVideo: 1, models: [.init(name: "m", path: "", id: "m", sha256: "", threshold: 0.5, notes: "")],
                                        datasets: [.init(name: "gen", path: "", real: 10, fake: 36, methods: methods)], conditions: ["clean"], items: items)
        try results.computeMetrics(bootstrapResamples: 0)
        let report = EvaluationReport(results)
        XCTAssertEqual(report.methodFamilies(dataset: "gen")["edit4"], "stargan")
        let svgs = report.blocks.compactMap { block -> (String, String)? in
            if case .figure(let name, _, let svg) = block { return (name, svg) }
            return nil
        }
        let roc = try XCTUnwrap(svgs.first { $0.0 == "roc-gen" }?.1)
        XCTAssertEqual(count("<polyline", in: roc), 4, "all + three families, not twelve methods")
        for family in families { XCTAssertTrue(roc.contains(">\(family) (4 methods)</text>"), family) }
        let bars = try XCTUnwrap(svgs.first { $0.0 == "methods-gen" }?.1)
        let order = bars.matches(of: try Regex(#"rotate\(-40\)" text-anchor="end" font-size="10">(edit\d+)<"#, as: (Substring, Substring).self))
            .map { String($0.1) }
        XCTAssertEqual(order.count, 12)
        XCTAssertEqual(order.prefix(4).map { report.methodFamilies(dataset: "gen")[$0] }, ["gan", "gan", "gan", "gan"])
    }
}
