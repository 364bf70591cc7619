"""Reference Platt-scaling fits for ForensightEvaluationTests (PlattScaling.fit).

Writes Tests/ForensightEvaluationTests/Fixtures/platt.json: for each case, logits, labels and the coefficient and
intercept of scikit-learn's unregularised LogisticRegression (C=inf) on the single feature (the logit), which is the
maximum-likelihood Platt fit P = sigmoid(scale * z + bias).
Run: python3 scripts/reference/make_calibration_fixtures.py   (needs numpy and scikit-learn)
"""
import json, os
import numpy as np
from sklearn.linear_model import LogisticRegression


def case(name, z, y):
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000, solver="lbfgs")
    model.fit(z.reshape(-1, 1), y)
    return {"name": name, "logits": z.tolist(), "labels": y.tolist(),
            "scale": float(model.coef_[0][0]), "bias": float(model.intercept_[0])}


rng = np.random.default_rng(7)
cases = []
# Overconfident scores: logits three times too large, shifted.
n = 400
y = (rng.random(n) < 0.4).astype(np.int64)
true_logit = rng.normal(0, 1.2, n) + np.where(y == 1, 1.0, -1.0)
cases.append(case("overconfident", 3 * true_logit + 1.5, y))
# Underconfident, balanced, with overlap.
y = np.array([0] * 150 + [1] * 150)
z = np.concatenate([rng.normal(-0.3, 0.5, 150), rng.normal(0.4, 0.5, 150)])
cases.append(case("underconfident", z, y))
# Small and uneven.
cases.append(case("small", [-2.0, -1.0, -0.5, 0.2, 0.3, 1.0, 1.5, -0.1, 2.5, 0.0], [0, 0, 1, 0, 1, 1, 1, 0, 1, 0]))

out = os.path.join(os.path.dirname(__file__), "../../Tests/ForensightEvaluationTests/Fixtures/platt.json")
with open(out, "w") as f:
    json.dump({"cases": cases}, f, indent=1)
print("wrote", os.path.normpath(out), [(c["name"], round(c["scale"], 4), round(c["bias"], 4)) for c in cases])
