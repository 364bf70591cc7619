#!/usr/bin/env python3
"""Reference outputs of Meso-4 (ForensightModels `Meso4`) from an independent PyTorch model.

The PyTorch model below is written from the MesoNet paper and the authors' Keras code (Afchar et al., WIFS 2018):
four stages of convolution (padding "same": k // 2 for these odd kernels) -> ReLU -> BatchNorm (eps 1e-3) -> max
pooling (2, 2, 2, 4), then flatten (channel-first, PyTorch's order) -> dropout 0.5 -> linear -> LeakyReLU(0.1) ->
dropout 0.5 -> linear to one logit. Weights and BatchNorm statistics are seeded random values far from identity.

Writes Tests/ForensightModelsTests/Fixtures/mesonet.safetensors (F32): the state_dict under the Swift keys (conv1.weight,
conv1.bias, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var, ..., fc1.*, fc2.*), an input `input` [2, 3, 64, 64]
and, in eval mode, `logits` [2, 1] and the penultimate features `features` [2, 16].

    python3 scripts/reference/make_mesonet_fixture.py     (needs torch, e.g. torch==2.13.0+cpu)

Deterministic (torch.manual_seed(3), one thread, float32).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ForensightModelsTests", "Fixtures", "mesonet.safetensors")
SIDE = 64


class Meso4(nn.Module):
    def __init__(self, side):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=1e-3)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 5, padding=2), nn.BatchNorm2d(8, eps=1e-3)
        self.conv3, self.bn3 = nn.Conv2d(8, 16, 5, padding=2), nn.BatchNorm2d(16, eps=1e-3)
        self.conv4, self.bn4 = nn.Conv2d(16, 16, 5, padding=2), nn.BatchNorm2d(16, eps=1e-3)
        self.fc1, self.fc2 = nn.Linear(16 * (side // 32) ** 2, 16), nn.Linear(16, 1)
        self.drop = nn.Dropout(0.5)

    def features(self, x):
        x = nn.functional.max_pool2d(self.bn1(torch.relu(self.conv1(x))), 2)
        x = nn.functional.max_pool2d(self.bn2(torch.relu(self.conv2(x))), 2)
        x = nn.functional.max_pool2d(self.bn3(torch.relu(self.conv3(x))), 2)
        x = nn.functional.max_pool2d(self.bn4(torch.relu(self.conv4(x))), 4)
        return nn.functional.leaky_relu(self.fc1(self.drop(x.flatten(1))), 0.1)

    def forward(self, x):
        return self.fc2(self.drop(self.features(x)))


def main():
    torch.manual_seed(3)
    torch.set_num_threads(1)
    model = Meso4(SIDE)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.4 if p.dim() > 1 else 0.2))
        for bn in [model.bn1, model.bn2, model.bn3, model.bn4]:
            bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.3)
            bn.running_var.copy_(torch.rand_like(bn.running_var) * 1.5 + 0.3)
    model.eval()
    x = torch.rand(2, 3, SIDE, SIDE)
    with torch.no_grad():
        logits, feats = model(x), model.features(x)
    tensors = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors.update({"input": x.numpy(), "logits": logits.numpy(), "features": feats.numpy()})
    write_safetensors(OUT, tensors, {"generator": "scripts/reference/make_mesonet_fixture.py", "torch": torch.__version__})
    print("wrote", os.path.relpath(OUT, ROOT), "logits", logits.flatten().tolist())


if __name__ == "__main__":
    main()
