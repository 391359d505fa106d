"""rmse-ext eval with --group-column / --groups, end to end: the per-group
table, JSON and CSV agree with GroupedRootMeanSquaredError on the same
data; bad key files are exit 2 naming the file."""
import csv
import io
import json

import numpy as np
import pytest

from rmse_ext import GroupedRootMeanSquaredError
from rmse_ext.cli import main

RNG = np.random.default_rng(11)
N = 3000
Y, P, W = RNG.normal(size=N), RNG.normal(size=N), RNG.random(N)
STORES = RNG.choice(["north", "south", "east"], size=N)
SERIES = RNG.integers(0, 40, size=N)


def run(capsys, *argv):
    code = main(["eval", *map(str, argv), "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def expected(keys, weights=None):
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(Y, P, keys, weights)
    return m


def check_json(out, m, weighted, name="key"):
    """The one table schema (issue 18): the key column under its own name,
    rmse, count (elements, int), weight_sum (the weights as they applied),
    omitted; the overall object under the same names."""
    doc = json.loads(out)
    assert list(doc["groups"][0]) == [name, "rmse", "count", "weight_sum", "omitted"]
    assert doc["key_column"] == name
    assert [g[name] for g in doc["groups"]] == m.keys().tolist()
    assert [g["rmse"] for g in doc["groups"]] == m.result().tolist()
    assert [g["count"] for g in doc["groups"]] == m.elements().tolist()
    assert all(type(g["count"]) is int for g in doc["groups"])
    assert [g["weight_sum"] for g in doc["groups"]] == m.counts().tolist()
    overall = doc["overall"]
    assert list(overall) == ["rmse", "count", "weight_sum", "omitted"]
    assert overall["omitted"] == 0 and all(g["omitted"] == 0 for g in doc["groups"])
    assert overall["rmse"] == float(m.overall()) and overall["count"] == N
    assert overall["weight_sum"] == m.overall_count()


@pytest.mark.parametrize("weighted", [False, True])
def test_npy_values_with_a_keys_file(tmp_path, capsys, weighted):
    for name, a in (("y", Y), ("p", P), ("w", W), ("keys", SERIES)):
        np.save(tmp_path / f"{name}.npy", a)
    extra = ["--weights", tmp_path / "w.npy"] if weighted else []
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", *extra,
                         "--groups", tmp_path / "keys.npy", "--json", "--dtype", "float64",
                         "--chunk-rows", 700)
    assert code == 0, err
    check_json(out, expected(SERIES, W if weighted else None), weighted)


def test_csv_with_a_group_column_table_and_csv_output(tmp_path, capsys):
    path = tmp_path / "val.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["store", "y", "yhat"])
        writer.writerows(zip(STORES, Y.tolist(), P.tolist()))
    m = expected(STORES)
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "yhat",
                         "--group-column", "store", "--dtype", "float64", "--chunk-rows", 1000)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["store", "rmse", "count", "weight_sum", "omitted"]
    assert [line.split()[0] for line in lines[1:-2]] == ["east", "north", "south"]
    assert lines[-2] == ""
    assert lines[-1].split() == ["overall:", "rmse", str(m.overall()), "count", str(N),
                                 "weight_sum", repr(float(N)), "omitted", "0"]
    code, out, err = run(capsys, path, "--true-column", "y", "--pred-column", "yhat",
                         "--group-column", "store", "--dtype", "float64", "--csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["scope"] for r in rows] == ["group"] * 3 + ["overall"]
    assert [r["store"] for r in rows[:3]] == m.keys().tolist()
    assert [int(r["count"]) for r in rows] == [*m.elements().tolist(), N]
    assert [float(r["rmse"]) for r in rows[:3]] == m.result().tolist()


def test_parquet_string_and_dictionary_keys(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"y": Y, "yhat": P, "w": W, "store": pa.array(STORES).dictionary_encode(),
                      "series": SERIES})
    pq.write_table(table, tmp_path / "val.parquet", row_group_size=700)
    for column, keys in (("store", STORES), ("series", SERIES)):
        code, out, err = run(capsys, tmp_path / "val.parquet", "--true-column", "y",
                             "--pred-column", "yhat", "--weight-column", "w",
                             "--group-column", column, "--json", "--dtype", "float64")
        assert code == 0, err
        check_json(out, expected(keys, W), True, column)


def test_bad_key_files_are_input_errors(tmp_path, capsys):
    np.save(tmp_path / "y.npy", Y)
    np.save(tmp_path / "short.npy", SERIES[:10])
    np.save(tmp_path / "floats.npy", Y)
    keys = SERIES.astype(object)
    keys[5] = None
    np.save(tmp_path / "missing.npy", keys, allow_pickle=True)
    y = tmp_path / "y.npy"
    code, _, err = run(capsys, y, y, "--groups", tmp_path / "short.npy")
    assert code == 2 and "short.npy" in err and "rows" in err
    code, _, err = run(capsys, y, y, "--groups", tmp_path / "floats.npy")
    assert code == 2 and "floats.npy" in err and "floats" in err
    code, _, err = run(capsys, y, y, "--groups", tmp_path / "missing.npy")
    assert code == 2 and "missing.npy" in err
    code, _, err = run(capsys, y, y, "--groups", tmp_path / "nope.npy")
    assert code == 2 and "nope.npy" in err
    code, _, err = run(capsys, y, y, "--groups", tmp_path / "short.npy", "--json", "--csv")
    assert code == 2


def test_the_ungrouped_csv_output(tmp_path, capsys):
    np.save(tmp_path / "y.npy", Y)
    np.save(tmp_path / "p.npy", P)
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--csv",
                         "--dtype", "float64")
    assert code == 0, err
    row = list(csv.DictReader(io.StringIO(out)))
    assert list(row[0]) == ["rmse", "count", "weight_sum", "omitted"]
    assert (row[0]["count"], row[0]["weight_sum"], row[0]["omitted"]) == (str(N), repr(float(N)), "0")
    assert float(row[0]["rmse"]) == float(np.sqrt(np.mean((P - Y) ** 2))) or abs(
        float(row[0]["rmse"]) / np.sqrt(np.mean((P - Y) ** 2)) - 1) < 1e-15


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
@pytest.mark.parametrize("weighted", [False, True])
def test_ci_per_group_and_overall(tmp_path, capsys, method, weighted):
    """--ci with groups: each group's ci_low / ci_high and the overall ones
    are what GroupedRootMeanSquaredError(interval=...) gives on the same rows,
    whatever the chunking; a group too small for a normal interval reads "NaN"."""
    keys = SERIES.copy()
    keys[0] = 99                                     # a group of one element
    for name, a in (("y", Y), ("p", P), ("w", W), ("keys", keys)):
        np.save(tmp_path / f"{name}.npy", a)
    extra = ["--weights", tmp_path / "w.npy"] if weighted else []
    m = GroupedRootMeanSquaredError(dtype="float64", interval=method)
    m.update_state(Y, P, keys, W if weighted else None)
    low, high = m.confidence_interval(0.9)
    overall = m.overall_confidence_interval(0.9)
    for chunk in (700, N):
        code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", *extra,
                             "--groups", tmp_path / "keys.npy", "--json", "--dtype", "float64",
                             "--chunk-rows", chunk, "--ci", 0.9, "--ci-method", method)
        assert code == 0, err
        doc = json.loads(out)
        assert (doc["ci_level"], doc["ci_method"]) == (0.9, method)
        assert [g["key"] for g in doc["groups"]] == m.keys().tolist()
        as_json = [["NaN" if np.isnan(x) else x for x in b.tolist()] for b in (low, high)]
        assert [g["ci_low"] for g in doc["groups"]] == as_json[0]
        assert [g["ci_high"] for g in doc["groups"]] == as_json[1]
        if method == "normal":                       # one unit: no variance, no interval
            assert doc["groups"][-1]["ci_low"] == doc["groups"][-1]["ci_high"] == "NaN"
        assert (doc["overall"]["ci_low"], doc["overall"]["ci_high"]) == overall
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--groups",
                         tmp_path / "keys.npy", "--csv", "--ci", 0.9, "--ci-method", method)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["scope", "key", "rmse", "count", "weight_sum", "omitted", "ci_low",
                       "ci_high"]
    assert rows[-1][0] == "overall" and float(rows[-1][6]) < float(rows[-1][2]) < float(rows[-1][7])
    code, out, err = run(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--groups",
                         tmp_path / "keys.npy", "--ci", 0.9, "--ci-method", method)
    assert out.splitlines()[0].split() == ["key", "rmse", "count", "weight_sum", "omitted",
                                           "ci_low", "ci_high"]
