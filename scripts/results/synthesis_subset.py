#!/usr/bin/env python3
"""A quick subset of synthetic-faces-val for checking a synthesis checkpoint: 100 reals and up to 60 fakes per family
(seeded), as a folder of links plus labels.csv that `forensight evaluate` reads in place of the whole set.

    python3 scripts/results/synthesis_subset.py /tmp/sfv-sub
    forensight evaluate /tmp/sfv-sub --model syn=RUN/best.safetensors --condition crop:jpeg-q90 --out sub.json
    python3 scripts/results/synthesis_families.py sub.json --condition crop:jpeg-q90
"""
import csv
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "datasets", "synthetic-faces-val"))
FAMILIES = ["celeba-gan128", "stargan-celeba128", "stgan-celeba128", "sd14-blonde-woman"]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sfv-sub"
    os.makedirs(out, exist_ok=True)
    for family in FAMILIES:
        link = os.path.join(out, family)
        if not os.path.lexists(link):
            os.symlink(os.path.join(SOURCE, family), link)
    rows = list(csv.DictReader(open(os.path.join(SOURCE, "labels.csv"))))
    random.seed(0)
    picked = random.sample([r for r in rows if r["label"] == "real"], 100)
    for family in FAMILIES:
        fakes = [r for r in rows if r["label"] == "fake" and r["path"].startswith(family)]
        picked += random.sample(fakes, min(60, len(fakes)))
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "method", "dataset"])
        for r in picked:
            writer.writerow([r["path"], r["label"], r["method"], "synthetic-faces-val"])
    print(f"{out}: {len(picked)} files")


if __name__ == "__main__":
    main()
