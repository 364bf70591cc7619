#!/usr/bin/env python3
"""Per-family AUC on synthetic-faces-val from `forensight evaluate` results (issue: faces that were never real).

Each generator family is a top folder of the dataset (celeba-gan128, stargan-celeba128, stgan-celeba128,
sd14-blonde-woman). Its fakes are ranked against all the dataset's reals (262), one score per image: the highest
P(fake) among the image's faces. Images without a face (NO_FACE) are left out of the AUC and counted. The 95 %
interval is a stratified bootstrap (1,000 resamples of reals and fakes separately, seed 0).

    python3 scripts/results/synthesis_families.py RESULTS.json [RESULTS.json ...] [--condition crop:jpeg-q90] [--markdown]

Prints one row per (results file, model, family).
"""
import argparse
import json
from collections import defaultdict

import numpy as np


def auc(reals, fakes):
    """Mann-Whitney AUC, ties counted half."""
    reals, fakes = np.asarray(reals), np.asarray(fakes)
    scores = np.concatenate([reals, fakes])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = ranks[len(reals):].sum()
    return (rank_sum - len(fakes) * (len(fakes) + 1) / 2) / (len(reals) * len(fakes))


def interval(reals, fakes, resamples=1000, seed=0):
    rng = np.random.default_rng(seed)
    reals, fakes = np.asarray(reals), np.asarray(fakes)
    values = [auc(rng.choice(reals, len(reals)), rng.choice(fakes, len(fakes))) for _ in range(resamples)]
    return np.percentile(values, 2.5), np.percentile(values, 97.5)


def family(item_id):
    path = item_id.split(":", 1)[1]
    return path.split("/", 1)[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="+")
    parser.add_argument("--condition", default=None, help="the condition to read (default: the file's first)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.markdown:
        print("| results | model | family | fakes | NO_FACE (fake / real) | AUC [95 % CI] |")
        print("|---|---|---|---:|---:|---|")
    for path in args.results:
        data = json.load(open(path))
        condition = args.condition or data["conditions"][0]
        units = defaultdict(lambda: defaultdict(list))   # model -> family/real -> scores
        no_face = defaultdict(lambda: defaultdict(int))
        for item in data["items"]:
            if item["condition"] != condition or item["dataset"] != "synthetic-faces-val":
                continue
            key = "real" if item["label"] == 0 else family(item["id"])
            model = item["model"]
            if not item["faces"]:
                no_face[model][key] += 1
                continue
            units[model][key].append(max(f["score"] for f in item["faces"]))
        for model in sorted(units):
            reals = units[model]["real"]
            for fam in sorted(k for k in units[model] if k != "real"):
                fakes = units[model][fam]
                a = auc(reals, fakes)
                lo, hi = interval(reals, fakes)
                if args.markdown:
                    print(f"| {path} | {model} | {fam} | {len(fakes)} | {no_face[model][fam]} / {no_face[model]['real']} | "
                          f"{a:.3f} [{lo:.3f}, {hi:.3f}] |")
                else:
                    print(f"{path}  {model:10s} {fam:20s} fakes {len(fakes):4d} (no face {no_face[model][fam]}), reals {len(reals)} "
                          f"(no face {no_face[model]['real']})  AUC {a:.3f} [{lo:.3f}, {hi:.3f}]")


if __name__ == "__main__":
    main()
