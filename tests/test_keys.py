"""The one key codec (rmse_ext._keys, issue 18): a key's representation may
change -- widen -- between batches without losing any group, at every door
(update_state, merge_state, state and pickle, rmse_ext.dask, evaluate on a
dask frame, the CLI's chunks); keys that differ only by NUL characters stay
distinct; tampered count columns of a grouped state are refused."""
import json
import pickle
from fractions import Fraction

import numpy as np
import pytest

import rmse_ext
from rmse_ext import GroupedRootMeanSquaredError

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")


def fresh():
    return GroupedRootMeanSquaredError(dtype="float64")


def exact_rmse(errors):
    """{key: rmse} from {key: [squared errors]} (Fractions, then one rounding)."""
    return {k: float(Fraction(sum(Fraction(e) for e in v), len(v))) ** 0.5
            for k, v in errors.items()}


def round_trips(m):
    """The metric's to_dict() through get_state/JSON/set_state and pickle."""
    again = GroupedRootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state())))
    return again.to_dict(), pickle.loads(pickle.dumps(m)).to_dict()


# -- defect 1: keys whose representation changes between batches ------------------------

WIDENING = {
    "numpy int then pandas Int64": (np.array([5, 6]), pd.Series([7], dtype="Int64")),
    "numpy int then pandas Categorical": (np.array([5, 6]), pd.Categorical([7])),
    "numpy int then an Arrow dictionary": (np.array([5, 6]),
                                           pa.array([7]).dictionary_encode()),
    "numpy int then uint64 past 2**63": (np.array([5, 6]), np.array([2**63 + 7], np.uint64)),
    "uint64 past 2**63 then numpy int": (np.array([2**63 + 5, 2**63 + 6], np.uint64),
                                         np.array([7])),
    "pandas Int64 then numpy int": (pd.Series([5, 6], dtype="Int64"), np.array([7])),
    "numpy bool then pandas boolean": (np.array([True, False]),
                                       pd.Series([True], dtype="boolean")),
    "numpy str then an Arrow dictionary": (np.array(["a", "b"]),
                                           pa.array(["c"]).dictionary_encode()),
}


@pytest.mark.parametrize("case", sorted(WIDENING))
def test_a_key_kind_that_widens_between_batches_keeps_every_group(case):
    first, second = WIDENING[case]
    m = fresh()
    m.update_state([0.0, 0.0], [1.0, 2.0], first)
    m.update_state([0.0], [3.0], second)
    keys = [*pd.Series(first).tolist(), *pd.Series(second).tolist()]
    if keys[0] is True:                                # bools: True twice
        assert m.to_dict() == {False: 2.0, True: float(np.sqrt(5.0))}
    else:
        assert m.to_dict() == {keys[0]: 1.0, keys[1]: 2.0, keys[2]: 3.0}
    assert m.to_dict() == round_trips(m)[0] == round_trips(m)[1]


def test_the_issue_example():
    m = fresh()
    m.update_state([0.0, 0.0], [1.0, 2.0], np.array([5, 6]))
    m.update_state([0.0], [3.0], pd.Series([7], dtype="Int64"))
    assert m.to_dict() == {5: 1.0, 6: 2.0, 7: 3.0}


def test_keys_minus_one_and_two_to_the_64_minus_one_in_separate_batches():
    m = fresh()
    m.update_state([0.0], [1.0], np.array([-1]))
    m.update_state([0.0], [2.0], np.array([2**64 - 1], np.uint64))
    m.update_state([0.0], [4.0], [2**70])                        # a Python int, wider still
    assert m.to_dict() == {-1: 1.0, 2**64 - 1: 2.0, 2**70: 4.0}
    assert m.keys().tolist() == [-1, 2**64 - 1, 2**70]
    assert round_trips(m) == (m.to_dict(), m.to_dict())
    m.update_state([0.0], [3.0], [-1])
    assert m.to_dict()[-1] == float(np.sqrt(5.0))


def test_merge_state_of_small_keys_with_keys_past_2_to_the_63():
    small, big = fresh(), fresh()
    small.update_state([0.0, 0.0], [1.0, 2.0], np.array([5, 6]))
    big.update_state([0.0, 0.0], [3.0, 4.0], np.array([2**63, 2**64 - 1], np.uint64))
    small.merge_state(big)
    assert small.to_dict() == {5: 1.0, 6: 2.0, 2**63: 3.0, 2**64 - 1: 4.0}
    big.merge_state(fresh(), small)
    assert big.to_dict() == {5: 1.0, 6: 2.0, 2**63: 3.0, 2**64 - 1: 4.0}   # each twice
    assert big.elements().tolist() == [1, 1, 2, 2]


def test_dask_update_state_with_keys_that_widen_across_blocks():
    da = pytest.importorskip("dask.array")
    import dask
    import rmse_ext.dask as rd

    keys = np.array([5, 6, 2**63 + 7, 2**64 - 1], np.uint64)
    y = np.zeros(4)
    p = np.array([1.0, 2.0, 3.0, 4.0])
    with dask.config.set(scheduler="synchronous"):
        m = rd.update_state(fresh(), da.from_array(y, chunks=2), da.from_array(p, chunks=2),
                            groups=da.from_array(keys, chunks=2))
    assert m.to_dict() == {5: 1.0, 6: 2.0, 2**63 + 7: 3.0, 2**64 - 1: 4.0}


def test_evaluate_on_a_dask_frame_with_uint64_keys_across_partitions():
    dd = pytest.importorskip("dask.dataframe")
    import dask

    frame = pd.DataFrame({"k": np.array([5, 6, 2**63 + 7, 5], np.uint64),
                          "y": np.zeros(4), "p": [1.0, 2.0, 3.0, 3.0]})
    with dask.config.set(scheduler="synchronous"):
        out = rmse_ext.evaluate(dd.from_pandas(frame, npartitions=2), "y", "p", by="k")
    assert out["k"].tolist() == [5, 6, 2**63 + 7]
    assert out["rmse"].tolist() == [float(np.sqrt(5.0)), 2.0, 3.0]
    assert out["count"].tolist() == [2, 1, 1]


def test_cli_groups_file_read_in_chunks_of_two_rows(tmp_path, capsys):
    from rmse_ext.cli import main

    keys = np.array([5, 6, 2**63 + 7, 2**64 - 1, 5], np.uint64)
    np.save(tmp_path / "y.npy", np.zeros(5))
    np.save(tmp_path / "p.npy", np.array([1.0, 2.0, 3.0, 4.0, 3.0]))
    np.save(tmp_path / "keys.npy", keys)
    code = main(["eval", str(tmp_path / "y.npy"), str(tmp_path / "p.npy"), "--groups",
                 str(tmp_path / "keys.npy"), "--chunk-rows", "2", "--json", "--dtype",
                 "float64", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    groups = json.loads(out.out)["groups"]
    assert {g["key"]: g["rmse"] for g in groups} == {
        5: float(np.sqrt(5.0)), 6: 2.0, 2**63 + 7: 3.0, 2**64 - 1: 4.0}
