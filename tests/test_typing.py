"""The public API is typed: ``mypy --strict`` passes on tests/typing/usage.py
and catches type errors in a caller (so the types are not silently Any).

mypy reads the rmse_ext that the tests import: the installed wheel (its
py.typed and .pyi files) or the source tree.  Errors inside rmse_ext's own
modules are silenced the way mypy silences any installed package's."""
import os
import pathlib
import subprocess
import sys
import sysconfig

import pytest

import rmse_ext

pytest.importorskip("mypy", reason="mypy is in the 'test' extra; not installed here")

USAGE = pathlib.Path(__file__).parent / "typing" / "usage.py"
PACKAGE_ROOT = pathlib.Path(rmse_ext.__file__).resolve().parent.parent
SITE_DIRS = {pathlib.Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}

MISTAKES = '''\
from rmse_ext import RootMeanSquaredError, _kernel, _kernel_avx2
a: str = RootMeanSquaredError().total
b: str = _kernel.Accumulator().get_raw()
c: str = _kernel_avx2.Batch
RootMeanSquaredError().update_state([1.0])
RootMeanSquaredError(name="x").result().upper()
'''


def run_mypy(path, tmp_path):
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n[mypy-rmse_ext.*]\nfollow_imports = silent\n")
    env = dict(os.environ)
    if PACKAGE_ROOT not in SITE_DIRS:  # the source tree, not an installed copy
        env["MYPYPATH"] = str(PACKAGE_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(config),
         "--cache-dir", str(tmp_path / "cache"), str(path)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )


def test_usage_file_passes_mypy_strict(tmp_path):
    done = run_mypy(USAGE, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_catches_wrong_use_of_the_api(tmp_path):
    bad = tmp_path / "mistakes.py"
    bad.write_text(MISTAKES)
    done = run_mypy(bad, tmp_path)
    flagged = {int(line.split(":")[1]) for line in done.stdout.splitlines()
               if line.startswith("mistakes.py:") and ": error:" in line}
    # every line after the import is a mistake mypy must see
    assert flagged == {2, 3, 4, 5, 6}, done.stdout + done.stderr


def test_every_module_of_the_package_passes_mypy_strict(tmp_path):
    """Internal modules too, not only the public API (pyproject's [tool.mypy])."""
    pyproject = PACKAGE_ROOT / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("the package is installed, not a source tree with its pyproject.toml")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(pyproject),
         "--cache-dir", str(tmp_path / "cache"), "rmse_ext"],
        capture_output=True, text=True, cwd=PACKAGE_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
