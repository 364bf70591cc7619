"""Reference logistic-stacking fits for ForensightEvaluationTests (StackingCombiner.fit).

Writes Tests/ForensightEvaluationTests/Fixtures/stacking.json: for each case, the member features (calibrated logits,
one column per member), labels, C, and the coefficients and intercept of scikit-learn's L2-regularised
LogisticRegression(C=C, solver="lbfgs") fitted to them, i.e. the minimiser of
0.5 * ||w||^2 + C * sum(log(1 + exp(t)) - y * t), t = X w + b, with the intercept b not penalised.
Run: python3 scripts/reference/make_stacking_fixtures.py   (needs numpy and scikit-learn)
"""
import json, os
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def case(name, x, y, c):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    model = LogisticRegression(C=c, tol=1e-12, max_iter=100000, solver="lbfgs")
    model.fit(x, y)
    return {"name": name, "features": x.tolist(), "labels": y.tolist(), "c": c,
            "weights": model.coef_[0].tolist(), "bias": float(model.intercept_[0])}


rng = np.random.default_rng(15)
cases = []
# Two members: a seam detector good on its fakes, a synthesis detector good on others; reals score low on both.
n_real, n_seam, n_synth = 300, 150, 150
seam = np.concatenate([rng.beta(2, 8, n_real), rng.beta(8, 2, n_seam), rng.beta(2, 5, n_synth)])
synth = np.concatenate([rng.beta(2, 8, n_real), rng.beta(2, 5, n_seam), rng.beta(8, 2, n_synth)])
y = np.array([0] * n_real + [1] * (n_seam + n_synth))
x = np.stack([logit(seam), logit(synth)], axis=1)
cases.append(case("two-members", x, y, 1.0))
cases.append(case("two-members-strong-l2", x, y, 0.01))
# Three members, one of them uninformative, one saturated at 0 / 1 for some faces (clamped logits of ±13.8).
n = 240
y = (rng.random(n) < 0.35).astype(np.int64)
good = 1 / (1 + np.exp(-(rng.normal(0, 1.5, n) + np.where(y == 1, 2.0, -2.0))))
noise = rng.random(n)
saturated = np.where(rng.random(n) < 0.2, y.astype(np.float64), 1 / (1 + np.exp(-rng.normal(np.where(y == 1, 0.8, -0.8), 1.0))))
cases.append(case("three-members-saturated", np.stack([logit(good), logit(noise), logit(saturated)], axis=1), y, 1.0))
# Small: ten faces, one member.
cases.append(case("small-one-member", logit(np.array([0.1, 0.3, 0.6, 0.2, 0.9, 0.8, 0.4, 0.55, 0.05, 0.7]))[:, None],
                  [0, 0, 1, 0, 1, 1, 0, 1, 0, 0], 2.0))

out = os.path.join(os.path.dirname(__file__), "../../Tests/ForensightEvaluationTests/Fixtures/stacking.json")
with open(out, "w") as f:
    json.dump({"sklearn": sklearn.__version__, "cases": cases}, f, indent=1)
print("wrote", os.path.normpath(out), [(c["name"], [round(w, 4) for w in c["weights"]], round(c["bias"], 4)) for c in cases])
