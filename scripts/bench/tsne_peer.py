#!/usr/bin/env python3
"""The peer of `forensight bench tsne`: scikit-learn's Barnes-Hut t-SNE on the same points, timed.

    python3 scripts/bench/tsne_peer.py POINTS.f64 N WIDTH THREADS

POINTS.f64 holds N x WIDTH little-endian float64 values, row after row. Prints one JSON line: the milliseconds of
TSNE(method="barnes_hut", angle=0.5, init="pca", perplexity=30, random_state=0).fit_transform, its KL divergence and
scikit-learn's version. The thread count is set through OMP_NUM_THREADS before scikit-learn loads.
"""
import json
import os
import sys
import time

path, n, width, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.environ["OMP_NUM_THREADS"] = threads

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

data = np.fromfile(path, dtype="<f8").reshape(n, width)
tsne = TSNE(n_components=2, method="barnes_hut", angle=0.5, init="pca", perplexity=30.0, random_state=0, n_jobs=int(threads))
start = time.perf_counter()
tsne.fit_transform(data)
ms = (time.perf_counter() - start) * 1000
print(json.dumps({"ms": ms, "kl": float(tsne.kl_divergence_), "version": sklearn.__version__}))
