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


def test_default_output_is_the_float32_result(cli, files, data):
    proc = cli("eval", files / "t.npy", files / "p.npy")
    assert proc.stdout.strip() == str(np.float32(exact(data["t"], data["p"])))


def test_json_unweighted(cli, files, data):
    proc = cli("eval", files / "t2.npy", files / "p2.npy", "--json", "--chunk-rows", 100)
    assert proc.returncode == 0 and proc.stderr == ""
    out = json.loads(proc.stdout)
    assert set(out) == {"rmse", "count", "weight_sum", "elements", "seconds", "dtype"}
    assert out["dtype"] == "float32"
    assert np.float32(out["rmse"]) == np.float32(exact(data["t2"], data["p2"]))
    assert out["count"] == out["elements"] == ROWS * 3
    assert out["weight_sum"] is None
    assert out["seconds"] >= 0


def test_json_weighted_per_row_weights(cli, files, data):
    proc = cli("eval", files / "t2.npy", files / "p2.npy", "--weights", files / "w.npy",
               "--json", "--dtype", "float64", "--chunk-rows", 100)
    out = json.loads(proc.stdout)
    weight_sum = sum(map(Fraction, data["w"]), Fraction(0))
    assert out["dtype"] == "float64"
    assert ulps(out["rmse"], exact(data["t2"], data["p2"], data["w"])) <= 1
    assert ulps(out["weight_sum"], float(weight_sum)) <= 1
    # semantics 3.2: the (n, 1) weights count once per element they touch
    assert ulps(out["count"], float(3 * weight_sum)) <= 1
    assert out["elements"] == ROWS * 3


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

def test_empty_files_give_zero(cli, tmp_path):
    """Semantics 4: no elements -> result 0 (divide_no_nan)."""
    np.save(tmp_path / "e.npy", np.zeros(0))
    (tmp_path / "header_only.csv").write_text("y,yhat\n")
    (tmp_path / "zero_bytes.csv").write_text("")
    for args in ([tmp_path / "e.npy", tmp_path / "e.npy"],
                 [tmp_path / "header_only.csv", *ONE_FILE_COLUMNS],
                 [tmp_path / "zero_bytes.csv", tmp_path / "zero_bytes.csv"]):
        proc = cli("eval", *args, "--json")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert (out["rmse"], out["count"], out["elements"]) == (0.0, 0.0, 0)


def test_nan_makes_the_result_nan(cli, tmp_path, data):
    t = data["t"].copy()
    t[500] = np.nan
    np.save(tmp_path / "t.npy", t)
    np.save(tmp_path / "p.npy", data["p"])
    assert cli("eval", tmp_path / "t.npy", tmp_path / "p.npy").stdout.strip() == "nan"
    out = json.loads(cli("eval", tmp_path / "t.npy", tmp_path / "p.npy", "--json").stdout)
    assert out["rmse"] == "NaN"
    (tmp_path / "nan.csv").write_text("y,yhat\n1,2\nnan,3\n")
    assert cli("eval", tmp_path / "nan.csv", *ONE_FILE_COLUMNS).stdout.strip() == "nan"


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
    assert_input_error(cli("eval", tmp_path / "bad.csv", *ONE_FILE_COLUMNS),
                       "bad.csv", "column 'yhat'", "seven")


def test_non_numeric_csv_column_without_pyarrow(tmp_path):
    (tmp_path / "bad.csv").write_text("y,yhat\n1,2\n3,x\n")
    proc = python_c(NO_PYARROW, "eval", tmp_path / "bad.csv", *ONE_FILE_COLUMNS)
    assert_input_error(proc, "bad.csv", "line 3", "column 'yhat'", "'x'")


def test_parquet_errors(cli, tmp_path):
    write_parquet(tmp_path / "mixed.parquet",
                  {"y": [1.0, 2.0], "name": ["a", "b"], "gap": [1.0, None]})
    assert_input_error(cli("eval", tmp_path / "mixed.parquet", "--true-column", "y",
                           "--pred-column", "name"), "mixed.parquet", "'name'", "string")
    assert_input_error(cli("eval", tmp_path / "mixed.parquet", "--true-column", "y",
                           "--pred-column", "gap"), "mixed.parquet", "missing values")
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
        assert proc.returncode == 2, args
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        assert "usage: rmse-ext" in proc.stderr


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
    assert out["elements"] == n
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


def test_demo_command(cli):
    proc = cli("demo", "--batches", 300)
    assert proc.returncode == 0, proc.stderr
    assert "Seed example" in proc.stdout
    assert "RootMeanSquaredError().result() = 2.4494898" in proc.stdout
    assert "300 batches" in proc.stdout and "ulp apart" in proc.stdout


def test_bare_python_m_runs_the_demo():
    proc = run(module_prefix())
    assert proc.returncode == 0, proc.stderr
    assert "Seed example" in proc.stdout and "20000 batches" in proc.stdout


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
