"""Reference values of the binary detection metrics for ForensightEvaluationTests.

Writes Tests/ForensightEvaluationTests/Fixtures/metrics.json. For each case (scores, labels) it stores
  from scikit-learn: roc_auc_score, average_precision_score, roc_curve (drop_intermediate False and True;
    the leading +inf threshold is left out, JSON has no infinity), accuracy/precision/recall/f1 of
    y_pred = (score >= threshold), and for probability cases log_loss and brier_score_loss;
  from the numpy reference below (definitions in docs/METRICS.md): EER + threshold, TPR@FPR, TNR@TPR,
    ECE (15 bins) and log-loss clipped at 1e-15.
It also stores the first SplitMix64 outputs and a bootstrap interval of the AUC computed with the same
generator, resampling scheme, one-class skipping and percentile rule as Bootstrap.swift.
Run: python3 scripts/reference/make_metric_fixtures.py   (needs numpy and scikit-learn)
"""
import json, os
import numpy as np
from sklearn import metrics as skm

FPR_TARGETS = [0.001, 0.01, 0.05]
TPR_TARGETS = [0.9, 0.95, 0.99]


def eer_reference(fpr, tpr, thr):
    """First point with d = FPR - FNR >= 0; linear interpolation on the segment before it."""
    d = fpr - (1 - tpr)
    k = int(np.argmax(d >= 0))
    if d[k] == 0 or k == 0:
        return float(fpr[k]), float(thr[k])
    lam = -d[k - 1] / (d[k] - d[k - 1])
    rate = fpr[k - 1] + lam * (fpr[k] - fpr[k - 1])
    t = thr[k] if np.isinf(thr[k - 1]) else thr[k - 1] + lam * (thr[k] - thr[k - 1])
    return float(rate), float(t)


def ece_reference(p, y, bins=15):
    b = np.minimum(np.floor(p * bins).astype(np.int64), bins - 1)
    ece = 0.0
    for j in range(bins):
        m = b == j
        if m.any():
            ece += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(ece)


def log_loss_reference(p, y, eps=1e-15):
    q = np.clip(np.where(y == 1, p, 1 - p), eps, 1 - eps)
    return float(-np.mean(np.log(q)))


def case(name, scores, labels, threshold=0.5):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    fpr, tpr, thr = skm.roc_curve(y, s, drop_intermediate=False)
    dfpr, dtpr, dthr = skm.roc_curve(y, s, drop_intermediate=True)
    assert np.isinf(thr[0]) and np.isinf(dthr[0])
    eer, eer_thr = eer_reference(fpr, tpr, thr)
    pred = (s >= threshold).astype(np.int64)
    out = {
        "name": name, "scores": s.tolist(), "labels": y.tolist(), "threshold": threshold,
        "auc": float(skm.roc_auc_score(y, s)),
        "average_precision": float(skm.average_precision_score(y, s)),
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds_after_inf": thr[1:].tolist()},
        "roc_dropped": {"fpr": dfpr.tolist(), "tpr": dtpr.tolist(), "thresholds_after_inf": dthr[1:].tolist()},
        "eer": eer, "eer_threshold": eer_thr,
        "tpr_at_fpr": {str(t): float(tpr[np.searchsorted(fpr, t, side="right") - 1]) for t in FPR_TARGETS},
        "tnr_at_tpr": {str(t): float(1 - fpr[np.searchsorted(tpr, t, side="left")]) for t in TPR_TARGETS},
        "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
    }
    if s.min() >= 0 and s.max() <= 1:
        out["log_loss_sklearn"] = float(skm.log_loss(y, s, labels=[0, 1]))  # clips at float64 eps
        out["log_loss_clipped"] = log_loss_reference(s, y)  # ε = 1e-15, Metrics.logLoss default
        out["brier"] = float(skm.brier_score_loss(y, s))
        out["ece"] = ece_reference(s, y)
    return out


class SplitMix64:
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def index_below(self, n):
        reject_below = (1 << 64) % n
        while True:
            r = self.next()
            if r >= reject_below:
                return r % n


def bootstrap_auc(scores, labels, resamples, seed, level):
    s, y = np.asarray(scores), np.asarray(labels)
    rng, values = SplitMix64(seed), []
    for _ in range(resamples):
        idx = np.array([rng.index_below(len(s)) for _ in range(len(s))])
        if len(set(y[idx].tolist())) == 2:
            values.append(skm.roc_auc_score(y[idx], s[idx]))
    alpha = 1 - level
    lo, hi = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)], method="linear")
    return {"scores": s.tolist(), "labels": y.tolist(), "resamples": resamples, "seed": seed, "level": level,
            "estimate": float(skm.roc_auc_score(y, s)), "lower": float(lo), "upper": float(hi), "used": len(values)}


rng = np.random.default_rng(20240611)
cases = []
# 1. Continuous logits, overlapping classes (scores outside [0, 1]: no probability metrics).
y = rng.integers(0, 2, 400)
cases.append(case("random_continuous", rng.normal(0, 1, 400) + 1.2 * y, y, threshold=0.5))
# 2. Heavy ties: probabilities rounded to one decimal (includes exact 0.5 = the threshold).
y = rng.integers(0, 2, 300)
cases.append(case("heavy_ties", np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 1), y))
# 3. All scores equal.
cases.append(case("all_equal", np.full(20, 0.5), [0, 1] * 7 + [0] * 6))
# 4. Perfect separation.
y = np.array([0] * 12 + [1] * 9)
cases.append(case("perfect", np.where(y == 1, rng.uniform(0.6, 1.0, 21), rng.uniform(0.0, 0.4, 21)), y))
# 5. Inverted (fakes score lower than every real).
cases.append(case("inverted", np.where(y == 1, rng.uniform(0.0, 0.4, 21), rng.uniform(0.6, 1.0, 21)), y))
# 6. n = 3.
cases.append(case("small_n3", [0.3, 0.8, 0.3], [0, 1, 1]))
# 7. Imbalanced 1 fake : 20 real.
y = np.array([1] * 15 + [0] * 300)
rng.shuffle(y)
cases.append(case("imbalanced_1_20", 1 / (1 + np.exp(-(rng.normal(0, 1, 315) + 1.5 * y - 1))), y))
# 8. Probabilities from a logistic model, with exact 0 / 1 on both correct and wrong sides (clipping matters).
y = rng.integers(0, 2, 500)
p = 1 / (1 + np.exp(-(rng.normal(0, 1.5, 500) + 1.0 * (2 * y - 1))))
p[:6] = [0.0, 1.0, 0.0, 1.0, 0.5, 0.5]
y[:6] = [0, 1, 1, 0, 1, 0]
cases.append(case("probabilities", p, y))
# 9. Logits at a non-default threshold (hard decisions at 0.0).
y = rng.integers(0, 2, 60)
cases.append(case("logits_threshold_0", np.round(rng.normal(0, 2, 60) + y, 2), y, threshold=0.0))

gen = SplitMix64(0)
splitmix_seed0 = [str(gen.next()) for _ in range(4)]  # strings: exceed JSON-safe integers
boot = bootstrap_auc(np.round(rng.uniform(0, 1, 12), 3), [0, 1, 0, 0, 1] + [0] * 7, resamples=200, seed=7, level=0.95)

path = os.path.join(os.path.dirname(__file__), "../../Tests/ForensightEvaluationTests/Fixtures/metrics.json")
with open(path, "w") as f:
    json.dump({"cases": cases, "splitmix64_seed0": splitmix_seed0, "bootstrap_auc": boot}, f)
print(f"wrote {len(cases)} cases to {os.path.normpath(path)}; bootstrap used {boot['used']}/200")
