import Foundation

/// Cross-AUC (Luo, Chen & Liu, arXiv 2604.21478): for every pair of datasets (A, B), the AUC of A's reals against
/// B's fakes. The diagonal is each dataset's own AUC; the off-diagonal cells show whether a detector's scores shift
/// from one source to the next. A detector can rank each dataset well on its own (a high diagonal) and still fail on
/// a user's mixed folder, where one source's reals score above another's fakes: the lowest cell says how badly.
public struct CrossAUCMatrix: Codable, Sendable, Equatable {
    /// The datasets that have reals (rows), in the results' order.
    public var realDatasets: [String]
    /// The datasets that have fakes (columns), in the results' order.
    public var fakeDatasets: [String]
    /// `auc[i][j]`: AUC of `realDatasets[i]`'s reals against `fakeDatasets[j]`'s fakes (video level, max over faces
    /// then mean; a photo is one unit).
    public var auc: [[Double]]
    /// Scored units per dataset: reals of each row, fakes of each column.
    public var realUnits: [Int], fakeUnits: [Int]

    /// The lowest cell and where it is, or nil for an empty matrix.
    public var worst: (reals: String, fakes: String, auc: Double)? {
        var best: (String, String, Double)?
        for (i, row) in auc.enumerated() {
            for (j, value) in row.enumerated() where best == nil || value < best!.2 {
                best = (realDatasets[i], fakeDatasets[j], value)
            }
        }
        return best
    }

    enum CodingKeys: String, CodingKey {
        case realDatasets = "real_datasets", fakeDatasets = "fake_datasets", auc, realUnits = "real_units", fakeUnits = "fake_units"
    }
}

/// One model run's Cross-AUC matrix under one condition, as stored in a results file (`cross_auc`).
public struct CrossAUCRow: Codable, Sendable, Equatable {
    public var model: String
    public var run: Int
    public var condition: String
    public var matrix: CrossAUCMatrix

    public init(model: String, run: Int, condition: String, matrix: CrossAUCMatrix) {
        (self.model, self.run, self.condition, self.matrix) = (model, run, condition, matrix)
    }
}

extension EvaluationResults {
    /// The Cross-AUC matrix of model run `run` under `condition`, from the scored items (unreadable or faceless
    /// items are left out, as in every other metric). Datasets with reals are the rows, datasets with fakes the
    /// columns; nil when no dataset has both kinds between them.
    public func crossAUC(run: Int, condition: String = "clean", rule: VideoAggregation = .maxOverFacesThenMean) throws -> CrossAUCMatrix? {
        var reals: [String: [Double]] = [:], fakes: [String: [Double]] = [:]
        for dataset in datasets.map(\.name) {
            let chosen = items.filter { $0.run == run && $0.condition == condition && $0.dataset == dataset && $0.error == nil && !$0.faces.isEmpty }
            guard !chosen.isEmpty else { continue }
            let units = try Item.videoScores(chosen, rule: rule)
            let r = zip(units.scores, units.labels).filter { $0.1 == 0 }.map(\.0), f = zip(units.scores, units.labels).filter { $0.1 == 1 }.map(\.0)
            if !r.isEmpty { reals[dataset] = r }
            if !f.isEmpty { fakes[dataset] = f }
        }
        let rows = datasets.map(\.name).filter { reals[$0] != nil }, columns = datasets.map(\.name).filter { fakes[$0] != nil }
        guard !rows.isEmpty, !columns.isEmpty else { return nil }
        let matrix = try rows.map { a in
            try columns.map { b in
                let (r, f) = (reals[a]!, fakes[b]!)
                return try Metrics.auc(scores: r + f, labels: [Int](repeating: 0, count: r.count) + [Int](repeating: 1, count: f.count))
            }
        }
        return CrossAUCMatrix(realDatasets: rows, fakeDatasets: columns, auc: matrix, realUnits: rows.map { reals[$0]!.count },
                              fakeUnits: columns.map { fakes[$0]!.count })
    }
}
