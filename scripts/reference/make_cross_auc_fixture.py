#!/usr/bin/env python3
"""Reference Cross-AUC matrix for ForensightEvaluation's tests, computed with numpy and scikit-learn.

Three datasets of seeded random face scores, written as the `items` of a results file:
  "vids"   videos with reals and fakes (several frames, sometimes two faces in a frame),
  "photos" reals only (one face-frame per photo),
  "gen"    fakes only (photos), with one unreadable item and one faceless item that must be left out.
Each item becomes one unit by the max-over-faces-then-mean rule (per frame the highest face score, then the mean over
frames), computed here with numpy, not with Forensight's code. Cell (A, B) is sklearn's roc_auc_score of A's real
units against B's fake units.

    python3 scripts/reference/make_cross_auc_fixture.py
writes Tests/ForensightEvaluationTests/Fixtures/cross_auc.json. Deterministic (numpy seed 7).
"""
import json
import os

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ForensightEvaluationTests", "Fixtures", "cross_auc.json")


def main():
    rng = np.random.default_rng(7)
    items = []

    def add(dataset, i, label, frames, faces_per_frame, shift, error=None, faceless=False):
        faces = []
        if not faceless and error is None:
            for f in range(frames):
                for k in range(faces_per_frame if f % 2 == 0 else 1):
                    faces.append({"frame": 10 * f, "face": k, "score": float(np.clip(rng.normal(0.4 + shift, 0.2), 0, 1))})
        items.append({"dataset": dataset, "id": f"{dataset}:{i}", "label": label, "faces": faces, "error": error})

    for i in range(12):
        add("vids", i, i % 2, frames=5, faces_per_frame=2, shift=0.25 * (i % 2))
    for i in range(9):
        add("photos", i, 0, frames=1, faces_per_frame=1, shift=0.15)
    for i in range(8):
        add("gen", i, 1, frames=1, faces_per_frame=1, shift=0.1)
    add("gen", 8, 1, 1, 1, 0, error="unreadable")
    add("gen", 9, 1, 1, 1, 0, faceless=True)

    def unit(item):
        by_frame = {}
        for f in item["faces"]:
            by_frame[f["frame"]] = max(by_frame.get(f["frame"], -1.0), f["score"])
        return float(np.mean(list(by_frame.values())))

    units = {}
    for it in items:
        if it["error"] is None and it["faces"]:
            units.setdefault(it["dataset"], {0: [], 1: []})[it["label"]].append(unit(it))
    order = ["vids", "photos", "gen"]
    rows = [d for d in order if units.get(d, {}).get(0)]
    cols = [d for d in order if units.get(d, {}).get(1)]
    matrix = []
    for a in rows:
        r = units[a][0]
        matrix.append([float(roc_auc_score([0] * len(r) + [1] * len(units[b][1]), r + units[b][1])) for b in cols])
    doc = {
        "generator": "scripts/reference/make_cross_auc_fixture.py",
        "rule": "max over faces per frame, then mean over frames; AUC by sklearn.metrics.roc_auc_score",
        "datasets": order, "items": items,
        "real_datasets": rows, "fake_datasets": cols, "auc": matrix,
        "real_units": [len(units[a][0]) for a in rows], "fake_units": [len(units[b][1]) for b in cols],
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(OUT, ROOT), "rows", rows, "cols", cols, "auc", [[round(x, 4) for x in r] for r in matrix])


if __name__ == "__main__":
    main()
