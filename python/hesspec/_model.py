"""hesspec.Model: a network of the engine (from a spec file or a torch module), its parameters,
its bound data, loss, gradient and curvature products."""
import ctypes as C
import json
import os
import threading

import numpy as np

from . import _arrays
from ._errors import CANCELLED, Error, invalid
from ._lib import CURVATURE, HS_F32, HS_F64, P_dbl, SpecHead, c_size, lib, take_string

DTYPES = {"f64": HS_F64, "f32": HS_F32}


def path_arg(x, name):
    """None, or a path (str, bytes or os.PathLike) as bytes for the C calls; Error names `name`."""
    if x is None:
        return None
    if not isinstance(x, (str, bytes, os.PathLike)):
        raise invalid(f"{name}: expected a path or None, got {type(x).__name__}")
    p = os.fsencode(x)
    if not p:
        raise invalid(f"{name}: an empty path")
    return p


class Context:
    """One hs_context (device, dtype, threads) and the cancel flag its progress hook reads.

    Every object made from it keeps a reference to it, so it is destroyed last."""

    def __init__(self, device="auto", dtype="f64", threads=0):
        L = lib()
        if not isinstance(device, str):
            raise invalid(f"device: expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", got {device!r}")
        if dtype not in DTYPES:
            raise invalid(f"dtype: expected \"f64\" or \"f32\", got {dtype!r}")
        if not isinstance(threads, int) or threads < 0:
            raise invalid(f"threads: expected an integer >= 0 (0 = all cores), got {threads!r}")
        o = L.hs_context_defaults()
        o.device = device.encode()
        o.dtype = DTYPES[dtype]
        o.threads = threads
        h = C.c_void_p()
        st = L.hs_context_create(C.byref(o), C.byref(h))
        if st != 0:
            msg = L.hs_last_error(h).decode() if h.value else "out of memory"
            if h.value:
                L.hs_context_destroy(h)
            raise Error(st, f"device={device!r}: {msg}")
        self.h = h.value
        self.dtype = dtype
        self.flag = C.c_int(0)  # set by the main thread on Ctrl-C, read by hs_progress_cancel_flag
        L.hs_set_progress(self.h, C.cast(L.hs_progress_cancel_flag, C.c_void_p), C.addressof(self.flag))
        self.busy = threading.Lock()  # one call at a time (the context belongs to one thread at a time)

    @property
    def backend(self):
        return lib().hs_backend_name(self.h).decode()

    @property
    def device(self):
        return lib().hs_device_name(self.h).decode()

    def check(self, st, what=None):
        if st != 0:
            msg = lib().hs_last_error(self.h).decode()
            raise Error(st, f"{what}: {msg}" if what and not msg.startswith(what) else msg)

    def call(self, fn, *args, what=None):
        """A short call on the calling thread."""
        with self.busy:
            self.check(fn(*args), what)

    def call_long(self, fn, *args, what=None):
        """A long call in a worker thread (ctypes releases the GIL during it) while this thread
        waits in short joins: Ctrl-C sets the flag that the progress hook turns into
        HS_E_CANCELLED at the library's next step, the worker returns, and KeyboardInterrupt is
        raised here. Everything the call made is freed by the library; the model stays usable."""
        with self.busy:
            out = {}
            done = threading.Event()

            def work():
                try:
                    out["st"] = fn(*args)
                finally:
                    done.set()

            self.flag.value = 0
            threading.Thread(target=work, name="hesspec", daemon=True).start()
            interrupted = False
            # An Event, not Thread.join/is_alive: a KeyboardInterrupt raised inside join can leave
            # the thread looking finished while the C call still runs (a CPython race; seen here as
            # a crash when the next call came in), whereas done is set only after it returned.
            while not done.is_set():
                try:
                    done.wait(0.05)
                except KeyboardInterrupt:
                    interrupted = True
                    self.flag.value = 1
            self.flag.value = 0
            st = out.get("st", CANCELLED)
            if interrupted:
                why = lib().hs_last_error(self.h).decode() if st == CANCELLED else "finished before it stopped"
                raise KeyboardInterrupt(f"hesspec {what or 'call'} cancelled ({why})")
            self.check(st, what)

    def __del__(self):
        try:
            if getattr(self, "h", None):
                lib().hs_context_destroy(self.h)
                self.h = None
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass


def seed_arg(seed):
    """A seed as the C calls take it (uint64); Error names it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 64:
        raise invalid(f"seed: expected an integer in [0, 2^64), got {seed!r}")
    return int(seed)


def _curvature(operator):
    if operator not in CURVATURE:
        raise invalid(f"operator: expected \"hessian\", \"ggn\" or \"residual\", got {operator!r}")
    return CURVATURE[operator]


class Model:
    """A network of the engine at a parameter point, with its bound data.

    Make one with Model.load(spec_path, weights_path) or Model.from_torch(module, input_shape).
    device: "auto" (the first usable GPU, else the CPU), "cpu", "cuda" or "cuda:N"; dtype: "f64"
    (default) or "f32" arithmetic; threads: CPU threads (0 = all cores). Vectors in and out
    are in the flat parameter order of DESIGN.md (a torch module's parameters() order).
    Calls on one model are serialised; use one model per thread for parallel work."""

    def __init__(self, spec_json, origin="spec", device="auto", dtype="f64", threads=0, _ctx=None):
        self._ctx = _ctx or Context(device, dtype, threads)
        L = lib()
        h = C.c_void_p()
        self._h = None
        self._data = None
        self._retired = []  # datasets a binding may still borrow (see _adopt), freed at close
        self._data_label = None
        self._weights_label = None
        self._ctx.call(L.hs_model_create_json, self._ctx.h, spec_json.encode(), origin.encode(), C.byref(h))
        self._h = h.value
        self._P = L.hs_model_num_params(self._h)
        self._names = []
        self._shapes = []
        for i in range(L.hs_model_num_tensors(self._h)):
            t = L.hs_model_tensor(self._h, i).contents
            self._names.append(t.name.decode())
            self._shapes.append(tuple(t.shape[:t.ndim]))
        self._norms = []
        for i in range(L.hs_model_num_norms(self._h)):
            n = L.hs_model_norm(self._h, i).contents
            self._norms.append((n.name.decode(), n.features))
        self.spec = json.loads(take_string(L.hs_spec_to_json(L.hs_model_get_spec(self._h))))

    # ---- construction ----

    @classmethod
    def load(cls, spec_path, weights_path=None, device="auto", dtype="f64", threads=0, seed=0):
        """A model from a spec file (either form) and a safetensors checkpoint; without one, the
        default initialisation of `seed` (as the CLI's --seed without --weights)."""
        try:
            with open(spec_path, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        except OSError as e:
            raise Error(2, f"spec_path: {spec_path}: {e.strerror}") from None
        m = cls(text, str(spec_path), device, dtype, threads)
        L = lib()
        if weights_path is not None:
            m._ctx.call(L.hs_model_load, m._h, str(weights_path).encode(), what="weights_path")
            m._weights_label = str(weights_path)
        else:
            m._ctx.call(L.hs_model_init, m._h, C.c_uint64(seed_arg(seed)))
        return m

    @classmethod
    def from_spec(cls, spec, seed=0, device="auto", dtype="f64", threads=0):
        """A model from a spec given as a dict (or JSON text) of either form (DESIGN.md "Model
        spec"), with the default initialisation of `seed`."""
        if isinstance(spec, dict):
            spec = json.dumps(spec)
        if not isinstance(spec, str):
            raise invalid(f"spec: expected a dict or JSON text, got {type(spec).__name__}")
        m = cls(spec, "spec", device, dtype, threads)
        m._ctx.call(lib().hs_model_init, m._h, C.c_uint64(seed_arg(seed)))
        return m

    @classmethod
    def from_torch(cls, module, input_shape, loss="cross_entropy", batchnorm_mode="batch", weight_decay=0.0,
                   device="auto", dtype="f64", threads=0):
        """The engine's copy of an nn.Sequential (or a module whose only child is the nn.Sequential
        `layers`) of the layers scripts/export_torch.py accepts, with its current parameters and
        batch-norm running statistics. A module the engine cannot run raises Error naming it.
        input_shape: [F] or [C, H, W] of one sample. batchnorm_mode: "batch" (training mode
        statistics) or "running" (eval mode)."""
        from . import _export  # needs torch

        if loss not in ("cross_entropy", "mse"):
            raise invalid(f"loss: expected \"cross_entropy\" or \"mse\", got {loss!r}")
        if batchnorm_mode not in ("batch", "running"):
            raise invalid(f"batchnorm_mode: expected \"batch\" or \"running\", got {batchnorm_mode!r}")
        try:
            shape = [int(d) for d in (input_shape if hasattr(input_shape, "__len__") else [input_shape])]
        except (TypeError, ValueError):
            shape = []
        if len(shape) not in (1, 3) or min(shape) < 1:
            raise invalid(f"input_shape: expected [F] or [C, H, W] of positive integers, got {input_shape!r}")
        if not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
            raise invalid(f"weight_decay: expected a number >= 0, got {weight_decay!r}")
        if not isinstance(module, _export.nn.Module):
            raise invalid(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        try:
            spec, tensors, _ = _export.convert(module, shape, loss, batchnorm_mode, float(weight_decay))
        except _export.Refused as e:
            raise invalid(f"module: {e}") from None
        m = cls(json.dumps(spec), "from_torch", device, dtype, threads)
        values = {k: t.detach().cpu().double().reshape(-1).numpy() for k, t in tensors}
        theta = np.empty(m._P)
        L = lib()
        for i, name in enumerate(m._names):
            off = L.hs_model_tensor(m._h, i).contents.offset
            v = values[name]
            theta[off:off + v.size] = v
        m.set_params(theta)
        for i, (name, feat) in enumerate(m._norms):
            mean = np.ascontiguousarray(values[name + ".running_mean"])
            var = np.ascontiguousarray(values[name + ".running_var"])
            m._ctx.call(L.hs_model_set_running, m._h, i, mean.ctypes.data_as(P_dbl), var.ctypes.data_as(P_dbl))
        m._weights_label = f"torch module {type(module).__module__}.{type(module).__qualname__}"
        return m

    # ---- parameters ----

    def layers(self):
        """The layer names in parameter order: the tensors grouped by their module (the name
        without its last component), the blocks of block="all" in spectrum, eig and trace."""
        out = []
        for name in self.param_names():
            module = name.rsplit(".", 1)[0]
            if not out or out[-1] != module:
                out.append(module)
        return out

    @property
    def num_params(self):
        return self._P

    @property
    def dtype(self):
        return self._ctx.dtype

    @property
    def backend(self):
        return self._ctx.backend

    @property
    def device(self):
        return self._ctx.device

    def param_names(self):
        """Tensor names in parameter order ("layers.0.weight", ...)."""
        return list(self._names)

    def param_shapes(self):
        return list(self._shapes)

    def get_params(self):
        theta = np.empty(self._P)
        self._ctx.call(lib().hs_model_get_params, self._h, theta.ctypes.data_as(P_dbl))
        return theta

    def set_params(self, theta):
        t = _arrays.floats(theta, "theta").reshape(-1) if _arrays.as_array(theta, "theta").ndim == 1 else None
        if t is None or t.size != self._P:
            shape = tuple(_arrays.as_array(theta, "theta").shape)
            raise invalid(f"theta: shape {shape}: expected ({self._P},), the model's parameter count")
        self._ctx.call(lib().hs_model_set_params, self._h, t.ctypes.data_as(P_dbl))

    def save(self, path, dtype="f64"):
        """A safetensors checkpoint with the PyTorch tensor names (running statistics included)."""
        if dtype not in DTYPES:
            raise invalid(f"dtype: expected \"f64\" or \"f32\", got {dtype!r}")
        self._ctx.call(lib().hs_model_save, self._h, str(path).encode(), DTYPES[dtype])

    # ---- data ----

    def bind(self, X, y, batch=None, source=None):
        """Binds the data: X of shape (N, *input_shape) or (N, input_dim); y the (N,) integer labels
        (cross_entropy) or (N, outputs) targets (mse); numpy arrays or CPU torch tensors (copied).
        batch: samples per batch, also the batch-norm batch (None = all in one). source: a
        description of the data for the provenance of saved results (default: what X was)."""
        d, N, label = self._dataset(X, y, "X", "y", source)
        return self._bind_handle(d, N, batch, label)

    def bind_dataset(self, name, samples=None, batch=None, seed=0):
        """Binds a dataset by name, as the CLI's --dataset (hs_dataset_open): "fashion-mnist[:train|
        :test]" (the Debian package dataset-fashion-mnist, or the context's data folder),
        "mixture[:sep=S]" or "teacher[:hidden=HxH,act=A,noise=E]" (synthetic, drawn from seed),
        shaped for this model; samples: the first N (None = all); batch as bind."""
        if not isinstance(name, str) or not name:
            raise invalid(f"name: expected a dataset name such as \"fashion-mnist:train\", got {name!r}")
        n = 0 if samples is None else samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise invalid(f"samples: expected an integer >= 1 or None, got {samples!r}")
        L = lib()
        d, src = C.c_void_p(), C.create_string_buffer(512)
        self._ctx.call(L.hs_dataset_open, self._ctx.h, name.encode(), int(n), seed_arg(seed), L.hs_model_get_spec(self._h),
                       C.byref(d), src, len(src), what="dataset")
        return self._bind_handle(d.value, L.hs_dataset_size(d.value), batch, src.value.decode())

    def _bind_handle(self, d, N, batch, label):
        """Binds the model to dataset handle d of N samples with `batch`, d taken over (destroyed
        when the batch or the binding is refused: an invalid binding keeps the previous one)."""
        if batch is None:
            batch = 0
        elif not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or not 1 <= batch <= N:
            lib().hs_dataset_destroy(d)
            raise invalid(f"batch: expected an integer in 1..{N} (the samples) or None, got {batch!r}")
        try:
            self._ctx.call(lib().hs_model_bind, self._h, d, int(batch), what="bind")
        except Error:
            lib().hs_dataset_destroy(d)
            raise
        self._adopt(d, label)
        return self

    def _dataset(self, X, y, xname="X", yname="y", source=None):
        """(hs_dataset handle, N, source label) of X and y, checked as bind checks them; the caller
        owns the handle (hs_dataset_destroy)."""
        spec_in = self.spec.get("input_shape") or [self.spec["input_dim"]]
        D = int(np.prod(spec_in))
        out_dim = self._output_dim()
        Xa = _arrays.floats(X, xname)
        if Xa.ndim < 2 or (tuple(Xa.shape[1:]) != tuple(spec_in) and tuple(Xa.shape[1:]) != (D,)):
            raise invalid(f"{xname}: shape {tuple(Xa.shape)}: expected (N, {', '.join(map(str, spec_in))})"
                          + (f" or (N, {D})" if len(spec_in) > 1 else ""))
        N = Xa.shape[0]
        if N < 1:
            raise invalid(f"{xname}: no samples (N = 0)")
        Xa = Xa.reshape(N, D)
        lab = tgt = None
        if self.spec["loss"] == "cross_entropy":
            lab = _arrays.labels(y, yname, out_dim)
            if lab.shape[0] != N:
                raise invalid(f"{yname}: {lab.shape[0]} labels for {N} samples of {xname}")
        else:
            tgt = _arrays.floats(y, yname)
            if tgt.ndim == 1 and out_dim == 1:
                tgt = tgt.reshape(-1, 1)
            if tgt.shape != (N, out_dim):
                raise invalid(f"{yname}: shape {tuple(tgt.shape)}: mse needs targets of shape ({N}, {out_dim})")
        if source is None:
            kind = "torch tensors" if _arrays.is_tensor(X) else "numpy arrays"
            source = f"{kind} ({N} samples)"
        d = C.c_void_p()
        self._ctx.call(lib().hs_dataset_create, self._ctx.h, N, D, Xa.ctypes.data_as(P_dbl), out_dim,
                       lab.ctypes.data_as(C.POINTER(C.c_int32)) if lab is not None else None,
                       tgt.ctypes.data_as(P_dbl) if tgt is not None else None, C.byref(d), what="bind")
        return d.value, N, str(source)

    def _adopt(self, d, label, keep_old=False):
        """Makes dataset d the bound data's owner (the model is bound to it). keep_old: the
        previous dataset may still be bound (a failed hs_train), so it is kept until close."""
        old, self._data = self._data, d
        if old and old != d:
            if keep_old:
                self._retired.append(old)
            else:
                lib().hs_dataset_destroy(old)
        self._data_label = label

    def _labels(self):
        """(weights, data) as the result files record them: where the parameters and the bound
        data came from, as bytes (None where unknown)."""
        w, d = self._weights_label, self._data_label
        return (w.encode() if w else None), (d.encode() if d else None)

    def _output_dim(self):
        head = C.cast(lib().hs_model_get_spec(self._h), C.POINTER(SpecHead)).contents
        return head.output_dim  # the layer form's too: shape inference fills it

    @property
    def num_samples(self):
        n, b = c_size(), c_size()
        lib().hs_model_binding(self._h, C.byref(n), C.byref(b))
        return n.value

    def _need_data(self, what):
        if not self._data:
            raise invalid(f"{what}: no data bound (call model.bind(X, y) first)")

    # ---- loss, gradient, products ----

    def loss_grad(self):
        """(loss, gradient): the sample-weighted mean loss over the bound data and its gradient
        (numpy, parameter order)."""
        self._need_data("loss_grad")
        loss = C.c_double()
        g = np.empty(self._P)
        self._ctx.call_long(lib().hs_model_loss_grad, self._h, C.byref(loss), g.ctypes.data_as(P_dbl),
                            what="loss_grad")
        return loss.value, g

    def loss(self):
        self._need_data("loss")
        loss = C.c_double()
        self._ctx.call(lib().hs_model_loss_grad, self._h, C.byref(loss), None)
        return loss.value

    def outputs(self):
        """Network outputs (N, outputs) over the bound data."""
        self._need_data("outputs")
        F = np.empty((self.num_samples, self._output_dim()))
        self._ctx.call(lib().hs_model_outputs, self._h, F.ctypes.data_as(P_dbl))
        return F

    def hvp(self, V, operator="hessian"):
        """H V (operator="hessian"), G V ("ggn", the Gauss-Newton matrix) or (H - G) V ("residual")
        for V of shape (P,) or (k, P), numpy or torch; the result has V's type, shape and float dtype."""
        self._need_data("hvp")
        which = _curvature(operator)
        Va = _arrays.floats(V, "V")
        if Va.ndim not in (1, 2) or Va.shape[-1] != self._P or (Va.ndim == 2 and Va.shape[0] < 1):
            raise invalid(f"V: shape {tuple(Va.shape)}: expected ({self._P},) or (k, {self._P})")
        k = 1 if Va.ndim == 1 else Va.shape[0]
        Y = np.empty_like(Va)
        self._ctx.call_long(lib().hs_model_hvp, self._h, which, k, Va.ctypes.data_as(P_dbl),
                            Y.ctypes.data_as(P_dbl), what="hvp")
        return _arrays.like(Y, V)

    def as_linear_operator(self, operator="hessian"):
        """The curvature as a scipy.sparse.linalg.LinearOperator (symmetric, float64), at the
        parameters and data of each product, for scipy's eigsh, cg, minres, ..."""
        from scipy.sparse.linalg import LinearOperator

        _curvature(operator)
        self._need_data("as_linear_operator")
        P = self._P

        def matvec(x):
            return self.hvp(np.asarray(x, dtype=np.float64).reshape(P), operator)

        def matmat(X):
            return self.hvp(np.ascontiguousarray(np.asarray(X, dtype=np.float64).T), operator).T

        return LinearOperator((P, P), matvec=matvec, rmatvec=matvec, matmat=matmat, rmatmat=matmat,
                              dtype=np.float64)

    # ---- lifetime ----

    def close(self):
        """Frees the engine's memory now (also done when the model is garbage-collected)."""
        L = lib()
        if self._h:
            L.hs_model_destroy(self._h)
            self._h = None
        if self._data:
            L.hs_dataset_destroy(self._data)
            self._data = None
        for d in getattr(self, "_retired", ()):
            L.hs_dataset_destroy(d)
        self._retired = []

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def __repr__(self):
        return (f"hesspec.Model(P={self._P}, tensors={len(self._names)}, dtype={self.dtype!r}, "
                f"backend={self.backend!r}, samples={self.num_samples if self._h else 0})")
