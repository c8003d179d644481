"""hesspec: exact Hessian spectra of neural networks (a binding of libhesspec.so over ctypes).

    import hesspec, torch
    model = hesspec.Model.from_torch(net, input_shape=[1, 28, 28])   # or Model.load("spec.json", "w.safetensors")
    model.bind(X, y)                                   # numpy arrays or CPU torch tensors
    loss, grad = model.loss_grad()
    HV = model.hvp(V)                                  # V: (P,) or (k, P); H V of V's type
    d = hesspec.spectrum(model, steps=80, probes=10)   # SLQ density: d.grid, d.density, d.nodes, d.weights
    d.save("density.json"); d.plot()
    top = hesspec.eig(model, top=3).values
    tr = hesspec.trace(model, probes=100, method="hutch++")
    log = hesspec.train(model, X, y, epochs=10, lr=0.01)   # trains in place; per-epoch records
    ls = hesspec.landscape(model, dims=2)              # ls.alpha, ls.beta, ls.loss, ls.accuracy
    cp = hesspec.critical(model, gtol=1e-8)            # Newton-MR; the model left at the point

The library is found through the HESSPEC_LIBRARY environment variable, else beside this package
(pip install), else in the repository's build/ folder. Details: docs/python.md.
"""
from ._errors import Error
from ._model import Model
from ._spectra import Density, Eigen, Trace, eig, read_density, spectrum, trace
from ._train import (Critical, CriticalStudy, Landscape, SettingInfo, TrainLog, TrainRecord, compare,
                     compare_settings, critical, critical_study, index, landscape, train)

__version__ = "0.2.0"
__all__ = ["Error", "Model", "Density", "Eigen", "Trace", "spectrum", "eig", "trace", "read_density",
           "TrainLog", "TrainRecord", "Landscape", "Critical", "CriticalStudy", "train", "landscape", "critical",
           "critical_study", "index", "compare", "compare_settings", "SettingInfo"]
