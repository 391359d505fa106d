"""Any array, no copies: memmaps, torch CPU tensors, pandas columns,
array.array and memoryview reach the kernel without a copy when they are
already contiguous in float32/float64."""
import array
import tracemalloc

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError
from rmse_ext._plan import plan_update

from helpers import snapshot

N = 1000


def values(seed, n=N, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=n).astype(dtype)


def state_of(*args, **kwargs):
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(*args, **kwargs)
    return snapshot(m)


def assert_read_in_place(source_t, source_p, memory_t, memory_p, weights=None, memory_w=None):
    """The planner hands the kernel the caller's own memory, and the update
    equals the one on plain NumPy copies, bitwise."""
    plan = plan_update(source_t, source_p, weights)
    assert np.shares_memory(plan.t, memory_t) and np.shares_memory(plan.p, memory_p)
    if memory_w is not None:
        assert np.shares_memory(plan.w, memory_w)
    copies = [None if m is None else np.array(m) for m in (memory_t, memory_p, memory_w)]
    assert state_of(source_t, source_p, weights) == state_of(*copies)


# -- NumPy memmap ------------------------------------------------------------------

def memmap_of(path, data):
    data.tofile(path)
    return np.memmap(path, dtype=data.dtype, mode="r", shape=data.shape)


def test_memmap_is_read_in_place(tmp_path):
    t = memmap_of(tmp_path / "t.bin", values(1))
    p = memmap_of(tmp_path / "p.bin", values(2, dtype=np.float32))
    w = memmap_of(tmp_path / "w.bin", np.abs(values(3)))
    assert_read_in_place(t, p, t, p, w, w)


def test_large_memmap_update_keeps_traced_memory_small(tmp_path):
    n = 4_000_000                                        # 32 MB per file
    t = memmap_of(tmp_path / "t.bin", values(4, n))
    p = memmap_of(tmp_path / "p.bin", values(5, n))
    w = memmap_of(tmp_path / "w.bin", np.abs(values(6, n)))
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(t[:10], p[:10], w[:10])                # warm-up: first-call caches
    m.reset_state()
    tracemalloc.start()
    try:
        m.update_state(t, p, w)
        m.update_state(t, p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak                        # vs 32 MB per operand
    expected = RootMeanSquaredError(dtype="float64")
    expected.update_state(np.array(t), np.array(p), np.array(w))
    expected.update_state(np.array(t), np.array(p))
    assert snapshot(m) == snapshot(expected)


# -- array.array and memoryview ------------------------------------------------------

def test_array_array_and_memoryview_are_read_in_place():
    t = array.array("d", values(7).tolist())
    p = array.array("f", values(8, dtype=np.float32).tolist())
    view = memoryview(p)
    assert_read_in_place(t, view, np.frombuffer(t, dtype=np.float64),
                         np.frombuffer(p, dtype=np.float32))


def test_memoryview_of_raw_bytes_cast_to_double():
    raw = bytearray(values(9).tobytes())
    other = bytearray(values(10).tobytes())
    assert_read_in_place(memoryview(raw).cast("d"), memoryview(other).cast("d"),
                         np.frombuffer(raw), np.frombuffer(other))


# -- torch --------------------------------------------------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch (pip install torch==2.13.0) is not installed")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_cpu_tensor_shares_memory_with_what_the_kernel_reads(torch, dtype):
    t = torch.from_numpy(values(11, dtype=dtype))
    p = torch.from_numpy(values(12, dtype=dtype))
    w = torch.rand(N, dtype=getattr(torch, dtype))
    plan = plan_update(t, p, w)
    assert plan.t.ctypes.data == t.data_ptr() and plan.p.ctypes.data == p.data_ptr()
    assert plan.w.ctypes.data == w.data_ptr()
    assert_read_in_place(t, p, t.numpy(), p.numpy(), w, w.numpy())


def test_torch_tensor_requiring_grad_is_read_detached(torch):
    p = torch.tensor(values(13), requires_grad=True)
    t = torch.from_numpy(values(14))
    loss = (p * 2).sum()                                  # p is part of a graph
    plan = plan_update(t, p)
    assert plan.p.ctypes.data == p.data_ptr()             # detach() copies nothing
    assert state_of(t, p) == state_of(t.numpy(), p.detach().numpy())
    loss.backward()                                       # the graph is untouched
    assert torch.equal(p.grad, torch.full_like(p, 2.0))


def test_non_contiguous_and_unsupported_torch_tensors(torch):
    base = torch.from_numpy(values(15).reshape(25, 40))
    t = base.T                                            # a strided view: copied, same numbers
    p = torch.zeros(40, 25, dtype=torch.float64)
    assert state_of(t, p) == state_of(base.numpy().T.copy(), p.numpy())
    with pytest.raises(TypeError, match="y_true could not be read as an array"):
        RootMeanSquaredError().update_state(torch.zeros(3, dtype=torch.bfloat16),
                                            torch.zeros(3))


# -- pandas -------------------------------------------------------------------------

@pytest.fixture
def pd():
    return pytest.importorskip("pandas", reason="pandas (test extra) is not installed")


def test_pandas_series_and_dataframe_columns_are_read_in_place(pd):
    frame = pd.DataFrame({"truth": values(16), "pred": values(17), "w": np.abs(values(18))})
    series_t, series_p = frame["truth"], frame["pred"]
    assert_read_in_place(series_t, series_p, series_t.to_numpy(), series_p.to_numpy(),
                         frame["w"], frame["w"].to_numpy())
    alone = pd.Series(values(19, dtype=np.float32))
    assert_read_in_place(alone, series_p, alone.to_numpy(), series_p.to_numpy())


def test_pandas_dataframe_as_a_batch(pd):
    data = values(20).reshape(-1, 4)
    frame = pd.DataFrame(data, columns=list("abcd"))
    assert state_of(frame, np.zeros_like(data)) == state_of(data, np.zeros_like(data))
