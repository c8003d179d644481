#!/usr/bin/python3
"""The ctest entry `python` (CMakeLists.txt): the package's pytest suite against the libhesspec.so of
the build (HESSPEC_LIBRARY) and its CLI (HESSPEC_CLI). Exits 77, which ctest reports as skipped,
with the reason when this python3 lacks a module the suite needs (scripts/install-deps.sh
installs them: python3-numpy, python3-pytest, python3-scipy, python3-torch)."""
import importlib.util
import os
import sys

missing = [m for m in ("numpy", "pytest", "scipy", "torch") if importlib.util.find_spec(m) is None]
if missing:
    print(f"SKIP: {sys.executable} has no {', '.join(missing)} (scripts/install-deps.sh installs "
          f"{', '.join('python3-' + m for m in missing)})")
    sys.exit(77)
lib = os.environ.get("HESSPEC_LIBRARY", "")
if not os.path.exists(lib):
    print(f"run_ctest.py: HESSPEC_LIBRARY={lib!r} does not exist (build the hesspec_shared target)")
    sys.exit(1)

import pytest  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-rs", here] + sys.argv[1:]))
