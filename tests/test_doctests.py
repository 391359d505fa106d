"""The runnable example in every docstring of the package runs and prints
what it shows (doctest), so docstrings cannot go stale either.  An example
that imports an optional package (pyarrow, pandas, dask, ...) is skipped when
that package is missing."""
import doctest
import importlib
import importlib.util
import pkgutil
import re

import pytest

import rmse_ext

MODULES = ["rmse_ext"] + sorted(
    info.name for info in pkgutil.walk_packages(rmse_ext.__path__, "rmse_ext.")
    if not info.name.startswith(("rmse_ext._kernel", "rmse_ext.__main__")))
IMPORTS = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.M)


def missing_imports(test):
    names = {m.group(1) for example in test.examples for m in IMPORTS.finditer(example.source)}
    return sorted(n for n in names if importlib.util.find_spec(n) is None)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # a module for an optional package (e.g. dask)
        pytest.skip(f"{name} cannot be imported here: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report, skipped = [], []
    for test in finder.find(module, name):
        if test.lineno is None or not test.examples:
            continue
        missing = missing_imports(test)
        if missing:
            skipped.append(f"{test.name} needs {', '.join(missing)}")
            continue
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    if skipped and not runner.tries:
        pytest.skip("; ".join(skipped))
