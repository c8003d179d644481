"""From a torch module: loss, gradient and Hessian-vector products against torch's double
backward in f64 (relative error <= 1e-10), numpy and torch inputs giving identical numbers, and the
types of what comes back."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import convnet, data, mlp

import hesspec

TOL = 1e-10


def torch_reference(net, X, y, V, loss):
    """Loss, gradient and H v for the rows v of V by double backward (BN in training mode)."""
    net = copy.deepcopy(net).train()
    params = list(net.parameters())
    out = net(torch.from_numpy(X))
    if loss == "cross_entropy":
        L = F.cross_entropy(out, torch.from_numpy(y).long())
    else:
        L = 0.5 * ((out - torch.from_numpy(y)) ** 2).sum(1).mean()
    g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(L, params, create_graph=True)])
    HV = [torch.cat([t.reshape(-1) for t in torch.autograd.grad(g @ torch.from_numpy(v), params, retain_graph=True)])
          for v in V]
    return L.item(), g.detach().numpy(), torch.stack(HV).detach().numpy()


def rel(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-300)


CASES = {
    "mlp-bn-tanh": (lambda: mlp(seed=3), [10], "cross_entropy", 4),
    "mlp-mse": (lambda: mlp(seed=4, bn=False, widths=(10, 12, 3)), [10], "mse", 3),
    "conv-bn-residual": (lambda: convnet(seed=5), [2, 6, 6], "cross_entropy", 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_grad_hvp_match_torch(case):
    make, shape, loss, classes = CASES[case]
    net = make()
    X, y = data(shape, n=24, classes=classes, seed=7, mse=loss == "mse")
    m = hesspec.Model.from_torch(net, shape, loss=loss, device="cpu")
    assert m.num_params == sum(p.numel() for p in net.parameters())
    names = [n for n, _ in net.named_parameters()]
    assert len(m.param_names()) == len(names)
    theta = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy()
    assert np.array_equal(m.get_params(), theta), "parameters are not in parameters() order"
    m.bind(X, y)
    V = np.random.default_rng(11).standard_normal((3, m.num_params))
    L, g, HV = torch_reference(net, X, y, V, loss)
    loss_h, g_h = m.loss_grad()
    assert abs(loss_h - L) <= TOL * abs(L), (loss_h, L)
    assert rel(g_h, g) <= TOL, rel(g_h, g)
    hv1 = m.hvp(V[0])
    assert hv1.shape == (m.num_params,)
    assert rel(hv1, HV[0]) <= TOL, rel(hv1, HV[0])
    hv3 = m.hvp(V)
    assert hv3.shape == (3, m.num_params)
    assert rel(hv3, HV) <= TOL, rel(hv3, HV)
    # H = G + (H - G): the three operators agree with each other
    G, R = m.hvp(V, operator="ggn"), m.hvp(V, operator="residual")
    assert rel(G + R, hv3) <= 1e-12


def test_numpy_and_torch_inputs_are_identical():
    net = convnet(seed=2)
    X, y = data([2, 6, 6], n=16, classes=3, seed=3)
    a = hesspec.Model.from_torch(net, [2, 6, 6], device="cpu").bind(X, y)
    b = hesspec.Model.from_torch(net, [2, 6, 6], device="cpu").bind(torch.from_numpy(X), torch.from_numpy(y))
    c = hesspec.Model.from_torch(net, [2, 6, 6], device="cpu").bind(X.reshape(16, -1), y.astype(np.int32))
    V = np.random.default_rng(0).standard_normal((2, a.num_params))
    la, ga = a.loss_grad()
    for other in (b, c):
        lo, go = other.loss_grad()
        assert la == lo and np.array_equal(ga, go)
    ha = a.hvp(V)
    hb = b.hvp(torch.from_numpy(V))
    assert isinstance(ha, np.ndarray) and isinstance(hb, torch.Tensor) and hb.dtype == torch.float64
    assert np.array_equal(ha, hb.numpy()) and np.array_equal(ha, c.hvp(V))
    # the result takes V's float dtype
    h32 = a.hvp(torch.from_numpy(V).float())
    assert h32.dtype == torch.float32
    assert a.hvp(V.astype(np.float32)).dtype == np.float32


def test_running_mode_and_f32():
    net = mlp(seed=8)
    X, y = data([10], n=20, classes=4, seed=9)
    m = hesspec.Model.from_torch(net, [10], batchnorm_mode="running", device="cpu").bind(X, y)
    ev = copy.deepcopy(net).eval()
    L = F.cross_entropy(ev(torch.from_numpy(X)), torch.from_numpy(y).long()).item()
    assert abs(m.loss_grad()[0] - L) <= TOL * L
    m32 = hesspec.Model.from_torch(net, [10], batchnorm_mode="running", device="cpu", dtype="f32").bind(X, y)
    assert m32.dtype == "f32"
    V = np.random.default_rng(1).standard_normal(m.num_params)
    assert rel(m32.hvp(V), m.hvp(V)) < 1e-4


def test_params_roundtrip_and_checkpoint(workdir):
    net = mlp(seed=1)
    m = hesspec.Model.from_torch(net, [10], device="cpu")
    theta = m.get_params()
    m.set_params(torch.from_numpy(theta * 2))
    assert np.array_equal(m.get_params(), theta * 2)
    m.save(workdir / "w.safetensors")
    spec = workdir / "spec.json"
    import json
    spec.write_text(json.dumps(m.spec))
    back = hesspec.Model.load(str(spec), str(workdir / "w.safetensors"), device="cpu")
    assert np.array_equal(back.get_params(), theta * 2)
    assert back.param_names() == m.param_names()
