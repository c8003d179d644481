"""Embedding in a Python process: Ctrl-C cancels a long call cleanly, and importing torch before
or after hesspec changes no number and hangs nothing."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

import hesspec


def long_model():
    """An MLP whose spectrum with 300 steps takes far longer than the test waits (each Lanczos
    step, a 4-direction product over 4096 samples, takes a fraction of a second)."""
    g = np.random.default_rng(0)
    X, y = g.standard_normal((4096, 64)), g.integers(0, 10, 4096)
    spec = {"input_dim": 64, "hidden": [128, 128], "output_dim": 10, "activation": "tanh"}
    m = hesspec.Model.from_spec(spec, device="cpu")
    return m.bind(X, y)


def test_keyboard_interrupt_cancels_within_a_second():
    m = long_model()
    when = {}

    def interrupt():
        when["t"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: Python's handler raises in the main thread

    timer = threading.Timer(1.0, interrupt)
    timer.start()
    t0 = time.monotonic()
    try:
        hesspec.spectrum(m, steps=300, probes=4)
        raise AssertionError(f"the spectrum finished in {time.monotonic() - t0:.1f} s, before the interrupt")
    except KeyboardInterrupt as e:
        latency = time.monotonic() - when["t"]
        assert "cancelled" in str(e)
    finally:
        timer.cancel()
    print(f"control came back {latency:.3f} s after SIGINT")
    assert latency < 1.0, f"control came back {latency:.2f} s after SIGINT"
    # the model is usable, and gives what a fresh one gives
    loss, g = m.loss_grad()
    d = hesspec.spectrum(m, steps=5, probes=2, seed=3)
    fresh = hesspec.spectrum(long_model(), steps=5, probes=2, seed=3)
    assert np.isfinite(loss) and all(np.array_equal(a, b) for a, b in zip(d.nodes, fresh.nodes))


SCRIPT = textwrap.dedent("""
    import json, sys
    order = sys.argv[1]
    if order == "torch-first":
        import torch
    import numpy as np
    import hesspec
    g = np.random.default_rng(0)
    X, y = g.standard_normal((256, 20)), g.integers(0, 5, 256)
    spec = {"input_dim": 20, "hidden": [32, 32], "output_dim": 5, "activation": "relu", "batchnorm": "batch"}
    def numbers():
        m = hesspec.Model.from_spec(spec, device="cpu").bind(X, y, batch=64)
        loss, grad = m.loss_grad()
        hv = m.hvp((np.arange(3 * m.num_params) % 7 - 3.0).reshape(3, m.num_params))
        d = hesspec.spectrum(m, steps=30, probes=3)
        return [loss.hex()] + [x.hex() for x in grad] + [x.hex() for x in hv.ravel()] + \\
               [x.hex() for n in d.nodes for x in n]
    a = numbers()
    if order == "torch-after":
        import torch
        torch.randn(3) @ torch.randn(3)
        b = numbers()
        assert a == b, "numbers changed after importing torch"
    print(json.dumps(a))
""")


def test_import_order_torch_before_and_after():
    env = dict(os.environ)
    outs = {}
    for order in ("torch-first", "torch-after", "no-torch"):
        r = subprocess.run([sys.executable, "-c", SCRIPT, order], env=env, capture_output=True, text=True,
                           timeout=180)
        assert r.returncode == 0, f"{order}: {r.stderr[-2000:]}"
        outs[order] = json.loads(r.stdout)
    assert outs["torch-first"] == outs["torch-after"] == outs["no-torch"]
