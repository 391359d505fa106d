"""rmse-ext eval with --pred-column repeated (several models) and with
--true-column repeated alongside (paired outputs), issue 20: every row is
what a single-column run gives for that column, in every output style;
a NaN in one model's column does not touch the other model's rows."""
import csv
import io
import json

import numpy as np
import pytest

from rmse_ext.cli import main

RNG = np.random.default_rng(20)
N = 200


def run(capsys, *argv):
    code = main(["eval", *map(str, argv), "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def frame_csv(tmp_path):
    y, a, b = RNG.normal(size=N), RNG.normal(size=N), RNG.normal(size=N)
    b[[3, 50]] = np.nan                                  # model b only
    w = RNG.random(N)
    store = RNG.choice(["north", "south", "east"], size=N)
    path = tmp_path / "val.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["store", "y", "a", "b", "w"])
        for row in zip(store.tolist(), y.tolist(), a.tolist(), b.tolist(), w.tolist()):
            writer.writerow(["" if isinstance(v, float) and np.isnan(v) else repr(v)
                             if isinstance(v, float) else v for v in row])
    return path


def single(capsys, path, pred, *extra, true="y"):
    code, out, err = run(capsys, path, "--true-column", true, "--pred-column", pred,
                         "--json", *extra)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("grouped", [False, True])
def test_two_models_are_two_single_runs(capsys, frame_csv, grouped):
    extra = ["--nan-policy", "omit", "--weight-column", "w", "--ci", "0.9"]
    extra += ["--group-column", "store"] if grouped else []
    code, out, err = run(capsys, frame_csv, "--true-column", "y", "--pred-column", "a",
                         "--pred-column", "b", "--json", *extra)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["label_column"] == "prediction"
    for name, row in zip(["a", "b"], doc["overall"]):
        alone = single(capsys, frame_csv, name, *extra)
        assert row == {"prediction": name, **(alone["overall"] if grouped else
                                              {k: v for k, v in alone.items()
                                               if k in row})}
        if grouped:
            mine = [{k: v for k, v in g.items() if k != "prediction"}
                    for g in doc["groups"] if g["prediction"] == name]
            assert mine == alone["groups"]
    assert [r["omitted"] for r in doc["overall"]] == [0, 2]     # b's NaNs are b's alone
    if grouped:        # one row per (group, prediction), the predictions in the order given
        assert [g["prediction"] for g in doc["groups"]] == ["a", "b"] * 3
        assert [g["store"] for g in doc["groups"]][::2] == ["east", "north", "south"]


def test_csv_and_table_carry_the_prediction_field(capsys, frame_csv):
    args = [frame_csv, "--true-column", "y", "--pred-column", "b", "--pred-column", "a",
            "--group-column", "store", "--nan-policy", "omit"]
    code, out, _ = run(capsys, *args, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["scope", "store", "prediction", "rmse", "count", "weight_sum",
                             "omitted"]
    assert [r["prediction"] for r in rows if r["scope"] == "overall"] == ["b", "a"]
    code, out, _ = run(capsys, *args)
    assert out.splitlines()[0].split() == ["store", "prediction", "rmse", "count",
                                           "weight_sum", "omitted"]
    assert "overall:" in out


def test_paired_outputs(capsys, frame_csv):
    code, out, err = run(capsys, frame_csv, "--true-column", "y", "--pred-column", "a",
                         "--true-column", "w", "--pred-column", "b", "--csv",
                         "--nan-policy", "omit")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["output"] for r in rows] == ["y", "w"]
    alone = single(capsys, frame_csv, "b", "--nan-policy", "omit", true="w")
    assert float(rows[1]["rmse"]) == alone["rmse"] and int(rows[1]["omitted"]) == 2


def test_unpaired_true_columns_exit_2(capsys, frame_csv):
    code, _, err = run(capsys, frame_csv, "--true-column", "y", "--true-column", "a",
                       "--pred-column", "b")
    assert code == 2 and "--pred-column" in err
    code, _, err = run(capsys, frame_csv, "--true-column", "y", "--pred-column", "a",
                       "--pred-column", "a")
    assert code == 2 and "twice" in err


def test_raise_names_the_model_column(capsys, frame_csv):
    code, _, err = run(capsys, frame_csv, "--true-column", "y", "--pred-column", "a",
                       "--pred-column", "b", "--nan-policy", "raise")
    assert code == 2 and "'b'" in err and "row 4" in err


def test_the_cli_table_is_evaluates_table(capsys, frame_csv):
    """The same two-model table from the command line and from
    rmse_ext.evaluate on the same file read by pandas (round-trip float
    parsing: pandas 2's default parser can be an ulp off the text)."""
    pd = pytest.importorskip("pandas")

    import rmse_ext
    code, out, err = run(capsys, frame_csv, "--true-column", "y", "--pred-column", "a",
                         "--pred-column", "b", "--group-column", "store", "--weight-column",
                         "w", "--nan-policy", "omit", "--json")
    assert code == 0, err
    table = rmse_ext.evaluate(pd.read_csv(frame_csv, float_precision="round_trip"), "y", ["a", "b"], by="store",
                              weight="w", nan_policy="omit")
    assert json.loads(out)["groups"] == table.to_dict("records")
