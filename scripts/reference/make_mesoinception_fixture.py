#!/usr/bin/env python3
"""Reference outputs of MesoInception-4 (ForensightModels `MesoInception4`) from an independent PyTorch model.

The PyTorch model below is written from the MesoNet paper and the authors' Keras code (Afchar et al., WIFS 2018,
classifiers.py `MesoInception4`): two Inception blocks, each four branches on the same input concatenated along
channels -- 1x1 (a); 1x1 -> 3x3 (b); 1x1 -> 3x3 dilated 2 (c); 1x1 -> 3x3 dilated 3 (d), every convolution with bias,
"same" padding (dilation * (k - 1) // 2) and ReLU -- with (a, b, c, d) = (1, 4, 4, 2) then (2, 4, 4, 2), each block
followed by BatchNorm over the concatenation (eps 1e-3) and max pooling 2; then two Meso-4 stages (conv 5x5 16 -> ReLU
-> BatchNorm -> max pool 2, then 4), flatten (channel-first) -> dropout -> linear 16 -> LeakyReLU(0.1) -> dropout ->
linear to one logit. Weights and BatchNorm statistics are seeded random values far from identity.

Writes Tests/ForensightModelsTests/Fixtures/mesoinception.safetensors (F32): the state_dict under the Swift keys
(block1.branch1.*, block1.branch2_reduce.*, block1.branch2.*, ..., bn1.*, ..., conv3.*, fc1.*, fc2.*), an input
`input` [2, 3, 64, 64] (uniform noise; the second image cubed, darker) and, in eval mode, `logits` [2, 1] and the penultimate features `features` [2, 16].

    python3 scripts/reference/make_mesoinception_fixture.py     (needs torch, e.g. torch==2.13.0+cpu)

Deterministic (torch.manual_seed(5), one thread, float32).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ForensightModelsTests", "Fixtures", "mesoinception.safetensors")
SIDE = 64


def conv(cin, cout, k, dilation=1):
    return nn.Conv2d(cin, cout, k, padding=dilation * (k - 1) // 2, dilation=dilation)


class Inception(nn.Module):
    def __init__(self, cin, a, b, c, d):
        super().__init__()
        self.branch1 = conv(cin, a, 1)
        self.branch2_reduce, self.branch2 = conv(cin, b, 1), conv(b, b, 3)
        self.branch3_reduce, self.branch3 = conv(cin, c, 1), conv(c, c, 3, dilation=2)
        self.branch4_reduce, self.branch4 = conv(cin, d, 1), conv(d, d, 3, dilation=3)

    def forward(self, x):
        return torch.cat([
            F.relu(self.branch1(x)),
            F.relu(self.branch2(F.relu(self.branch2_reduce(x)))),
            F.relu(self.branch3(F.relu(self.branch3_reduce(x)))),
            F.relu(self.branch4(F.relu(self.branch4_reduce(x)))),
        ], dim=1)


class MesoInception4(nn.Module):
    def __init__(self, side):
        super().__init__()
        self.block1, self.bn1 = Inception(3, 1, 4, 4, 2), nn.BatchNorm2d(11, eps=1e-3)
        self.block2, self.bn2 = Inception(11, 2, 4, 4, 2), nn.BatchNorm2d(12, eps=1e-3)
        self.conv3, self.bn3 = conv(12, 16, 5), nn.BatchNorm2d(16, eps=1e-3)
        self.conv4, self.bn4 = conv(16, 16, 5), nn.BatchNorm2d(16, eps=1e-3)
        self.fc1, self.fc2 = nn.Linear(16 * (side // 32) ** 2, 16), nn.Linear(16, 1)
        self.drop = nn.Dropout(0.5)

    def features(self, x):
        x = F.max_pool2d(self.bn1(self.block1(x)), 2)
        x = F.max_pool2d(self.bn2(self.block2(x)), 2)
        x = F.max_pool2d(self.bn3(F.relu(self.conv3(x))), 2)
        x = F.max_pool2d(self.bn4(F.relu(self.conv4(x))), 4)
        return F.leaky_relu(self.fc1(self.drop(x.flatten(1))), 0.1)

    def forward(self, x):
        return self.fc2(self.drop(self.features(x)))


def seeded(side, seed):
    """A MesoInception4 with seeded random weights and BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = MesoInception4(side)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.4 if p.dim() > 1 else 0.2))
        for bn in [model.bn1, model.bn2, model.bn3, model.bn4]:
            bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.3)
            bn.running_var.copy_(torch.rand_like(bn.running_var) * 1.5 + 0.3)
    return model.eval()


def main():
    torch.set_num_threads(1)
    model = seeded(SIDE, 5)
    x = torch.rand(2, 3, SIDE, SIDE)
    x[1] = x[1] ** 3  # a darker second image, so the two logits differ clearly
    with torch.no_grad():
        logits, feats = model(x), model.features(x)
    tensors = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors.update({"input": x.numpy(), "logits": logits.numpy(), "features": feats.numpy()})
    params = sum(p.numel() for p in model.parameters())
    write_safetensors(OUT, tensors, {"generator": "scripts/reference/make_mesoinception_fixture.py", "torch": torch.__version__,
                                     "parameters": str(params)})
    print("wrote", os.path.relpath(OUT, ROOT), "logits", logits.flatten().tolist(), "parameters", params,
          "at 256 px", sum(p.numel() for p in MesoInception4(256).parameters()))


if __name__ == "__main__":
    main()
