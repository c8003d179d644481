"""Arrays in and out: numpy arrays and CPU torch tensors to contiguous float64/int32 numpy arrays
(with messages naming the argument), and results back in the caller's type."""
import sys

import numpy as np

from ._errors import invalid


def _torch():
    return sys.modules.get("torch")  # never imported here: a tensor can only come from a loaded torch


def is_tensor(x):
    t = _torch()
    return t is not None and isinstance(x, t.Tensor)


def as_array(x, name):
    """x (numpy array, torch CPU tensor, list or number) as a numpy array; Error names `name`."""
    if is_tensor(x):
        if x.device.type != "cpu":
            raise invalid(f"{name}: a torch tensor on {x.device}; hesspec takes CPU tensors (use .cpu())")
        if x.is_complex():
            raise invalid(f"{name}: dtype {x.dtype}: expected real numbers")
        x = x.detach()
        if x.dtype in (_torch().float16, _torch().bfloat16):
            x = x.double()
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float)):
        try:
            return np.asarray(x)
        except ValueError as e:
            raise invalid(f"{name}: not a rectangular array of numbers ({e})") from None
    raise invalid(f"{name}: expected a numpy array or a torch tensor, got {type(x).__name__}")


def floats(x, name, shapes=None):
    """A C-contiguous float64 copy (or view) of x, finite. shapes: a description for messages
    when the caller checks shapes itself."""
    a = as_array(x, name)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise invalid(f"{name}: dtype {a.dtype}: expected real numbers (float or integer)")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        where = ", ".join(map(str, bad))
        raise invalid(f"{name}: entry [{where}] is {a[tuple(bad)]} (NaN or infinite)")
    return a


def labels(y, name, classes):
    """Integer class labels in [0, classes) as int32."""
    a = as_array(y, name)
    if a.dtype.kind not in "iu":
        raise invalid(f"{name}: dtype {a.dtype}: cross_entropy needs integer class labels")
    if a.ndim != 1:
        raise invalid(f"{name}: shape {tuple(a.shape)}: cross_entropy needs labels of shape (N,)")
    if a.size and (a.min() < 0 or a.max() >= classes):
        i = int(np.argmax((a < 0) | (a >= classes)))
        raise invalid(f"{name}: label [{i}] = {a[i]} is outside [0, {classes}) (the model has {classes} outputs)")
    return np.ascontiguousarray(a, dtype=np.int32)


def like(result, template):
    """result (float64 numpy) in the type and float dtype of template (numpy or torch)."""
    if is_tensor(template):
        t = _torch().from_numpy(result)
        return t.to(template.dtype) if template.is_floating_point() else t
    if isinstance(template, np.ndarray) and template.dtype.kind == "f":
        return result.astype(template.dtype, copy=False)
    return result
