"""Arrow (PyCapsule C data interface) and DLPack inputs: numbers read in place,
chunked columns folded chunk by chunk with the bits of the concatenated
array, nulls and non-numbers rejected by name, GPU tensors refused."""
import decimal

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError, root_mean_squared_error
from rmse_ext._inputs import Chunks, read_input, record_batches
from rmse_ext._plan import plan_update

from helpers import snapshot, traced_peak

pa = pytest.importorskip("pyarrow")


def address(a):
    return a.__array_interface__["data"][0]


def state_of(*args, nan_policy="propagate", **kwargs):
    m = RootMeanSquaredError(dtype="float64", nan_policy=nan_policy)
    m.update_state(*args, **kwargs)
    return snapshot(m)


def chunked(values, cuts):
    edges = [0, *cuts, len(values)]
    return pa.chunked_array([values[a:b] for a, b in zip(edges, edges[1:])],
                            type=pa.from_numpy_dtype(values.dtype))


def data(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype),
            rng.random(n))


# -- read in place ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "uint16",
                                   "int32", "int64", "uint64"])
def test_pyarrow_numbers_are_a_view_of_the_arrow_buffer(dtype):
    values = pa.array(np.arange(10).astype(dtype)).slice(3)
    view = read_input(values, "y_true")
    assert view.dtype == np.dtype(dtype) and view.tolist() == list(range(3, 10))
    assert address(view) == values.buffers()[1].address + 3 * view.itemsize
    assert not view.flags.writeable


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_kernel_reads_the_arrow_buffer_itself(dtype):
    t, p, _ = data(1000, dtype=dtype)
    at, ap = pa.array(t), pa.array(p)
    plan = plan_update(at, ap)
    assert {address(plan.t), address(plan.p)} == {at.buffers()[1].address,
                                                  ap.buffers()[1].address}
    assert state_of(at, ap) == state_of(t, p)


def test_the_arrow_view_keeps_the_array_alive():
    view = read_input(pa.array(np.arange(1000.0)), "y_true")   # the array itself is gone
    assert view.sum() == 499500.0


def test_polars_series_is_read_in_place():
    pl = pytest.importorskip("polars")
    t, p, w = data(1000)
    st, sp, sw = pl.Series(t), pl.Series(p), pl.Series(w)
    assert address(read_input(sp, "y_pred")) == sp.to_arrow().buffers()[1].address
    assert state_of(st, sp, sw) == state_of(t, p, w)
    ints = pl.Series([1, 2, 3], dtype=pl.Int16)
    assert read_input(ints, "y_true").dtype == np.int16


def test_dlpack_cpu_tensor_is_read_without_a_copy():
    torch = pytest.importorskip("torch")
    tensor = torch.linspace(0, 1, 1000, dtype=torch.float64)
    view = read_input(tensor, "y_pred")
    assert address(view) == tensor.data_ptr()
    assert state_of(tensor * 2, tensor) == state_of(tensor.numpy() * 2, tensor.numpy())


def test_dlpack_numpy_source_is_read_without_a_copy():
    class Tensor:                # a foreign host array speaking only DLPack
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kwargs):
            return self.a.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    a = np.arange(12.0).reshape(3, 4)
    view = read_input(Tensor(a), "y_true")
    assert address(view) == address(a) and view.shape == (3, 4)


def test_a_gpu_tensor_is_refused_with_a_clear_error():
    class CudaTensor:
        def __dlpack_device__(self):
            return (2, 1)

        def __dlpack__(self, **kwargs):
            raise AssertionError("must not be exported")

    m = RootMeanSquaredError()
    m.update_state([1.0], [2.0])
    before = snapshot(m)
    with pytest.raises(TypeError, match=r"y_pred is on a CUDA device .*move it to the host"):
        m.update_state([1.0], CudaTensor())
    assert snapshot(m) == before


# -- chunked columns -----------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 65536, 300_001, 2**21 + 7])
def test_misaligned_chunks_give_the_bits_of_the_concatenated_arrays(n):
    t, p, w = data(n, seed=n)
    cuts = lambda *f: sorted({max(1, min(n - 1, int(n * x))) for x in f}) if n > 2 else []
    ct, cp, cw = (chunked(t, cuts(0.1, 0.5)), chunked(p, cuts(0.3, 0.31, 0.9)),
                  chunked(w, cuts(0.7)))
    assert state_of(ct, cp) == state_of(t, p)
    assert state_of(ct, cp, cw) == state_of(t, p, w)
    assert state_of(ct, p, 0.5) == state_of(t, p, 0.5)


def test_chunked_rows_of_a_multi_output_column_give_the_same_bits():
    n, d = 70_001, 3
    rng = np.random.default_rng(1)
    t, p, w = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.random(n)

    def rows(a, cuts):
        edges = [0, *cuts, len(a)]
        return pa.chunked_array([pa.FixedSizeListArray.from_arrays(a[x:y].ravel(), d)
                                 for x, y in zip(edges, edges[1:])])

    assert read_input(rows(t, []), "y_true").shape == (n, d)
    assert state_of(rows(t, [5, 40000]), rows(p, [21845]), chunked(w, [3])) \
        == state_of(t, p, w)


def test_polars_chunked_series_folds_chunk_by_chunk():
    pl = pytest.importorskip("polars")
    t, p, _ = data(200_000, seed=3)
    st = pl.concat([pl.Series(t[:70_000]), pl.Series(t[70_000:])], rechunk=False)
    sp = pl.concat([pl.Series(p[:1]), pl.Series(p[1:150_000]), pl.Series(p[150_000:])],
                   rechunk=False)
    assert st.n_chunks() == 2 and isinstance(read_input(sp, "y_pred"), Chunks)
    assert state_of(st, sp) == state_of(t, p)


def test_chunked_columns_are_not_concatenated():
    n = 2**22       # 32 MiB per operand; a concatenation would hold 64 MiB
    t, p, _ = data(n, seed=4)
    ct, cp = chunked(t, [n // 3, 2 * n // 3]), chunked(p, [12345])
    m = RootMeanSquaredError()
    assert traced_peak(m.update_state, ct, cp) < 24 * 2**20
    assert snapshot(m) == state_of(t, p)


def test_chunked_operands_that_broadcast_use_the_ordinary_rules():
    t = np.arange(6.0).reshape(6, 1)
    p = chunked(np.arange(6.0) + 1, [2])          # (6,) against (6, 1): semantics 2.2
    assert state_of(t, p) == state_of(t, np.arange(6.0) + 1)
    with pytest.raises(ValueError, match="y_true of shape .* y_pred of shape"):
        RootMeanSquaredError().update_state(np.zeros(4), chunked(np.zeros(6), [2]))


def test_the_functional_form_and_sklearn_shapes_read_arrow_too():
    t, p, w = data(1000, seed=5)
    assert root_mean_squared_error(chunked(t, [10]), pa.array(p), sample_weight=w) \
        == root_mean_squared_error(t, p, sample_weight=w)


# -- what is not read ----------------------------------------------------------------------

def test_a_null_is_a_missing_value_exactly_like_nan_under_every_policy():
    """docs/semantics.md 8.2: an Arrow null reads as NaN at the metric's door
    too -- 'propagate' makes the result NaN, 'raise' names the argument and
    position with the state unchanged, 'omit' leaves the element out."""
    holey = pa.chunked_array([[1.0, 2.0], [None]], type=pa.float64())
    nan = np.array([1.0, 2.0, np.nan])
    for policy in ("propagate", "omit"):
        assert state_of(np.zeros(3), holey, nan_policy=policy) == \
            state_of(np.zeros(3), nan, nan_policy=policy)
    m = RootMeanSquaredError(nan_policy="raise")
    m.update_state([1.0], [2.0])
    before = snapshot(m)
    with pytest.raises(ValueError, match=r"sample_weight has a NaN at flat position 1 "):
        m.update_state(pa.array([1.0, 2.0]), pa.array([1.0, 2.0]),
                       sample_weight=pa.array([1.0, None]))
    with pytest.raises(ValueError, match=r"y_pred has a NaN at flat position 2 "):
        m.update_state(pa.array([1.0, 2.0, 3.0]), holey)
    assert snapshot(m) == before
    assert np.isnan(root_mean_squared_error(np.zeros(3), holey, nan_policy="propagate"))
    with pytest.raises(ValueError, match="NaN"):
        root_mean_squared_error(np.zeros(3), holey)


@pytest.mark.parametrize("values, what", [
    (pa.array(["a", "b"]), "string"),
    (pa.array([1, 2], pa.timestamp("s")), "timestamp"),
    (pa.array([b"x"]), "binary"),
])
def test_non_numbers_are_type_errors_naming_the_argument(values, what):
    with pytest.raises(TypeError, match=f"y_true must hold real numbers .*; got {what} values"):
        RootMeanSquaredError().update_state(values, values)


def test_a_table_needs_a_column_and_ragged_lists_are_not_arrays():
    with pytest.raises(TypeError, match=r"y_true is an Arrow table.* columns \['a', 'b'\]"):
        read_input(pa.table({"a": [1.0], "b": [2.0]}), "y_true")
    with pytest.raises(ValueError, match="rows have different lengths"):
        read_input(pa.array([[1.0, 2.0], [3.0]]), "y_pred")


def test_decimals_are_the_nearest_float64():
    digits = ["0.1", "-2.675", "123456789012345678901234567.89", "1e-20", "0"]
    for precision, scale in ((38, 2), (38, 20), (10, 3), (76, 40)):
        typ = (pa.decimal128 if precision <= 38 else pa.decimal256)(precision, scale)
        with decimal.localcontext() as context:
            context.prec = 100
            exact = [decimal.Decimal(x).quantize(decimal.Decimal(1).scaleb(-scale))
                     for x in digits]
        fitting = [x for x in exact if len(x.as_tuple().digits) <= precision]
        got = read_input(pa.array(fitting, typ), "y_true")
        assert got.tolist() == [float(x) for x in fitting]


# -- streams of record batches ------------------------------------------------------------

def test_record_batches_are_read_one_at_a_time_with_a_column_selection():
    rows, batches = 100_000, 40        # 40 x 1.6 MB of numbers (and strings not read)
    schema = pa.schema([("id", pa.string()), ("y", pa.float64()), ("yhat", pa.float64())])
    peak = [0]

    def produce():
        for k in range(batches):
            y = np.full(rows, float(k))
            yield pa.record_batch([pa.array(["x"] * 3 + [None] * (rows - 3)),
                                   pa.array(y), pa.array(y + 1)], schema=schema)

    reader = pa.RecordBatchReader.from_batches(schema, produce())
    m = RootMeanSquaredError(dtype="float64")
    for batch in record_batches(reader, ["y", "yhat"], "reader"):
        assert set(batch) == {"y", "yhat"}
        m.update_state(batch["y"], batch["yhat"])
        peak[0] = max(peak[0], pa.total_allocated_bytes())
        del batch
    assert m.result() == 1.0 and m.count == rows * batches
    assert peak[0] < 4 * rows * 8 * 3      # a few batches, never the stream


def test_record_batch_errors_name_the_column():
    table = pa.table({"y": [1.0, None], "s": ["a", "b"]})
    with pytest.raises(ValueError, match=r"no column 'z' \(columns: \['y', 's'\]\)"):
        list(record_batches(table, ["z"], "table"))
    with pytest.raises(ValueError, match="column 'y' of table has missing values"):
        list(record_batches(table, ["y"], "table"))
    with pytest.raises(TypeError, match="column 's' must hold real numbers .*; got string values"):
        list(record_batches(table, ["s"], "table"))
    with pytest.raises(TypeError, match="not a table of columns"):
        list(record_batches(pa.array([1.0]), ["y"], "y"))


def test_sliced_record_batches_start_at_their_offset():
    batch = pa.record_batch({"y": np.arange(10.0), "yhat": np.arange(10.0) * 2})
    (got,) = record_batches(batch.slice(4, 3), ["y", "yhat"], "batch")
    assert got["y"].tolist() == [4.0, 5.0, 6.0] and got["yhat"].tolist() == [8.0, 10.0, 12.0]


# -- dictionary-encoded columns (issue 18, defect 2) -------------------------------------

def test_dictionary_encoded_numbers_are_read_as_their_values_not_their_indices():
    values = [10.0, 20.0, 10.0, 30.0]
    encoded = pa.array(values).dictionary_encode()
    assert root_mean_squared_error(encoded, values) == 0.0
    assert state_of(encoded, np.zeros(4)) == state_of(np.array(values), np.zeros(4))
    # sliced, chunked, integer dictionaries, nulls (through a null index) and
    # narrow index types read the same values as the decoded column
    holey = pa.DictionaryArray.from_arrays(pa.array([2, None, 0, 1, 2], pa.int8()),
                                           pa.array([1.5, -2.0, 7.0]))
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(holey.slice(1), np.zeros(4))
    want = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    want.update_state(np.array([np.nan, 1.5, -2.0, 7.0]), np.zeros(4))
    assert snapshot(m) == snapshot(want) and m.omitted == 1
    ints = pa.chunked_array([pa.array([3, 3, 5]).dictionary_encode(),
                             pa.array([5, 8]).dictionary_encode()])
    assert state_of(ints, np.zeros(5)) == state_of(np.array([3, 3, 5, 5, 8.0]), np.zeros(5))
    with pytest.raises(ValueError, match="NaN.* position 1"):
        root_mean_squared_error(holey, np.zeros(5))


def test_dictionary_encoded_strings_are_not_numbers():
    with pytest.raises(TypeError, match="y_true must hold real numbers .*; got string values"):
        RootMeanSquaredError().update_state(pa.array(["1", "2"]).dictionary_encode(), [1, 2])
