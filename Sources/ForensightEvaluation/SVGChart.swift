import Foundation

/// Small self-contained SVG charts for reports: lines (ROC curves, metric-vs-quality), grouped bars, histograms.
/// No scripts, no external fonts or styles, so the files render the same everywhere.
public struct SVGChart {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) { (self.name, self.points) = (name, points) }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var width = 560.0, height = 380.0
    /// Axis ranges.
    public var xRange: ClosedRange<Double> = 0...1, yRange: ClosedRange<Double> = 0...1
    /// Tick labels for the x axis at given positions (defaults to 5 evenly spaced numbers).
    public var xTicks: [(Double, String)]?

    public init(title: String, xLabel: String, yLabel: String) { (self.title, self.xLabel, self.yLabel) = (title, xLabel, yLabel) }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    /// Line dash patterns, cycled once the palette is used up, so 32 lines stay distinguishable by colour and dash.
    static let dashes = ["", "7 3", "2 3", "8 3 2 3"]
    var margin = (left: 58.0, right: 150.0, top: 34.0, bottom: 48.0)
    /// Legend lines are wrapped at this many characters.
    public static let legendWrap = 22

    /// The colour and dash of series `i`.
    public static func style(_ i: Int) -> (color: String, dash: String) {
        (palette[i % palette.count], dashes[(i / palette.count) % dashes.count])
    }

    /// `name` cut into lines of at most `legendWrap` characters, at spaces where possible.
    public static func wrapped(_ name: String) -> [String] {
        var lines: [String] = [], current = ""
        for word in name.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            var word = word
            while word.count > legendWrap {   // a word longer than a line is cut
                if !current.isEmpty { lines.append(current); current = "" }
                lines.append(String(word.prefix(legendWrap))); word = String(word.dropFirst(legendWrap))
            }
            if current.isEmpty { current = word } else if current.count + 1 + word.count <= legendWrap { current += " " + word } else { lines.append(current); current = word }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        return lines
    }

    /// The chart grown downwards so a legend of `names` fits beside the plot (and, with `rotatedTicks`, room under
    /// the axis for slanted category labels).
    func fitted(legend names: [String], rotatedTicks: Bool = false) -> SVGChart {
        var chart = self
        if rotatedTicks {
            let longest = Double(xTicks?.map(\.1.count).max() ?? 0)
            chart.margin.bottom = max(margin.bottom, min(160, 30 + longest * 5.2))
        }
        let legendHeight = Double(names.map { Self.wrapped($0).count }.reduce(0, +)) * 14 + Double(names.count) * 4 + 16
        chart.height = max(chart.height, chart.margin.top + legendHeight + 8, chart.margin.top + chart.margin.bottom + 200)
        return chart
    }

    var plotWidth: Double { width - margin.left - margin.right }
    var plotHeight: Double { height - margin.top - margin.bottom }
    func px(_ x: Double) -> Double { margin.left + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * plotWidth }
    func py(_ y: Double) -> Double { margin.top + (1 - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)) * plotHeight }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ v: Double) -> String { String(format: "%.1f", v) }

    /// The frame: background, title, axes with ticks and labels, and a legend for `names` (a coloured square each, or
    /// with `lineSamples` a short line in the series' colour and dash), each name wrapped to fit the legend column.
    func frame(legend names: [String], lineSamples: Bool = false, rotatedTicks: Bool = false) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Self.number(width / 2 - margin.right / 2 + margin.left / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        let (x0, x1, y0, y1) = (px(xRange.lowerBound), px(xRange.upperBound), py(yRange.lowerBound), py(yRange.upperBound))
        s += "<rect x=\"\(Self.number(x0))\" y=\"\(Self.number(y1))\" width=\"\(Self.number(x1 - x0))\" height=\"\(Self.number(y0 - y1))\" fill=\"none\" stroke=\"#444\"/>\n"
        let ticks = xTicks ?? (0...4).map { i in
            let v = xRange.lowerBound + Double(i) / 4 * (xRange.upperBound - xRange.lowerBound)
            return (v, String(format: "%g", (v * 100).rounded() / 100))
        }
        for (v, label) in ticks {
            s += "<line x1=\"\(Self.number(px(v)))\" y1=\"\(Self.number(y0))\" x2=\"\(Self.number(px(v)))\" y2=\"\(Self.number(y0 + 5))\" stroke=\"#444\"/>"
            if rotatedTicks {
                s += "<text transform=\"translate(\(Self.number(px(v) + 4)) \(Self.number(y0 + 12))) rotate(-40)\" text-anchor=\"end\" font-size=\"10\">\(Self.escape(label))</text>\n"
            } else {
                s += "<text x=\"\(Self.number(px(v)))\" y=\"\(Self.number(y0 + 18))\" text-anchor=\"middle\">\(Self.escape(label))</text>\n"
            }
        }
        for i in 0...4 {
            let v = yRange.lowerBound + Double(i) / 4 * (yRange.upperBound - yRange.lowerBound)
            s += "<line x1=\"\(Self.number(x0))\" y1=\"\(Self.number(py(v)))\" x2=\"\(Self.number(x1))\" y2=\"\(Self.number(py(v)))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(Self.number(x0 - 6))\" y=\"\(Self.number(py(v) + 4))\" text-anchor=\"end\">\(String(format: "%g", (v * 1000).rounded() / 1000))</text>\n"
        }
        s += "<text x=\"\(Self.number((x0 + x1) / 2))\" y=\"\(Self.number(height - 10))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(Self.number((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
        var y = margin.top + 8
        for (i, name) in names.enumerated() {
            let (color, dash) = Self.style(i)
            if lineSamples {
                s += "<line x1=\"\(Self.number(x1 + 8))\" y1=\"\(Self.number(y - 3))\" x2=\"\(Self.number(x1 + 28))\" y2=\"\(Self.number(y - 3))\" stroke=\"\(color)\" stroke-width=\"2\""
                    + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>"
            } else {
                s += "<rect x=\"\(Self.number(x1 + 12))\" y=\"\(Self.number(y - 9))\" width=\"12\" height=\"12\" fill=\"\(Self.palette[i % Self.palette.count])\"/>"
            }
            for line in Self.wrapped(name) {
                s += "<text x=\"\(Self.number(x1 + 32))\" y=\"\(Self.number(y + 1))\" font-size=\"11\">\(Self.escape(line))</text>\n"
                y += 14
            }
            y += 4
        }
        return s
    }

    /// Polylines with point markers; `diagonal` adds the chance line of a ROC plot.
    public func lines(_ series: [Series], diagonal: Bool = false, markers: Bool = false) -> String {
        let chart = fitted(legend: series.map(\.name))
        var s = chart.frame(legend: series.map(\.name), lineSamples: true)
        let (px, py) = (chart.px, chart.py)
        if diagonal {
            s += "<line x1=\"\(Self.number(px(0)))\" y1=\"\(Self.number(py(0)))\" x2=\"\(Self.number(px(1)))\" y2=\"\(Self.number(py(1)))\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n"
        }
        for (i, one) in series.enumerated() {
            let (color, dash) = Self.style(i)
            let points = one.points.map { "\(Self.number(px($0.x))),\(Self.number(py($0.y)))" }.joined(separator: " ")
            s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"" + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>\n"
            if markers { for p in one.points { s += "<circle cx=\"\(Self.number(px(p.x)))\" cy=\"\(Self.number(py(p.y)))\" r=\"3\" fill=\"\(color)\"/>" } }
        }
        return s + "</svg>\n"
    }

    /// Grouped vertical bars: one group per category, one bar per series (values in `yRange`), value printed above.
    public func bars(categories: [String], series: [(name: String, values: [Double?])]) -> String {
        var chart = self
        chart.xRange = 0...Double(max(categories.count, 1))
        chart.xTicks = categories.enumerated().map { (Double($0.offset) + 0.5, $0.element) }
        // Many or long category names are slanted under the axis instead of overlapping.
        let rotated = categories.count > 6 || categories.map(\.count).reduce(0, +) * 7 > Int(chart.plotWidth)
        chart = chart.fitted(legend: series.map(\.name), rotatedTicks: rotated)
        var s = chart.frame(legend: series.map(\.name), rotatedTicks: rotated)
        let groupWidth = chart.plotWidth / Double(max(categories.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        for (j, one) in series.enumerated() {
            for (i, value) in one.values.enumerated() {
                guard let value else { continue }
                let x = chart.px(Double(i)) + groupWidth * 0.1 + Double(j) * barWidth
                let top = chart.py(min(max(value, yRange.lowerBound), yRange.upperBound)), base = chart.py(yRange.lowerBound)
                s += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(top))\" width=\"\(Self.number(barWidth - 2))\" height=\"\(Self.number(base - top))\" fill=\"\(Self.palette[j % Self.palette.count])\"/>"
                s += "<text x=\"\(Self.number(x + barWidth / 2 - 1))\" y=\"\(Self.number(top - 3))\" text-anchor=\"middle\" font-size=\"10\">\(String(format: "%.3f", value))</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    /// Overlaid histograms of values in [0, 1] (fractions per bin, so classes of different sizes compare).
    public func histogram(_ groups: [(name: String, values: [Double])], bins: Int = 20) -> String {
        var chart = self
        let fractions = groups.map { g -> [Double] in
            var counts = [Double](repeating: 0, count: bins)
            for v in g.values { counts[min(bins - 1, max(0, Int(v * Double(bins))))] += 1 }
            return counts.map { $0 / Double(max(g.values.count, 1)) }
        }
        let top = max(0.05, (fractions.flatMap { $0 }.max() ?? 0) * 1.1)
        chart.yRange = 0...min(1, (top * 4).rounded(.up) / 4)
        let names = groups.map { "\($0.name) (n=\($0.values.count))" }
        chart = chart.fitted(legend: names)
        var s = chart.frame(legend: names)
        for (j, f) in fractions.enumerated() {
            let color = Self.palette[j % Self.palette.count]
            for (b, value) in f.enumerated() where value > 0 {
                let x0 = chart.px(Double(b) / Double(bins)), x1 = chart.px(Double(b + 1) / Double(bins))
                s += "<rect x=\"\(Self.number(x0))\" y=\"\(Self.number(chart.py(value)))\" width=\"\(Self.number(x1 - x0 - 1))\" height=\"\(Self.number(chart.py(0) - chart.py(value)))\" fill=\"\(color)\" fill-opacity=\"0.45\" stroke=\"\(color)\"/>"
            }
            s += "\n"
        }
        return s + "</svg>\n"
    }

    /// A scatter plot of point groups (e.g. a t-SNE layout coloured by class or method): axes fitted to the points;
    /// groups 1–8 are circles in the palette's colours, 9–16 squares, 17–24 diamonds.
    public func scatter(_ groups: [(name: String, points: [(x: Double, y: Double)])]) -> String {
        var chart = self
        let all = groups.flatMap(\.points)
        func range(_ values: [Double]) -> ClosedRange<Double> {
            guard let lo = values.min(), let hi = values.max(), hi > lo else { return (values.first ?? 0) - 1...(values.first ?? 0) + 1 }
            let pad = (hi - lo) * 0.05
            return (lo - pad)...(hi + pad)
        }
        (chart.xRange, chart.yRange) = (range(all.map(\.x)), range(all.map(\.y)))
        chart.xTicks = (0...4).map { i in
            let v = chart.xRange.lowerBound + Double(i) / 4 * (chart.xRange.upperBound - chart.xRange.lowerBound)
            return (v, String(format: "%.3g", v))
        }
        let names = groups.map { "\($0.name) (n=\($0.points.count))" }
        chart = chart.fitted(legend: names)
        var s = chart.frame(legend: names)
        for (j, group) in groups.enumerated() {
            let color = Self.palette[j % Self.palette.count], shape = (j / Self.palette.count) % 3
            for p in group.points {
                let (x, y) = (chart.px(p.x), chart.py(p.y))
                switch shape {
                case 0: s += "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"2.5\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
                case 1: s += "<rect x=\"\(Self.number(x - 2.5))\" y=\"\(Self.number(y - 2.5))\" width=\"5\" height=\"5\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
                default: s += "<path d=\"M\(Self.number(x)) \(Self.number(y - 3.5))L\(Self.number(x + 3.5)) \(Self.number(y))L\(Self.number(x)) \(Self.number(y + 3.5))L\(Self.number(x - 3.5)) \(Self.number(y))Z\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
                }
            }
            s += "\n"
        }
        return s + "</svg>\n"
    }
}
