"""Every Python example in README.md and docs/*.md runs, and prints what the
page shows, so printed values cannot go stale.

How a page writes an example:

- a fenced ``python`` block is run on its own (fresh namespace, in an empty
  temporary directory); when the next fenced block, with only blank lines
  between, is an ``output`` block, what the example prints must equal it;
- a ``python`` or ``pycon`` block whose first line starts with ``>>>`` is a
  doctest;
- an example that imports an optional package (pandas, torch, dask, ...)
  is skipped when that package is missing.

Pages added to docs/ are picked up without changes here.  The last tests
keep the code citing docs/semantics.md, never the spec outside the repo.
"""
import contextlib
import doctest
import io
import os
import pathlib
import re

import pytest

import rmse_ext

ROOT = pathlib.Path(__file__).resolve().parent.parent
if not (ROOT / "README.md").is_file():  # tests/ copied out of the checkout (wheel CI)
    pytest.skip("README.md and docs/ are not next to tests/", allow_module_level=True)
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
OPTIONAL = {"pandas", "polars", "pyarrow", "torch", "dask", "distributed", "sklearn",
            "pyspark", "tqdm", "scipy"}
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(page):
    """[(line number, info, body, expected output or None)] of one page."""
    text = page.read_text(encoding="utf-8")
    found = [(text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2), m.start(), m.end())
             for m in FENCE.finditer(text)]
    out = []
    for i, (line, info, body, _start, end) in enumerate(found):
        if info not in ("python", "py", "pycon"):
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1][1] == "output" \
                and not text[end:found[i + 1][3]].strip():
            expected = found[i + 1][2]
        out.append((line, info, body, expected))
    return out


EXAMPLES = [pytest.param(page, line, info, body, expected,
                         id=f"{page.relative_to(ROOT)}:{line}")
            for page in PAGES for line, info, body, expected in blocks(page)]


def run_doctest(body, name):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(body, {}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    runner.run(test, out=report.write)
    return runner.failures, report.getvalue()


@pytest.mark.parametrize("page, line, info, body, expected", EXAMPLES)
def test_example_runs_and_prints_what_the_page_shows(page, line, info, body, expected,
                                                     tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # examples that start `python -m rmse_ext` import the rmse_ext under test
    parent = str(pathlib.Path(rmse_ext.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    name = f"{page.name}:{line}"
    try:
        if body.lstrip().startswith(">>>"):
            failures, report = run_doctest(body, name)
            assert failures == 0, report
            return
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(body, name, "exec"), {"__name__": "__docs__"})
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs {exc.name}, which is not installed")
        raise
    if expected is not None:
        assert printed.getvalue() == expected, f"{name} printed something else"


def test_every_page_is_found_and_has_its_examples_read():
    names = {p.name for p in PAGES}
    assert {"README.md", "semantics.md"} <= names
    # a fenced block that is not closed would hide the rest of its page
    for page in PAGES:
        assert page.read_text(encoding="utf-8").count("\n```") % 2 == 0, page


def test_the_example_reader_pairs_code_and_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nprint(1)\n```\n\n```output\n1\n```\n\n"
                    "```python\nx = 2\n```\nprose\n\n```output\n2\n```\n"
                    "```pycon\n>>> 1 + 1\n2\n```\n```bash\nls\n```\n")
    assert blocks(page) == [(3, "python", "print(1)\n", "1\n"),
                            (11, "python", "x = 2\n", None),
                            (19, "pycon", ">>> 1 + 1\n2\n", None)]
    assert run_doctest(">>> 1 + 1\n3\n", "x")[0] == 1


SOURCES = [p for pattern in ("rmse_ext/**/*.py", "rmse_ext/**/*.pyi", "src/*.pyx",
                             "src/*.pxi", "tests/**/*.py", "benchmarks/*.py", "setup.py",
                             "pyproject.toml", ".ci/**/*", "*.md", "docs/*.md")
           for p in ROOT.glob(pattern) if p.is_file() and p.name != "test_docs.py"]


def test_no_file_refers_to_the_spec_outside_the_repository():
    bad = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if "shared/" in line]
    assert not bad, "cite docs/semantics.md instead: " + ", ".join(bad)


def test_rules_are_cited_as_semantics_sections():
    spec_citation = re.compile(r"\b[Ss]pec(?:'s)? (?:section )?\d")
    bad = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if spec_citation.search(line)]
    assert not bad, "write 'semantics N' (docs/semantics.md): " + ", ".join(bad)
