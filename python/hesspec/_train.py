"""hesspec.train / landscape / critical: the trainer of `hesspec train`, loss landscapes and
Newton-MR critical points (docs/training.md, docs/experiments.md, docs/critical.md)."""
import ctypes as C
import math
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np

from . import _arrays
from ._errors import NOMEM, Error, invalid
from ._lib import (CriticalResult, CriticalStudy as _CStudy, HessianIndex, LandscapeProvenance, LandscapeResult, P_dbl,
                   CompareSummary, TrainLog as _CTrainLog, lib)
from ._model import DTYPES, Context, Model, path_arg, seed_arg
from ._spectra import _count, _run_info

OPTIMIZERS = {"sgd": 0, "adam": 1}
SCHEDULES = {"constant": 0, "cosine": 1}
DIRECTIONS = {"random": 0, "eig": 2}


def _model_arg(model, need_data=True):
    if not isinstance(model, Model):
        raise invalid(f"model: expected a hesspec.Model, got {type(model).__name__}")
    if need_data:
        model._need_data("model")
    return model


def _real(x, name):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not math.isfinite(x):
        raise invalid(f"{name}: expected a finite number, got {x!r}")
    return float(x)


def _nan_none(x):
    return None if isinstance(x, float) and math.isnan(x) else x


# ---- training ----

@dataclass
class TrainRecord:
    """One epoch (1-based: the state after that many epochs). accuracy is None for mse;
    test_loss and test_accuracy None without test data."""
    epoch: int
    loss: float
    accuracy: float
    test_loss: float
    test_accuracy: float
    lr: float
    seconds: float


class TrainLog(list):
    """The per-epoch TrainRecords (a list), with `steps` (optimiser steps in all) and the columns as
    arrays: log.loss, log.accuracy, log.test_loss, log.test_accuracy, log.lr, log.seconds, log.epoch
    (NaN where a record has None)."""

    def __init__(self, records, steps, curvature=None, curvature_seconds=0.0, training_seconds=0.0):
        super().__init__(records)
        self.steps = steps
        # with curvature_every: the CSV's rows (step, epoch, lambda_max, lambda_min, grad_overlap,
        # seconds) as a numpy record array, and the time they took beside the training's
        self.curvature = curvature
        self.curvature_seconds, self.training_seconds = curvature_seconds, training_seconds

    def __getattr__(self, name):
        if name in TrainRecord.__dataclass_fields__:
            return np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in self], dtype=float)
        raise AttributeError(name)

    def __repr__(self):
        last = f", last loss {self[-1].loss:.6g}" if self else ""
        return f"hesspec.TrainLog({len(self)} epochs, {self.steps} steps{last})"


def _read_curvature(path):
    """The curvature CSV (a "# hesspec curvature: ..." line, the header, the rows) as a record array."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return np.atleast_1d(np.genfromtxt(lines, delimiter=",", names=True, dtype=float)).view(np.recarray)


_TRAIN_EXTRA = {  # the other hs_train_config fields by their C names: kind
    "dampening": "real", "nesterov": "bool", "beta1": "real", "beta2": "real", "eps": "real", "lr_min": "real",
    "bn_momentum": "real", "eval_batch": "count0", "checkpoint_dtype": "dtype", "keep_last": "bool",
    "log_path": "path", "curvature_every": "count0", "curvature_samples": "count0", "overlap_k": "count0",
    "curvature_path": "path",
}


def train(model, X=None, y=None, epochs=10, lr=0.01, optimizer="sgd", momentum=0.9, batch=128, seed=0,
          schedule="constant", weight_decay=0.0, test=None, checkpoint_dir=None, save_epochs=(), resume=None,
          **config):
    """Trains the model in place on X, y (numpy or CPU torch, as bind takes them; None: the data
    bound now) with PyTorch's update rules, as `hesspec train` does with the same options, data and
    seed (bit for bit): `epochs` epochs of minibatches of `batch` samples reshuffled from `seed`,
    optimizer "sgd" (momentum) or "adam", schedule "constant" or "cosine" (to lr_min), the
    optimiser's coupled weight_decay. test=(X_test, y_test) is evaluated after every epoch.
    checkpoint_dir: "<dir>/epoch-EEEE.safetensors" (+ .optim) after the epochs of save_epochs
    (0 = the start) and the last one, and "<dir>/last.safetensors" after each (keep_last);
    resume: such a checkpoint of a run with the same options, continued bit for bit.
    Other fields of hs_train_config by their C names: dampening, nesterov, beta1, beta2, eps,
    lr_min, bn_momentum, eval_batch, checkpoint_dtype ("f64"|"f32"), keep_last, log_path, and the
    curvature along training: curvature_every=N (lambda_max, lambda_min and the gradient's overlap
    with the top overlap_k eigenspace, on the first curvature_samples samples, every N steps, into
    curvature_path, default "<checkpoint_dir>/curvature.csv"; TrainLog.curvature holds the rows).
    Returns a TrainLog of per-epoch TrainRecords. Afterwards the model is bound to X, y (with its
    previous batch size). Ctrl-C cancels it (KeyboardInterrupt; the model keeps the parameters of
    the last step taken, and checkpoints written stay)."""
    _model_arg(model, need_data=X is None)
    L = lib()
    c = L.hs_train_config_defaults()
    if optimizer not in OPTIMIZERS:
        raise invalid(f"optimizer: expected \"sgd\" or \"adam\", got {optimizer!r}")
    c.optimizer = OPTIMIZERS[optimizer]
    if schedule not in SCHEDULES:
        raise invalid(f"schedule: expected \"constant\" or \"cosine\", got {schedule!r}")
    c.schedule = SCHEDULES[schedule]
    c.lr = _real(lr, "lr")
    c.momentum = _real(momentum, "momentum")
    c.weight_decay = _real(weight_decay, "weight_decay")
    c.epochs = _count(epochs, "epochs")
    c.batch = _count(batch, "batch")
    c.seed = seed_arg(seed)
    for k, v in config.items():
        kind = _TRAIN_EXTRA.get(k)
        if kind is None:
            raise invalid(f"{k}: not an option of train (hs_train_config fields: {', '.join(_TRAIN_EXTRA)})")
        if kind == "real":
            v = _real(v, k)
        elif kind == "bool":
            if not isinstance(v, (bool, int, np.integer)):
                raise invalid(f"{k}: expected True or False, got {v!r}")
            v = int(bool(v))
        elif kind == "count0":
            v = _count(v, k, lo=0)
        elif kind == "dtype":
            if v not in DTYPES:
                raise invalid(f"{k}: expected \"f64\" or \"f32\", got {v!r}")
            v = DTYPES[v]
        else:
            v = path_arg(v, k)
        setattr(c, k, v)
    c.checkpoint_dir = path_arg(checkpoint_dir, "checkpoint_dir")
    c.resume = path_arg(resume, "resume")
    if c.curvature_every and not c.curvature_path:
        if checkpoint_dir is None:
            raise invalid("curvature_every: needs curvature_path or checkpoint_dir (the CSV goes there)")
        c.curvature_path = os.path.join(os.fsencode(checkpoint_dir), b"curvature.csv")
    curv_path = c.curvature_path
    try:
        epochs_saved = [_count(e, "save_epochs", lo=0) for e in save_epochs]
    except TypeError:
        raise invalid(f"save_epochs: expected a sequence of epochs, got {save_epochs!r}") from None
    if len(epochs_saved) > len(c.save_epochs):
        raise invalid(f"save_epochs: at most {len(c.save_epochs)} epochs, got {len(epochs_saved)}")
    c.save_epochs[:len(epochs_saved)] = epochs_saved
    c.n_save = len(epochs_saved)
    if epochs_saved and checkpoint_dir is None:
        raise invalid("save_epochs: needs checkpoint_dir")

    test_h = None
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) != 2:
            raise invalid(f"test: expected an (X, y) pair or None, got {type(test).__name__}")
        test_h, _, _ = model._dataset(test[0], test[1], "test[0]", "test[1]")
    own = None
    try:
        if X is None:
            if y is not None:
                raise invalid("X: None (the bound data) but y given")
            train_h, label = model._data, model._data_label
        else:
            if y is None:
                raise invalid("y: needed with X")
            own, _, label = model._dataset(X, y, "X", "y")
            train_h = own
        log = _CTrainLog()
        try:
            model._ctx.call_long(L.hs_train, model._h, train_h, test_h, C.byref(c), C.byref(log), what="train")
        finally:
            if own is not None:
                # hs_train binds the model to the training data again, whatever its outcome, once
                # its options passed: the old data may still be bound after an early failure,
                # so they are kept until the model is closed
                model._adopt(own, label, keep_old=True)
                own = None
        try:
            recs = [TrainRecord(int(r.epoch), r.loss, _nan_none(r.accuracy), _nan_none(r.test_loss),
                                _nan_none(r.test_accuracy), r.lr, r.seconds) for r in log.records[:log.n]]
            curv = None
            if c.curvature_every:
                curv = _read_curvature(os.fsdecode(curv_path))
            return TrainLog(recs, int(log.steps), curv, log.curvature_seconds, log.training_seconds)
        finally:
            L.hs_train_log_free(C.byref(log))
    finally:
        if own is not None:
            L.hs_dataset_destroy(own)
        if test_h is not None:
            L.hs_dataset_destroy(test_h)


# ---- landscapes ----

@dataclass
class Landscape:
    """The loss (and accuracy; None for mse) at theta + alpha d1 (+ beta d2): `alpha` (na,),
    `beta` (nb,) or None in 1D, `loss` and `accuracy` of shape (na,) in 1D and (na, nb) in 2D,
    `directions` (dims, P), `eigenvalues` of eig directions (largest first; else None)."""
    dims: int
    alpha: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    directions: np.ndarray
    eigenvalues: tuple = None
    seconds: float = 0.0


def _pair(x, name):
    try:
        lo, hi = (_real(v, name) for v in x)
    except (TypeError, ValueError, Error):
        raise invalid(f"{name}: expected (lo, hi) with lo < hi, got {x!r}") from None
    return lo, hi


def landscape(model, dims=1, directions="random", range=(-1.0, 1.0), points=21, seed=0, out=None, plot=None):
    """The loss landscape of the model over its bound data, as `hesspec landscape`: the loss at
    theta + alpha d1 (+ beta d2) on a grid, theta the current parameters (the model is back at
    them afterwards). directions: "random" (Gaussian of `seed`, filter-normalised; the CLI's
    --seed), "eig" (unit top Hessian eigenvectors by Lanczos from `seed`), or arrays used as
    given: d1 of shape (P,) in 1D, (d1, d2) or a (2, P) array in 2D. range: (lo, hi) of alpha,
    in 2D ((lo, hi), (lo, hi)) for alpha and beta (one pair: both). points: per axis, an int
    (both) or (na, nb). out: also write the "hesspec.landscape/1" file there (and its CSV beside
    it), as `hesspec landscape --out`; plot: an SVG of the curve or heat map. Ctrl-C cancels it."""
    _model_arg(model)
    L = lib()
    o = L.hs_landscape_defaults()
    if dims not in (1, 2) or isinstance(dims, bool):
        raise invalid(f"dims: expected 1 or 2, got {dims!r}")
    o.dims = dims
    keep = []
    if isinstance(directions, str):
        if directions not in DIRECTIONS:
            raise invalid(f"directions: expected \"random\", \"eig\" or arrays, got {directions!r}")
        o.directions = DIRECTIONS[directions]
    else:
        P = model.num_params
        rows = list(directions) if isinstance(directions, (tuple, list)) else None
        if rows is None:
            D = _arrays.floats(directions, "directions")
            rows = [D] if D.ndim == 1 else list(D)
        if len(rows) != dims:
            raise invalid(f"directions: {len(rows)} given for dims={dims}: expected {dims} of shape ({P},)")
        for i, r in enumerate(rows):
            a = np.ascontiguousarray(_arrays.floats(r, f"directions[{i}]"), dtype=np.float64)
            if a.shape != (P,):
                raise invalid(f"directions[{i}]: shape {tuple(a.shape)}: expected ({P},), the model's parameter count")
            keep.append(a)
        o.directions = 1
        o.d1 = keep[0].ctypes.data_as(P_dbl)
        if dims == 2:
            o.d2 = keep[1].ctypes.data_as(P_dbl)
    o.seed = seed_arg(seed)
    rng = range
    nested = isinstance(rng, (tuple, list)) and len(rng) == 2 and all(isinstance(v, (tuple, list, np.ndarray))
                                                                       for v in rng)
    if dims == 1 or not nested:
        a = _pair(rng, "range")
        b = a
    else:
        a, b = _pair(rng[0], "range"), _pair(rng[1], "range")
    o.alpha[0], o.alpha[1] = a
    o.beta[0], o.beta[1] = b
    if isinstance(points, (tuple, list)):
        if len(points) != dims:
            raise invalid(f"points: expected {dims} counts, got {points!r}")
        pts = [_count(p, "points", lo=2) for p in points]
    else:
        pts = [_count(points, "points", lo=2)] * dims
    o.points[0] = pts[0]
    o.points[1] = pts[1] if dims == 2 else o.points[1]
    out_b = path_arg(out, "out")
    plot_b = path_arg(plot, "plot")
    r = LandscapeResult()
    model._ctx.call_long(L.hs_landscape, model._h, C.byref(o), C.byref(r), what="landscape")
    try:
        if out_b:
            pv = LandscapeProvenance()
            pv.weights, pv.data = model._labels()
            model._ctx.call(L.hs_landscape_save, model._h, C.byref(o), C.byref(r), C.byref(pv), out_b, what="out")
        if plot_b:
            title = f"loss along {directions if isinstance(directions, str) else 'given'} direction{'s' if dims == 2 else ''}"
            model._ctx.call(L.hs_landscape_plot, model._ctx.h, C.byref(r), title.encode(), plot_b, what="plot")
        na, nb, P = r.na, r.nb, r.params
        shape = (na,) if r.dims == 1 else (na, nb)

        def arr(p, n):
            return np.ctypeslib.as_array(p, (n,)).copy() if p else None

        loss = arr(r.loss, na * nb).reshape(shape)
        acc = arr(r.accuracy, na * nb)
        ev = tuple(_nan_none(float(v)) for v in r.eigenvalues[:r.dims])
        return Landscape(r.dims, arr(r.alpha, na), arr(r.beta, nb) if r.dims == 2 else None, loss,
                         acc.reshape(shape) if acc is not None else None,
                         arr(r.directions, r.dims * P).reshape(r.dims, P),
                         None if all(v is None for v in ev) else ev, r.seconds)
    finally:
        L.hs_landscape_free(C.byref(r))


# ---- critical points ----

@dataclass
class Critical:
    """A Newton-MR run: `loss` and `grad_norm` at the point found (the model is left there),
    `grad_norm_start`, `iterations`, `converged` (grad_norm <= gtol), `stop` (why it stopped),
    `history` (iterations + 1) of ||grad||, and the work done."""
    loss: float
    grad_norm: float
    grad_norm_start: float
    iterations: int
    converged: bool
    stop: str
    history: np.ndarray
    minres_iterations: int = 0
    hvps: int = 0
    gradients: int = 0
    fallback_steps: int = 0
    seconds: float = 0.0


def critical(model, gtol=1e-8, max_iter=100, noise=0.0, seed=0, start=0, theta=1e-2, minres_max=0,
             minres_rtol=1e-10):
    """A critical point (of any index) near the model's parameters by Newton-MR over its bound
    data, as one start of `hesspec critical`: minimises 0.5 ||grad||^2 with MINRES directions
    until ||grad|| <= gtol (absolute) or max_iter steps. noise > 0 first perturbs every tensor
    by noise ||theta_t|| / sqrt(n_t) z from (seed, start). theta: MINRES's inexactness (0 =
    solve to minres_rtol); minres_max: its iterations per step (0 = min(1000, max(100, 4P))).
    The model is left at the point found; hesspec.eig(model, exact=True) then gives its index.
    A run that does not converge returns converged=False with a RuntimeWarning. Ctrl-C cancels."""
    _model_arg(model)
    L = lib()
    o = L.hs_critical_defaults()
    _newton_options(o, gtol, max_iter, noise, seed, theta, minres_max, minres_rtol)
    o.start = _count(start, "start", lo=0)
    r = CriticalResult()
    model._ctx.call_long(L.hs_critical, model._h, C.byref(o), C.byref(r), what="critical")
    try:
        out = _critical(r)
    finally:
        L.hs_critical_free(C.byref(r))
    if not out.converged:
        warnings.warn(f"hesspec.critical: not converged after {out.iterations} iterations ({out.stop}): "
                      f"||grad|| = {out.grad_norm:.3g} > gtol = {o.gtol:g}", RuntimeWarning, stacklevel=2)
    return out


def _newton_options(o, gtol, max_iter, noise, seed, theta, minres_max, minres_rtol):
    o.gtol = _real(gtol, "gtol")
    o.max_iter = _count(max_iter, "max_iter")
    o.noise = _real(noise, "noise")
    o.seed = seed_arg(seed)
    o.theta = _real(theta, "theta")
    o.minres_max = _count(minres_max, "minres_max", lo=0)
    o.minres_rtol = _real(minres_rtol, "minres_rtol")


def _critical(r):
    """A Critical from an hs_critical_result (copied)."""
    hist = np.ctypeslib.as_array(r.history, (r.iterations + 1,)).copy() if r.history else np.empty(0)
    return Critical(r.loss, r.grad_norm, r.grad_norm_start, int(r.iterations), bool(r.converged),
                    r.stop.decode() if r.stop else "", hist, int(r.minres_iterations), int(r.hvps),
                    int(r.gradients), int(r.fallback_steps), r.seconds)


def _index_dict(x):
    return {"index": x.index, "index_stderr": _nan_none(x.index_stderr), "exact": bool(x.exact),
            "negative": int(x.negative) if x.exact else None, "negative_tol": x.negative_tol,
            "lambda_min": x.lambda_min, "lambda_max": x.lambda_max, "params": int(x.params)}


def _index_options(o, exact_limit, tol, steps, probes, seed):
    o.exact_limit = _count(exact_limit, "exact_limit", lo=0)
    o.tol = 0.0 if tol is None else _real(tol, "tol")
    o.steps = 0 if steps is None else _count(steps, "steps")
    o.probes = _count(probes, "probes")
    o.seed = seed_arg(seed)


def index(model, exact_limit=3000, tol=None, steps=None, probes=10, seed=0):
    """The index of the model's current point, as `hesspec critical` reports it: the fraction of
    Hessian eigenvalues below -negative_tol, exactly when P <= exact_limit (eigenvalues below
    -tol max|lambda|, tol default 1e-9 in f64), else by SLQ (steps, probes, seed; with its
    standard error). Returns a dict: index, index_stderr, exact, negative (the count when
    exact), negative_tol, lambda_min, lambda_max, params. Ctrl-C cancels it."""
    _model_arg(model)
    L = lib()
    o = L.hs_index_defaults()
    _index_options(o, exact_limit, tol, steps, probes, seed)
    x = HessianIndex()
    model._ctx.call_long(L.hs_model_index, model._h, C.byref(o), C.byref(x), what="index")
    return _index_dict(x)


@dataclass
class CriticalStudy:
    """`hesspec critical`: the `points` (Critical) reached from each start, their `indices`
    (dicts as hesspec.index returns), `checkpoints` (paths or None), `converged` (how many), and
    `fit` {alpha0, eps_c, rms} of index = alpha0 |1 - loss / eps_c|^(3/2), or None."""
    points: list
    indices: list
    checkpoints: list
    converged: int
    fit: dict = None


def critical_study(model, starts=1, noise=0.0, seed=0, gtol=1e-8, max_iter=100, theta=1e-2, minres_max=0,
                   minres_rtol=1e-10, exact_limit=3000, index_tol=None, steps=None, probes=10, checkpoints=None,
                   out=None, plot=None):
    """Newton-MR from the model's parameters and starts - 1 copies perturbed by noise (seeded by
    seed and the start), the index of every point (index options as hesspec.index, SLQ seeded
    by seed), and the fit of index against loss: `hesspec critical` in one call. checkpoints:
    "C.json" writes C-start-NNN.safetensors per point; out: the "hesspec.critical/1" file;
    plot: its SVG. The model is left at the last start's point. Starts that do not converge
    are kept (converged counts them) with a RuntimeWarning. Ctrl-C cancels it."""
    _model_arg(model)
    L = lib()
    o = L.hs_critical_study_defaults()
    _newton_options(o.newton, gtol, max_iter, noise, seed, theta, minres_max, minres_rtol)
    o.starts = _count(starts, "starts")
    _index_options(o.index, exact_limit, index_tol, steps, probes, seed)
    ck, out_b, plot_b = path_arg(checkpoints, "checkpoints"), path_arg(out, "out"), path_arg(plot, "plot")
    o.checkpoint_prefix = ck
    s = _CStudy()
    model._ctx.call_long(L.hs_critical_study_run, model._h, C.byref(o), C.byref(s), what="critical")
    try:
        if out_b:
            model._ctx.call(L.hs_critical_study_save, model._h, C.byref(o), C.byref(s), C.byref(_run_info(model)), out_b,
                            what="out")
        if plot_b:
            model._ctx.call(L.hs_critical_study_plot, model._ctx.h, C.byref(s), plot_b, what="plot")
        res = CriticalStudy([_critical(s.points[k]) for k in range(s.starts)],
                            [_index_dict(s.indices[k]) for k in range(s.starts)],
                            [s.checkpoints[k].decode() if s.checkpoints[k] else None for k in range(s.starts)],
                            int(s.converged),
                            {"alpha0": s.alpha0, "eps_c": s.eps_c, "rms": s.rms} if s.fit else None)
    finally:
        L.hs_critical_study_free(C.byref(s))
    if res.converged < len(res.points):
        warnings.warn(f"hesspec.critical_study: {len(res.points) - res.converged} of {len(res.points)} starts did not "
                      f"reach ||grad|| <= {gtol:g} within {max_iter} iterations", RuntimeWarning, stacklevel=2)
    return res


# ---- comparisons ----

_NOTE = C.CFUNCTYPE(None, C.c_void_p, C.c_char_p)


@dataclass(frozen=True)
class SettingInfo:
    """One preset key of a comparison: its command-line option (None: presets and settings only),
    kind ("flag", "int", "float", "text", "choice", "custom"), value hint ("sgd|adam", "N",
    "K1,K2,..."), whether it takes a list, the range where there is one, the comparison's default
    (scalars: a number, bool or choice name; None for text and lists) and its help line."""
    key: str
    option: object
    kind: str
    hint: str
    is_list: bool
    range: tuple
    default: object
    help: str


_KINDS = ("flag", "int", "float", "text", "text", "choice", "custom")  # hs_setting_type's order
_SET_MIN, _SET_MAX = 1, 2


def _entries(table):
    i = 0
    while table[i].name or table[i].key:
        yield table[i]
        i += 1


def _default(cfg, key, s):
    """The value of a scalar setting in cfg, as Python has it; None for text and lists."""
    kind, value = _KINDS[s.type], C.c_double()
    if s.list_max or kind not in ("flag", "int", "float", "choice"):
        return None
    if lib().hs_compare_config_get(None, cfg, key.encode(), C.byref(value)) != 0:
        return None
    if kind == "choice":
        i = 0
        while s.choices[i].name:
            if s.choices[i].value == int(value.value):
                return s.choices[i].name.decode()
            i += 1
        return None
    return bool(value.value) if kind == "flag" else int(value.value) if kind == "int" else value.value


def _table(table, cfg, prefix="", options=None):
    """SettingInfo of the keyed entries with their values in cfg; options: the command-line names
    that count (None: all). The "train." keys' help lines are `hesspec train`'s: their defaults
    there are not the comparison's, so they are left out (`default` has the comparison's)."""
    L, out = lib(), []
    buf = C.create_string_buffer(256)
    for s in _entries(table):
        if not s.key:
            continue  # a command-line name only (hesspec compare's shorthand for a "train" key)
        name = s.name.decode() if s.name else None
        lo = s.min if s.bounds & _SET_MIN else None
        hi = s.max if s.bounds & _SET_MAX else None
        key = prefix + s.key.decode()
        help_text = (s.help or b"").decode()
        if prefix:
            help_text = re.sub(r"\s*\(default [^)]*\)", "", help_text).strip()
        out.append(SettingInfo(key=key, option=name if options is None or name in options else None,
                               kind=_KINDS[s.type], hint=L.hs_setting_value_hint(C.byref(s), buf, 256).decode(),
                               is_list=s.list_max > 0, range=(lo, hi), default=_default(cfg, key, s), help=help_text))
    return out


def compare_settings():
    """The keys `compare(settings=...)` and preset files take, from the library's own tables (the
    same that `hesspec compare` parses its options with), the "train." keys included; `option` is
    the table's `hesspec compare` option for the key, if it has one (the common options --dataset,
    --samples, --batch and --dtype set dataset, train_samples, train.batch and dtype besides)."""
    L = lib()
    compare = L.hs_compare_config_settings()
    names = {s.name.decode() for s in _entries(compare) if s.name}
    cfg = L.hs_compare_config_new()
    if not cfg:
        raise Error(NOMEM, "compare_settings: out of memory")
    try:
        return _table(compare, cfg) + _table(L.hs_train_config_settings(), cfg, "train.", options=names)
    finally:
        L.hs_compare_config_free(cfg)


def _setting_text(key, value):
    """A compare setting's value as the command line writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_setting_text(key, v) for v in value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    raise invalid(f"settings[{key!r}]: expected a number, string, bool or list, got {type(value).__name__}")


def compare(preset=None, out=None, device="auto", threads=0, progress=None, *, settings=None):
    """`hesspec compare --preset preset --out out` (hs_compare_run; docs/compare.md): trains every
    network kind and seed and analyses their Hessians along training, then writes the report
    folder `out` (index.html, summary.csv, plots/, runs/), built under a temporary name and
    renamed into place (an earlier report there is replaced).

    preset: a preset file (None: the defaults); settings: {preset key: value} laid over it, as
    the command line's options are ({"kinds": ["relu", "relu-bn"], "train.epochs": 2,
    "analysis.slq_steps": 30}); a bad key or value raises hesspec.Error naming it. The context
    computes in the settings' dtype. progress: a function of one line (str) per training run and
    analysis. Returns the folder's path. Ctrl-C cancels it (nothing is left behind)."""
    preset_b, out_b = path_arg(preset, "preset"), path_arg(out, "out")
    if out_b is None:
        raise invalid("out: the report folder is needed")
    if settings is not None and not isinstance(settings, dict):
        raise invalid(f"settings: expected a dict of preset keys, got {type(settings).__name__}")
    if progress is not None and not callable(progress):
        raise invalid(f"progress: expected a function of one line or None, got {type(progress).__name__}")
    L = lib()
    cfg = L.hs_compare_config_new()
    if not cfg:
        raise Error(NOMEM, "compare: out of memory")
    try:
        reader = Context(device="cpu", dtype="f64", threads=1)  # for the messages of reading the settings
        if preset_b is not None:
            reader.call(L.hs_compare_config_load, reader.h, cfg, preset_b, what="preset")
        for key, value in (settings or {}).items():
            if not isinstance(key, str):
                raise invalid(f"settings: keys are preset keys (str), got {key!r}")
            reader.call(L.hs_compare_config_set, reader.h, cfg, key.encode(), _setting_text(key, value).encode(),
                        what="settings")
        code = C.c_double()
        reader.call(L.hs_compare_config_get, reader.h, cfg, b"dtype", C.byref(code), what="settings")
        dtype = next(name for name, value in DTYPES.items() if value == int(code.value))
        ctx = Context(device=device, dtype=dtype, threads=threads)
        note = _NOTE(lambda user, line: progress(line.decode("utf-8", errors="replace"))) if progress else None
        summary = CompareSummary()
        try:
            ctx.call_long(L.hs_compare_run, ctx.h, cfg, out_b, C.cast(note, C.c_void_p) if note else None, None,
                          C.byref(summary), what="compare")
            if summary.synthetic_fallback and progress:
                progress("notice: Fashion-MNIST was not found (install the Debian package dataset-fashion-mnist or "
                         "set HESSPEC_DATA); a synthetic Gaussian mixture stood in")
        finally:
            L.hs_compare_summary_free(C.byref(summary))
    finally:
        L.hs_compare_config_free(cfg)
    return os.fsdecode(out_b)


__all__ = ["TrainRecord", "TrainLog", "Landscape", "Critical", "CriticalStudy", "SettingInfo", "train", "landscape",
           "critical", "critical_study", "index", "compare", "compare_settings"]
