"""train, landscape and critical: the same numbers as `hesspec train` and `hesspec landscape`, a
critical point of a tanh net, bad arguments."""
import contextlib
import json
import re
import subprocess
import warnings

import numpy as np
import pytest
import torch
from conftest import cli, data, mlp, run_cli

import hesspec


def spec_files(workdir, net, X, y):
    """spec.json, w.safetensors (the module's parameters and running statistics), X.npy, Y.npy
    of a model converted from `net`, and the model (unbound)."""
    m = hesspec.Model.from_torch(net, [X.shape[1]], device="cpu")
    (workdir / "spec.json").write_text(json.dumps(m.spec))
    m.save(workdir / "w.safetensors")
    np.save(workdir / "X.npy", X)
    np.save(workdir / "Y.npy", y)
    return m


def raises(fn, *names):
    with pytest.raises(hesspec.Error) as e:
        fn()
    for n in names:
        assert n in e.value.message, f"{e.value.message!r} does not name {n!r}"
    assert e.value.status_name == "HS_E_INVALID", e.value
    return e.value


def test_train_equals_cli_bit_for_bit(workdir):
    X, y = data([10], n=40, classes=4, seed=3)
    m = spec_files(workdir, mlp(seed=5), X, y)
    run_cli(["train", "--model", "spec.json", "--weights", "w.safetensors", "--inputs", "X.npy", "--targets", "Y.npy",
             "--seed", "7", "--batch", "8", "--epochs", "3", "--lr", "0.05", "--momentum", "0.8", "--nesterov",
             "--schedule", "cosine", "--device", "cpu", "--out", "cli"], cwd=workdir)
    log = hesspec.train(m, torch.from_numpy(X), torch.from_numpy(y), epochs=3, lr=0.05, momentum=0.8, batch=8,
                        seed=7, schedule="cosine", nesterov=True, checkpoint_dir=workdir / "py", save_epochs=[1])
    cli = hesspec.Model.load(workdir / "spec.json", workdir / "cli" / "epoch-0003.safetensors", device="cpu")
    assert np.array_equal(m.get_params(), cli.get_params())
    assert (workdir / "py" / "epoch-0001.safetensors").exists() and (workdir / "py" / "last.safetensors").exists()
    py3 = hesspec.Model.load(workdir / "spec.json", workdir / "py" / "epoch-0003.safetensors", device="cpu")
    assert np.array_equal(py3.get_params(), cli.get_params())
    # the records: the CLI's log.csv (10 significant digits)
    assert isinstance(log, hesspec.TrainLog) and len(log) == 3 and log.steps == 15
    assert [r.epoch for r in log] == [1, 2, 3] and log[0].test_loss is None
    rows = np.genfromtxt(workdir / "cli" / "log.csv", delimiter=",", names=True)
    assert np.allclose(rows["loss"], log.loss, rtol=1e-9, atol=0)
    assert np.allclose(rows["lr"], log.lr, rtol=1e-9, atol=0)
    assert np.allclose(rows["accuracy"], log.accuracy, rtol=1e-9, atol=0)
    # the model is bound to the training data afterwards: its loss is the CLI checkpoint's
    assert m.num_samples == 40
    assert m.loss() == cli.bind(X, y).loss()


def test_train_curvature_along_training(workdir):
    """curvature_every: the rows of `hesspec train --curvature-every` (the same CSV but for the
    seconds), the first one the top eigenvalue of the initial Hessian on the first samples."""
    X, y = data([10], n=40, classes=4, seed=3)
    m = spec_files(workdir, mlp(seed=5, bn=False), X, y)
    theta0 = m.get_params()
    run_cli(["train", "--model", "spec.json", "--weights", "w.safetensors", "--inputs", "X.npy", "--targets", "Y.npy",
             "--seed", "2", "--batch", "10", "--epochs", "2", "--lr", "0.05", "--curvature-every", "3",
             "--curvature-samples", "16", "--device", "cpu", "--out", "cli"], cwd=workdir)
    log = hesspec.train(m, X, y, epochs=2, lr=0.05, batch=10, seed=2, curvature_every=3, curvature_samples=16,
                        checkpoint_dir=workdir / "py")
    cli = np.genfromtxt(workdir / "cli" / "curvature.csv", delimiter=",", names=True, skip_header=1)
    c = log.curvature
    assert len(c) == len(cli) and c.step[0] == 0 and list(c.step) == list(cli["step"])
    for k in ("lambda_max", "lambda_min", "grad_overlap"):
        assert np.allclose(c[k], cli[k], rtol=1e-9, atol=0, equal_nan=True), k
    assert log.curvature_seconds > 0 and log.training_seconds > 0
    # an independent look at row 0: Lanczos on the initial parameters over the first 16 samples
    m0 = hesspec.Model.load(workdir / "spec.json", workdir / "w.safetensors", device="cpu").bind(X[:16], y[:16])
    assert np.array_equal(m0.get_params(), theta0)
    top = hesspec.eig(m0, top=1).values[-1]
    assert c.lambda_max[0] == pytest.approx(top, rel=1e-7)
    with pytest.raises(hesspec.Error, match="curvature_path or checkpoint_dir"):
        hesspec.train(m, X, y, epochs=1, curvature_every=2)


def test_train_resume_and_bound_data(workdir):
    X, y = data([10], n=40, classes=4, seed=4)
    Xt, yt = data([10], n=12, classes=4, seed=9)
    net = mlp(seed=6)
    opts = dict(optimizer="adam", lr=0.01, batch=8, seed=3, test=(Xt, yt))
    a = hesspec.Model.from_torch(net, [10], device="cpu").bind(X, y)
    part = hesspec.train(a, epochs=2, checkpoint_dir=workdir / "run", log_path=workdir / "run" / "log.csv", **opts)
    assert len(part) == 2 and part[1].test_loss is not None and (workdir / "run" / "log.csv").exists()
    b = hesspec.Model.from_torch(net, [10], device="cpu")
    whole = hesspec.train(b, X, y, epochs=4, **opts)
    c = hesspec.Model.from_torch(net, [10], device="cpu")
    resumed = hesspec.train(c, X, y, epochs=4, resume=workdir / "run" / "epoch-0002.safetensors", **opts)
    assert np.array_equal(b.get_params(), c.get_params())
    assert len(resumed) == 4 and resumed.steps == whole.steps
    assert resumed[3].loss == whole[3].loss and resumed[3].test_loss == whole[3].test_loss
    assert abs(resumed[0].loss - whole[0].loss) <= 5e-10 * abs(whole[0].loss)


def test_landscape_equals_cli(workdir):
    X, y = data([10], n=24, classes=4, seed=2)
    m = spec_files(workdir, mlp(seed=3), X, y).bind(X, y)
    theta = m.get_params()
    run_cli(["landscape", "--model", "spec.json", "--weights", "w.safetensors", "--inputs", "X.npy", "--targets",
             "Y.npy", "--seed", "7", "--range", "-0.5:1,-1:0.25", "--points", "5,4", "--device", "cpu",
             "--out", "ls.json"], cwd=workdir)
    f = json.loads((workdir / "ls.json").read_text())
    ls = hesspec.landscape(m, dims=2, range=((-0.5, 1), (-1, 0.25)), points=(5, 4), seed=7,
                           out=workdir / "py.json", plot=workdir / "py.svg")
    # the file too: the CLI's apart from the clock fields and where the weights and data came from
    g = json.loads((workdir / "py.json").read_text())
    for key in ("elapsed_seconds", "created", "evaluation_seconds", "data", "weights"):
        f.pop(key, None), g.pop(key, None)
    assert g == f
    assert (workdir / "py.csv").exists() and (workdir / "py.svg").read_text().startswith("<")
    assert ls.loss.shape == (5, 4) and ls.accuracy.shape == (5, 4) and ls.directions.shape == (2, m.num_params)
    for key, got in (("loss", ls.loss), ("accuracy", ls.accuracy), ("alpha", ls.alpha), ("beta", ls.beta)):
        ref = np.array(f[key], dtype=float)
        assert np.allclose(got, ref, rtol=1e-12, atol=0), key
    assert np.array_equal(m.get_params(), theta)  # back at theta
    # 1D, 21 points over [-1, 1]: the centre is theta itself
    ls1 = hesspec.landscape(m, points=21, seed=7)
    assert ls1.loss.shape == (21,) and ls1.alpha[10] == 0 and ls1.beta is None
    assert ls1.loss[10] == m.loss()
    # given directions: the loss along them
    d = np.random.default_rng(0).standard_normal(m.num_params)
    lg = hesspec.landscape(m, directions=d, range=(0, 0.5), points=3)
    m.set_params(theta + 0.5 * d)
    assert lg.loss[2] == m.loss()
    m.set_params(theta)
    le = hesspec.landscape(m, dims=2, directions="eig", points=3)
    assert le.eigenvalues is not None and le.eigenvalues[0] >= le.eigenvalues[1]


def test_critical_tanh_net_and_index():
    """A 1-1-1 tanh net regressing tanh(2x - 0.5): Newton-MR converges in a few steps (larger nets
    often stall at degenerate points, docs/critical.md); the point's index is 0 or 1."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Tanh(), torch.nn.Linear(1, 1)).double()
    g = np.random.default_rng(8)
    x = g.standard_normal((50, 1))
    y = np.tanh(2 * x - 0.5) + 0.1 * g.standard_normal((50, 1))
    m = hesspec.Model.from_torch(net, [1], loss="mse", device="cpu").bind(x, y)
    cp = hesspec.critical(m, gtol=1e-9)
    assert isinstance(cp, hesspec.Critical) and cp.stop
    assert cp.converged and cp.grad_norm <= 1e-9 and cp.history.shape == (cp.iterations + 1,)
    assert cp.history[0] == cp.grad_norm_start and cp.history[-1] == cp.grad_norm
    loss, grad = m.loss_grad()  # the model is left at the point found
    assert loss == cp.loss and np.linalg.norm(grad) <= 1e-9
    ev = hesspec.eig(m, exact=True).values
    index = int((ev < -1e-9 * np.abs(ev).max()).sum())
    assert 0 <= index <= 1, ev
    ix = hesspec.index(m)  # the CLI's count, as a dict
    assert ix["exact"] and ix["negative"] == index and ix["index"] == index / m.num_params
    assert ix["lambda_min"] == ev[0] and ix["lambda_max"] == ev[-1]


def test_critical_study_equals_cli(workdir):
    """hesspec.critical_study is `hesspec critical`: the same file (clock fields and checkpoint
    paths aside), the same points and indices, the fit over the starts."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1)).double()
    g = np.random.default_rng(8)
    x = g.standard_normal((40, 1))
    y = np.tanh(2 * x - 0.5) + 0.1 * g.standard_normal((40, 1))
    m = hesspec.Model.from_torch(net, [1], loss="mse", device="cpu").bind(x, y, source="xy")
    (workdir / "spec.json").write_text(json.dumps(m.spec))
    m.save(workdir / "w.safetensors")
    np.save(workdir / "X.npy", x)
    np.save(workdir / "Y.npy", y)
    args = ["critical", "--model", "spec.json", "--weights", "w.safetensors", "--inputs", "X.npy", "--targets",
            "Y.npy", "--device", "cpu", "--starts", "4", "--noise", "0.5", "--seed", "3", "--max-iter", "30",
            "--out", "cli.json"]
    r = subprocess.run([cli()] + args + ["--quiet"], cwd=workdir, capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    with pytest.warns(RuntimeWarning) if r.returncode else contextlib.nullcontext():
        st = hesspec.critical_study(m, starts=4, noise=0.5, seed=3, max_iter=30, checkpoints=workdir / "py.json",
                                    out=workdir / "py.json", plot=workdir / "py.svg")
    assert len(st.points) == 4 and len(st.indices) == 4 and st.checkpoints[3].endswith("py-start-003.safetensors")
    a, b = (json.loads((workdir / f).read_text()) for f in ("cli.json", "py.json"))
    for j in (a, b):
        for k in ("elapsed_seconds", "created", "weights", "data"):
            j.pop(k, None)
        for s in j["starts"]:
            s.pop("checkpoint"), s.pop("seconds")
    assert a == b
    assert [p.loss for p in st.points] == [s["loss"] for s in json.loads((workdir / "cli.json").read_text())["starts"]]
    assert (st.fit is None) == (a["fit"] is None)
    assert (workdir / "py.svg").read_text().startswith("<")
    with pytest.raises(hesspec.Error, match="noise"):
        hesspec.critical_study(m, starts=2)


def test_bad_arguments_name_them():
    X, y = data([10], n=16, classes=4)
    m = hesspec.Model.from_torch(mlp(seed=1), [10], device="cpu").bind(X, y)
    theta = m.get_params()
    raises(lambda: hesspec.train(m, X, y, lr=-1), "lr")
    raises(lambda: hesspec.train(m, X, y, optimizer="rmsprop"), "optimizer")
    raises(lambda: hesspec.train(m, X, y, schedule="step"), "schedule")
    raises(lambda: hesspec.train(m, X, y, epochs=0), "epochs")
    raises(lambda: hesspec.train(m, X[:, :9], y), "X", "(N, 10)")
    raises(lambda: hesspec.train(m, X, y, test=(X, y[:3])), "test[1]")
    raises(lambda: hesspec.train(m, X, y, test=X), "test")
    raises(lambda: hesspec.train(m, X, y, momentum_typo=1), "momentum_typo")
    raises(lambda: hesspec.train(m, X, y, save_epochs=[1]), "save_epochs")
    raises(lambda: hesspec.train(m, X, y, batch=15), "batch")  # a last batch of one sample with batch norm
    raises(lambda: hesspec.train("m", X, y), "model")
    assert np.array_equal(m.get_params(), theta) and m.num_samples == 16 and np.isfinite(m.loss())
    raises(lambda: hesspec.landscape(m, dims=3), "dims")
    raises(lambda: hesspec.landscape(m, points=1), "points")
    raises(lambda: hesspec.landscape(m, range=(1, -1)), "alpha")
    raises(lambda: hesspec.landscape(m, directions="pca"), "directions")
    raises(lambda: hesspec.landscape(m, directions=np.ones(5)), "directions[0]", f"({m.num_params},)")
    raises(lambda: hesspec.landscape(m, dims=2, directions=[theta]), "directions")
    raises(lambda: hesspec.critical(m, gtol=0), "gtol")
    raises(lambda: hesspec.critical(m, theta=1), "theta")
    raises(lambda: hesspec.critical(m, max_iter=0), "max_iter")
    unbound = hesspec.Model.from_torch(mlp(seed=1), [10], device="cpu")
    raises(lambda: hesspec.critical(unbound), "bound")
    raises(lambda: hesspec.landscape(unbound), "bound")
    raises(lambda: hesspec.train(unbound), "bound")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="not converged"):
            hesspec.critical(m, max_iter=1, gtol=1e-300)


def test_ctrl_c_cancels_train():
    import os
    import signal
    import threading
    import time

    X, y = data([10], n=64, classes=4, seed=3)
    m = hesspec.Model.from_torch(mlp(seed=2, bn=False), [10], device="cpu")
    when = {}

    def interrupt():
        when["t"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, interrupt)
    timer.start()
    try:
        hesspec.train(m, X, y, epochs=1000000, batch=1)
        raise AssertionError("training finished before the interrupt")
    except KeyboardInterrupt as e:
        latency = time.monotonic() - when["t"]
        assert "cancelled" in str(e)
    finally:
        timer.cancel()
    assert latency < 1.0, f"control came back {latency:.2f} s after SIGINT"
    # the model keeps the parameters reached, bound to the training data, and is usable
    assert m.num_samples == 64 and np.isfinite(m.loss())
    log = hesspec.train(m, epochs=1, batch=16)
    assert len(log) == 1 and np.isfinite(log[0].loss)


def test_compare_equals_cli(workdir):
    """hesspec.compare is `hesspec compare --preset`: the same summary (but its seconds column),
    progress lines on the way, a folder that is no report refused."""
    preset = {"dataset": "mixture:sep=4", "train_samples": 40, "test_samples": 20, "synthetic_dim": 6,
              "synthetic_classes": 3, "hidden": [4], "kinds": ["linear", "relu-bn"], "seeds": [1],
              "train": {"epochs": 1, "batch": 10},
              "analysis": {"epochs": [1], "samples": 20, "slq_steps": 8, "slq_probes": 2}}
    (workdir / "p.json").write_text(json.dumps(preset))
    run_cli(["compare", "--preset", "p.json", "--out", "cli", "--device", "cpu"], cwd=workdir)
    lines = []
    out = hesspec.compare(workdir / "p.json", workdir / "py", device="cpu", progress=lines.append)
    assert out.endswith("py") and (workdir / "py" / "index.html").exists() and lines

    def rows(folder):
        text = (workdir / folder / "summary.csv").read_text().splitlines()
        i = text[0].split(",").index("seconds")
        return [[c for j, c in enumerate(r.split(",")) if j != i] for r in text]
    assert rows("py") == rows("cli")
    (workdir / "plain").write_text("x")
    with pytest.raises(hesspec.Error, match="not a folder"):
        hesspec.compare(workdir / "p.json", workdir / "plain", device="cpu")



def test_compare_settings_are_the_cli_options(workdir):
    """settings= lays preset keys over the preset as the command line's options do; bad keys and
    values raise naming them, before any training."""
    preset = {"dataset": "mixture:sep=4", "train_samples": 40, "test_samples": 20, "synthetic_dim": 6,
              "synthetic_classes": 3, "hidden": [4], "kinds": ["linear"], "seeds": [1],
              "train": {"epochs": 1, "batch": 10},
              "analysis": {"epochs": [1], "samples": 20, "slq_steps": 8, "slq_probes": 2}}
    (workdir / "p.json").write_text(json.dumps(preset))
    run_cli(["compare", "--preset", "p.json", "--kinds", "relu,relu-bn", "--epochs", "2", "--lr", "0.1",
             "--out", "cli", "--device", "cpu"], cwd=workdir)
    hesspec.compare(workdir / "p.json", workdir / "py", device="cpu",
                    settings={"kinds": ["relu", "relu-bn"], "train.epochs": 2, "train.lr": 0.1,
                              "analysis.outliers": True})

    def rows(folder):
        text = (workdir / folder / "summary.csv").read_text().splitlines()
        i = text[0].split(",").index("seconds")
        return [[c for j, c in enumerate(r.split(",")) if j != i] for r in text]
    assert rows("py") == rows("cli") and len(rows("py")) > 2
    config = json.loads((workdir / "py" / "config.json").read_text())
    assert config["kinds"] == ["relu", "relu-bn"] and config["train"]["epochs"] == 2
    for settings, named in [({"analysis.nosuch": 1}, "analysis.nosuch"), ({"train.lr": "fast"}, "train.lr"),
                            ({"kinds": ["relu", "nosuch"]}, "nosuch"), ({"analysis.outliers": "maybe"}, "outliers"),
                            ({"seeds": {1: 2}}, "seeds")]:
        with pytest.raises(hesspec.Error, match=named):
            hesspec.compare(workdir / "p.json", workdir / "bad", device="cpu", settings=settings)
    assert not (workdir / "bad").exists()

def test_compare_settings_list_the_library_vocabulary(workdir):
    """compare_settings() is the table `hesspec compare` parses with: every key is one that
    settings= takes (a bad value is refused naming the key, not as an unknown key), every option
    is one `hesspec compare` lists, and the defaults are the comparison's."""
    info = hesspec.compare_settings()
    keys = [s.key for s in info]
    assert len(keys) == len(set(keys)) and {"kinds", "train.lr", "analysis.slq_steps"} <= set(keys)
    by_key = {s.key: s for s in info}
    assert by_key["train.epochs"].default == 8 and by_key["train.lr"].default == 0.05
    assert by_key["train.optimizer"].default == "sgd" and by_key["train.optimizer"].hint == "sgd|adam"
    assert by_key["analysis.outliers"].default is True and by_key["kinds"].is_list
    assert by_key["train.momentum"].option is None, "hesspec compare has no --momentum"
    helped = run_cli(["help", "compare"], cwd=workdir).stdout
    for s in info:
        if s.option:
            assert f"--{s.option}" in helped, s
        if s.kind == "text":
            continue  # any text is a dataset name until the data are opened
        with pytest.raises(hesspec.Error, match=re.escape(s.key)) as e:
            hesspec.compare(None, workdir / "never", device="cpu", settings={s.key: "\x01"})
        assert "unknown setting" not in str(e.value), s
    assert not (workdir / "never").exists()
