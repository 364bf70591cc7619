"""Reference trajectories of PyTorch's optimizers and LR schedules for ForensightTrainingTests.

Writes Tests/ForensightTrainingTests/Fixtures/optimizers.json: for each optimizer configuration, the initial
parameter, the gradient fed at each step, and the parameter after each step; and the learning rates of the
schedules. Run: python3 scripts/reference/make_optimizer_fixtures.py
"""
import json, math, os
import torch

torch.manual_seed(0)
steps = 4
p0 = torch.randn(6)
grads = [torch.randn(6) for _ in range(steps)]
configs = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum_wd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    "adam": (torch.optim.Adam, dict(lr=0.01)),
    "adam_l2": (torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.95), eps=1e-6)),
}
out = {"p0": p0.tolist(), "grads": [g.tolist() for g in grads], "optimizers": {}}
for name, (cls, kw) in configs.items():
    p = torch.nn.Parameter(p0.clone())
    opt = cls([p], **kw)
    traj = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        traj.append(p.detach().clone().tolist())
    out["optimizers"][name] = {"kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}, "trajectory": traj}

# Gradient clipping.
ps = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))]
ps[0].grad = torch.tensor([3.0, -4.0, 12.0]); ps[1].grad = torch.tensor([0.0, 84.0])
norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=5.0)
out["clip"] = {"grads_in": [[3.0, -4.0, 12.0], [0.0, 84.0]], "max_norm": 5.0, "norm": float(norm),
               "grads_out": [ps[0].grad.tolist(), ps[1].grad.tolist()]}

# Schedules: StepLR and linear warm-up + cosine (LambdaLR with the formula documented in Schedules.swift).
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=0.5)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
step_lrs = []
for _ in range(10):
    step_lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
opt = torch.optim.SGD([p], lr=1.0)
warm, total, minimum = 3, 10, 0.1
cos = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: (t + 1) / warm if t < warm else
      (minimum + 0.5 * (1 - minimum) * (1 + math.cos(math.pi * (min(t, total) - warm) / (total - warm)))))
cos_lrs = []
for _ in range(12):
    cos_lrs.append(opt.param_groups[0]["lr"]); opt.step(); cos.step()
out["schedules"] = {"step": {"base": 0.5, "step_size": 3, "gamma": 0.5, "lrs": step_lrs},
                    "cosine": {"base": 1.0, "warmup": warm, "total": total, "minimum": minimum, "lrs": cos_lrs}}
path = os.path.join(os.path.dirname(__file__), "../../Tests/ForensightTrainingTests/Fixtures/optimizers.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
