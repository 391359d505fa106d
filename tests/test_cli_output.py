"""rmse-ext eval's answer in the one table schema and its messages (issue 18,
defects 7 and 13), run in-process: one column in two roles is read once,
every output has rmse / count (elements, int) / weight_sum / omitted (and
ci_low / ci_high with --ci), the overall weight_sum is the metric's exact
one whatever the reader and chunking, usage errors are one line, bytes keys
are unambiguous in JSON, the overall row cannot be read as a group's, and a
CSV header that may be data is said."""
import csv
import io
import json
import math

import numpy as np
import pytest

from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError
from rmse_ext.cli import main
from rmse_ext._keys import keys_from_json


def run(capsys, *argv):
    code = main(["eval", *map(str, argv), "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


# -- defect 7 --------------------------------------------------------------------------------

def test_one_column_in_two_roles_is_read_once(tmp_path, capsys):
    d = write_csv(tmp_path / "d.csv", ["v"], [[1.0], [2.0], [3.0]])
    code, out, err = run(capsys, d, d, "--column", "v", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["rmse"], doc["count"], doc["weight_sum"]) == (0.0, 3, 3.0)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npz"])
def test_the_weight_column_may_be_the_prediction_column(tmp_path, capsys, fmt):
    t, p = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    if fmt == "csv":
        path = write_csv(tmp_path / "d.csv", ["y", "p"], zip(t.tolist(), p.tolist()))
    elif fmt == "parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        path = tmp_path / "d.parquet"
        pq.write_table(pa.table({"y": t, "p": p}), path)
    else:
        path = tmp_path / "d.npz"
        np.savez(path, y=t, p=p)
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(t, p, p)
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "p",
                         "--weight-column", "p", "--json", "--dtype", "float64")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["rmse"], doc["count"], doc["weight_sum"]) == (float(m.result()), 3, m.count)


def test_csv_with_ci_and_no_groups_has_every_column(tmp_path, capsys):
    np.save(tmp_path / "y.npy", np.arange(20.0))
    np.save(tmp_path / "p.npy", np.arange(20.0) + np.linspace(0, 1, 20))
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--csv", "--ci", 0.9)
    assert code == 0, err
    (row,) = csv.DictReader(io.StringIO(out))
    assert list(row) == ["rmse", "count", "weight_sum", "omitted", "ci_low", "ci_high"]
    assert float(row["ci_low"]) < float(row["rmse"]) < float(row["ci_high"])
    assert (row["count"], row["omitted"]) == ("20", "0")


def test_overall_weight_sum_is_the_metrics_whatever_the_reader(tmp_path, capsys):
    """The same weights through .npy, .csv (both readers), .parquet and any
    chunking give one overall weight_sum: the metric's exact one (it was a
    plain per-chunk sum, one ulp apart between readers)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(5)
    n = 3001
    y, p, w = rng.normal(size=n), rng.normal(size=n), rng.random(n) * 2.0**-40
    w[::100] = 1.0          # plain sums lose the small weights added to the large ones
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(y, p, w)
    for name, a in (("y", y), ("p", p), ("w", w)):
        np.save(tmp_path / f"{name}.npy", a)
    write_csv(tmp_path / "d.csv", ["y", "p", "w"], zip(y.tolist(), p.tolist(), w.tolist()))
    pq.write_table(pa.table({"y": y, "p": p, "w": w}), tmp_path / "d.parquet",
                   row_group_size=1000)
    runs = [[tmp_path / "y.npy", tmp_path / "p.npy", "--weights", tmp_path / "w.npy"]]
    runs += [[tmp_path / f, "--true-column", "y", "--pred-column", "p", "--weight-column", "w"]
             for f in ("d.csv", "d.parquet")]
    sums = set()
    for args in runs:
        for chunk in ("7", "1000", "5000"):
            code, out, err = run(capsys, *args, "--json", "--dtype", "float64",
                                 "--chunk-rows", chunk)
            assert code == 0, err
            sums.add(json.loads(out)["weight_sum"])
    assert sums == {m.count}
    assert m.count == math.fsum(w.tolist())


# -- defect 13 -------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["eval"], ["frobnicate"], ["eval", "a.npy", "b.npy",
                                  "--chunk-rows", "0"], ["eval", "a.npy", "--json", "--csv"],
                                  ["bench", "--size", "x"]])
def test_usage_errors_are_one_stderr_line(capsys, argv):
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rmse-ext: error: "), out.err
    assert "--help" in lines[0]


def test_bytes_keys_are_unambiguous_in_json(tmp_path, capsys):
    """Bytes keys are the key codec's JSON (hex strings, as in get_state()),
    with key_kind beside them: b"\\xff" and b"\\\\xff" stay apart and read back."""
    keys = np.array([b"\xff", b"\\xff", b"a", b"\xff", b"\xc3\xa9"], dtype="S")
    y, p = np.zeros(5), np.arange(5.0)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "k.npy", keys)
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--groups",
                         tmp_path / "k.npy", "--json", "--dtype", "float64")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["key_kind"] == "bytes"
    texts = [g["key"] for g in doc["groups"]]
    assert len(set(texts)) == 4
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(y, p, keys)
    assert keys_from_json("bytes", texts).tolist() == m.keys().tolist()
    assert texts == m.get_state()["keys"]
    assert [g["rmse"] for g in doc["groups"]] == m.result().tolist()
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--groups",
                         tmp_path / "k.npy", "--csv")
    assert [r["key"] for r in csv.DictReader(io.StringIO(out))][:-1] == texts


def test_datetime_keys_are_ticks_in_json_and_iso_in_text(tmp_path, capsys):
    keys = np.array(["2024-01-02", "2024-01-01", "2024-01-02"], dtype="M8[D]")
    np.save(tmp_path / "y.npy", np.zeros(3))
    np.save(tmp_path / "k.npy", keys)
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "y.npy", "--groups",
                         tmp_path / "k.npy", "--json")
    doc = json.loads(out)
    assert doc["key_kind"] == "datetime64[D]"
    assert [g["key"] for g in doc["groups"]] == keys[1:].astype(np.int64).tolist()
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "y.npy", "--groups",
                         tmp_path / "k.npy")
    assert [line.split()[0] for line in out.splitlines()[1:3]] == ["2024-01-01", "2024-01-02"]


def test_a_group_keyed_overall_is_not_the_overall_row(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", ["k", "y", "p"],
                     [["overall", 0.0, 1.0], ["b", 0.0, 3.0]])
    common = [path, "--true-column", "y", "--pred-column", "p", "--group-column", "k",
              "--dtype", "float64"]
    code, out, err = run(capsys, *common)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["k", "rmse", "count", "weight_sum", "omitted"]
    assert [line.split()[0] for line in lines[1:3]] == ["b", "overall"]
    assert lines[3] == "" and lines[4].startswith("overall: rmse ")
    assert lines[4].split()[2] == repr(float(np.sqrt(5.0)))
    code, out, err = run(capsys, *common, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["scope"], r["k"]) for r in rows] == [("group", "b"), ("group", "overall"),
                                                     ("overall", "")]
    code, out, err = run(capsys, *common, "--json")
    doc = json.loads(out)
    assert [g["k"] for g in doc["groups"]] == ["b", "overall"]
    assert doc["overall"]["count"] == 2


def test_a_key_column_named_like_a_result_column_is_an_input_error(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", ["rmse", "y", "p"], [["a", 0.0, 1.0]])
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "p",
                         "--group-column", "rmse")
    assert code == 2 and out == "" and "d.csv" in err and "rename" in err


def test_a_headerless_csv_with_text_keys_is_warned_about(tmp_path, capsys):
    """Line 1 of a headerless file whose key column is text reads as the
    header (not all its fields are numbers): the first row would be lost
    silently. It is said on stderr, naming the file and the rule."""
    path = write_csv(tmp_path / "d.csv", None, [["east", 1.0, 2.0], ["west", 2.0, 2.0],
                                                ["east", 3.0, 3.0]])
    code, out, err = run(capsys, path, "--true-column", "1", "--pred-column", "2",
                         "--group-column", "0")
    assert code == 0
    assert err.startswith(f"rmse-ext: warning: {path}: line 1 is read as the header")
    assert "add a header line" in err
    keys = write_csv(tmp_path / "k.csv", None, [["east"], ["west"], ["north"], ["east"]])
    np.save(tmp_path / "y.npy", np.zeros(3))
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "y.npy", "--groups", keys)
    assert code == 0 and "warning" in err and "'east' is also a key" in err
    np.save(tmp_path / "y.npy", np.zeros(4))
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "y.npy", "--groups", keys)
    assert code == 2 and "is read as its header" in err
    with_header = write_csv(tmp_path / "h.csv", ["k", "y", "p"], [["east", 1.0, 2.0]])
    code, out, err = run(capsys, with_header, "--true-column", "y", "--pred-column", "p",
                         "--group-column", "k")
    assert code == 0 and err == ""


def test_positions_in_text_files_are_row_and_line(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("y,p\n1,2\n\n2,x\n")
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "p")
    assert code == 2 and "row 2 (line 4)" in err and "column 'p'" in err
    path.write_text("y,p\n1,2\n\n2,nan\n")
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "p",
                         "--nan-policy", "raise")
    assert code == 2 and err == (f"rmse-ext: error: {path} column 'p': has a missing value (null "
                                 f"or NaN) at row 2 (line 4) (nan_policy='raise'); pass "
                                 f"--nan-policy omit to leave such elements out\n")


# -- keys read by the io/ readers, as every column -------------------------------------------

@pytest.mark.parametrize("reader", ["pyarrow", "stdlib"])
def test_csv_keys_are_text_by_either_reader(tmp_path, capsys, monkeypatch, reader):
    """A key column of a CSV file is text ("007" and "7" are two keys, spaces
    around a key are not part of it) whichever reader reads it, chunked."""
    if reader == "stdlib":
        monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    path = write_csv(tmp_path / "d.csv", ["k", "y", "p"],
                     [["007", 1.0, 2.0], ["7", 2.0, 2.0], [" b ", 3.0, 5.0], ["007", 0.0, 0.0]])
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "p",
                         "--group-column", "k", "--json", "--chunk-rows", 3)
    assert code == 0, err
    doc = json.loads(out)
    assert [(g["k"], g["count"]) for g in doc["groups"]] == [("007", 2), ("7", 1), ("b", 1)]


def test_key_files_of_every_format(tmp_path, capsys):
    """--groups reads .npy (1-D or one column), .npz members, .csv and .parquet
    key columns through the same readers as the values, in the same chunks."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    keys = np.array([3, 1, 3, 2, 1, 3, 3])
    y, p = np.arange(7.0), np.arange(7.0) ** 1.5
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "k.npy", keys)
    np.save(tmp_path / "k2.npy", keys[:, None])
    np.savez(tmp_path / "k.npz", series=keys, other=keys)
    write_csv(tmp_path / "k.csv", ["series"], keys[:, None].tolist())
    pq.write_table(pa.table({"series": keys}), tmp_path / "k.parquet", row_group_size=3)
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(y, p, keys)
    for spec, extra, name in [("k.npy", [], "key"), ("k2.npy", [], "key"),
                              ("k.npz:series", [], "series"),
                              ("k.npz", ["--group-column", "series"], "series"),
                              ("k.csv", [], "series"), ("k.parquet", [], "series")]:
        code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--groups",
                             tmp_path / spec, *extra, "--json", "--chunk-rows", 2,
                             "--dtype", "float64")
        assert code == 0, (spec, err)
        doc = json.loads(out)
        assert doc["key_column"] == name
        got = [(str(g[name]), g["rmse"]) for g in doc["groups"]]
        assert got == [(str(k), r) for k, r in zip(m.keys().tolist(), m.result().tolist())]


@pytest.mark.parametrize("chunk_rows", ["1", "3", "10"])
def test_a_missing_key_is_named_by_its_row_of_the_whole_input(tmp_path, capsys, chunk_rows):
    """The key codec's 0-based position within a chunk reads as the CLI's
    1-based row of the whole input."""
    keys = np.array(["2024-01-01", "2024-01-02", "2024-01-01", "NaT", "2024-01-02"],
                    dtype="M8[D]")
    np.save(tmp_path / "y.npy", np.zeros(5))
    np.save(tmp_path / "k.npy", keys)
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "y.npy", "--groups",
                         tmp_path / "k.npy", "--chunk-rows", chunk_rows)
    assert code == 2 and out == "" and "position" not in err
    assert err.startswith(f"rmse-ext: error: {tmp_path / 'k.npy'}: has a missing key (None, "
                          f"NaN, NaT or null) at row 4; ")


def test_a_key_error_in_a_text_file_is_said_at_its_row_and_line(tmp_path):
    """The codec's structured position (0-based within the chunk) as the CLI's
    1-based data row of the whole input and the line of a text file (blank
    lines and the header counted), with no message parsing."""
    from rmse_ext._keys import missing_error
    from rmse_ext.cli.eval import Operand, key_error
    from rmse_ext.io import open_table

    path = tmp_path / "k.csv"
    path.write_text("k,y\na,1\n\nb,2\n\nc,3\n")
    table = open_table(str(path))
    keys = Operand("groups", table, table.column("k", "groups", keys=True))
    exc = key_error(missing_error("groups", 1), keys, rows=1)     # chunk from row 2: row 3
    assert str(exc) == (f"{path} column 'k': has a missing key (None, NaN, NaT or null) at "
                        f"row 3 (line 6); rmse_ext has no missing group: fill the key in or "
                        f"drop the sample")
