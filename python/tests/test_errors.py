"""Bad input raises hesspec.Error with the library's status and a message naming the argument."""
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import data, mlp

import hesspec


@pytest.fixture
def model():
    X, y = data([10], n=16, classes=4)
    return hesspec.Model.from_torch(mlp(seed=1), [10], device="cpu").bind(X, y)


def raises(fn, *names, status="HS_E_INVALID"):
    with pytest.raises(hesspec.Error) as e:
        fn()
    for n in names:
        assert n in e.value.message, f"{e.value.message!r} does not name {n!r}"
    assert e.value.status_name == status, e.value
    return e.value


def test_bind_shapes_dtypes_nan(model):
    X, y = data([10], n=16, classes=4)
    raises(lambda: model.bind(X[:, :9], y), "X", "(N, 10)")
    raises(lambda: model.bind(X[0], y), "X")
    raises(lambda: model.bind(X, y[:15]), "y", "15 labels")
    raises(lambda: model.bind(X, y.astype(np.float64)), "y", "integer")
    raises(lambda: model.bind(X, y + 4), "y", "outside [0, 4)")
    raises(lambda: model.bind(X.astype(np.complex128), y), "X", "complex")
    raises(lambda: model.bind(np.array([["a"] * 10] * 16), y), "X", "dtype")
    Xn = X.copy()
    Xn[3, 4] = np.nan
    raises(lambda: model.bind(Xn, y), "X", "[3, 4]", "NaN")
    raises(lambda: model.bind(torch.from_numpy(Xn), torch.from_numpy(y)), "X", "NaN")
    raises(lambda: model.bind("X.npy", y), "X", "str")
    raises(lambda: model.bind(X, y, batch=0), "batch")
    raises(lambda: model.bind(X, y, batch=17), "batch")
    # a failed bind keeps the previous binding
    assert model.num_samples == 16 and np.isfinite(model.loss_grad()[0])


def test_products_and_params(model):
    P = model.num_params
    raises(lambda: model.hvp(np.ones(P + 1)), "V", f"({P},)")
    raises(lambda: model.hvp(np.ones((2, 3, P))), "V")
    raises(lambda: model.hvp(np.ones(P), operator="hess"), "operator", "hessian")
    V = np.ones(P)
    V[7] = np.inf
    raises(lambda: model.hvp(V), "V", "[7]")
    raises(lambda: model.hvp(torch.ones(P, dtype=torch.complex128)), "V", "complex")
    raises(lambda: model.set_params(np.ones(P - 1)), "theta", f"({P},)")
    t = np.ones(P)
    t[0] = np.nan
    raises(lambda: model.set_params(t), "theta", "NaN")
    unbound = hesspec.Model.from_torch(mlp(seed=1), [10], device="cpu")
    raises(lambda: unbound.hvp(np.ones(P)), "hvp", "bind")
    raises(lambda: hesspec.spectrum(unbound), "model", "bind")


def test_spectral_arguments(model):
    raises(lambda: hesspec.spectrum(model, steps=model.num_params + 1), "steps")
    raises(lambda: hesspec.spectrum(model, steps=0), "steps")
    raises(lambda: hesspec.spectrum(model, probes=0), "probes")
    raises(lambda: hesspec.spectrum(model, steps=10, sigma=-1.0), "sigma")
    raises(lambda: hesspec.spectrum(model, steps=10, seed=-1), "seed")
    raises(lambda: hesspec.spectrum(model, steps=10, grid_range=(2, 1)), "grid_range")
    raises(lambda: hesspec.spectrum(np.eye(3)), "model")
    raises(lambda: hesspec.eig(model), "top=k")
    raises(lambda: hesspec.eig(model, top=2, exact=True), "exactly one")
    raises(lambda: hesspec.eig(model, top=0), "top")
    raises(lambda: hesspec.eig(model, exact=True, exact_limit=10), "exact", "10")
    raises(lambda: hesspec.trace(model, method="hutch"), "method")
    raises(lambda: hesspec.trace(model, probes=2, method="hutch++"), "probes")


def test_unsupported_modules_and_options():
    e = raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1), nn.Linear(4, 2)), [4]),
               "module", "`1`", "Dropout")
    assert "unsupported module" in e.message
    raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 4), nn.GELU()), [4]), "GELU")
    raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 2)), [5]), "in_features")
    raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 2)), [4], loss="nll"), "loss")
    raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 2)), [4], batchnorm_mode="eval"),
           "batchnorm_mode")
    raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 2)), [4, 4]), "input_shape")
    raises(lambda: hesspec.Model.from_torch("net", [4]), "module")
    raises(lambda: hesspec.Model.from_torch(nn.Sequential(nn.Linear(4, 2)), [4], dtype="f16"), "dtype")


def test_files_and_devices(workdir):
    raises(lambda: hesspec.Model.load(workdir / "missing.json"), "spec_path", "missing.json", status="HS_E_IO")
    (workdir / "bad.json").write_text('{"input_dim": 3, "hiden": [4], "output_dim": 2}')
    raises(lambda: hesspec.Model.load(workdir / "bad.json"), "bad.json", "hiden")
    (workdir / "ok.json").write_text('{"input_dim": 3, "hidden": [4], "output_dim": 2}')
    raises(lambda: hesspec.Model.load(workdir / "ok.json", workdir / "w.safetensors"), "w.safetensors",
           status="HS_E_IO")
    raises(lambda: hesspec.Model.load(workdir / "ok.json", device="tpu"), "device", "tpu")
    raises(lambda: hesspec.read_density(workdir / "ok.json"), "ok.json", "format")
    raises(lambda: hesspec.Model.from_spec({"input_dim": 3, "hidden": [4], "output_dim": 2}, seed=-1), "seed")
    raises(lambda: hesspec.Model.from_spec(["input_dim"]), "spec", "list")
    a = hesspec.Model.from_spec({"input_dim": 3, "hidden": [4], "output_dim": 2}, seed=5, device="cpu")
    b = hesspec.Model.load(workdir / "ok.json", device="cpu", seed=5)
    assert np.array_equal(a.get_params(), b.get_params())
    m = hesspec.Model.load(workdir / "ok.json", device="cpu")
    assert m.num_params == 3 * 4 + 4 + 4 * 2 + 2 and m.backend == "cpu"

def test_struct_layout_mismatch_is_named():
    """A package and a library of different versions fail at load, naming the struct."""
    from hesspec import _lib

    class Sizeof:
        restype = argtypes = None

        def __call__(self, name):
            return 1  # no mirrored struct is one byte

    class Handle:
        hs_abi_sizeof = Sizeof()

    with pytest.raises(hesspec.Error, match="hs_context_options is 1 bytes in the library"):
        _lib._check_layouts(Handle(), "libfake.so")
    # and the real library agrees with every mirror (lib() checked it when it loaded)
    assert _lib.lib().hs_abi_sizeof(b"hs_spectrum_options") == _lib.C.sizeof(_lib.SpectrumOptions)
    assert _lib.lib().hs_abi_sizeof(b"no_such_struct") == 0
