"""``rmse-ext rolling``'s series are keys as the one key codec reads them
(rmse_ext._keys, issue 18/19): per-series values equal
``rolling_root_mean_squared_error(..., groups=)`` for awkward keys in any
``--chunk-rows`` split, and a missing key is an input error at its row."""
import numpy as np
import pytest

from rmse_ext import rolling_root_mean_squared_error
from rmse_ext.cli import main

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

N = 23
AWKWARD = {
    "NUL strings": ["a", "a\x00", "\x00a", "", "a\x00\x00"],
    "NUL bytes": [b"a", b"a\x00", b"\x00", b"\xff"],
    "uint64 past 2**63": np.array([1, 2**63, 2**64 - 1], np.uint64),
    "dates": np.array(["2024-01-01", "1969-12-31", "2262-04-11"], dtype="M8[D]"),
}


def roll(tmp_path, capsys, table, *extra):
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=4)
    code = main(["rolling", str(tmp_path / "d.parquet"), "--true-column", "y",
                 "--pred-column", "p", "--group-column", "k", "--out",
                 str(tmp_path / "r.parquet"), "--no-progress", *map(str, extra)])
    err = capsys.readouterr().err
    return code, err, (pq.read_table(tmp_path / "r.parquet").to_pydict() if code == 0 else None)


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 100])
@pytest.mark.parametrize("case", sorted(AWKWARD))
def test_series_are_the_codecs_keys_in_any_chunking(tmp_path, capsys, case, chunk_rows):
    rng = np.random.default_rng(len(case) + chunk_rows)
    pool = AWKWARD[case]
    keys = [pool[i] for i in rng.integers(0, len(pool), N)]
    y, p = rng.normal(size=N), rng.normal(size=N)
    column = pa.array(np.array(keys)) if isinstance(pool, np.ndarray) else pa.array(keys)
    code, err, out = roll(tmp_path, capsys, pa.table({"k": column, "y": y, "p": p}),
                          "--window", 3, "--min-samples", 1, "--chunk-rows", chunk_rows)
    assert code == 0, err
    groups = np.empty(N, dtype=object)
    groups[:] = list(pa.array(column).to_pylist())
    want = rolling_root_mean_squared_error(y, p, window=3, groups=groups, min_samples=1)
    assert out["rmse"] == want.tolist()                              # bit for bit
    assert out["k"] == column.to_pylist()


@pytest.mark.parametrize("chunk_rows", [1, 2, 5])
def test_a_missing_key_is_an_input_error_at_its_row(tmp_path, capsys, chunk_rows):
    """NaT keys were series of their own (np.unique put NaTs together, the
    windows' dict, keyed by value, told every NaT apart): the codec refuses them."""
    keys = np.array(["2024-01-01", "2024-01-02", "2024-01-01", "NaT", "NaT", "2024-01-02"],
                    dtype="M8[D]")
    np.savez(tmp_path / "d.npz", k=keys, y=np.zeros(6), p=np.arange(6.0))
    code = main(["rolling", str(tmp_path / "d.npz"), "--true-column", "y", "--pred-column", "p",
                 "--group-column", "k", "--window", "2", "--min-samples", "1", "--out",
                 str(tmp_path / "r.csv"), "--no-progress", "--chunk-rows", str(chunk_rows)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"rmse-ext: error: {tmp_path / 'd.npz'}:k: has a missing key (None, "
                          f"NaN, NaT or null) at row 4; ")


def test_the_chunk_loop_closes_inputs_then_the_output_however_it_ends():
    """eval's and rolling's one frame (cli._format.ChunkLoop): the bar, every
    input table and then the output are closed, also when a chunk fails."""
    from rmse_ext.cli._format import ChunkLoop

    closed = []

    class Table:
        bytes_total = 0

        def __init__(self, name):
            self.name = name

        def bytes_done(self):
            return 0

        def close(self):
            closed.append(self.name)

    with pytest.raises(ValueError, match="bad chunk"):
        with ChunkLoop([Table("a"), Table("b")], then=lambda: closed.append("out")) as loop:
            loop.show(False)
            loop.done(1)
            raise ValueError("bad chunk")
    assert sorted(closed[:2]) == ["a", "b"] and closed[2:] == ["out"]


def test_key_columns_are_written_exactly(tmp_path, capsys):
    """Keys with NUL bytes inside survive the output: Parquet through the
    codec's to_arrow (pyarrow ends NumPy strings at a NUL: b"a\\x00b" was
    written as b"a"), CSV bytes as hex as rmse-ext eval writes them (the
    decoded text of b"\\xff" and of b"\\\\xff" was the same)."""
    keys = np.array([b"a\x00b", b"a", b"a\x00b", b"\xffa", b"\\xffa"])
    np.savez(tmp_path / "d.npz", k=keys, y=np.zeros(5), p=np.arange(5.0))
    args = ["rolling", str(tmp_path / "d.npz"), "--true-column", "y", "--pred-column", "p",
            "--group-column", "k", "--window", "2", "--min-samples", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "r.parquet")]) == 0
    out = pq.read_table(tmp_path / "r.parquet").to_pydict()
    assert out["k"] == keys.tolist()
    assert out["count"] == [1, 1, 2, 1, 1]
    assert main([*args, "--out", str(tmp_path / "r.csv")]) == 0
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["k"] + [k.hex() for k in keys.tolist()]
    strings = np.array(["a\x00b", "a", "a\x00b"])
    np.savez(tmp_path / "s.npz", k=strings, y=np.zeros(3), p=np.arange(3.0))
    args[1] = str(tmp_path / "s.npz")
    assert main([*args, "--out", str(tmp_path / "s.parquet")]) == 0
    assert pq.read_table(tmp_path / "s.parquet").column("k").to_pylist() == strings.tolist()


@pytest.mark.parametrize("chunk_rows", ["1", "2", "10"])
def test_time_errors_are_said_at_their_row_and_line(tmp_path, capsys, chunk_rows):
    """A missing time and a time going back name the time column and the
    1-based row of the whole input with its line (semantics 8.5); they said
    "at position 0" of the chunk, or "time[0]", naming every column."""
    path = tmp_path / "t.csv"
    path.write_text("ts,k,y,p\n2024-01-01T00:00,a,1,2\n2024-01-01T01:00,b,1,2\n\n"
                    "2024-01-01T00:30,b,1,3\n2024-01-01T03:00,a,1,2\n")
    args = ["rolling", str(path), "--true-column", "y", "--pred-column", "p", "--time-column",
            "ts", "--window", "1h", "--out", str(tmp_path / "r.csv"), "--no-progress",
            "--chunk-rows", chunk_rows]
    assert main([*args, "--group-column", "k"]) == 2
    assert capsys.readouterr().err == (
        f"rmse-ext: error: {path} column 'ts': must be non-decreasing within a series: the "
        f"time at row 3 (line 5) is before the series' time before it\n")
    path.write_text("ts,y,p\n2024-01-01T00:00,1,2\n\n2024-01-01T01:00,1,2\nNaT,1,3\n")
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"rmse-ext: error: {path} column 'ts': has a missing time (NaT) at row 3 (line 5); a "
        f"time window needs every row's time\n")
    rows_window = ["rolling", str(path), "--true-column", "y", "--pred-column", "p",
                   "--time-column", "ts", "--window", "2", "--min-samples", "1", "--out",
                   str(tmp_path / "r.csv"), "--no-progress", "--chunk-rows", chunk_rows]
    assert main(rows_window) == 0, capsys.readouterr().err    # a row window needs no times
