"""Makes facenet-pytorch==2.6.0's MTCNN importable and runnable without torchvision's compiled ops.

facenet-pytorch's `models/utils/detect_face.py` imports `torchvision.transforms.functional` (only
for `extract_face`, which the detectors here never call) and `torchvision.ops.boxes.batched_nms`
(used for the P-Net and R-Net NMS). torchvision's compiled `nms` cannot be loaded with this torch,
so this module provides `batched_nms` in plain torch with exactly torchvision's semantics
(torchvision/ops/boxes.py + csrc/ops/cpu/nms_kernel.cpp):

  nms:  areas = (x2 - x1) * (y2 - y1)      (no +1; float32 like the boxes)
        order = stable sort of the scores, descending
        walk the order; a box not yet suppressed is kept and suppresses every later box j with
        inter / (area_i + area_j - inter) > threshold, inter = max(0, min x2 - max x1) * max(0, ...)
        returns the kept indices in that (descending-score) order
  batched_nms (per class):
        numel(boxes) <= 4000 (CPU): "coordinate trick": boxes + idx * (boxes.max() + 1), one nms
        numel(boxes) >  4000      : "vanilla": nms per class, then the kept indices re-sorted by
                                     score with torch.sort(descending=True)
  (For a single image, i.e. one class, both give the same set and, barring exactly equal scores,
  the same order.)

Call `install()` BEFORE importing facenet_pytorch. It inserts a stub `torchvision` package only when
the real one is not importable, a stub `tqdm` only when tqdm is missing (imported by facenet's
download helper, never used here), and then monkeypatches
`facenet_pytorch.models.utils.detect_face.batched_nms` in any case, so the real torchvision's
compiled op is never needed.
"""
import importlib
import importlib.util
import sys
import types

import numpy as np
import torch


def nms(boxes, scores, iou_threshold):
    """torchvision.ops.nms on CPU: same order, same float32 arithmetic as the C++ kernel.

    The walk over the sorted boxes runs in numpy (float32 elementwise ops round exactly like the
    kernel's scalar float code); the ordering comes from torch's own stable sort.
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores.detach(), dim=0, descending=True, stable=True)[1].numpy()
    b = boxes.detach().cpu().numpy()
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    zero = b.dtype.type(0)
    thr = float(iou_threshold)
    suppressed = np.zeros(b.shape[0], dtype=bool)
    keep = []
    for pos in range(order.shape[0]):
        i = order[pos]
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        rest = rest[~suppressed[rest]]
        if rest.size == 0:
            continue
        w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        ovr = inter / ((areas[i] + areas[rest]) - inter)
        # the kernel compares the float IoU with the double threshold: `ovr > iou_threshold`
        suppressed[rest[ovr.astype(np.float64) > thr]] = True
    return torch.as_tensor(np.array(keep, dtype=np.int64), device=boxes.device)


def _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold):
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def _batched_nms_vanilla(boxes, scores, idxs, iou_threshold):
    keep_mask = torch.zeros_like(scores, dtype=torch.bool)
    for class_id in torch.unique(idxs):
        cur = torch.where(idxs == class_id)[0]
        cur_keep = nms(boxes[cur], scores[cur], iou_threshold)
        keep_mask[cur[cur_keep]] = True
    keep_indices = torch.where(keep_mask)[0]
    return keep_indices[scores[keep_indices].sort(descending=True)[1]]


def batched_nms(boxes, scores, idxs, iou_threshold):
    """torchvision.ops.batched_nms (CPU path selection included)."""
    if boxes.numel() > 4000:
        return _batched_nms_vanilla(boxes, scores, idxs, iou_threshold)
    return _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold)


def _stub_torchvision():
    tv = types.ModuleType("torchvision")
    tv.__path__ = []  # a package
    tv.__version__ = "0.0.0+forensight-stub"
    tv._is_tracing = lambda: False
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__path__ = []
    functional = types.ModuleType("torchvision.transforms.functional")

    def to_tensor(pic):  # only reached through facenet's extract_face (not used here)
        t = torch.as_tensor(pic)
        if t.ndim == 2:
            t = t[:, :, None]
        t = t.permute(2, 0, 1).contiguous()
        return t.float().div(255) if t.dtype == torch.uint8 else t

    functional.to_tensor = to_tensor
    ops = types.ModuleType("torchvision.ops")
    ops.__path__ = []
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.nms = nms
    boxes.batched_nms = batched_nms
    ops.nms = nms
    ops.batched_nms = batched_nms
    ops.boxes = boxes
    transforms.functional = functional
    tv.transforms = transforms
    tv.ops = ops
    for m in (tv, transforms, functional, ops, boxes):
        sys.modules[m.__name__] = m


def _torchvision_usable():
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        importlib.import_module("torchvision.ops.boxes")
        importlib.import_module("torchvision.transforms.functional")
        return True
    except Exception:  # broken install (ops not loadable with this torch)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False


def install():
    """Returns a dict describing what was stubbed/patched."""
    info = {"torchvision": "real", "tqdm": "real"}
    if not _torchvision_usable():
        _stub_torchvision()
        info["torchvision"] = "stub (not installed or not loadable)"
    if importlib.util.find_spec("tqdm") is None:
        tq = types.ModuleType("tqdm")
        tq.__path__ = []
        auto = types.ModuleType("tqdm.auto")
        tq.tqdm = auto.tqdm = object
        tq.auto = auto
        sys.modules["tqdm"], sys.modules["tqdm.auto"] = tq, auto
        info["tqdm"] = "stub (not installed)"
    import facenet_pytorch  # noqa: F401
    from facenet_pytorch.models.utils import detect_face as df
    df.batched_nms = batched_nms
    info["batched_nms"] = "monkeypatched with _facenet_compat.batched_nms (pure torch)"
    import facenet_pytorch as fp
    info["facenet_pytorch"] = getattr(fp, "__version__", None) or _dist_version("facenet-pytorch")
    return info


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None
