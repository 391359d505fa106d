"""The ``rmse-ext`` command, run as a subprocess on files written here.

The tests run the installed console script (next to ``sys.executable``), or
``python -m rmse_ext`` with PYTHONPATH at the package's parent directory when
it is not installed (the plain development setup); the progress, memory,
pyarrow-less and demo tests always run ``python -m``, and one test checks that
both give the same output.  Expected values come from the exact Fraction
reference (``ExactRMSE``) or from arithmetic shown in the test.
"""
import fcntl
import json
import math
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import rmse_ext
from rmse_ext.reference import ExactRMSE

from helpers import ulps

PACKAGE_PARENT = str(Path(rmse_ext.__file__).resolve().parents[1])
SCRIPT = Path(sys.executable).parent / "rmse-ext"
ROWS = 1001  # divisible by none of the chunk sizes used below
NO_PYARROW = ("import sys; sys.modules['pyarrow'] = None; "
              "from rmse_ext.cli import main; sys.exit(main(sys.argv[1:]))")


def child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "RMSE_EXT_DEBUG"}
    env["PYTHONPATH"] = PACKAGE_PARENT
    env.update(extra)
    return env


def run(prefix, *args, env=None, cwd=None):
    return subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True,
                          env=env or child_env(), cwd=cwd, timeout=300)


def module_prefix():
    return [sys.executable, "-m", "rmse_ext"]


def script_prefix():
    if not SCRIPT.exists():
        pytest.skip(f"rmse-ext is not installed next to {sys.executable} "
                    f"(pip install . puts it there)")
    return [str(SCRIPT)]


@pytest.fixture
def cli():
    """Runs the installed console script, or ``python -m rmse_ext`` when the
    package is not installed (the development setup); returns the
    CompletedProcess.  Both are compared in test_console_script_is_python_m."""
    prefix = [str(SCRIPT)] if SCRIPT.exists() else module_prefix()
    return lambda *args, **kw: run(prefix, *args, **kw)


def python_c(code, *args, env=None):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)],
                          capture_output=True, text=True, env=env or child_env(),
                          timeout=300)


def assert_input_error(proc, *needles):
    """Exit 2, nothing on stdout, one stderr line naming what went wrong."""
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rmse-ext: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def exact(t, p, w=None):
    ref = ExactRMSE()
    ref.update_state(t, p, w)
    return ref.result()


def value(proc):
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return float(proc.stdout)


# -- test data ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2024)
    return {
        "t": rng.normal(50.0, 10.0, ROWS),
        "p": rng.normal(50.0, 10.0, ROWS),
        "w": rng.random(ROWS),
        "t2": rng.normal(size=(ROWS, 3)),
        "p2": rng.normal(size=(ROWS, 3)),
    }


def write_csv(path, columns, header=True, delimiter=","):
    with open(path, "w") as f:
        if header:
            f.write(delimiter.join(columns) + "\n")
        for row in zip(*columns.values()):
            f.write(delimiter.join(repr(float(x)) for x in row) + "\n")
    return path


def write_parquet(path, columns):
    pa = pytest.importorskip("pyarrow", exc_type=ImportError)
    import pyarrow.parquet as pq
    pq.write_table(pa.table(columns), path, row_group_size=300)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("cli")
    for name in ("t", "p", "w", "t2", "p2"):
        np.save(d / f"{name}.npy", data[name])
    np.savez(d / "run.npz", t=data["t"], p=data["p"], w=data["w"])
    cols = {"y": data["t"], "yhat": data["p"], "weight": data["w"]}
    write_csv(d / "all.csv", cols)
    write_csv(d / "all.tsv", cols, delimiter="\t")
    write_csv(d / "t.csv", {"y": data["t"]})
    write_csv(d / "p_noheader.csv", {"yhat": data["p"]}, header=False)
    return d


def parquet_file(files, data):
    path = files / "all.parquet"
    if not path.exists():
        write_parquet(path, {"y": data["t"], "yhat": data["p"], "weight": data["w"]})
    return path


# -- eval: every format, weighted and not, agrees with the exact reference ------------

ONE_FILE_COLUMNS = ["--true-column", "y", "--pred-column", "yhat"]
FORMATS = {
    "npy": lambda d: ([d / "t.npy", d / "p.npy"], ["--weights", d / "w.npy"]),
    "npz-keys": lambda d: ([f"{d / 'run.npz'}:t", f"{d / 'run.npz'}:p"],
                           ["--weights", f"{d / 'run.npz'}:w"]),
    "npz-columns": lambda d: ([d / "run.npz", "--true-column", "t", "--pred-column", "p"],
                              ["--weight-column", "w"]),
    "csv-columns": lambda d: ([d / "all.csv", *ONE_FILE_COLUMNS],
                              ["--weight-column", "weight"]),
    "tsv-columns": lambda d: ([d / "all.tsv", *ONE_FILE_COLUMNS],
                              ["--weight-column", "weight"]),
    "csv-two-files": lambda d: ([d / "t.csv", d / "p_noheader.csv"],
                                ["--weights", d / "w.npy"]),
    "csv-mixed-with-npy": lambda d: ([d / "t.csv", d / "p.npy"],
                                     ["--weights", d / "w.npy"]),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", [*FORMATS, "parquet"])
def test_eval_each_format_matches_exact(cli, files, data, fmt, weighted):
    if fmt == "parquet":
        path = parquet_file(files, data)
        args, weights = [path, *ONE_FILE_COLUMNS], ["--weight-column", "weight"]
    else:
        args, weights = FORMATS[fmt](files)
    args = args + (weights if weighted else [])
    expected = exact(data["t"], data["p"], data["w"] if weighted else None)
    got = value(cli("eval", *args, "--dtype", "float64", "--chunk-rows", 7))
    assert ulps(got, expected) <= 1


def test_csv_without_pyarrow_reads_the_same_numbers(files, data):
    """The standard-library CSV reader (pyarrow hidden) gives the same result."""
    for weighted in (False, True):
        extra = ["--weight-column", "weight"] if weighted else []
        args = ["eval", files / "all.csv", *ONE_FILE_COLUMNS, *extra, "--dtype",
                "float64", "--chunk-rows", 100]
        proc = python_c(NO_PYARROW, *args)
        expected = exact(data["t"], data["p"], data["w"] if weighted else None)
        assert ulps(value(proc), expected) <= 1


@pytest.mark.parametrize("chunk_rows", [1, 7, 100, ROWS - 1, ROWS, 10 * ROWS, None])
def test_chunk_sizes_do_not_change_the_result(cli, files, data, chunk_rows):
    extra = [] if chunk_rows is None else ["--chunk-rows", chunk_rows]
    proc = cli("eval", files / "t2.npy", files / "p2.npy", "--weights", files / "w.npy",
               "--dtype", "float64", *extra)
    # (n,) weights against (n, 3) rows: each row's weight applies to its 3 errors
    assert ulps(value(proc), exact(data["t2"], data["p2"], data["w"])) <= 1


def test_default_output_is_float64_and_float32_on_request(cli, files, data):
    """Issue 11 item 7: the command line answers in full precision by default."""
    proc = cli("eval", files / "t.npy", files / "p.npy")
    assert ulps(value(proc), exact(data["t"], data["p"])) <= 1
    assert proc.stdout.strip() == repr(float(proc.stdout))       # all 17 digits
    proc = cli("eval", files / "t.npy", files / "p.npy", "--dtype", "float32")
    assert proc.stdout.strip() == str(np.float32(exact(data["t"], data["p"])))
    help_text = " ".join(cli("eval", "--help").stdout.split())
    assert "default float64" in help_text and "float32 rounds it" in help_text


def test_json_unweighted(cli, files, data):
    proc = cli("eval", files / "t2.npy", files / "p2.npy", "--json", "--chunk-rows", 100)
    assert proc.returncode == 0 and proc.stderr == ""
    out = json.loads(proc.stdout)
    assert list(out) == ["rmse", "count", "weight_sum", "omitted", "seconds", "dtype"]
    assert out["dtype"] == "float64" and out["omitted"] == 0
    assert ulps(out["rmse"], exact(data["t2"], data["p2"])) <= 1
    assert out["count"] == ROWS * 3 and type(out["count"]) is int
    assert out["weight_sum"] == float(ROWS * 3)
    assert out["seconds"] >= 0


def test_json_weighted_per_row_weights(cli, files, data):
    proc = cli("eval", files / "t2.npy", files / "p2.npy", "--weights", files / "w.npy",
               "--json", "--dtype", "float64", "--chunk-rows", 100)
    out = json.loads(proc.stdout)
    weight_sum = sum(map(Fraction, data["w"]), Fraction(0))
    assert out["dtype"] == "float64"
    assert ulps(out["rmse"], exact(data["t2"], data["p2"], data["w"])) <= 1
    # semantics 3.2: the (n, 1) weights count once per element they touch
    assert out["weight_sum"] == float(3 * weight_sum)
    assert out["count"] == ROWS * 3


def test_npy_dtypes_and_memory_orders(cli, tmp_path, data):
    """int, bool and float32 files, and a column-major 2-D array, read as the
    numbers they hold."""
    t_int = np.arange(ROWS * 3).reshape(ROWS, 3) % 11
    p_f32 = data["p2"].astype(np.float32)
    np.save(tmp_path / "t_int.npy", t_int)
    np.save(tmp_path / "p_f32.npy", np.asfortranarray(p_f32))
    np.save(tmp_path / "w_bool.npy", np.arange(ROWS) % 3 == 0)
    proc = cli("eval", tmp_path / "t_int.npy", tmp_path / "p_f32.npy", "--weights",
               tmp_path / "w_bool.npy", "--dtype", "float64", "--chunk-rows", 64)
    expected = exact(t_int, p_f32, (np.arange(ROWS) % 3 == 0).astype(float))
    assert ulps(value(proc), expected) <= 1


def test_columns_of_a_2d_npy(cli, tmp_path, data):
    np.save(tmp_path / "pair.npy", np.stack([data["t"], data["p"]], axis=1))
    proc = cli("eval", tmp_path / "pair.npy", "--true-column", 0, "--pred-column", 1,
               "--dtype", "float64", "--chunk-rows", 10)
    assert ulps(value(proc), exact(data["t"], data["p"])) <= 1


def test_rank_fixup_between_files(cli, tmp_path, data):
    """Semantics 2.2: a (n, 1) y_pred meets a (n,) y_true."""
    np.save(tmp_path / "p_col.npy", data["p"].reshape(-1, 1))
    np.save(tmp_path / "t.npy", data["t"])
    proc = cli("eval", tmp_path / "t.npy", tmp_path / "p_col.npy", "--dtype", "float64",
               "--chunk-rows", 9)
    assert ulps(value(proc), exact(data["t"], data["p"])) <= 1


def test_parquet_directory_dataset(cli, tmp_path, data):
    (tmp_path / "ds").mkdir()
    for i, part in enumerate((slice(0, 400), slice(400, None))):
        write_parquet(tmp_path / "ds" / f"part-{i}.parquet",
                      {"y": data["t"][part], "yhat": data["p"][part]})
    proc = cli("eval", tmp_path / "ds", *ONE_FILE_COLUMNS, "--dtype", "float64",
               "--chunk-rows", 128)
    assert ulps(value(proc), exact(data["t"], data["p"])) <= 1


# -- edge values -----------------------------------------------------------------------

def test_empty_input_is_an_error_unless_allowed(cli, tmp_path):
    """Issue 11 item 8: no rows is not a perfect model.  With --allow-empty,
    semantics 4: no elements -> result 0 (divide_no_nan)."""
    np.save(tmp_path / "e.npy", np.zeros(0))
    np.save(tmp_path / "no_columns.npy", np.zeros((5, 0)))
    (tmp_path / "header_only.csv").write_text("y,yhat\n")
    (tmp_path / "zero_bytes.csv").write_text("")
    for args in ([tmp_path / "e.npy", tmp_path / "e.npy"],
                 [tmp_path / "no_columns.npy", tmp_path / "no_columns.npy"],
                 [tmp_path / "header_only.csv", *ONE_FILE_COLUMNS],
                 [tmp_path / "zero_bytes.csv", tmp_path / "zero_bytes.csv"]):
        assert_input_error(cli("eval", *args, "--json"), args[0].name, "to evaluate",
                           "--allow-empty")
        proc = cli("eval", *args, "--json", "--allow-empty")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert (out["rmse"], out["count"], out["weight_sum"]) == (0.0, 0, 0.0)
    assert_input_error(cli("eval", tmp_path / "header_only.csv", *ONE_FILE_COLUMNS),
                       "header_only.csv", "no rows to evaluate")


def test_nan_is_refused_by_default_and_propagates_when_asked(cli, tmp_path, data):
    """rmse-ext eval is of the scikit-learn family (semantics 8.1): 'raise' by
    default, naming the file and row; --nan-policy propagate gives NaN."""
    t = data["t"].copy()
    t[500] = np.nan
    np.save(tmp_path / "t.npy", t)
    np.save(tmp_path / "p.npy", data["p"])
    assert_input_error(cli("eval", tmp_path / "t.npy", tmp_path / "p.npy"),
                       "t.npy", "missing value (null or NaN) at row 501", "--nan-policy omit")
    propagate = ("--nan-policy", "propagate")
    assert cli("eval", tmp_path / "t.npy", tmp_path / "p.npy", *propagate).stdout.strip() == "nan"
    out = json.loads(cli("eval", tmp_path / "t.npy", tmp_path / "p.npy", "--json",
                         *propagate).stdout)
    assert out["rmse"] == "NaN"
    (tmp_path / "nan.csv").write_text("y,yhat\n1,2\nnan,3\n")
    assert cli("eval", tmp_path / "nan.csv", *ONE_FILE_COLUMNS, *propagate).stdout.strip() == "nan"
    assert_input_error(cli("eval", tmp_path / "nan.csv", *ONE_FILE_COLUMNS),
                       "nan.csv", "row 2 (line 3)")


# -- input errors: exit 2, one line naming the file ------------------------------------

def test_different_lengths_are_found_before_reading(cli, files, tmp_path, data):
    np.save(tmp_path / "short.npy", data["p"][:-1])
    assert_input_error(cli("eval", files / "t.npy", tmp_path / "short.npy"),
                       "short.npy", f"{ROWS - 1} rows", "t.npy", str(ROWS))
    assert_input_error(cli("eval", files / "t.npy", files / "p.npy", "--weights",
                           tmp_path / "short.npy"), "short.npy", f"{ROWS - 1} rows")
    path = parquet_file(files, data)
    assert_input_error(cli("eval", path, tmp_path / "short.npy", "--true-column", "y"),
                       "short.npy", f"{ROWS - 1} rows")


def test_different_lengths_of_csv_files(cli, files, tmp_path, data):
    write_csv(tmp_path / "short.csv", {"yhat": data["p"][:-1]})
    assert_input_error(cli("eval", files / "t.csv", tmp_path / "short.csv",
                           "--chunk-rows", 100),
                       "short.csv", f"ends after {ROWS - 1} rows", "t.csv")


def test_bad_shapes(cli, tmp_path, data):
    np.save(tmp_path / "t3.npy", data["t2"])
    np.save(tmp_path / "p4.npy", np.zeros((ROWS, 4)))
    assert_input_error(cli("eval", tmp_path / "t3.npy", tmp_path / "p4.npy"),
                       "t3.npy", "p4.npy", "do not broadcast")
    np.save(tmp_path / "w3.npy", np.ones((ROWS, 2)))
    # semantics 3.3: (n, 2) weights against (n, 3) errors do not broadcast
    assert_input_error(cli("eval", tmp_path / "t3.npy", tmp_path / "t3.npy",
                           "--weights", tmp_path / "w3.npy"), "w3.npy", "sample_weight")


def test_corrupt_and_truncated_npy(cli, tmp_path, data):
    good = tmp_path / "good.npy"
    np.save(good, data["t"])
    raw = good.read_bytes()
    (tmp_path / "corrupt.npy").write_bytes(raw[:6] + b"\x01\x00garbage" + raw[16:])
    assert_input_error(cli("eval", good, tmp_path / "corrupt.npy"), "corrupt.npy",
                       "not a valid .npy")
    (tmp_path / "truncated.npy").write_bytes(raw[:-80])
    assert_input_error(cli("eval", good, tmp_path / "truncated.npy"), "truncated.npy")
    (tmp_path / "empty.npy").write_bytes(b"")
    assert_input_error(cli("eval", good, tmp_path / "empty.npy"), "empty.npy")


def test_missing_file_and_unknown_format(cli, files, tmp_path):
    assert_input_error(cli("eval", files / "t.npy", tmp_path / "nope.npy"),
                       "nope.npy", "no such file")
    (tmp_path / "preds.txt").write_text("1\n2\n")
    assert_input_error(cli("eval", files / "t.npy", tmp_path / "preds.txt"),
                       "preds.txt", "unknown format .txt")


def test_non_numeric_inputs(cli, files, tmp_path, data):
    np.save(tmp_path / "words.npy", np.array(["a", "b"] * (ROWS // 2) + ["c"]))
    assert_input_error(cli("eval", files / "t.npy", tmp_path / "words.npy"),
                       "words.npy", "strings")
    lines = ["y,yhat"] + [f"{i},{i + 1}" for i in range(50)] + ["7,seven"]
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    # both CSV readers name the line of the first bad cell (issue 11 item 11)
    assert_input_error(cli("eval", tmp_path / "bad.csv", *ONE_FILE_COLUMNS),
                       "bad.csv", "line 52", "column 'yhat'", "seven")


def test_non_numeric_csv_column_without_pyarrow(tmp_path):
    (tmp_path / "bad.csv").write_text("y,yhat\n1,2\n3,x\n")
    proc = python_c(NO_PYARROW, "eval", tmp_path / "bad.csv", *ONE_FILE_COLUMNS)
    assert_input_error(proc, "bad.csv", "line 3", "column 'yhat'", "'x'")


def test_parquet_errors(cli, tmp_path):
    write_parquet(tmp_path / "mixed.parquet",
                  {"y": [1.0, 2.0], "name": ["a", "b"], "gap": [1.0, None]})
    assert_input_error(cli("eval", tmp_path / "mixed.parquet", "--true-column", "y",
                           "--pred-column", "name"), "mixed.parquet", "'name'", "string")
    # a null is a missing value exactly like NaN under every policy (semantics 8.2)
    assert_input_error(cli("eval", tmp_path / "mixed.parquet", "--true-column", "y",
                           "--pred-column", "gap"), "mixed.parquet",
                       "column 'gap'", "missing value (null or NaN) at row 2", "--nan-policy omit")
    propagated = cli("eval", tmp_path / "mixed.parquet", "--true-column", "y",
                     "--pred-column", "gap", "--json", "--nan-policy", "propagate")
    assert propagated.returncode == 0 and json.loads(propagated.stdout)["rmse"] == "NaN"
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    assert_input_error(cli("eval", tmp_path / "junk.parquet", "--true-column", "y",
                           "--pred-column", "y"), "junk.parquet", "Parquet")


def test_parquet_without_pyarrow_names_the_extra(files, data):
    path = parquet_file(files, data)
    proc = python_c(NO_PYARROW, "eval", path, *ONE_FILE_COLUMNS)
    assert_input_error(proc, "all.parquet", "pyarrow", "pip install pyarrow")


def test_column_choice_errors(cli, files):
    assert_input_error(cli("eval", files / "all.csv", "--true-column", "y",
                           "--pred-column", "nope"),
                       "all.csv", "no column 'nope'", "'yhat'")
    assert_input_error(cli("eval", files / "all.csv", files / "t.csv"),
                       "all.csv", "has 3 columns", "--column")
    assert_input_error(cli("eval", files / "run.npz:missing", files / "t.npy"),
                       "run.npz", "no array 'missing'", "'t'")
    assert_input_error(cli("eval", files / "t.npy", files / "p.npy", "--column", 1),
                       "t.npy", "2-D")


def test_usage_errors_exit_2(cli, files):
    for args in (["eval"], ["eval", files / "t.npy"], ["eval", files / "t.npy",
                 files / "p.npy", "--chunk-rows", 0], ["frobnicate"],
                 ["eval", files / "all.csv", "--column", "y", "--pred-column", "yhat"]):
        proc = cli(*args)
        assert_input_error(proc, "(see rmse-ext")


def test_unexpected_failure_exits_1_with_one_line(files):
    code = ("import sys, rmse_ext.cli as cli\n"
            "def broken(*args): raise RuntimeError('simulated bug')\n"
            "cli.evaluate = broken\n"
            "sys.exit(cli.main(sys.argv[1:]))")
    args = ["eval", files / "t.npy", files / "p.npy"]
    proc = python_c(code, *args)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "rmse-ext: internal error: RuntimeError: simulated bug "
        "(RMSE_EXT_DEBUG=1 or --debug shows the traceback)"]
    proc = python_c(code, *args, env=child_env(RMSE_EXT_DEBUG="1"))
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert proc.stderr.strip().endswith("RuntimeError: simulated bug")


# -- progress bar ---------------------------------------------------------------------

def run_with_tty_stderr(args):
    """Run ``python -m rmse_ext`` with stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen([*module_prefix(), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, env=child_env())
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = proc.stdout.read().decode()
    proc.wait(timeout=300)
    return proc.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_a_terminal(tmp_path):
    pytest.importorskip("tqdm")
    t = np.arange(200_000, dtype=np.float64)
    np.save(tmp_path / "t.npy", t)
    np.save(tmp_path / "p.npy", t + 2.0)  # every error is 2 -> RMSE 2
    args = ["eval", tmp_path / "t.npy", tmp_path / "p.npy", "--chunk-rows", 10_000]
    code, out, err = run_with_tty_stderr(args)
    assert (code, out.strip()) == (0, "2.0")
    assert "reading" in err and "B/s" in err and "elements/s" in err
    assert "3.20M/3.20M" in err  # 2 files x 200,000 float64 = 3.2 MB read
    code, out, err = run_with_tty_stderr(args + ["--no-progress"])
    assert (code, out.strip(), err) == (0, "2.0", "")
    proc = run(module_prefix(), *args)  # stderr a pipe: no bar
    assert (proc.returncode, proc.stderr) == (0, "")


# -- bounded memory ------------------------------------------------------------------

MAXRSS = ("import resource, subprocess, sys\n"
          "proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
          "sys.stdout.write(proc.stdout)\n"
          "sys.stderr.write(proc.stderr)\n"
          "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
          "sys.exit(proc.returncode)")


@pytest.mark.rss
def test_memory_stays_bounded_on_a_large_memmap(tmp_path):
    """Two 160 MB .npy files: the child's peak resident size (measured by a
    small launcher process, so the test process's own memory does not count)
    stays far below the data it read.  Errors are k - 3 for k = i mod 7, so the
    exact total is an integer sum."""
    n = 20_000_000
    step = 1 << 20
    for name, with_error in (("t.npy", False), ("p.npy", True)):
        out = np.lib.format.open_memmap(tmp_path / name, mode="w+", dtype=np.float64,
                                        shape=(n,))
        for i in range(0, n, step):
            idx = np.arange(i, min(i + step, n))
            out[i:i + len(idx)] = idx % 1000 + ((idx % 7) - 3 if with_error else 0)
        out.flush()
        del out
    file_bytes = 2 * n * 8
    proc = python_c(MAXRSS, *module_prefix(), "eval", tmp_path / "t.npy",
                    tmp_path / "p.npy", "--json", "--dtype", "float64")
    assert proc.returncode == 0, proc.stderr
    result_line, peak_line = proc.stdout.strip().splitlines()
    peak = int(peak_line)
    full_weeks, rest = divmod(n, 7)
    total = full_weeks * sum((k - 3) ** 2 for k in range(7)) + sum(
        (k - 3) ** 2 for k in range(rest))
    out = json.loads(result_line)
    assert ulps(out["rmse"], math.sqrt(total / n)) <= 1
    assert out["count"] == n
    assert peak < file_bytes / 3, f"peak RSS {peak / 1e6:.0f} MB for {file_bytes / 1e6:.0f} MB"


# -- the other commands ------------------------------------------------------------------

def test_version_and_help(cli):
    proc = cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"rmse-ext {rmse_ext.__version__} (kernel: ")
    proc = cli("--help")
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "rmse-ext eval" in proc.stdout
    proc = cli("eval", "--help")
    assert proc.returncode == 0
    for option in ("--weights", "--true-column", "--chunk-rows", "--json", "--dtype",
                   "--no-progress", "examples:"):
        assert option in proc.stdout


def test_demo_shows_each_example_with_its_own_data_and_computed_values(cli):
    """Issue 11 item 13: every example line carries the data it was computed
    on, and its numbers are what the metric and the exact reference give for
    that data (nothing typed in); the float32 line says it is a simulation."""
    proc = cli("demo", "--batches", 300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    shown = [i for i, line in enumerate(lines) if line.strip().startswith("y_true=")]
    assert len(shown) == 2
    for i in shown:
        fields = dict(re.findall(r"(\w+)=(\[[^\]]*\])", lines[i]))
        args = [json.loads(fields["y_true"]), json.loads(fields["y_pred"])]
        weights = json.loads(fields["sample_weight"]) if "sample_weight" in fields else None
        assert len({len(a) for a in args + ([weights] if weights else [])}) == 1
        m = rmse_ext.RootMeanSquaredError()
        m.update_state(*args, sample_weight=weights)
        _, ours, _, theirs = lines[i + 1].split()
        assert ours == str(m.result())
        assert float(theirs) == exact(*args, weights)
    assert "Keras:" not in proc.stdout
    simulated = [line for line in lines if "float32 arithmetic" in line]
    assert len(simulated) == 1 and "simulated" in simulated[0]
    assert "300 batches" in proc.stdout and "ulp apart" in proc.stdout


def test_bare_python_m_runs_the_demo():
    proc = run(module_prefix())
    assert proc.returncode == 0, proc.stderr
    assert "documented examples" in proc.stdout and "20000 batches" in proc.stdout


def test_bench_forwards_its_arguments(cli):
    proc = cli("bench", "--json", "--size", 20000, "--repeat", 1)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["machine"]["rmse_ext"] == rmse_ext.__version__
    assert any("2e+04" in row["case"] for row in out["rows"])
    proc = cli("bench", "--help")
    assert proc.returncode == 0 and "usage: rmse-ext bench" in proc.stdout


def test_console_script_is_python_m(files, data):
    """The installed script and ``python -m rmse_ext`` are the same program."""
    script = script_prefix()
    for args in (["eval", files / "t.npy", files / "p.npy", "--weights", files / "w.npy",
                  "--dtype", "float64"],
                 ["eval", files / "t.npy", files / "nope.npy"],
                 ["--version"]):
        by_script, by_module = run(script, *args), run(module_prefix(), *args)
        assert by_script.returncode == by_module.returncode
        assert by_script.stdout == by_module.stdout
        assert by_script.stderr == by_module.stderr
    proc = run(script, "eval", files / "t.npy", files / "p.npy", "--dtype", "float64")
    assert ulps(value(proc), exact(data["t"], data["p"])) <= 1


# -- issue 11: damaged files, directories, number spellings, messages, progress -------

def test_damaged_npz_member_is_an_input_error_naming_it(cli, tmp_path, data):
    """Item 9: a member whose bytes changed (bad CRC-32; a broken deflate
    stream) is exit 2 naming the archive and the member, not an internal error."""
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, t=data["t"], p=data["p"])
        raw = bytearray(path.read_bytes())
        member = raw.find(b"p.npy")                     # the local header of 'p'
        spot = member + 400                             # inside its data
        raw[spot:spot + 8] = bytes(b ^ 0x5A for b in raw[spot:spot + 8])
        path.write_bytes(bytes(raw))
        proc = cli("eval", f"{path}:t", f"{path}:p")
        assert_input_error(proc, f"{path.name}:p", "damaged")


SHRINK = """\
import os, sys
import numpy as np
from rmse_ext.io import InputError, open_table
path = sys.argv[1]
np.save(path, np.arange(1_000_000, dtype=np.float64))
table = open_table(path)
key = table.column(None, "y_true")
table.start([key], 100_000)
first = table.read(100_000)[key]
os.truncate(path, 4096)                 # the file shrinks while it is read
try:
    while len(table.read(100_000)[key]):
        pass
except InputError as exc:
    print("InputError:", exc)
"""


def test_npy_that_shrinks_while_read_is_an_input_error_not_a_signal(tmp_path):
    """Item 9: a shared memory mapping dies of SIGBUS here; the reader
    reports the file instead."""
    proc = python_c(SHRINK, tmp_path / "y.npy")
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.startswith(f"InputError: {tmp_path / 'y.npy'}: ended at byte ")
    assert "shorter than its header" in proc.stdout


def test_truncated_npy_is_found_before_reading(cli, files, tmp_path, data):
    raw = (files / "t.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:len(raw) // 2])
    assert_input_error(cli("eval", files / "t.npy", tmp_path / "cut.npy"),
                       "cut.npy", "truncated", "header promises")


def test_text_file_named_npy_says_not_a_npy_file(cli, files, tmp_path):
    """Item 12: not NumPy's advice about pickles."""
    (tmp_path / "x.npy").write_text("1\n2\n3\n")
    proc = cli("eval", files / "t.npy", tmp_path / "x.npy")
    assert_input_error(proc, "x.npy", "not a .npy file")
    assert "pickle" not in proc.stderr


def test_a_directory_is_parquet_only_when_it_holds_parquet_files(cli, files, tmp_path):
    """Item 10."""
    (tmp_path / "csvs").mkdir()
    write_csv(tmp_path / "csvs" / "a.csv", {"y": [1.0], "yhat": [2.0]})
    (tmp_path / "empty").mkdir()
    for folder in ("csvs", "empty"):
        for extra in ([tmp_path / folder], ONE_FILE_COLUMNS):
            proc = cli("eval", tmp_path / folder, *extra)
            assert_input_error(proc, folder, "directory without Parquet files")
        proc = python_c(NO_PYARROW, "eval", tmp_path / folder, *ONE_FILE_COLUMNS)
        assert_input_error(proc, folder, "directory without Parquet files")


# every spelling both CSV readers are asked about, with what the documented
# grammar (rmse_ext.io.csv.NUMBER, docs/cli.md) says: a value, or not a number
SPELLINGS = {
    "1": 1.0, "-1.5": -1.5, "+1.5": 1.5, ".5": 0.5, "5.": 5.0, "1e5": 1e5, "1E+5": 1e5,
    "1e-5": 1e-5, "00012": 12.0, " 1.5": 1.5, "1.5 ": 1.5, "\t1.5": 1.5, "1e400": np.inf,
    "-1e400": -np.inf, "1e-400": 0.0, "nan": np.nan, "NaN": np.nan, "-nan": np.nan,
    "nan(123)": np.nan, "NaN(abc_1)": np.nan, "nan()": np.nan, "inf": np.inf,
    "-Infinity": -np.inf, "INF": np.inf, '"2.5"': 2.5,
    "1_000": None, "١٢": None, "１２": None, "\u00a01.5": None, "0x10": None, "\"1,5\"": None,
    "1.5e": None, "e5": None, ".": None, "-": None, "infin": None, "nan(1 2)": None,
    "nan(-1)": None, "inf(1)": None, "snan": None, "1.5f": None, "1 5": None, "": None,
    " ": None, '""': None, "1d3": None, "\u20071": None,
}


def read_with(table, reader, pa):
    """All values of column 'yhat' through one of the two CSV readers, or
    the InputError message."""
    key = table.column("yhat", "y_pred")
    table.keys = [key]
    batches = table.arrow_batches(pa) if reader == "pyarrow" else table.stdlib_batches(7)
    try:
        return np.concatenate([b[key] for b in batches]).tolist()
    except rmse_ext.io.InputError as exc:
        return str(exc)
    finally:
        table.close()


@pytest.mark.parametrize("cell", list(SPELLINGS), ids=[repr(c) for c in SPELLINGS])
def test_both_csv_readers_take_the_same_documented_number_spellings(tmp_path, cell):
    """Item 11: one set of spellings in both readers, the line of the first
    bad cell named by both."""
    pa = pytest.importorskip("pyarrow", exc_type=ImportError)
    import pyarrow.csv  # noqa: F401
    from rmse_ext.io.csv import NUMBER, CsvTable
    path = tmp_path / "cells.csv"
    path.write_text(f"y,yhat\n1,2\n3,{cell}\n5,6\n", encoding="utf-8")
    got = {reader: read_with(CsvTable(str(path), ","), reader, pa)
           for reader in ("pyarrow", "stdlib")}
    expected = SPELLINGS[cell]
    assert (NUMBER.fullmatch(cell.strip('"')) is not None) == (expected is not None)
    for reader, outcome in got.items():
        if expected is None:
            assert isinstance(outcome, str), (reader, outcome)
            assert "line 3" in outcome and "column 'yhat'" in outcome, (reader, outcome)
        else:
            assert not isinstance(outcome, str), (reader, outcome)
            np.testing.assert_array_equal(outcome, [2.0, expected, 6.0], err_msg=reader)
    if expected is None:
        assert got["pyarrow"] == got["stdlib"]


def test_csv_progress_moves_with_the_standard_library_reader(tmp_path, monkeypatch):
    """Item 12: without pyarrow the bar is updated every few ten thousand
    rows, not once at the end."""
    from rmse_ext.cli import build_parser
    import rmse_ext.cli._format as fmt
    import rmse_ext.cli.eval as ev
    write_csv(tmp_path / "v.csv", {"y": np.zeros(200_000), "yhat": np.ones(200_000)})
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    seen = []

    class Recorder:
        def __init__(self, enabled, total_bytes):
            self.total = total_bytes

        def update(self, bytes_done, elements, seconds):
            seen.append(bytes_done / self.total)

        def close(self):
            pass

    monkeypatch.setattr(fmt, "Progress", Recorder)
    parser = build_parser()
    args = parser.parse_args(["eval", str(tmp_path / "v.csv"), *ONE_FILE_COLUMNS])
    overall = ev.evaluate(args, parser)["overall"]
    assert overall["rmse"] == 1.0 and overall["count"] == 200_000
    assert len([f for f in seen if 0 < f < 0.9]) >= 2, seen
