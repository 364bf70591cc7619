"""Markdown tables for docs/RESULTS.md from the results files of scripts/results/default_detector.sh.

Run: python3 scripts/results/tables.py OUTDIR   (reads clean.json, stability-photos.json, stability-ffpp.json,
robustness.json, or the same gzipped as committed in docs/results; prints Markdown on stdout). Every number is read from the files; nothing is computed here except
picking rows.
"""
import gzip, json, os, sys

out = sys.argv[1]
VIDEO = "video (maxOverFacesThenMean)"


def load(name):
    path = os.path.join(out, name + ".json")
    if os.path.exists(path):
        return json.load(open(path))
    return json.load(gzip.open(path + ".gz")) if os.path.exists(path + ".gz") else None


def f(v, d=3):
    return "–" if v is None else f"{v:.{d}f}"


def row(results, model, dataset, subset, level):
    for r in results["rows"]:
        if r["model"] == model and r["dataset"] == dataset and r["subset"] == subset and r["condition"] == "clean" \
                and level_name(r["report"]["level"]) == level:
            return r["report"]
    return None


def level_name(level):
    if level["unit"] == "frame":
        return "frame"
    return f"video ({level['aggregation']})"


clean = load("clean")
if clean:
    models = [m["name"] for m in clean["models"]]
    print("### Clean, test split\n")
    print("| dataset | fakes | " + " | ".join(f"{m}: video AUC [95 % CI]" for m in models) + " | " + " | ".join(f"{m}: frame AUC" for m in models) + " |")
    print("|---|---|" + "---|" * (2 * len(models)))
    for d in clean["datasets"]:
        for subset in ["all"] + d["methods"]:
            cells, frames = [], []
            for m in models:
                v, fr = row(clean, m, d["name"], subset, VIDEO), row(clean, m, d["name"], subset, "frame")
                ci = (v or {}).get("confidenceIntervals", {}).get("auc") if v else None
                cells.append(f(v["auc"]) + (f" [{ci['lower']:.3f}, {ci['upper']:.3f}]" if ci else "") if v else "–")
                frames.append(f(fr["auc"]) if fr else "–")
            if any(c != "–" for c in cells):
                print(f"| {d['name']} | {subset} | " + " | ".join(cells) + " | " + " | ".join(frames) + " |")
    print("\n### Reals called FAKE at each model's threshold (clean)\n")
    print("| dataset | group | " + " | ".join(f"{m}: FAKE / units (rate [95 % CI])" for m in models) + " | NO_FACE |")
    print("|---|---|" + "---|" * len(models) + "---|")
    flags = clean.get("real_flags", [])
    keys = []
    for r in flags:
        if r["condition"] == "clean" and (r["dataset"], r["group"]) not in keys:
            keys.append((r["dataset"], r["group"]))
    for dataset, group in keys:
        cells, noface = [], "–"
        for m in models:
            r = next((x for x in flags if x["model"] == m and x["dataset"] == dataset and x["group"] == group and x["condition"] == "clean"), None)
            cells.append(f"{r['flagged']} / {r['units']} ({100 * r['rate']:.1f} % [{100 * r['lower']:.1f}, {100 * r['upper']:.1f}])" if r else "–")
            noface = str(r["no_face"]) if r else noface
        print(f"| {dataset} | {group} | " + " | ".join(cells) + f" | {noface} |")
    print("\n### Calibration (expected calibration error, 10 bins, clean)\n")
    print("| scope | level | " + " | ".join(f"{m}: ECE [95 % CI]" for m in models) + " |")
    print("|---|---|" + "---|" * len(models))
    cal = clean.get("calibration", [])
    seen = []
    for r in cal:
        k = (r["scope"], r["level"])
        if r["condition"] != "clean" or k in seen:
            continue
        seen.append(k)
        cells = []
        for m in models:
            x = next((c for c in cal if c["model"] == m and c["scope"] == k[0] and c["level"] == k[1] and c["condition"] == "clean"), None)
            cells.append(f"{x['ece']:.3f} [{x['lower']:.3f}, {x['upper']:.3f}] (n {x['count']})" if x else "–")
        print(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")

for name in ["stability-photos", "stability-ffpp"]:
    res = load(name)
    if not res:
        continue
    models = [m["name"] for m in res["models"]]
    print(f"\n### Stability ({name})\n")
    print("| dataset | class | edit | " + " | ".join(f"{m}: flips (rate [95 % CI])" for m in models) + " | " + " | ".join(f"{m}: mean / p95 \\|ΔP\\|" for m in models) + " |")
    print("|---|---|---|" + "---|" * (2 * len(models)))
    st = res.get("stability", [])
    keys = []
    for r in st:
        k = (r["dataset"], r["subset"], r["edit"])
        if r["subset"] != "all" and k not in keys:
            keys.append(k)
    for k in keys:
        a, b = [], []
        for m in models:
            r = next((x for x in st if x["model"] == m and (x["dataset"], x["subset"], x["edit"]) == k), None)
            a.append(f"{r['flips']} / {r['pairs']} ({100 * r['flip_rate']:.1f} % [{100 * r['flip_lower']:.1f}, {100 * r['flip_upper']:.1f}])" if r else "–")
            b.append(f"{f(r.get('mean_abs_delta'))} / {f(r.get('p95_abs_delta'))}" if r else "–")
        print(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(a) + " | " + " | ".join(b) + " |")
    aucs = [r for r in st if r["subset"] == "all"]
    if aucs:
        print("\n| dataset | edit | " + " | ".join(f"{m}: video AUC clean → edited (change [95 % CI])" for m in models) + " |")
        print("|---|---|" + "---|" * len(models))
        keys = []
        for r in aucs:
            if (r["dataset"], r["edit"]) not in keys:
                keys.append((r["dataset"], r["edit"]))
        for k in keys:
            cells = []
            for m in models:
                r = next((x for x in aucs if x["model"] == m and (x["dataset"], x["edit"]) == k), None)
                cells.append(f"{f(r['auc_clean'])} → {f(r['auc'])} ({r['auc_delta']:+.3f} [{f(r.get('auc_delta_lower'))}, {f(r.get('auc_delta_upper'))}])" if r else "–")
            print(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")

rob = load("robustness")
if rob:
    models = [m["name"] for m in rob["models"]]
    print("\n### Robustness (FF++ test split, video AUC, max-mean)\n")
    print("| condition | " + " | ".join(models) + " |")
    print("|---|" + "---|" * len(models))
    for c in rob["conditions"]:
        cells = []
        for m in models:
            s = next((x for x in rob["summaries"] if x["model"] == m and x["condition"] == c and x["subset"] == "all" and x["level"] == VIDEO), None)
            cells.append(f(s["auc_mean"]) if s else "–")
        print(f"| {c} | " + " | ".join(cells) + " |")
