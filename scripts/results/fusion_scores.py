#!/usr/bin/env python3
"""Video-level numbers of a fusion (FusedDetector) computed from its members' `evaluate` results.

  python3 scripts/results/fusion_scores.py PRIMARY.json:MODEL T MEMBER.json:MODEL t

PRIMARY is the primary member's results file and model name, T its threshold; MEMBER the other member's, t its
threshold. Each video's P(fake) is computed as `detect` computes it (max over faces per frame, then the mean over
frames), then fused by FusedDetector's rule: the primary P, raised to T + (p - t)(1 - T)/(1 - t) when the member's
p reaches t. Prints, per dataset and method, the AUC of the primary alone and of the fusion (scikit-learn), and the
videos each calls FAKE. Only videos both files scored under the `clean` condition count.
"""
import json
import sys
from collections import defaultdict

from sklearn.metrics import roc_auc_score


def video_scores(spec):
    path, model = spec.rsplit(":", 1)
    out = {}
    for item in json.load(open(path))["items"]:
        if item["model"] != model or item["condition"] != "clean":
            continue
        frames = defaultdict(list)
        for face in item["faces"]:
            frames[face["frame"]].append(face["score"])
        per_frame = [max(v) for v in frames.values()]
        out[item["id"]] = (sum(per_frame) / len(per_frame) if per_frame else None, item["label"], item["dataset"])
    return out


def main():
    primary, big_t, member, small_t = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    a, b = video_scores(primary), video_scores(member)
    rows = []
    for key, (p, label, dataset) in a.items():
        if key not in b:
            continue
        q = b[key][0]
        fused = p
        if q is not None and q >= small_t:
            raised = big_t + (q - small_t) * (1 - big_t) / (1 - small_t)
            fused = max(p if p is not None else 0, raised)
        method = key.split(":", 1)[1].split("/")[0]
        rows.append((dataset, method, label, p if p is not None else 0, fused if fused is not None else 0, q is not None and q >= small_t))
    print(f"{len(rows)} videos scored by both; the member fired on {sum(r[5] for r in rows)}")
    for dataset in sorted({r[0] for r in rows}):
        sub = [r for r in rows if r[0] == dataset]
        reals = [r for r in sub if r[2] == 0]
        for method in sorted({r[1] for r in sub if r[2] == 1}):
            part = [r for r in sub if r[1] == method] + reals
            labels = [r[2] for r in part]
            print(f"{dataset} {method}: video AUC primary {roc_auc_score(labels, [r[3] for r in part]):.4f}, "
                  f"fusion {roc_auc_score(labels, [r[4] for r in part]):.4f}")
        print(f"{dataset}: reals called FAKE primary {sum(r[3] >= big_t for r in reals)}, fusion {sum(r[4] >= big_t for r in reals)} "
              f"of {len(reals)}; fakes called FAKE primary {sum(r[3] >= big_t for r in sub if r[2])}, "
              f"fusion {sum(r[4] >= big_t for r in sub if r[2])} of {sum(1 for r in sub if r[2])}")


if __name__ == "__main__":
    main()
