"""spectrum, eig, trace and density files: the same numbers as the CLI and as scipy."""
import json
import os

import numpy as np
import pytest
import scipy.sparse.linalg as sla
from conftest import convnet, data, mlp, run_cli

import hesspec

CLOCK = ("elapsed_seconds", "created", "timing")


def bound_mlp(seed=0, n=32):
    X, y = data([10], n=n, classes=4, seed=seed + 1)
    return hesspec.Model.from_torch(mlp(seed=seed), [10], device="cpu").bind(X, y), X, y


def test_eigsh_on_linear_operator_equals_eig_top3():
    m, _, _ = bound_mlp(seed=2)
    A = m.as_linear_operator()
    assert A.shape == (m.num_params, m.num_params)
    w = np.sort(sla.eigsh(A, k=3, which="LA", tol=1e-13)[0])
    e = hesspec.eig(m, top=3, vectors=True)
    assert e.converged and e.values.shape == (3,) and e.vectors.shape == (3, m.num_params)
    assert np.abs(w - e.values).max() <= 1e-8 * np.abs(w).max(), (w, e.values)
    # the vectors are eigenvectors: ||H y - theta y|| is the reported residual
    R = m.hvp(e.vectors) - e.values[:, None] * e.vectors
    assert np.allclose(np.linalg.norm(R, axis=1), e.residuals, rtol=1e-3, atol=1e-12)
    # matmat and the Gauss-Newton operator
    V = np.random.default_rng(0).standard_normal((m.num_params, 2))
    assert np.array_equal(A.matmat(V), m.hvp(V.T).T)
    G = m.as_linear_operator("ggn")
    assert np.array_equal(G @ V[:, 0], m.hvp(V[:, 0], "ggn"))


def test_eig_exact_and_bottom():
    m, _, _ = bound_mlp(seed=3)
    ex = hesspec.eig(m, exact=True)
    assert ex.values.shape == (m.num_params,) and ex.residuals is None and ex.asymmetry < 1e-12
    assert np.all(np.diff(ex.values) >= 0)
    top = hesspec.eig(m, top=2).values
    bot = hesspec.eig(m, bottom=2).values
    scale = np.abs(ex.values).max()
    assert np.abs(top - ex.values[-2:]).max() <= 1e-8 * scale
    assert np.abs(bot - ex.values[:2]).max() <= 1e-8 * scale


def test_trace_hutchinson_and_hutchpp():
    m, _, _ = bound_mlp(seed=4)
    exact = hesspec.eig(m, exact=True).values.sum()
    t = hesspec.trace(m, probes=200, seed=1)
    assert t.samples.shape == (200,) and abs(float(t) - exact) <= 5 * t.stderr
    tp = hesspec.trace(m, probes=60, method="hutch++", seed=1)
    assert tp.sketch_rank > 0 and abs(tp.trace - exact) <= 5 * tp.stderr + 1e-9 * abs(exact)
    # SLQ's probes are the same vectors: the density's trace is Hutchinson's over its probes
    d = hesspec.spectrum(m, steps=40, probes=5, seed=1)
    t5 = hesspec.trace(m, probes=5, seed=1)
    assert abs(d.summary["trace"] - t5.trace) <= 1e-9 * abs(t5.trace)


def test_spectrum_equals_cli_file(workdir):
    """Model.load of a spec and checkpoint, the CLI on the same files, data and seed: the same
    density file apart from the clock fields (nodes and weights to the last bit), the same CSV."""
    net = convnet(seed=6)
    X, y = data([2, 6, 6], n=20, classes=3, seed=2)
    src = hesspec.Model.from_torch(net, [2, 6, 6], device="cpu")
    (workdir / "spec.json").write_text(json.dumps(src.spec))
    src.save(workdir / "w.safetensors")
    np.save(workdir / "X.npy", X)
    np.save(workdir / "Y.npy", y.astype(np.int64))
    run_cli(["spectrum", "--model", "spec.json", "--weights", "w.safetensors", "--inputs", "X.npy", "--targets",
             "Y.npy", "--seed", "5", "--steps", "30", "--probes", "4", "--batch", "10", "--device", "cpu",
             "--out", "cli.json"], cwd=workdir)
    cli = json.loads((workdir / "cli.json").read_text())
    cwd = os.getcwd()
    os.chdir(workdir)  # the same relative paths in the provenance
    try:
        m = hesspec.Model.load("spec.json", "w.safetensors", device="cpu")
        m.bind(np.load("X.npy"), np.load("Y.npy"), batch=10, source=cli["data"]["source"])
        d = hesspec.spectrum(m, steps=30, probes=4, seed=5)
        d.save("api.json")
    finally:
        os.chdir(cwd)
    api = json.loads((workdir / "api.json").read_text())
    for p, q in zip(d.nodes, cli["probes"]):
        assert np.array_equal(p, np.array(q["nodes"])) or np.allclose(p, q["nodes"], rtol=5e-16, atol=0)
    for k in CLOCK:
        cli.pop(k), api.pop(k)
    assert api == cli
    assert (workdir / "api.csv").read_text() == (workdir / "cli.csv").read_text()
    # read back: the same rules and grid as the object that wrote it (JSON keeps about 1 ulp)
    back = hesspec.read_density(workdir / "api.json")
    assert back.probes == 4 and back.steps == 30 and back.params == m.num_params
    for a, b in zip(back.nodes, d.nodes):
        assert np.allclose(a, b, rtol=5e-16, atol=0)
    assert np.allclose(back.density, d.density, rtol=5e-16, atol=0)
    assert back.summary["lambda_max"] == pytest.approx(d.summary["lambda_max"], rel=1e-15)
    back.save(workdir / "copy.json")  # a read density is copied
    assert (workdir / "copy.json").read_text() == (workdir / "api.json").read_text()


def test_density_fields_and_smoothing():
    m, _, _ = bound_mlp(seed=5)
    d = hesspec.spectrum(m, steps=25, probes=3, seed=2, sigma=0.02, operator="ggn")
    assert d.sigma == 0.02 and len(d.nodes) == 3 and all(abs(w.sum() - 1) < 1e-12 for w in d.weights)
    assert abs(np.trapz(d.density, d.grid) - 1) < 1e-3
    assert d.summary["lambda_min"] >= -1e-10  # G is positive semi-definite
    assert np.allclose(d.smooth(0.02), d.density, rtol=1e-12, atol=1e-14)
    g = hesspec.spectrum(m, steps=25, probes=3, seed=2, grid=2001, grid_range=(-1, 5))
    assert g.grid.shape == (2001,) and g.grid[0] == -1 and g.grid[-1] == 5


def test_plot_if_matplotlib(workdir):
    plt = pytest.importorskip("matplotlib.pyplot")
    m, _, _ = bound_mlp(seed=6)
    ax = hesspec.spectrum(m, steps=20, probes=2).plot()
    assert ax is not None
    plt.close("all")


def _restricted(H, m, layer):
    """The rows and columns of the dense H on the parameters of `layer`."""
    idx, off = [], 0
    for name, shape in zip(m.param_names(), m.param_shapes()):
        size = int(np.prod(shape))
        if name.rsplit(".", 1)[0] == layer:
            idx.extend(range(off, off + size))
        off += size
    return H[np.ix_(idx, idx)]


def test_blocks_against_the_dense_hessian(workdir):
    """block=NAME is the sub-matrix of H on that layer's parameters; block="all" runs every layer
    (Density.blocks, dicts of Eigen and Trace) and writes the CLI's --block all files."""
    m, X, y = bound_mlp(seed=5, n=20)
    P = m.num_params
    H = m.hvp(np.eye(P))
    H = 0.5 * (H + H.T)
    layers = m.layers()
    assert layers == ["layers.0", "layers.1", "layers.3", "layers.4", "layers.6"], layers
    for layer in layers:
        Hb = _restricted(H, m, layer)
        w = np.linalg.eigvalsh(Hb)
        e = hesspec.eig(m, top=2, block=layer)
        assert np.abs(e.values - w[-2:]).max() <= 1e-8 * max(np.abs(w).max(), 1e-300), (layer, e.values, w[-2:])
        d = hesspec.spectrum(m, steps=80, probes=3, seed=2, block=layer)
        assert d.block == layer and d.params == Hb.shape[0]
        assert d.summary["lambda_max"] == pytest.approx(w[-1], rel=1e-8, abs=1e-12)
    # "all": every layer's density beneath the block-diagonal one; the traces add up
    d = hesspec.spectrum(m, steps=30, probes=3, seed=2, block="all")
    assert list(d.blocks) == layers and d.block is None
    assert d.summary["trace"] == pytest.approx(sum(b.summary["trace"] for b in d.blocks.values()), rel=1e-12)
    t = hesspec.trace(m, probes=500, seed=1, block="all", out=workdir / "t.json")
    exact = np.trace(H)
    assert list(t) == layers
    total, se = sum(v.trace for v in t.values()), np.sqrt(sum(v.stderr ** 2 for v in t.values()))
    assert abs(total - exact) <= 5 * se + 1e-12 * abs(exact)
    e = hesspec.eig(m, bottom=1, block="all", out=workdir / "e.json")
    assert np.min([v.values[0] for v in e.values()]) >= np.linalg.eigvalsh(H)[0] - 1e-8 * np.abs(H).max()
    # the files are the CLI's (apart from the clock, weights and data fields)
    m.save(workdir / "w.safetensors")
    (workdir / "spec.json").write_text(json.dumps(m.spec))
    np.save(workdir / "X.npy", X)
    np.save(workdir / "Y.npy", y.astype(np.int64))
    d.save(workdir / "d.json")
    for cmd, extra, mine in (("trace", ["--probes", "500", "--seed", "1"], "t.json"),
                             ("eig", ["--bottom", "1"], "e.json"),
                             ("spectrum", ["--steps", "30", "--probes", "3", "--seed", "2"], "d.json")):
        run_cli([cmd, "--model", "spec.json", "--weights", "w.safetensors", "--inputs", "X.npy", "--targets", "Y.npy",
                 "--device", "cpu", "--block", "all", "--out", "cli.json"] + extra, cwd=workdir)
        a, b = (json.loads((workdir / f).read_text()) for f in ("cli.json", mine))
        for j in (a, b):
            for k in CLOCK + ("weights", "data"):
                j.pop(k, None)
            for blk in j["blocks"]:
                blk.pop("timing", None)
        assert a == b, cmd
    with pytest.raises(hesspec.Error, match="no.such"):
        hesspec.trace(m, block="no.such")
    with pytest.raises(hesspec.Error, match="block"):
        hesspec.eig(m, top=1, block="all", vectors=True)


def test_bind_dataset_by_name_equals_the_cli(workdir):
    """bind_dataset("mixture:sep=2", ...) is the CLI's --dataset: the same loss for the same seed."""
    spec = {"input_dim": 12, "hidden": [8], "output_dim": 3, "activation": "tanh"}
    m = hesspec.Model.from_spec(spec, seed=4, device="cpu").bind_dataset("mixture:sep=2", samples=50, seed=6)
    assert m.num_samples == 50 and m._data_label.startswith("mixture")
    (workdir / "spec.json").write_text(json.dumps(spec))
    r = run_cli(["loss", "--model", "spec.json", "--dataset", "mixture:sep=2", "--samples", "50", "--seed", "6",
                 "--device", "cpu"], cwd=workdir)
    cli_loss = float(r.stdout.split()[1])
    # the CLI initialises with --seed 6 too: compare at those parameters
    m.set_params(hesspec.Model.from_spec(spec, seed=6, device="cpu").get_params())
    assert m.loss() == pytest.approx(cli_loss, rel=1e-15)
    with pytest.raises(hesspec.Error, match="no-such"):
        m.bind_dataset("no-such-set")
    assert m.num_samples == 50  # a failed bind keeps the data bound before
