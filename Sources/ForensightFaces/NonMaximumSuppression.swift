/// A scored box during detection: corners, score and the four regression offsets predicted for it.
struct Candidate {
    var x1: Float, y1: Float, x2: Float, y2: Float
    var score: Float
    var reg: (Float, Float, Float, Float) = (0, 0, 0, 0)
}

/// How overlap is measured when suppressing.
enum OverlapMeasure {
    /// Intersection / union with continuous areas (x2 − x1)·(y2 − y1) (torchvision `nms`).
    case union
    /// Intersection / min(area) with the +1 pixel convention (the original MTCNN's "Min").
    case minimumPlusOne
}

/// Greedy non-maximum suppression: visits candidates by descending score and drops every later one that overlaps a
/// kept one by more than `threshold`. Returns the kept indices, best first.
func nonMaximumSuppression(_ boxes: [Candidate], threshold: Float, measure: OverlapMeasure = .union) -> [Int] {
    let order = boxes.indices.sorted { boxes[$0].score > boxes[$1].score || (boxes[$0].score == boxes[$1].score && $0 < $1) }
    let plus: Float = measure == .minimumPlusOne ? 1 : 0
    let areas = boxes.map { ($0.x2 - $0.x1 + plus) * ($0.y2 - $0.y1 + plus) }
    var suppressed = [Bool](repeating: false, count: boxes.count)
    var keep: [Int] = []
    for (rank, i) in order.enumerated() where !suppressed[i] {
        keep.append(i)
        for j in order[(rank + 1)...] where !suppressed[j] {
            let w = Swift.max(0, Swift.min(boxes[i].x2, boxes[j].x2) - Swift.max(boxes[i].x1, boxes[j].x1) + plus)
            let h = Swift.max(0, Swift.min(boxes[i].y2, boxes[j].y2) - Swift.max(boxes[i].y1, boxes[j].y1) + plus)
            let inter = w * h
            let overlap: Float
            switch measure {
            case .union: overlap = inter / Swift.max(areas[i] + areas[j] - inter, 1e-12)
            case .minimumPlusOne: overlap = inter / Swift.max(Swift.min(areas[i], areas[j]), 1e-12)
            }
            if overlap > threshold { suppressed[j] = true }
        }
    }
    return keep
}
