"""What an equal-weight ensemble of evaluated models would score, from their results files, before one is fitted.

Run: python3 scripts/results/average_ensemble.py A.json[.gz] B.json[.gz] …  (results files of
scripts/results/default_detector.sh, each holding the shipped model as "old" and one candidate as "new", scored on the
same test samples). For each dataset and method it prints the video AUC (max-mean) of "old", of each candidate
(m0, m1, … in argument order), of the mean of all candidates' calibrated logits per face-frame ("all-new"), and of
all models with "old" ("old+all"). This is a screen, not a result: a shipped ensemble is fitted on validation faces
(`train --detector ensemble`) and evaluated as a file. Needs scikit-learn.
"""
import gzip
import json, math, sys
from collections import defaultdict
from sklearn.metrics import roc_auc_score
files = sys.argv[1:]
models = {}
for k, f in enumerate(files):
    d = json.load(gzip.open(f) if f.endswith(".gz") else open(f))
    for it in d["items"]:
        if it["condition"] != "clean" or it.get("error"): continue
        name = "old" if it["model"] == "old" else f"m{k}"
        models.setdefault(name, {})[(it["dataset"], it["id"])] = it
def logit(p): p = min(max(p, 1e-6), 1-1e-6); return math.log(p/(1-p))
def unit(faces):
    by = defaultdict(lambda: -1)
    for f in faces: by[f["frame"]] = max(by[f["frame"]], f["score"])
    return sum(by.values())/len(by) if by else None
def combine(names, key):
    its = [models[n].get(key) for n in names]
    if any(i is None for i in its): return None
    maps = [{(f["frame"], f["face"]): f["score"] for f in i["faces"]} for i in its]
    keys = set(maps[0]).intersection(*maps[1:])
    return unit([{"frame": k[0], "face": k[1], "score": 1/(1+math.exp(-sum(logit(m[k]) for m in maps)/len(maps)))} for k in keys])
combos = {"old": ["old"], **{n: [n] for n in models if n != "old"}, "all-new": [n for n in models if n != "old"], "old+all": list(models)}
keys = list(models["old"])
for ds in sorted(set(k[0] for k in keys)):
    ks = [k for k in keys if k[0] == ds]
    labels = {k: models["old"][k]["label"] for k in ks}; meth = {k: models["old"][k].get("method") for k in ks}
    if len(set(labels.values())) < 2: continue
    methods = sorted(set(m for k, m in meth.items() if labels[k] == 1))
    for m in ["all"] + (methods if len(methods) > 1 else []):
        sel = [k for k in ks if labels[k] == 0 or m == "all" or meth[k] == m]
        out = []
        for cname, names in combos.items():
            sc = [(combine(names, k), labels[k]) for k in sel]; sc = [x for x in sc if x[0] is not None]
            out.append(f"{cname}={roc_auc_score([y for _, y in sc], [s for s, _ in sc]):.3f}")
        print(ds, m, " ".join(out))
