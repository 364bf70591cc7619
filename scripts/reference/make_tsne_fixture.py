#!/usr/bin/env python3
"""Reference numbers for ForensightEvaluation's t-SNE and trustworthiness, from scikit-learn.

Data: 3 Gaussian clusters in 10-D, 60 points each (numpy default_rng(5)), plus a random 2-D layout of the same points.
Written to Tests/ForensightEvaluationTests/Fixtures/tsne.json:
  - `data`, `random_layout`;
  - `trustworthiness_random_layout`: sklearn.manifold.trustworthiness(data, random_layout, n_neighbors=5), which our
    trustworthiness must equal;
  - `joint_p_rows`: the first 3 rows of the joint affinity matrix P of scikit-learn's exact t-SNE
    (sklearn.manifold._t_sne._joint_probabilities, perplexity 30), which our affinities must equal;
  - `sklearn_trustworthiness`, `sklearn_kl_divergence`: of TSNE(method="exact", init="pca", perplexity=30,
    random_state=0), which our embedding must come within a stated tolerance of (t-SNE layouts are not unique, so
    points are not compared);
  - `sklearn_bh_trustworthiness`, `sklearn_bh_kl_divergence`: the same with method="barnes_hut" (angle 0.5), for
    our Barnes–Hut embedding.

    python3 scripts/reference/make_tsne_fixture.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities
from sklearn.metrics import pairwise_distances
from scipy.spatial.distance import squareform

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ForensightEvaluationTests", "Fixtures", "tsne.json")


def main():
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 4, size=(3, 10))
    data = np.concatenate([c + rng.normal(0, 1, size=(60, 10)) for c in centres])
    layout = rng.normal(0, 1, size=(len(data), 2))
    distances = pairwise_distances(data, squared=True)
    p = squareform(_joint_probabilities(distances, 30.0, 0))
    tsne = TSNE(n_components=2, method="exact", init="pca", perplexity=30.0, random_state=0)
    embedded = tsne.fit_transform(data)
    bh = TSNE(n_components=2, method="barnes_hut", angle=0.5, init="pca", perplexity=30.0, random_state=0)
    bh_embedded = bh.fit_transform(data)
    doc = {
        "generator": "scripts/reference/make_tsne_fixture.py",
        "sklearn": sklearn.__version__,
        "data": data.tolist(),
        "random_layout": layout.tolist(),
        "trustworthiness_random_layout": float(trustworthiness(data, layout, n_neighbors=5)),
        "joint_p_rows": p[:3].tolist(),
        "sklearn_trustworthiness": float(trustworthiness(data, embedded, n_neighbors=5)),
        "sklearn_kl_divergence": float(tsne.kl_divergence_),
        "sklearn_bh_trustworthiness": float(trustworthiness(data, bh_embedded, n_neighbors=5)),
        "sklearn_bh_kl_divergence": float(bh.kl_divergence_),
    }
    with open(OUT, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print("wrote", os.path.relpath(OUT, ROOT), "trust", doc["sklearn_trustworthiness"], "kl", doc["sklearn_kl_divergence"],
          "random", doc["trustworthiness_random_layout"])


if __name__ == "__main__":
    main()
