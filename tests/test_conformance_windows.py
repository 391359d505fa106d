"""The conformance matrix for windows (issues 18 and 19): the same data
through every windows door x every representation x batch splits gives the
SAME BITS per row.

One small data set (31 rows, 4 series whose rows interleave, values of
mixed magnitude, weights with an exact zero, a time column with ties, gaps
and one series behind the others in time) is computed once by the reference
door -- ``rolling_root_mean_squared_error(..., groups=)`` on NumPy, float64 --
and every other door is compared with it row by row as ``float.hex`` (bits,
not closeness; NaN compares as NaN):

- ``RollingRootMeanSquaredError``, one metric per series, fed that series'
  rows in batches of 1, 2 and 7 samples (values as NumPy, lists, pandas,
  Arrow, polars): ``result()`` after a batch is the function's value at the
  batch's last row with ``min_samples=0`` -- the class has no
  ``min_samples`` (docs/windows.md), and its window always holds that row;
- ``rmse_ext.rolling`` on pandas (plain, nullable, Categorical keys,
  Arrow-backed), polars (plain, 7 chunks, Categorical keys, LazyFrame),
  pyarrow (1/2/7 record batches, dictionary keys) and dicts (NumPy, lists
  with None as the missing value, chunked and sliced Arrow arrays), with its
  schema: the ``by`` and ``on`` columns under their names, then ``rmse``,
  ``count``, ``weight_sum``, ``omitted``, row-aligned with the input;
- ``rmse-ext rolling`` on .csv / .parquet / .npz (and two .npy files,
  ungrouped) with ``--chunk-rows`` 1, 2 and 7, writing .csv / .parquet, read
  back with Python's round-trip float parsing.

Data sets: int windows (unweighted, weighted, 'omit' with NaN in y_true,
y_pred and a weight, 'propagate' with a NaN entering and leaving windows), a
duration window over datetimes (a str and a timedelta), and a float window
over numeric times.  Also: the class resumed from get_state / pickle after
every batch, time columns in every representation (time zones, datetime and
date objects, polars Date, Arrow date32) with the ``on`` column returned as
given, and ``by=`` with two key columns.  Key kinds: strings with NUL-suffixed twins ("a",
"a\\x00"), uint64 past 2**63, integers whose kind changes between CLI chunks
(int64, then past 2**63, then -1 beside 2**64 - 1), dates and bytes
(b"a", b"a\\x00", b"\\xff", b"\\\\xff").

A cell that fails because of a defect outside these doors (the kernel, the
CLI's readers) is ``xfail(strict=True)`` naming it.
"""
import csv
import datetime
import json
import math
import pickle

import numpy as np
import pytest

import rmse_ext
from rmse_ext import RollingRootMeanSquaredError, rolling_root_mean_squared_error
from rmse_ext.cli import main as cli_main
from rmse_ext.rolling import rolling_columns

from test_conformance import VALUE_FORMS as ARGUMENT_FORMS     # the grouped matrix's forms
from test_conformance import arrow_chunked, arrow_sliced, bits, marked, pieces, rows_of
from test_conformance import arrow_table as grouped_arrow_table

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")
pq = pytest.importorskip("pyarrow.parquet")

N = 31
SPLITS = (1, 2, 7)
DETAIL = ["rmse", "count", "weight_sum", "omitted"]
T0 = np.datetime64("2026-03-01T00:00:00", "ms")


# -- the data ----------------------------------------------------------------------------------

def series_codes_of():
    """Four series, rows interleaved and not contiguous; the first 8 rows
    hold only series 0 and 1 (so CLI chunks of 1, 2 and 7 rows first see
    small integer keys, then keys past 2**63)."""
    rng = np.random.default_rng(19)
    codes = rng.integers(0, 4, N)
    codes[:8] = [0, 1, 0, 0, 1, 0, 1, 1]
    codes[8:12] = [2, 3, 2, 3]
    return codes


CODES = series_codes_of()

KEY_POOLS = {
    "str": np.array(["a", "a\x00", "b", "a\x00\x00"], dtype=object),
    "uint64": np.array([5, 7, 2**64 - 1, 2**63 + 1], dtype=np.uint64),
    # int64 in the first chunks, then past 2**63, then -1 beside 2**64 - 1
    "int-widening": np.array([-1, 3, 2**64 - 1, 2**63], dtype=object),
    "date": np.array(["2024-01-01", "1969-12-31", "2262-04-11", "2024-01-02"], dtype="M8[D]"),
    "bytes": np.array([b"a", b"a\x00", b"\xff", b"\\xff"], dtype=object),
}


def keys_of(kind):
    return KEY_POOLS[kind][CODES]


def seconds_of():
    """Times (seconds after T0), non-decreasing within each series, with ties
    (within a series too) and gaps; series 3 runs 100 s behind the rest, so
    the column as a whole is not sorted."""
    rng = np.random.default_rng(91)
    steps = rng.choice([0, 0, 1, 7, 40, 200], N)
    steps[5] = 0                                  # rows 4 and 5: series 1 and 0, same time
    s = np.cumsum(steps).astype(np.int64)
    s[CODES == 3] -= 100
    s[6] = s[5]                                   # a tie inside series 1 (rows 4, 6)
    s[4] = s[5]
    return s


SECONDS = seconds_of()


def values_of(omit, weighted):
    rng = np.random.default_rng(1919)
    t = rng.normal(size=N) * 10.0 ** rng.integers(-3, 4, N)
    p = t + rng.normal(size=N) * 10.0 ** rng.integers(-2, 3, N)
    w = rng.random(N) * 3 if weighted else None
    if weighted:
        w[17] = 0.0                               # an exact zero removes its element
    if omit:
        t[5] = np.nan
    if omit == "propagate":
        return t, p, w
    if omit:
        p[12] = np.nan
        if weighted:
            w[20] = np.nan
    return t, p, w


#: name -> (window, time kind, weighted, nan_policy, min_samples, CLI --window)
SETS = {
    "count": (3, None, False, "raise", None, "3"),
    "count-weighted": (4, None, True, "raise", 2, "4"),
    "count-omit": (3, None, True, "omit", 1, "3"),
    "duration": ("2min", "datetime", True, "raise", None, "2min"),
    "duration-omit": (datetime.timedelta(seconds=45), "datetime", False, "omit", 2, "45s"),
    "numeric-omit": (120.0, "numeric", True, "omit", None, "120.0"),
    # a NaN enters and leaves the windows; an int window beside a time column
    "count-propagate-on": (2, "datetime", True, "propagate", 1, "2"),
}


class Data:
    """One data set with one key kind: columns and the reference per row."""

    def __init__(self, name, key_kind="str"):
        window, time_kind, weighted, policy, least, cli_window = SETS[name]
        self.name, self.window, self.policy, self.least = name, window, policy, least
        self.cli_window = cli_window
        self.t, self.p, self.w = values_of(policy if policy != "raise" else False, weighted)
        self.keys = keys_of(key_kind)
        self.key_kind = key_kind
        self.time_kind = time_kind
        self.time = None if time_kind is None else (
            T0 + SECONDS.astype("m8[s]") if time_kind == "datetime" else SECONDS.astype(float))

    def columns(self):
        cols = {"k": self.keys}
        if self.time is not None:
            cols["ts"] = self.time
        cols.update(y=self.t, yhat=self.p)
        if self.w is not None:
            cols["w"] = self.w
        return cols

    def reference(self, min_samples="default"):
        """The reference door's columns: rmse, count, weight_sum, omitted."""
        least = self.least if min_samples == "default" else min_samples
        time = None if isinstance(self.window, int) else self.time     # only carried
        rmse = rolling_root_mean_squared_error(
            self.t, self.p, window=self.window, sample_weight=self.w, time=time,
            groups=self.keys, min_samples=least, nan_policy=self.policy)
        detail = rolling_columns(self.t, self.p, window=self.window, sample_weight=self.w,
                                 time=time, groups=self.keys, min_samples=least,
                                 nan_policy=self.policy, detail=True)
        assert hexes(detail["rmse"]) == hexes(rmse)
        return table(detail)

    def rolling_kwargs(self):
        return dict(window=self.window, by="k", on=None if self.time is None else "ts",
                    weight=None if self.w is None else "w", min_samples=self.least,
                    nan_policy=self.policy)


def hexes(values):
    return [bits(x) for x in np.asarray(values, dtype=float).tolist()]


def table(cols):
    """{column: per-row values}: floats as float.hex, counts as ints."""
    return {"rmse": hexes(cols["rmse"]), "count": [int(c) for c in cols["count"]],
            "weight_sum": hexes(cols["weight_sum"]), "omitted": [int(c) for c in cols["omitted"]]}


@pytest.mark.parametrize("name", SETS)
def test_the_reference_is_the_exact_window(name):
    """The reference itself against a math.fsum oracle: count, weight_sum
    and omitted exactly, rmse within 2 ulp (the kernel's documented bound)."""
    d = Data(name)
    ref = d.reference()
    for i in range(N):
        inside = window_rows(d, i)
        kept = [j for j in inside if d.policy != "omit" or not (
            np.isnan(d.t[j]) or np.isnan(d.p[j]) or (d.w is not None and np.isnan(d.w[j])))]
        weights = [1.0 if d.w is None else float(d.w[j]) for j in kept]
        kept_nonzero = [j for j, w in zip(kept, weights) if w != 0.0]
        assert ref["omitted"][i] == len(inside) - len(kept)
        assert ref["count"][i] in (len(kept), len(kept_nonzero))
        assert float.fromhex(ref["weight_sum"][i]) == math.fsum(weights)
        least = (d.window if isinstance(d.window, int) else 1) if d.least is None else d.least
        value = float.fromhex(ref["rmse"][i])
        nan = any(np.isnan(d.t[j]) or np.isnan(d.p[j]) for j in kept)     # 'propagate'
        if len(kept) < least or not kept or nan:
            assert math.isnan(value)
            continue
        if not math.fsum(weights):                       # Keras: 0 / 0 reads 0
            assert value == 0.0
            continue
        exact = math.sqrt(math.fsum(w * (d.t[j] - d.p[j]) ** 2 for j, w in zip(kept, weights))
                          / math.fsum(weights))
        assert abs(value - exact) <= 2 * math.ulp(exact)


def window_rows(d, i):
    """The rows in the window ending at row i (same series, up to row i)."""
    mine = [j for j in range(i + 1) if CODES[j] == CODES[i]]
    if isinstance(d.window, int):
        return mine[-d.window:]
    span = (d.window.total_seconds() if isinstance(d.window, datetime.timedelta) else
            120.0 if d.window == "2min" else d.window)
    return [j for j in mine if SECONDS[j] > SECONDS[i] - span]


# -- the streaming class, one metric per series -------------------------------------------------

VALUE_FORMS = {
    "numpy": lambda a: a,
    "list": lambda a: a.tolist(),
    "pandas": lambda a: pd.Series(a),
    "arrow": lambda a: pa.array(a),
    "polars": lambda a: pl.Series(a),
}


def class_rows(d, splits, form, resume=None):
    """Per row, (rmse, count, weight_sum) of the series' metric after the
    batch ending at that row; None for rows inside a batch.  ``resume``:
    the metric is saved and restored after every batch ('state', 'pickle')."""
    vf = VALUE_FORMS[form]
    got = [None] * N
    policy = "omit" if d.policy == "omit" else "propagate"
    for code in range(4):
        rows = np.flatnonzero(CODES == code)
        m = RollingRootMeanSquaredError(d.window, dtype="float64", nan_policy=policy)
        size = splits
        for start in range(0, len(rows), size):
            batch = rows[start:start + size]
            time = None if d.time is None else vf(d.time[batch])
            m.update_state(vf(d.t[batch]), vf(d.p[batch]),
                           None if d.w is None else vf(d.w[batch]), time=time)
            if resume == "state":
                m = RollingRootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state())))
            elif resume == "pickle":
                m = pickle.loads(pickle.dumps(m))
            got[batch[-1]] = (bits(m.result()), m.count, bits(m.weight_sum))
    return got


@pytest.mark.parametrize("splits", SPLITS)
@pytest.mark.parametrize("name", SETS)
def test_streaming_class_per_series(name, splits):
    """Batches of 1, 2 and 7 samples of each series: result(), count and
    weight_sum after each batch are the reference's at its last row
    (min_samples=0: the class reads every window, docs/windows.md)."""
    d = Data(name)
    ref = d.reference(min_samples=0)
    want = [(ref["rmse"][i], ref["count"][i], ref["weight_sum"][i]) for i in range(N)]
    got = class_rows(d, splits, "numpy")
    assert sum(g is not None for g in got) >= 4
    assert [g for g in got if g is not None] == [w for w, g in zip(want, got) if g is not None]


@pytest.mark.parametrize("resume", ["state", "pickle"])
@pytest.mark.parametrize("name", SETS)
def test_streaming_class_resumed_between_batches(name, resume):
    """A monitor saved after every batch (get_state through JSON, or pickle)
    and resumed continues bitwise: the same rows as one metric."""
    d = Data(name)
    plain = class_rows(d, 2, "numpy")
    assert class_rows(d, 2, "numpy", resume=resume) == plain


@pytest.mark.parametrize("form", list(VALUE_FORMS)[1:])
@pytest.mark.parametrize("name", ["count-omit", "duration", "numeric-omit"])
def test_streaming_class_value_forms(name, form):
    d = Data(name)
    assert class_rows(d, 2, form) == class_rows(d, 2, "numpy")


@pytest.mark.parametrize("name", SETS)
def test_min_samples_only_hides_values(name):
    """The default min_samples turns short windows into NaN and leaves every
    other value's bits as with min_samples=0 (what the class reads)."""
    d = Data(name)
    full, ref = d.reference(min_samples=0), d.reference()
    for key in ("count", "weight_sum", "omitted"):
        assert ref[key] == full[key]
    hidden = [i for i in range(N) if ref["rmse"][i] != full["rmse"][i]]
    assert all(ref["rmse"][i] == bits(math.nan) for i in hidden)
    if (d.least is None and isinstance(d.window, int)) or (d.least or 0) > 1:
        assert hidden                                    # the cell can tell the two apart


# -- rmse_ext.rolling on frames ----------------------------------------------------------------

def value_columns(cols):
    return [c for c in cols if c in ("y", "yhat", "w")]


def pandas_frame(cols, value_dtype=None, key=None):
    df = pd.DataFrame(cols, index=np.arange(100, 100 + N) * 3)     # not a RangeIndex
    if value_dtype:
        df = df.astype({c: value_dtype for c in value_columns(cols)})
    if key is not None:
        df["k"] = key(cols["k"])
    return df


def categorical(k):
    # explicit categories: pandas < 3 merges "a\x00" into "a" when it infers them
    return pd.Categorical(k, categories=sorted(set(k.tolist())))


def arrow_of(a):
    if a.dtype == object and isinstance(a[0], (int, np.integer)):
        return pa.array(a.tolist(), type=pa.uint64())
    return pa.array(a.tolist()) if a.dtype == object else pa.array(a)


def arrow_table(cols, batches=1, dictionary=False):
    return grouped_arrow_table(cols, batches, dictionary, convert=arrow_of)


def polars_frame(cols, batches=1, categorical_keys=False):
    df = pl.concat([pl.from_arrow(arrow_table({c: v[rows] for c, v in cols.items()}))
                    for rows in pieces(N, batches)], rechunk=False)
    return df.with_columns(pl.col("k").cast(pl.Categorical)) if categorical_keys else df


def list_of(a):
    """A column as a list, None for a missing value."""
    return [None if isinstance(x, float) and math.isnan(x) else x for x in a.tolist()]


FRAMES = {
    "pandas": lambda c: pandas_frame(c),
    "pandas-nullable": lambda c: pandas_frame(c, "Float64"),
    "pandas-repeated-index": lambda c: pandas_frame(c).set_axis(np.arange(N) // 3),
    "pandas-Categorical": lambda c: pandas_frame(c, key=categorical),
    "pandas-arrow-backed": lambda c: pd.DataFrame(
        {n: pd.Series(arrow_of(v), dtype=pd.ArrowDtype(arrow_of(v).type)) for n, v in c.items()}),
    "polars": lambda c: polars_frame(c),
    "polars-7-chunks": lambda c: polars_frame(c, batches=7),
    "polars-Categorical": lambda c: polars_frame(c, categorical_keys=True),
    "polars-LazyFrame": lambda c: polars_frame(c).lazy(),
    "pyarrow": lambda c: arrow_table(c),
    "pyarrow-2-batches": lambda c: arrow_table(c, 2),
    "pyarrow-7-batches": lambda c: arrow_table(c, 7),
    "pyarrow-dictionary-keys": lambda c: arrow_table(c, 2, dictionary=True),
    "dict-numpy": lambda c: dict(c),
    "dict-lists": lambda c: {n: list_of(v) for n, v in c.items()},
    "dict-arrow-chunked": lambda c: {n: arrow_chunked(arrow_of(v)) for n, v in c.items()},
    "dict-arrow-sliced": lambda c: {n: arrow_sliced(arrow_of(v)) for n, v in c.items()},
}
#: the frame kinds each key kind has (polars and pandas Categoricals hold text)
KEY_FRAMES = {
    "str": list(FRAMES),
    "uint64": [f for f in FRAMES if "Categorical" not in f],
    "int-widening": ["pandas", "dict-numpy", "dict-lists"],
    "date": [f for f in FRAMES if "Categorical" not in f],
    "bytes": [f for f in FRAMES if "Categorical" not in f],
}
FRAME_DEFECTS: dict[str, str] = {}


def key_text(x):
    """A key or time as comparable text, whatever library gave it."""
    if isinstance(x, (datetime.datetime, np.datetime64, pd.Timestamp)):
        return str(np.datetime64(pd.Timestamp(x).to_datetime64(), "ms"))
    if isinstance(x, datetime.date):
        return str(np.datetime64(x, "ms"))
    if isinstance(x, (float, np.floating)):
        return bits(x)
    if isinstance(x, (np.integer, int)):
        return str(int(x))
    return repr(x)


def check_rolling(d, out, frame):
    cols = rows_of(out.collect() if hasattr(out, "collect") else out)
    time = [] if d.time is None else ["ts"]
    assert list(cols) == ["k", *time, *DETAIL]                 # the one schema
    assert len(cols["rmse"]) == N
    assert table(cols) == d.reference()
    assert [key_text(x) for x in cols["k"]] == [key_text(x) for x in d.keys.tolist()]
    if d.time is not None:
        assert [key_text(x) for x in cols["ts"]] == [key_text(x) for x in d.time.tolist()]
    assert all(type(c) is int for c in cols["count"] + cols["omitted"])
    if isinstance(frame, pd.DataFrame):
        assert out.index.equals(frame.index)                   # row-aligned


@pytest.mark.parametrize("frame_kind", marked(FRAMES, FRAME_DEFECTS))
@pytest.mark.parametrize("name", SETS)
def test_rolling_on_frames(name, frame_kind):
    d = Data(name)
    frame = FRAMES[frame_kind](d.columns())
    check_rolling(d, rmse_ext.rolling(frame, "y", "yhat", **d.rolling_kwargs()), frame)


def key_cells():
    for kind, frames in KEY_FRAMES.items():
        if kind != "str":
            for frame_kind in frames:
                yield kind, frame_kind


@pytest.mark.parametrize("key_kind, frame_kind", list(key_cells()))
@pytest.mark.parametrize("name", ["count-omit", "duration"])
def test_rolling_key_kinds_on_frames(name, key_kind, frame_kind):
    d = Data(name, key_kind)
    if key_kind == "int-widening" and frame_kind != "dict-lists":
        d.keys = d.keys.astype(object)
    frame = FRAMES[frame_kind](d.columns())
    check_rolling(d, rmse_ext.rolling(frame, "y", "yhat", **d.rolling_kwargs()), frame)


# -- rmse-ext rolling --------------------------------------------------------------------------

def cell_text(x):
    """A CSV field: floats round-trip (repr), NaN as an empty field."""
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(x)
    return str(x)


def write_input(tmp_path, d, fmt):
    cols = d.columns()
    path = tmp_path / f"d.{fmt}"
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(list(cols))
            for row in zip(*(v.tolist() if v.dtype.kind != "M" else list(v) for v in
                             cols.values())):
                writer.writerow([cell_text(x) for x in row])
    elif fmt == "parquet":
        pq.write_table(pa.table({n: pa.array(list_of(v), from_pandas=True,
                                             type=arrow_of(v).type)
                                 if v.dtype.kind == "f" else arrow_of(v)
                                 for n, v in cols.items()}), path, row_group_size=5)
    else:
        np.savez(path, **cols)
    return path


def run_rolling(tmp_path, d, sources, out_fmt, chunk_rows, *extra):
    out = tmp_path / f"r.{out_fmt}"
    args = ["rolling", *map(str, sources), "--window", d.cli_window, "--nan-policy", d.policy,
            "--out", str(out), "--no-progress", "--chunk-rows", str(chunk_rows), *extra]
    if d.least is not None:
        args += ["--min-samples", str(d.least)]
    code = cli_main(args)
    assert code == 0
    if out_fmt == "parquet":
        return pq.read_table(out).to_pydict()
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {name: [r[i] for r in body] for i, name in enumerate(header)}
    for name in ("rmse", "weight_sum"):
        cols[name] = [float(x) for x in cols[name]]            # round-trip parsing
    for name in ("count", "omitted"):
        cols[name] = [int(x) for x in cols[name]]
    return cols


def column_args(d, grouped=True):
    args = ["--true-column", "y", "--pred-column", "yhat"]
    if d.w is not None:
        args += ["--weight-column", "w"]
    if d.time is not None:
        args += ["--time-column", "ts"]
    return args + (["--group-column", "k"] if grouped else [])


def check_cli(d, cols, out_fmt):
    time = [] if d.time is None else ["ts"]
    assert list(cols) == ["k", *time, *DETAIL]
    assert table(cols) == d.reference()
    if out_fmt == "parquet":
        assert [key_text(x) for x in cols["k"]] == [key_text(x) for x in d.keys.tolist()]
    else:
        assert cols["k"] == [cli_key(x) for x in d.keys.tolist()]
    if d.time is not None:                  # the time column carried as read
        read = (lambda x: x) if out_fmt == "parquet" else \
            float if d.time_kind == "numeric" else np.datetime64
        assert [key_text(read(x)) for x in cols["ts"]] == [key_text(x) for x in d.time.tolist()]


def cli_key(x):
    """A key as rmse-ext writes it to CSV: bytes as hex (as eval writes them)."""
    if isinstance(x, bytes):
        return x.hex()
    return str(np.datetime64(x, "D")) if isinstance(x, datetime.date) else str(x)


#: cells that fail because of a defect outside this file's doors
CLI_DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize("chunk_rows", SPLITS)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("name", marked(SETS, CLI_DEFECTS))
def test_cli(tmp_path, name, fmt, chunk_rows):
    """rmse-ext rolling FILE in chunks of 1, 2 and 7 rows: the same bits,
    the same schema, written as the input's format."""
    d = Data(name)
    source = write_input(tmp_path, d, fmt)
    check_cli(d, run_rolling(tmp_path, d, [source], fmt, chunk_rows, *column_args(d)), fmt)


# .npz holds no NUL-suffixed strings or bytes (NumPy's U / S drop them) and no mixed
# ints; CSV holds no bytes
CLI_KEY_CELLS = [(kind, fmt) for kind in KEY_POOLS for fmt in ("csv", "parquet", "npz")
                 if not (kind in ("int-widening", "str", "bytes") and fmt == "npz")
                 and not (kind == "int-widening" and fmt == "parquet")
                 and not (kind == "bytes" and fmt == "csv")]


@pytest.mark.parametrize("chunk_rows", SPLITS)
@pytest.mark.parametrize("key_kind, fmt", CLI_KEY_CELLS)
def test_cli_key_kinds(tmp_path, key_kind, fmt, chunk_rows):
    """Key kinds through the CLI; in CSV the integer keys' kind changes
    between chunks (int64, then past 2**63, then -1 beside 2**64 - 1)."""
    d = Data("duration", key_kind)
    source = write_input(tmp_path, d, fmt)
    out_fmt = "csv" if fmt == "npz" else fmt
    check_cli(d, run_rolling(tmp_path, d, [source], out_fmt, chunk_rows, *column_args(d)), out_fmt)


@pytest.mark.parametrize("chunk_rows", SPLITS)
@pytest.mark.parametrize("name", ["count", "count-omit"])
def test_cli_npy_files_ungrouped(tmp_path, name, chunk_rows):
    """Two .npy files, one series: the reference without groups."""
    d = Data(name)
    np.save(tmp_path / "y.npy", d.t)
    np.save(tmp_path / "p.npy", d.p)
    out = run_rolling(tmp_path, d, [tmp_path / "y.npy", tmp_path / "p.npy"], "csv",
                      chunk_rows)
    want = rolling_columns(d.t, d.p, window=d.window, min_samples=d.least, nan_policy=d.policy,
                           detail=True)
    assert list(out) == DETAIL
    assert table(out) == table(want)


@pytest.mark.parametrize("chunk_rows", SPLITS)
@pytest.mark.parametrize("name", SETS)
def test_cli_npz(tmp_path, name, chunk_rows):
    """Every data set from .npz columns (uint64 keys past 2**63; a float
    window's numeric times are numbers, not keys)."""
    d = Data(name, "uint64")
    source = write_input(tmp_path, d, "npz")
    check_cli(d, run_rolling(tmp_path, d, [source], "parquet", chunk_rows, *column_args(d)),
              "parquet")


# -- time columns in every representation -------------------------------------------------------

def utc(d):
    return pd.Series(d.time).dt.tz_localize("UTC")


#: the duration data set's times as each library holds instants (time zones
#: included: a window spans instants, whatever zone they are read in)
TIME_FRAMES = {
    "pandas-tz": lambda c, d: pd.DataFrame(dict(c, ts=utc(d).dt.tz_convert("Europe/Berlin"))),
    "pandas-datetime-objects": lambda c, d: pd.DataFrame(
        dict(c, ts=pd.Series(d.time.astype(object).tolist(), dtype=object))),
    "polars-tz": lambda c, d: polars_frame(c).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Kolkata")),
    "pyarrow-tz": lambda c, d: arrow_table(c, 2).set_column(
        1, "ts", pa.array(d.time).cast(pa.timestamp("ms", tz="America/New_York"))),
    "dict-datetimes": lambda c, d: dict(c, ts=d.time.astype(object).tolist()),
    "dict-Timestamps": lambda c, d: dict(c, ts=list(utc(d).dt.tz_convert("Asia/Tokyo"))),
}


def dtype_of(frame, name):
    if isinstance(frame, dict):
        return None
    if isinstance(frame, pa.Table):
        return frame.schema.field(name).type
    return frame.schema[name] if isinstance(frame, pl.DataFrame) else frame[name].dtype


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("form", TIME_FRAMES)
def test_time_columns_in_every_representation(form):
    """The same instants as pandas tz-aware, datetime objects, polars and
    Arrow time zones, lists of datetimes / Timestamps: the reference's bits,
    without a warning, and the ``on`` column comes back as the frame gave it
    (its type, its zone)."""
    d = Data("duration")
    frame = TIME_FRAMES[form](d.columns(), d)
    out = rmse_ext.rolling(frame, "y", "yhat", **d.rolling_kwargs())
    check_rolling(d, out, frame)
    assert dtype_of(out, "ts") == dtype_of(frame, "ts")


DAYS = np.array(["2024-02-27", "2024-02-28", "2024-02-28", "2024-03-01", "2024-03-09",
                 "2024-03-10", "2024-03-12", "2024-03-12"], dtype="M8[D]")
DATE_FORMS = {
    "numpy": lambda t: t,
    "pandas-objects": lambda t: pd.Series(t.tolist(), dtype=object),
    "polars": lambda t: pl.Series(t),
    "arrow": lambda t: pa.array(t),
    "dict-list": lambda t: t.tolist(),
}


@pytest.mark.parametrize("form", DATE_FORMS)
def test_dates_as_times(form):
    """Dates (datetime.date objects, polars Date, Arrow date32) are times:
    a '3D' window over them as over datetime64[D]."""
    y = np.zeros(len(DAYS))
    p = np.arange(1.0, len(DAYS) + 1) * 10.0 ** np.arange(-3, len(DAYS) - 3)
    want = rolling_columns(y, p, window="3D", time=DAYS, nan_policy="raise", detail=True)
    cols = {"ts": DATE_FORMS[form](DAYS), "y": y, "yhat": p}
    frame = pd.DataFrame(cols) if form.startswith("pandas") else \
        pl.DataFrame(cols) if form == "polars" else pa.table(cols) if form == "arrow" else cols
    out = rows_of(rmse_ext.rolling(frame, "y", "yhat", window="3D", on="ts"))
    assert list(out) == ["ts", *DETAIL]
    assert table(out) == table(want)
    assert [key_text(x) for x in out["ts"]] == [key_text(x) for x in DAYS.tolist()]


# -- several by columns ---------------------------------------------------------------------------

@pytest.mark.parametrize("frame_kind", FRAMES)
def test_rolling_by_several_columns(frame_kind):
    """by=["k", "k2"]: one window per combination, as the reference keyed by
    the pair; both key columns come back under their names, in order."""
    d = Data("count-omit")
    k2 = np.array([7, 2**63 + 5], dtype=np.uint64)[(np.arange(N) % 3 == 0).astype(int)]
    cols = d.columns()
    cols = {"k": cols.pop("k"), "k2": k2, **cols}
    pairs = np.array([f"{a!r}|{b}" for a, b in zip(d.keys.tolist(), k2.tolist())], dtype=object)
    want = rolling_columns(d.t, d.p, window=d.window, sample_weight=d.w, groups=pairs,
                           min_samples=d.least, nan_policy=d.policy, detail=True)
    assert len(set(pairs.tolist())) > len(set(d.keys.tolist()))       # the pair matters
    frame = FRAMES[frame_kind](cols)
    out = rows_of(rmse_ext.rolling(frame, "y", "yhat", **dict(d.rolling_kwargs(), by=["k", "k2"])))
    assert list(out) == ["k", "k2", *DETAIL]
    assert table(out) == table(want)
    assert [key_text(x) for x in out["k"]] == [key_text(x) for x in d.keys.tolist()]
    assert [int(x) for x in out["k2"]] == k2.tolist()


# -- the function itself, every representation of its arguments ---------------------------------

GROUP_FORMS = {
    "object": lambda k: k,
    "list": lambda k: k.tolist(),
    "pandas-object": lambda k: pd.Series(k, dtype=object),
    "pandas-string": lambda k: pd.Series(k, dtype="string"),
    "pandas-categories": lambda k: pd.Series(categorical(k)),
    "arrow": lambda k: pa.array(k.tolist()),
    "arrow-dictionary": lambda k: pa.array(k.tolist()).dictionary_encode(),
    "polars": lambda k: pl.Series(k.tolist()),
}


@pytest.mark.parametrize("form", [*ARGUMENT_FORMS, *(f"groups-{g}" for g in GROUP_FORMS)])
@pytest.mark.parametrize("name", ["count-omit", "numeric-omit", "count-propagate-on"])
def test_function_argument_forms(name, form):
    """rolling_root_mean_squared_error with y_true, y_pred, sample_weight and
    a numeric time as NumPy / lists / pandas (Float64) / Arrow (chunked,
    sliced, dictionary) / polars, or groups= in every key form: the
    reference's bits."""
    d = Data(name)
    vf = ARGUMENT_FORMS.get(form, ARGUMENT_FORMS["numpy"])
    gf = GROUP_FORMS.get(form.removeprefix("groups-")) if form.startswith("groups-") else None
    time = d.time if d.time_kind == "numeric" else None
    got = rolling_root_mean_squared_error(
        vf(d.t), vf(d.p), window=d.window, sample_weight=None if d.w is None else vf(d.w),
        time=None if time is None else vf(time),
        groups=d.keys if gf is None else gf(d.keys), min_samples=d.least, nan_policy=d.policy)
    assert hexes(got) == d.reference()["rmse"]


def test_cli_parquet_time_column_keeps_its_zone(tmp_path):
    """rmse-ext rolling writes the time column of a Parquet file in its own
    type, as the frames return theirs: a zone kept (it was written as naive
    UTC, 00:00+01:00 reading as 23:00), the instants and bits unchanged."""
    d = Data("duration")
    zoned = pa.array(d.time).cast(pa.timestamp("ms", tz="Europe/Berlin"))
    cols = {n: arrow_of(v) for n, v in d.columns().items()}
    pq.write_table(pa.table(dict(cols, ts=zoned)), tmp_path / "d.parquet", row_group_size=5)
    out = run_rolling(tmp_path, d, [tmp_path / "d.parquet"], "parquet", 7, *column_args(d))
    check_cli(d, out, "parquet")
    assert pq.read_schema(tmp_path / "r.parquet").field("ts").type == zoned.type


# -- samples of several elements ---------------------------------------------------------------------

def rows_of_three():
    """(N, 3) samples: every element counts, a NaN in each operand under 'omit'."""
    rng = np.random.default_rng(3)
    t = rng.normal(size=(N, 3)) * 10.0 ** rng.integers(-3, 4, (N, 3))
    p, w = t + rng.normal(size=(N, 3)), rng.random((N, 3)) * 2
    t[4, 1], p[9, 0], w[14, 2] = np.nan, np.nan, np.nan
    return t, p, w


@pytest.mark.parametrize("splits", SPLITS)
def test_samples_of_several_elements(tmp_path, splits):
    """A sample is a row of 3 elements: the class in batches of 1, 2, 7
    samples and rmse-ext rolling on .npz columns of such rows in chunks of
    1, 2, 7 rows give the function's bits, counts and omitted."""
    t, p, w = rows_of_three()
    kw = dict(window=4, min_samples=1, nan_policy="omit")
    want = table(rolling_columns(t, p, sample_weight=w, detail=True, **kw))
    m = RollingRootMeanSquaredError(4, dtype="float64", nan_policy="omit")
    for rows in pieces(N, -(-N // splits)):
        m.update_state(t[rows], p[rows], w[rows])
        i = rows.stop - 1
        assert (bits(m.result()), m.count, bits(m.weight_sum)) == \
            (want["rmse"][i], want["count"][i], want["weight_sum"][i])
    np.savez(tmp_path / "d.npz", y=t, yhat=p, w=w)
    out = tmp_path / "r.csv"
    assert cli_main(["rolling", str(tmp_path / "d.npz"), "--true-column", "y", "--pred-column",
                     "yhat", "--weight-column", "w", "--window", "4", "--min-samples", "1",
                     "--nan-policy", "omit", "--chunk-rows", str(splits), "--out", str(out),
                     "--no-progress"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    got = {name: [float(r[name]) if name in ("rmse", "weight_sum") else int(r[name])
                  for r in rows] for name in DETAIL}
    assert table(got) == want


@pytest.mark.parametrize("frame_kind", ["pandas", "polars", "pyarrow", "dict-numpy"])
def test_empty_frames_answer_in_the_schema(frame_kind):
    """No rows: an empty table in the one schema, the key and time columns
    of the frame's own types (an empty text key column read as int64 before)."""
    cols = {"k": np.array(["a"], dtype=object)[:0], "ts": T0 + np.zeros(0, "m8[s]"),
            "y": np.zeros(0), "yhat": np.zeros(0)}
    arrow = pa.table(dict(cols, k=pa.array([], pa.string())))
    frame = {"pandas": lambda: pd.DataFrame(cols), "polars": lambda: pl.from_arrow(arrow),
             "pyarrow": lambda: arrow, "dict-numpy": lambda: cols}[frame_kind]()
    out = rmse_ext.rolling(frame, "y", "yhat", window="1h", on="ts", by="k")
    assert list(rows_of(out)) == ["k", "ts", *DETAIL]
    assert all(len(v) == 0 for v in rows_of(out).values())
    if frame_kind == "dict-numpy":
        assert out["k"].dtype.kind in "UO" and out["ts"].dtype == cols["ts"].dtype
    else:
        assert (dtype_of(out, "k"), dtype_of(out, "ts")) == \
            (dtype_of(frame, "k"), dtype_of(frame, "ts"))
