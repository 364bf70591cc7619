"""Reference geometry/filter fixtures for ForensightMediaTests (OpenCV and Pillow are the references).

Reads Tests/ForensightMediaTests/Fixtures/source.png (written by make_jpeg_fixtures.py) and writes, next to it,
geometry.json listing every case and one PNG per expected output:
  resize   bilinear = cv2.resize INTER_LINEAR, area = cv2.resize INTER_AREA, bicubic = PIL Image.resize BICUBIC
  warp     cv2.warpAffine INTER_LINEAR, BORDER_CONSTANT (with a colour) / BORDER_REPLICATE, with and without
           WARP_INVERSE_MAP; the 2x3 matrix is stored in the JSON
  blur     cv2.GaussianBlur with ksize = 2*ceil(3*sigma)+1, BORDER_REFLECT_101
  downscale  INTER_AREA down to round(size/f) then INTER_LINEAR back (the Perturbation.downscale definition)
Run: python3 scripts/reference/make_geometry_fixtures.py   (needs PyPI opencv-python-headless 4.x, pillow, numpy)
"""
import json, math, os
import cv2
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ForensightMediaTests", "Fixtures")
src = np.asarray(Image.open(os.path.join(OUT, "source.png")).convert("RGB"))   # RGB; OpenCV is channel-agnostic here
h, w, _ = src.shape
cases = []


def save(name, arr, **meta):
    Image.fromarray(np.ascontiguousarray(arr), "RGB").save(os.path.join(OUT, name))
    cases.append(dict(file=name, **meta))


for dw, dh in [(40, 30), (32, 24), (17, 13), (100, 75), (128, 96), (64, 20), (23, 61)]:
    out = cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR)
    save(f"resize_bilinear_{dw}x{dh}.png", out, op="resize", method="bilinear", width=dw, height=dh)
for dw, dh in [(40, 30), (32, 24), (16, 12), (21, 16), (63, 43), (32, 48), (100, 75), (80, 30)]:
    out = cv2.resize(src, (dw, dh), interpolation=cv2.INTER_AREA)
    save(f"resize_area_{dw}x{dh}.png", out, op="resize", method="area", width=dw, height=dh)
for dw, dh in [(40, 30), (32, 24), (17, 13), (100, 75), (64, 20), (23, 61)]:
    out = np.asarray(Image.fromarray(src).resize((dw, dh), Image.BICUBIC))
    save(f"resize_bicubic_{dw}x{dh}.png", out, op="resize", method="bicubic", width=dw, height=dh)

angle, scale = math.radians(17), 0.8
rotation = [[scale * math.cos(angle), -scale * math.sin(angle), 10.3], [scale * math.sin(angle), scale * math.cos(angle), -4.7]]
enlarge = [[1.7, 0.2, -20.25], [-0.1, 1.5, -9.5]]
for tag, m in [("rot", rotation), ("enlarge", enlarge)]:
    M = np.array(m, np.float64)
    for border in ["constant", "replicate"]:
        for inverse in [False, True]:
            flags = cv2.INTER_LINEAR | (cv2.WARP_INVERSE_MAP if inverse else 0)
            mode = cv2.BORDER_CONSTANT if border == "constant" else cv2.BORDER_REPLICATE
            out = cv2.warpAffine(src, M, (56, 40), flags=flags, borderMode=mode, borderValue=(7, 80, 200))
            name = f"warp_{tag}_{border}{'_inverse' if inverse else ''}.png"
            save(name, out, op="warp", matrix=m, width=56, height=40, border=border, fill=[7, 80, 200], inverse=inverse)

for sigma in [0.5, 1.0, 1.5, 3.0, 7.0]:
    k = 2 * math.ceil(3 * sigma) + 1
    out = cv2.GaussianBlur(src, (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    save(f"blur_sigma{sigma}.png", out, op="blur", sigma=sigma)

for factor in [2.0, 3.0, 4.0]:
    small = cv2.resize(src, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    save(f"downscale_{factor}.png", out, op="downscale", factor=factor)

with open(os.path.join(OUT, "geometry.json"), "w") as f:
    json.dump(dict(opencv=cv2.__version__, pillow=Image.__version__, cases=cases), f, indent=1)
print(len(cases), "geometry cases written to", os.path.normpath(OUT))
