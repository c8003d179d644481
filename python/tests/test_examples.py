"""The examples of examples/python run as a user would run them (a fresh python3 in an empty
folder, small arguments where they take any) and write the files they say they write."""
import json
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.environ.get("HS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                        "examples", "python")


@pytest.mark.parametrize("script, args, files", [
    ("spectrum_from_torch.py", [], ["spectrum.json", "spectrum.csv"]),
    ("layer_spectra.py", [], ["layers.json", "layers.csv"]),
    ("compare_bn.py", ["--samples", "200", "--epochs", "1"], ["relu.json", "relu-bn.json"]),
])
def test_example_runs(tmp_path, script, args, files):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)] + args, cwd=tmp_path, capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    assert r.returncode == 0, f"{script} exited {r.returncode}: {r.stderr[-2000:]}"
    for f in files:
        assert (tmp_path / f).exists(), f"{script} did not write {f}"
        if f.endswith(".json"):
            assert json.loads((tmp_path / f).read_text())["format"] == "hesspec.density/1"
    if script == "layer_spectra.py":
        blocks = json.loads((tmp_path / "layers.json").read_text())["blocks"]
        assert [b["name"] for b in blocks] == ["layers.0", "layers.1", "layers.3"]
