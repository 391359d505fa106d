"""`rmse-ext bench` tells the user what it is doing (issue 21, part 7): each
section printed as soon as it is measured, the header (with the load average
before) first, and --size written as the help writes it (1e7)."""
import numpy as np
import pytest

from rmse_ext import _parallel
from rmse_ext.cli import bench


@pytest.fixture
def in_process(monkeypatch):
    """bench.main without its re-run under pinned BLAS threads."""
    blas = str(_parallel.available_cpus()) if bench.has_threadpoolctl() else "1"
    for var in bench.PINNED:
        monkeypatch.setenv(var, blas)


@pytest.mark.parametrize("text, value", [("1e6", 10**6), ("1E4", 10**4), ("20000", 20000),
                                         ("10_000_000", 10**7), ("2.5e3", 2500)])
def test_size_takes_the_forms_the_help_uses(text, value):
    assert bench.size_argument(text) == value


@pytest.mark.parametrize("text", ["1.5", "0", "-1e6", "abc", "nan", "inf", ""])
def test_a_bad_size_is_an_error_naming_it(text, capsys):
    from rmse_ext.cli import main as cli_main
    assert cli_main(["bench", "--size", text]) == 2
    err = capsys.readouterr().err
    assert "--size" in err and len(err.strip().splitlines()) == 1


def test_sections_are_printed_as_they_finish(in_process, monkeypatch, capsys):
    seen = {}

    def intervals(n, repeat, dot_speedup=None):
        seen["before intervals"] = capsys.readouterr().out
        return [{"section": "small", "case": "a stand-in row", "rmse_ext": 1e-6,
                 "baseline": 2e-6, "speedup": 2.0, "target": "-", "ok": None}]

    def grouped(n, repeat, dot_speedup=None):
        seen["before grouped"] = capsys.readouterr().out
        return []

    monkeypatch.setattr(bench, "interval_rows", intervals)
    monkeypatch.setattr(bench, "grouped_rows", grouped)
    for name in ("memory_rows", "foreign_rows", "compare_rows"):
        monkeypatch.setattr(bench, name, lambda *args: [])
    assert bench.main(["--size", "2e4", "--repeat", "1"]) == 0
    first = seen["before intervals"]
    assert first.startswith("rmse_ext benchmark") and "load average before: [" in first
    assert "Large updates against the memory-bandwidth limit" in first
    assert "2e+04 float64 weighted" in first and "Threads: num_threads=2" in first
    assert "Small calls" not in first and "load average after" not in first
    assert "a stand-in row" in seen["before grouped"]
    assert "load average after: [" in capsys.readouterr().out


def test_json_is_one_object_at_the_end(in_process, monkeypatch, capsys):
    import json
    for name in ("interval_rows", "grouped_rows", "memory_rows", "foreign_rows", "compare_rows"):
        monkeypatch.setattr(bench, name, lambda *args: [])
    monkeypatch.setattr(bench, "small_rows", lambda *args: [])
    assert bench.main(["--json", "--size", "2e4", "--repeat", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["machine"]["load_before"] is None or len(out["machine"]["load_before"]) == 3
    assert {r["section"] for r in out["rows"]} >= {"limit", "threads"}


def test_thread_rows_hold_both_targets():
    row = bench.thread_row("threads", "x", single=1.0, multi=1.01, dot_speedup=1.0)
    assert not row["ok"]                                   # slower than one thread
    row = bench.thread_row("threads", "x", single=1.0, multi=0.8, dot_speedup=1.5)
    assert row["speedup"] == pytest.approx(1.25) and not row["ok"]   # < 0.9 * 1.5
    row = bench.thread_row("threads", "x", single=1.0, multi=0.7, dot_speedup=1.5)
    assert row["ok"] and np.isclose(row["speedup"], 1 / 0.7)
