#!/usr/bin/python3
"""PyTorch reference for the training cross-check (tests/torch_train.c).

Trains the network of CASE_DIR/spec.json from CASE_DIR/init.safetensors with torch.optim.SGD
or torch.optim.Adam and torch.nn.BatchNorm1d's running statistics, on X.npy / Y.npy, visiting
the samples of epoch e in the order perm.npy[e] in consecutive minibatches of case.json's
"batch" (the last one possibly smaller), each step on the minibatch mean loss. The learning
rate follows torch.optim.lr_scheduler.CosineAnnealingLR (stepped per epoch) or stays constant.
The spec's weight_decay (lambda/2 ||theta||^2 in hesspec's loss) is added to the optimiser's
weight_decay: both are coupled L2 (g += wd * theta).

Writes CASE_DIR/theta.npy (P,) in the DESIGN.md parameter order and CASE_DIR/running.npy
(2 * sum of BN widths: per block running_mean then running_var; empty without BN).
Network and file readers come from reference.py (independent of hesspec's code).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

torch.set_default_dtype(torch.float64)


def main(case_dir):
    spec = ref.load_spec(os.path.join(case_dir, "spec.json"))
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    net = ref.build(spec, os.path.join(case_dir, "init.safetensors"))
    for blk in net.blocks:
        if blk.norm is not None:
            blk.norm.momentum = case["bn_momentum"]
    X = torch.from_numpy(np.load(os.path.join(case_dir, "X.npy")).astype(np.float64))
    Y = np.load(os.path.join(case_dir, "Y.npy"))
    Y = torch.from_numpy(Y.astype(np.int64) if spec["loss"] == "cross_entropy" else Y.astype(np.float64))
    perm = np.load(os.path.join(case_dir, "perm.npy")).astype(np.int64)
    params = [p for _, p in net.flat_params()]
    wd = case["weight_decay"] + spec["weight_decay"]
    if case["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=case["lr"], momentum=case["momentum"], dampening=case["dampening"],
                              weight_decay=wd, nesterov=bool(case["nesterov"]), foreach=False)
    else:
        opt = torch.optim.Adam(params, lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"],
                               weight_decay=wd, foreach=False)
    sched = None
    if case["schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=case["epochs"], eta_min=case["lr_min"])
    B = case["batch"]
    N = X.shape[0]
    net.train()
    for e in range(case["epochs"]):
        order = torch.from_numpy(perm[e])
        for first in range(0, N, B):
            idx = order[first:first + B]
            out = net(X[idx])
            if spec["loss"] == "cross_entropy":
                loss = F.cross_entropy(out, Y[idx], reduction="mean")
            else:
                loss = 0.5 * ((out - Y[idx]) ** 2).sum() / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if sched is not None:
            sched.step()
    theta = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    run = [t for blk in net.blocks if blk.norm is not None
           for t in (blk.norm.running_mean.numpy(), blk.norm.running_var.numpy())]
    np.save(os.path.join(case_dir, "theta.npy"), theta)
    np.save(os.path.join(case_dir, "running.npy"), np.concatenate(run) if run else np.zeros(0))


if __name__ == "__main__":
    main(sys.argv[1])
