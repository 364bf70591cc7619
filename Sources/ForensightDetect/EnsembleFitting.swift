import Foundation
import ForensightMedia
import ForensightEvaluation

/// One validation face for the stacking fit: its label (0 real, 1 fake) and each member's calibrated P(fake).
public struct StackingRow: Sendable, Equatable {
    public var label: Int
    /// Member i's P(fake), in the order of the member ids the rows go with.
    public var probabilities: [Double]
    /// The video or photo the crop belongs to (nil: each row is its own unit).
    public var unit: String?
    public init(label: Int, probabilities: [Double], unit: String? = nil) { (self.label, self.probabilities, self.unit) = (label, probabilities, unit) }
}

/// The fitting data of an ensemble: member scores of labelled face crops, and their CSV form
/// (`label,<member-1 id>,<member-2 id>,…`, or `label,unit,<member ids>…` when rows name their video or photo; one row
/// per face) that `forensight models ensemble --fit` reads.
public enum StackingScores {
    /// Scores labelled face crops with every member (each member scores each crop once, in batches) and returns one
    /// row per crop. The crops must be cut the way the members expect (they must share one crop).
    public static func score(members: [any Detector], faces: [RGBImage], labels: [Int], units: [String]? = nil,
                             batchSize: Int = 16) throws -> [StackingRow] {
        guard faces.count == labels.count else { throw DetectorError("\(faces.count) face crops but \(labels.count) labels") }
        guard units == nil || units!.count == faces.count else { throw DetectorError("\(faces.count) face crops but \(units!.count) units") }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw DetectorError("labels must be 0 (real) or 1 (fake)") }
        try EnsembleDetector.checkSharedCrop(members)
        if let other = members.first(where: { $0.inputKind != .faceCrop }) {
            throw DetectorError("stacking scores come from face crops, but member \"\(other.card.id)\" takes \(other.inputKind.rawValue) input")
        }
        let perMember = members.map { $0.probabilities(faces, batchSize: batchSize) }
        return labels.indices.map { f in StackingRow(label: labels[f], probabilities: perMember.map { Double($0[f]) }, unit: units?[f]) }
    }

    /// The CSV text of `rows`: a header `label,<ids…>` (with a `unit` column after `label` when every row names its
    /// unit), then one line per row (probabilities written exactly).
    public static func csv(memberIDs: [String], rows: [StackingRow]) -> String {
        let withUnits = !rows.isEmpty && rows.allSatisfy { $0.unit != nil }
        var lines = [(["label"] + (withUnits ? ["unit"] : []) + memberIDs).joined(separator: ",")]
        for row in rows {
            let unit = withUnits ? [row.unit!.replacingOccurrences(of: ",", with: ";")] : []
            lines.append(([String(row.label)] + unit + row.probabilities.map { "\($0)" }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `csv(memberIDs:rows:)` to `path`.
    public static func write(memberIDs: [String], rows: [StackingRow], to path: String) throws {
        do { try csv(memberIDs: memberIDs, rows: rows).write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw DetectorError("\(path): cannot write (\(error.localizedDescription))")
        }
    }

    /// Reads a scores CSV: the member ids of its header and its rows. Blank lines are skipped; every other problem
    /// (no header, a first column other than `label`, a label other than 0/1, a probability outside 0…1, a short
    /// row) is a one-line `DetectorError` naming the file and line.
    public static func read(path: String) throws -> (memberIDs: [String], rows: [StackingRow]) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DetectorError("\(path): cannot read (\(error.localizedDescription))")
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard let headerIndex = lines.firstIndex(where: { !$0.isEmpty }) else { throw DetectorError("\(path): empty (no header)") }
        let header = lines[headerIndex].split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard header.first == "label", header.count >= 2, header.dropFirst().allSatisfy({ !$0.isEmpty }) else {
            throw DetectorError("\(path): the header must be label,<member id>,… (got \"\(lines[headerIndex])\")")
        }
        let withUnits = header.count >= 3 && header[1] == "unit"
        let ids = Array(header.dropFirst(withUnits ? 2 : 1))
        var rows: [StackingRow] = []
        for (n, line) in lines.enumerated().dropFirst(headerIndex + 1) where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == header.count else {
                throw DetectorError("\(path): line \(n + 1): \(fields.count) fields, the header has \(header.count)")
            }
            guard let label = Int(fields[0]), label == 0 || label == 1 else {
                throw DetectorError("\(path): line \(n + 1): label \"\(fields[0])\" is not 0 or 1")
            }
            var probabilities: [Double] = []
            for (id, field) in zip(ids, fields.dropFirst(withUnits ? 2 : 1)) {
                guard let p = Double(field), p.isFinite, (0...1).contains(p) else {
                    throw DetectorError("\(path): line \(n + 1): \(id) P(fake) \"\(field)\" is not a probability in 0…1")
                }
                probabilities.append(p)
            }
            rows.append(StackingRow(label: label, probabilities: probabilities, unit: withUnits ? fields[1] : nil))
        }
        guard !rows.isEmpty else { throw DetectorError("\(path): no rows after the header") }
        return (ids, rows)
    }
}

/// What fitting an ensemble found on its fitting faces.
public struct EnsembleFitReport: Codable, Sendable, Equatable {
    /// One member's AUC on the fitting faces (its P(fake) alone).
    public struct MemberAUC: Codable, Sendable, Equatable { public var id: String; public var auc: Double }
    public var weights: [Double]
    public var bias: Double
    /// C, the inverse L2 strength of the fit.
    public var inverseRegularization: Double
    public var threshold: Double
    /// `fitted` (at most 2 % of the fitting reals reach it) or `given`.
    public var thresholdSource: String
    public var faces: Int, reals: Int, fakes: Int
    /// Real videos and photos the threshold was placed on (`reals` when the rows name no units: one per face).
    public var realUnits: Int
    /// Whether the rows named their units, so the threshold was placed per video and photo rather than per face.
    public var thresholdPerUnit: Bool
    /// Share of the fitting real units at or above the threshold.
    public var realFlaggedRate: Double
    public var members: [MemberAUC]
    /// AUC of the combined P(fake) on the fitting faces.
    public var combinedAUC: Double

    enum CodingKeys: String, CodingKey {
        case weights, bias, inverseRegularization = "inverse_regularization", threshold, thresholdSource = "threshold_source", faces, reals, fakes
        case realUnits = "real_units", thresholdPerUnit = "threshold_per_unit"
        case realFlaggedRate = "real_flagged_rate", members, combinedAUC = "combined_auc"
    }
}

extension EnsembleDetector {
    /// Fits the stacking of `members` on scored validation faces and returns the ensemble with what the fit found.
    ///
    /// The rows' columns (`memberIDs`) are matched to the members by card id, in any order; each member needs exactly
    /// one column and every column must be a member. The threshold, unless given, is the one the default model's
    /// calibration uses (`StackingCombiner.threshold`): the lowest P(fake) ≥ 0.5 that at most 2 % of the fitting reals
    /// reach, counted as `detect` reports them when every row names its unit (the mean combined P(fake) of a video's
    /// or photo's crops, one crop per frame) and per face otherwise.
    ///
    /// - Parameter source: names the scores in errors (e.g. the CSV path).
    public static func fit(id: String, members: [any Detector], memberIDs: [String], rows: [StackingRow], threshold: Float? = nil,
                           inverseRegularization c: Double = 1, source: String = "scores") throws -> (EnsembleDetector, EnsembleFitReport) {
        guard !members.isEmpty else { throw DetectorError("an ensemble needs at least one member") }
        try checkSharedCrop(members)
        var columns: [Int] = []
        for member in members {
            let matches = memberIDs.indices.filter { memberIDs[$0] == member.card.id }
            guard matches.count == 1 else {
                throw DetectorError("\(source): \(matches.isEmpty ? "no column" : "\(matches.count) columns") for member \"\(member.card.id)\" (columns: \(memberIDs.joined(separator: ", ")))")
            }
            columns.append(matches[0])
        }
        if let extra = memberIDs.first(where: { id in !members.contains { $0.card.id == id } }) {
            throw DetectorError("\(source): column \"\(extra)\" is not a member (members: \(members.map(\.card.id).joined(separator: ", ")))")
        }
        guard rows.allSatisfy({ $0.probabilities.count == memberIDs.count }) else { throw DetectorError("\(source): a row has the wrong number of scores") }
        let probabilities = rows.map { row in columns.map { row.probabilities[$0] } }
        let labels = rows.map(\.label)
        let combiner: StackingCombiner
        do {
            combiner = try StackingCombiner.fit(features: probabilities.map { $0.map(StackingCombiner.feature(probability:)) }, labels: labels,
                                                inverseRegularization: c)
        } catch { throw DetectorError("\(source): \(error)") }
        let combined = probabilities.map { combiner.probability(members: $0) }
        let realScores = zip(combined, labels).filter { $0.1 == 0 }.map(\.0)
        let perUnit = Self.realUnitScores(rows: rows, combined: combined)
        let realUnitScores = perUnit ?? realScores
        let chosen = threshold.map(Double.init) ?? StackingCombiner.threshold(realScores: realUnitScores)
        func auc(_ scores: [Double]) throws -> Double {
            do { return try Metrics.auc(scores: scores, labels: labels) } catch { throw DetectorError("\(source): \(error)") }
        }
        let report = EnsembleFitReport(
            weights: combiner.weights, bias: combiner.bias, inverseRegularization: c, threshold: chosen,
            thresholdSource: threshold == nil ? "fitted" : "given", faces: rows.count, reals: realScores.count, fakes: rows.count - realScores.count,
            realUnits: realUnitScores.count, thresholdPerUnit: perUnit != nil,
            realFlaggedRate: Double(realUnitScores.filter { $0 >= chosen }.count) / Double(max(realUnitScores.count, 1)),
            members: try members.indices.map { i in EnsembleFitReport.MemberAUC(id: members[i].card.id, auc: try auc(probabilities.map { $0[i] })) },
            combinedAUC: try auc(combined))
        let notes = "logistic stacking (C = \(c)) fitted on \(rows.count) faces (\(realScores.count) real, \(rows.count - realScores.count) fake)"
        let ensemble = try EnsembleDetector(id: id, members: members, combiner: combiner, threshold: Float(chosen),
                                            inverseRegularization: c, notes: notes)
        return (ensemble, report)
    }

    /// Per real unit (video or photo), the mean combined P(fake) of its rows, when every row names its unit; nil
    /// otherwise.
    static func realUnitScores(rows: [StackingRow], combined: [Double]) -> [Double]? {
        guard !rows.isEmpty, rows.allSatisfy({ $0.unit != nil }) else { return nil }
        var sums: [String: (Double, Int)] = [:]
        for (row, p) in zip(rows, combined) where row.label == 0 {
            let s = sums[row.unit!] ?? (0, 0)
            sums[row.unit!] = (s.0 + p, s.1 + 1)
        }
        return sums.keys.sorted().map { sums[$0]!.0 / Double(sums[$0]!.1) }
    }
}
