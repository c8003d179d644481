"""hesspec.spectrum / eig / trace / read_density and the Density they return (docs/spectra.md)."""
import ctypes as C
import math
import os
import shutil
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._errors import Error, UNSUPPORTED, invalid
from ._lib import DensitySummary, EigenResult, P_dbl, RunInfo, SpectrumOptions, TraceResult, lib
from ._model import Context, Model, _curvature, path_arg, seed_arg

_SUMMARY_KEYS = ("lambda_min", "lambda_max", "trace", "trace_stderr", "negative_fraction",
                 "negative_fraction_stderr", "negative_tolerance", "grid_integral")


def _nan_none(x):
    return None if isinstance(x, float) and math.isnan(x) else x


def _count(x, name, lo=1, allow_none=False):
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo:
        raise invalid(f"{name}: expected an integer >= {lo}, got {x!r}")
    return int(x)


class _Operator:
    """An hs_operator of a model for the length of one call: the whole operator, or with
    block="NAME" the diagonal block of one tensor or layer (block="all" keeps the whole one;
    the caller runs the layers through layers() and block())."""

    def __init__(self, model, operator, block=None):
        if not isinstance(model, Model):
            raise invalid(f"model: expected a hesspec.Model, got {type(model).__name__}")
        if block is not None and (not isinstance(block, str) or not block):
            raise invalid(f"block: expected a tensor or layer name, \"all\" or None, got {block!r}")
        model._need_data("model")
        self.model, self.ctx = model, model._ctx
        h = C.c_void_p()
        self.ctx.call(lib().hs_operator_model, model._h, _curvature(operator), C.byref(h))
        self.whole = self.h = h.value
        if block is not None and block != "all":
            try:
                self.h = self.block(block)
            except BaseException:
                lib().hs_operator_destroy(self.whole)
                raise

    def block(self, name):
        """A block operator's handle (the caller destroys it)."""
        h = C.c_void_p()
        self.ctx.call(lib().hs_operator_block, self.whole, name.encode(), C.byref(h), what="block")
        return h.value

    def layers(self):
        """The model's layer names in parameter order (what block="all" runs)."""
        L = lib()
        n = C.c_size_t()
        self.ctx.call(L.hs_operator_layers, self.whole, C.byref(n), what="block")
        return [L.hs_operator_layer_name(self.whole, i).decode() for i in range(n.value)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.h != self.whole:
            lib().hs_operator_destroy(self.h)
        lib().hs_operator_destroy(self.whole)


def _run_info(model):
    info = RunInfo()
    info.weights, info.data = model._labels()
    return info


class Density:
    """An SLQ spectral density: `grid` and `density` (integrating to 1), `density_stderr`, the
    per-probe quadrature rules `nodes` and `weights` (lists of arrays, one per probe), `sigma`
    (the Gaussian kernel's STANDARD DEVIATION), `summary` (dict: lambda_min, lambda_max, trace,
    negative_fraction, ... with standard errors; None where undefined) and `params`."""

    def __init__(self, handle, ctx, path=None, owner=None):
        # ctx kept: the handle borrows it; owner: the combined density a block's handle belongs to
        self._h, self._ctx, self._path, self._owner = handle, ctx, path, owner
        L = lib()
        s = DensitySummary()
        L.hs_density_get_summary(handle, C.byref(s))
        g, d, e = P_dbl(), P_dbl(), P_dbl()
        n = L.hs_density_grid(handle, C.byref(g), C.byref(d), C.byref(e))
        self.grid = np.ctypeslib.as_array(g, (n,)).copy()
        self.density = np.ctypeslib.as_array(d, (n,)).copy()
        self.density_stderr = np.ctypeslib.as_array(e, (n,)).copy()
        self.nodes, self.weights = [], []
        for p in range(s.probes):
            nd, wt = P_dbl(), P_dbl()
            c = L.hs_density_probe(handle, p, C.byref(nd), C.byref(wt))
            self.nodes.append(np.ctypeslib.as_array(nd, (c,)).copy() if c else np.empty(0))
            self.weights.append(np.ctypeslib.as_array(wt, (c,)).copy() if c else np.empty(0))
        self.params, self.probes, self.steps, self.seed = s.params, s.probes, s.steps, s.seed
        self.sigma = s.sigma
        self.summary = {k: _nan_none(getattr(s, k)) for k in _SUMMARY_KEYS}
        self.summary["negative_fraction_bounds"] = [_nan_none(s.negative_fraction_bounds[0]),
                                                    _nan_none(s.negative_fraction_bounds[1])]
        self.summary["early_terminated_probes"] = s.early_terminated_probes
        self.timing = {k: _nan_none(getattr(s, k)) for k in ("operator_seconds", "reorth_seconds",
                                                             "host_seconds", "total_seconds")}
        self.timing["operator_applications"] = s.operator_applications
        # block="all": the layers' densities by name, in parameter order (empty otherwise)
        self.blocks = {}
        for i in range(L.hs_density_num_blocks(handle)):
            bh = L.hs_density_block(handle, i)
            self.blocks[L.hs_density_block_name(bh).decode()] = Density(bh, ctx, owner=self)
        name = L.hs_density_block_name(handle)
        self.block = name.decode() if name else None

    def save(self, path):
        """The "hesspec.density/1" JSON file at path and its CSV beside it (x.json -> x.csv), written
        atomically, as `hesspec spectrum --out` writes them. A density from read_density is copied."""
        path = os.fspath(path)
        st = lib().hs_density_save(self._h, path.encode())
        if st == UNSUPPORTED and self._path:
            shutil.copyfile(self._path, path)
            for src, dst in ((_csv(self._path), _csv(path)),):
                if os.path.exists(src):
                    shutil.copyfile(src, dst)
            return path
        self._ctx.check(st, "save")
        return path

    def smooth(self, sigma, grid=None):
        """The density re-smoothed from the stored rules with another kernel standard deviation
        (no new products), on `grid` (default: this density's grid)."""
        if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
            raise invalid(f"sigma: expected a positive standard deviation, got {sigma!r}")
        x = self.grid if grid is None else np.asarray(grid, dtype=np.float64)
        out = np.zeros_like(x)
        for th, w in zip(self.nodes, self.weights):
            out += (w[None, :] * np.exp(-0.5 * ((x[:, None] - th[None, :]) / sigma) ** 2)).sum(1)
        return out / (len(self.nodes) * sigma * math.sqrt(2 * math.pi))

    def plot(self, ax=None, log=True, **kwargs):
        """Draws the density with matplotlib (needed only here) on ax (default: a new figure);
        log: a logarithmic density axis over eight decades below the peak. Returns ax."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise Error(UNSUPPORTED, "plot: needs matplotlib (apt install python3-matplotlib)") from None
        if ax is None:
            _, ax = plt.subplots()
        y = self.density
        if log:
            floor = y.max() * 1e-8 if y.max() > 0 else 1e-300
            ax.semilogy(self.grid, np.maximum(y, floor), **kwargs)
        else:
            ax.plot(self.grid, y, **kwargs)
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("density")
        return ax

    def __del__(self):
        try:
            if getattr(self, "_h", None) and getattr(self, "_owner", None) is None:
                lib().hs_density_destroy(self._h)
                self._h = None
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def __repr__(self):
        s = self.summary
        return (f"hesspec.Density(params={self.params}, probes={self.probes}, steps={self.steps}, "
                f"sigma={self.sigma:.4g}, lambda=[{s['lambda_min']:.6g}, {s['lambda_max']:.6g}])")


def _csv(path):
    return path[:-5] + ".csv" if path.endswith(".json") else path + ".csv"


def spectrum(model, steps=80, probes=10, sigma=None, seed=0, operator="hessian", grid=None, grid_range=None,
             neg_tol=None, reorth="full", block=None):
    """The spectral density of the model's Hessian (operator="hessian"), Gauss-Newton matrix
    ("ggn") or residual H - G ("residual") over its bound data by stochastic Lanczos quadrature:
    `probes` Rademacher probes of `seed`, `steps` Lanczos steps each (<= P), Gaussians of
    standard deviation `sigma` (None: range / 200) on `grid` points (None: spacing <= sigma/4)
    over grid_range=(lo, hi) (None: the extreme nodes -/+ 5 sigma). Same numbers as
    `hesspec spectrum` with the same options. block: the diagonal block of one tensor or layer
    ("blocks.1.linear"), or "all": every layer's density (steps capped at its size) in
    `.blocks`, the block-diagonal operator's on top, as `--block all`. Ctrl-C cancels it."""
    L = lib()
    with _Operator(model, operator, block) as op:
        P = model.num_params if block is None or block == "all" else L.hs_operator_size(op.h)
        o = L.hs_spectrum_defaults()
        o.steps = _count(steps, "steps")
        if block is not None and block != "all":
            o.steps = min(o.steps, P)  # a block's quadrature is exact at its size, as with "all"
        if o.steps > P:
            raise invalid(f"steps: {steps} exceeds the model's {P} parameters (at most P Lanczos steps)")
        o.probes = _count(probes, "probes")
        o.seed = seed_arg(seed)
        if sigma is not None:
            if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
                raise invalid(f"sigma: expected a positive standard deviation or None, got {sigma!r}")
            o.sigma = float(sigma)
        if grid is not None:
            o.grid_points = _count(grid, "grid", lo=2)
        if grid_range is not None:
            try:
                lo, hi = (float(v) for v in grid_range)
            except (TypeError, ValueError):
                lo = hi = float("nan")
            if not lo < hi:
                raise invalid(f"grid_range: expected (lo, hi) with lo < hi, got {grid_range!r}")
            o.grid_min, o.grid_max = lo, hi
        if neg_tol is not None:
            if not (isinstance(neg_tol, (int, float)) and neg_tol >= 0 and math.isfinite(neg_tol)):
                raise invalid(f"neg_tol: expected a number >= 0 or None, got {neg_tol!r}")
            o.neg_tol = float(neg_tol)
        if reorth not in ("full", "partial"):
            raise invalid(f"reorth: expected \"full\" or \"partial\", got {reorth!r}")
        o.partial_reorth = reorth == "partial"
        o.weights, o.data = model._labels()
        h = C.c_void_p()
        if block == "all":
            return Density(_layer_densities(model, op, o), model._ctx)
        model._ctx.call_long(L.hs_spectrum, op.h, C.byref(o), C.byref(h), what="spectrum")
        return Density(h.value, model._ctx)


def _layer_densities(model, op, o):
    """SLQ on every layer's block (each on its own grid, steps capped at its size) combined into
    the block-diagonal operator's density: its handle."""
    L = lib()
    names = op.layers()
    parts = (C.c_void_p * len(names))()
    try:
        for i, name in enumerate(names):
            bh = op.block(name)
            try:
                bo = SpectrumOptions.from_buffer_copy(o)
                bo.steps = min(o.steps, L.hs_operator_size(bh))
                bo.grid_points, bo.grid_min, bo.grid_max = 0, 0.0, 0.0
                h = C.c_void_p()
                model._ctx.call_long(L.hs_spectrum, bh, C.byref(bo), C.byref(h), what=f"spectrum of {name}")
                parts[i] = h.value
            finally:
                L.hs_operator_destroy(bh)
    except BaseException:
        for p in parts:
            if p:
                L.hs_density_destroy(p)
        raise
    whole = C.c_void_p()
    model._ctx.call(L.hs_density_combine, parts, len(names), C.byref(o), C.byref(whole), what="spectrum")  # takes parts
    return whole.value


def read_density(path):
    """A "hesspec.density/1" file (from `hesspec spectrum`, Density.save or a job) as a Density."""
    path = os.fspath(path)
    ctx = Context(device="cpu")
    h = C.c_void_p()
    ctx.call(lib().hs_density_load, ctx.h, path.encode(), C.byref(h))
    return Density(h.value, ctx, path=path)


@dataclass
class Eigen:
    """Eigenpairs: `values` ascending, `vectors` (k, P) rows (None unless asked), `residuals`
    ||A y - theta y|| (Lanczos; None for exact), `converged` (False when fewer than asked met the
    tolerance: only those are here)."""
    values: np.ndarray
    vectors: np.ndarray = None
    residuals: np.ndarray = None
    requested: int = 0
    converged: bool = True
    steps: int = 0
    tol: float = 0.0
    asymmetry: float = None
    timing: dict = field(default_factory=dict)


def eig(model, top=None, bottom=None, exact=False, vectors=False, operator="hessian", tol=None, max_steps=None,
        seed=0, exact_limit=None, block=None, out=None):
    """Extremal eigenpairs by Lanczos (top=k largest or bottom=k smallest; residual tolerance
    `tol` relative to ||A||, default 1e-9 in f64) or all of them densely (exact=True; P <=
    exact_limit, default 6000). block: the diagonal block of one tensor or layer, or "all": a
    dict {layer: Eigen} (k capped at each block's size). out: also write the "hesspec.eig/1"
    file there, as `hesspec eig --out`. Ctrl-C cancels it."""
    if sum(x is not None and x is not False for x in (top, bottom, exact or None)) != 1:
        raise invalid("eig: give exactly one of top=k, bottom=k, exact=True")
    if block == "all" and vectors:
        raise invalid("vectors: needs one operator, not block=\"all\" (give one block)")
    L = lib()
    out_b = path_arg(out, "out")
    with _Operator(model, operator, block) as op:
        o = L.hs_eigen_defaults()
        dim = model.num_params if block is None or block == "all" else L.hs_operator_size(op.h)
        if exact:
            o.which = 2
            if exact_limit is not None:
                o.exact_limit = _count(exact_limit, "exact_limit")
        else:
            o.which = 0 if top is not None else 1
            k = _count(top if top is not None else bottom, "top" if top is not None else "bottom")
            if k > dim:
                raise invalid(f"{'top' if top is not None else 'bottom'}: {k} exceeds the dimension {dim}")
            o.count = k
        if tol is not None:
            if not (isinstance(tol, (int, float)) and tol > 0):
                raise invalid(f"tol: expected a positive relative tolerance, got {tol!r}")
            o.tol = float(tol)
        if max_steps is not None:
            o.max_steps = _count(max_steps, "max_steps")
        o.seed = seed_arg(seed)
        o.vectors = bool(vectors)
        if block != "all":
            r = EigenResult()
            model._ctx.call_long(L.hs_eigen, op.h, C.byref(o), C.byref(r), what="eig")
            try:
                if out_b:
                    model._ctx.call(L.hs_eigen_save, op.h, C.byref(o), C.byref(r), C.byref(_run_info(model)), None,
                                    out_b, what="out")
                res = _eigen(r, exact)
            finally:
                L.hs_eigen_free(C.byref(r))
            _warn_unconverged(res)
            return res

        def run(h, r, name):
            bo = type(o).from_buffer_copy(o)
            n = L.hs_operator_size(h)
            bo.count = min(o.count, n)
            if o.max_steps:
                bo.max_steps = min(o.max_steps, n)
            model._ctx.call_long(L.hs_eigen, h, C.byref(bo), C.byref(r), what=f"eig of {name}")

        res = _per_layer(model, op, EigenResult, run, L.hs_eigen_free, L.hs_eigen_save_blocks, o, out_b,
                         lambda r: _eigen(r, exact))
    for r in res.values():
        _warn_unconverged(r)
    return res


def _per_layer(model, op, result_type, run, free, save_blocks, o, out_b, convert):
    """block="all" of eig and trace: run(handle, result, name) on every layer's block, the
    `--block all` file through save_blocks when out_b, and {layer: convert(result)}; the results
    and the block operators are freed whatever happens."""
    names = op.layers()
    handles = (C.c_void_p * len(names))()
    rs = (result_type * len(names))()
    try:
        for i, name in enumerate(names):
            handles[i] = op.block(name)
            run(handles[i], rs[i], name)
        if out_b:
            model._ctx.call(save_blocks, len(names), handles, C.byref(o), rs, C.byref(_run_info(model)), out_b,
                            what="out")
        return {name: convert(rs[i]) for i, name in enumerate(names)}
    finally:
        for i in range(len(names)):
            free(C.byref(rs[i]))
            if handles[i]:
                lib().hs_operator_destroy(handles[i])


def _eigen(r, exact):
    """An Eigen from an hs_eigen_result (copied)."""
    k = r.found
    vals = np.ctypeslib.as_array(r.values, (k,)).copy() if k else np.empty(0)
    vecs = np.ctypeslib.as_array(r.vectors, (k, r.n)).copy() if r.vectors and k else None
    res = np.ctypeslib.as_array(r.residuals, (k,)).copy() if r.residuals and k else None
    return Eigen(vals, vecs, res, r.requested, r.found == r.requested, r.steps, r.tol, r.asymmetry if exact else None,
                 {"operator_seconds": r.operator_seconds, "total_seconds": r.total_seconds,
                  "operator_applications": r.operator_applications})


def _warn_unconverged(e):
    if not e.converged:
        warnings.warn(f"hesspec.eig: only {e.values.size} of {e.requested} eigenpairs converged to a relative "
                      f"residual of {e.tol:g} within {e.steps} Lanczos steps; raise max_steps or tol",
                      RuntimeWarning, stacklevel=3)


@dataclass
class Trace:
    """A trace estimate with its standard error (`stderr`; None with one sample) and the
    Hutchinson quadratic forms `samples`. float(t) is the estimate."""
    trace: float
    stderr: float
    samples: np.ndarray
    method: str
    probes: int
    sketch_rank: int = 0
    sketch_trace: float = None
    timing: dict = field(default_factory=dict)

    def __float__(self):
        return float(self.trace)


def trace(model, probes=100, method="hutchinson", seed=0, operator="hessian", block=None, out=None):
    """tr(H) (or G, H - G) by Hutchinson's estimator with `probes` Rademacher vectors of `seed`,
    or Hutch++ (method="hutch++", probes >= 3). block: the diagonal block of one tensor or layer,
    or "all": a dict {layer: Trace} (their sum is the trace). out: also write the
    "hesspec.trace/1" file there, as `hesspec trace --out`. Ctrl-C cancels it."""
    if method not in ("hutchinson", "hutch++"):
        raise invalid(f"method: expected \"hutchinson\" or \"hutch++\", got {method!r}")
    L = lib()
    out_b = path_arg(out, "out")
    with _Operator(model, operator, block) as op:
        o = L.hs_trace_est_defaults()
        o.probes = _count(probes, "probes", lo=3 if method == "hutch++" else 1)
        o.seed = seed_arg(seed)
        o.method = 1 if method == "hutch++" else 0
        if block != "all":
            r = TraceResult()
            model._ctx.call_long(L.hs_trace_estimate, op.h, C.byref(o), C.byref(r), what="trace")
            try:
                if out_b:
                    model._ctx.call(L.hs_trace_save, op.h, C.byref(o), C.byref(r), C.byref(_run_info(model)), out_b,
                                    what="out")
                return _trace(r, method)
            finally:
                L.hs_trace_est_free(C.byref(r))

        def run(h, r, name):
            model._ctx.call_long(L.hs_trace_estimate, h, C.byref(o), C.byref(r), what=f"trace of {name}")

        return _per_layer(model, op, TraceResult, run, L.hs_trace_est_free, L.hs_trace_save_blocks, o, out_b,
                          lambda r: _trace(r, method))


def _trace(r, method):
    """A Trace from an hs_trace_est (copied)."""
    s = np.ctypeslib.as_array(r.samples, (r.nsamples,)).copy() if r.nsamples else np.empty(0)
    return Trace(r.trace, _nan_none(r.trace_stderr), s, method, r.probes, r.sketch_rank,
                 r.sketch_trace if method == "hutch++" else None,
                 {"operator_seconds": r.operator_seconds, "total_seconds": r.total_seconds,
                  "operator_applications": r.operator_applications})


__all__ = ["Density", "Eigen", "Trace", "spectrum", "eig", "trace", "read_density"]
