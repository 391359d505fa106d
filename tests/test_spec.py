"""The semantics, section by section (docs/semantics.md).

Each test names the section it checks.  Expected values come from the spec's
own table (section 7) or from arithmetic small enough to do by hand, written
out next to the assertion.
"""
import math

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError
from rmse_ext.reference import ExactRMSE

from helpers import snapshot


# -- 1. Public surface ---------------------------------------------------------

def test_1_defaults():
    m = RootMeanSquaredError()
    assert m.name == "root_mean_squared_error"
    assert m.dtype == "float32"
    assert m.result() == 0.0
    assert m.result().dtype == np.float32


def test_1_name_and_dtype_as_given():
    m = RootMeanSquaredError(name="val_rmse", dtype="float64")
    assert (m.name, m.dtype) == ("val_rmse", "float64")
    assert RootMeanSquaredError(dtype=np.float16).dtype == "float16"
    assert RootMeanSquaredError(dtype=np.dtype("float32")).dtype == "float32"


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", np.int16])
def test_1_integer_dtype_is_kept_and_the_result_is_float64(dtype):
    # issue 18 defect 11: tf.keras and Keras 3 accept any numeric dtype;
    # tf_keras's result is a float (float64) for an integer dtype
    m = RootMeanSquaredError(dtype=dtype)
    name = np.dtype(dtype).name
    assert m.dtype == name and m.get_config() == {"name": "root_mean_squared_error",
                                                  "dtype": name}
    m.update_state([2, 4, 6], [1, 3, 2])
    assert m.result().dtype == np.float64 and m.result() == math.sqrt(6)
    again = RootMeanSquaredError.from_config(m.get_config())
    assert again.dtype == name
    restored = RootMeanSquaredError.from_state(m.get_state())
    assert restored.dtype == name and restored.result() == m.result()


def test_1_result_is_sqrt_total_over_count(make_metric):
    m = make_metric()
    m.update_state([0.0, 0.0], [3.0, 4.0])          # total 25, count 2
    assert m.total == 25.0 and m.count == 2.0
    assert float(m.result()) == pytest.approx(math.sqrt(12.5), rel=1e-7)


def test_1_divide_no_nan_when_count_is_zero(make_metric):
    m = make_metric()
    m.update_state([1.0, 2.0], [3.0, 5.0], sample_weight=[0.0, 0.0])
    assert m.count == 0.0 and m.result() == 0.0
    # divide_no_nan returns 0 for a zero denominator whatever the numerator
    m.update_state([np.nan], [1.0], sample_weight=[0.0])
    assert m.result() == 0.0


def test_1_reset_state_and_reset_states(make_metric):
    for reset in ("reset_state", "reset_states"):
        m = make_metric()
        m.update_state([1, 2], [3, 4])
        getattr(m, reset)()
        assert m.result() == 0.0 and m.count == 0.0 and m.total == 0.0
        m.update_state([2, 4, 6], [1, 3, 2])
        assert float(m.result()) == pytest.approx(math.sqrt(6), rel=1e-7)


def test_1_call_returns_running_result_not_batch(make_metric):
    m = make_metric(dtype="float64")
    assert m([0.0], [2.0]) == 2.0                   # batch 1: 4 / 1
    r = m([0.0], [0.0])                              # batch 2 alone would be 0
    assert r == math.sqrt(2.0)                       # running: 4 / 2


def test_1_config_round_trip():
    m = RootMeanSquaredError(name="rmse_x", dtype="float64")
    m.update_state([1.0], [2.0])
    config = m.get_config()
    assert config == {"name": "rmse_x", "dtype": "float64"}
    m2 = RootMeanSquaredError.from_config(config)
    assert m2.get_config() == config
    assert m2.result() == 0.0 and m2.count == 0.0   # rebuilt empty


def test_1_default_config():
    assert RootMeanSquaredError().get_config() == {
        "name": "root_mean_squared_error", "dtype": "float32"}


# -- 2. One update, unweighted ----------------------------------------------

@pytest.mark.parametrize("convert", [
    lambda x: x,                                     # Python lists
    lambda x: np.array(x, dtype=np.float16),
    lambda x: np.array(x, dtype=np.float32),
    lambda x: np.array(x, dtype=np.float64),
    lambda x: np.array(x, dtype=np.int8),
    lambda x: np.array(x, dtype=np.uint16),
    lambda x: np.array(x, dtype=np.int64),
    lambda x: tuple(x),
], ids=["list", "f16", "f32", "f64", "i8", "u16", "i64", "tuple"])
def test_2_1_any_real_input(convert, make_metric):
    m = make_metric(dtype="float64")
    m.update_state(convert([2, 4, 6]), convert([1, 3, 2]))
    assert m.result() == math.sqrt(6.0)


def test_2_1_python_scalars_and_bools(make_metric):
    m = make_metric(dtype="float64")
    m.update_state(3, 5.0)                           # one element, error 2
    m.update_state(True, False)                      # True is 1: error 1
    assert m.count == 2.0 and m.total == 5.0


def test_2_2_squeeze_pred_extra_unit_axis(make_metric):
    m = make_metric(dtype="float64")
    m.update_state([1.0, 2.0, 3.0], [[1.0], [2.0], [5.0]])  # (3,) vs (3, 1)
    # squeezed to (3,): errors 0, 0, 4 -- not a (3, 3) broadcast
    assert m.count == 3.0 and m.total == 4.0


def test_2_2_squeeze_true_extra_unit_axis(make_metric):
    m = make_metric(dtype="float64")
    m.update_state([[1.0], [2.0], [3.0]], [1.0, 2.0, 5.0])
    assert m.count == 3.0 and m.total == 4.0


def test_2_2_nothing_else_is_reshaped(make_metric):
    m = make_metric(dtype="float64")
    # rank difference 2: no squeeze, ordinary broadcasting gives (3, 3)
    m.update_state([1.0, 2.0, 3.0], np.zeros((3, 1, 1)).tolist())
    assert m.count == 9.0
    # rank difference 1 but last dim 2: no squeeze, (2,) vs (3, 2) broadcast
    m.reset_state()
    m.update_state([1.0, 1.0], np.zeros((3, 2)))
    assert m.count == 6.0 and m.total == 6.0


def test_2_3_ordinary_broadcasting(make_metric):
    m = make_metric(dtype="float64")
    t = np.array([1.0, 2.0, 3.0])
    p = np.arange(12.0).reshape(4, 3)
    m.update_state(t, p)                              # (3,) against (4, 3)
    assert m.count == 12.0
    assert m.total == float(np.sum((p - t) ** 2))
    with pytest.raises(ValueError, match=r"y_true of shape \(4,\).*y_pred of shape \(3,\)"):
        m.update_state(np.zeros(4), np.zeros(3))


def test_2_4_count_is_element_count(make_metric):
    m = make_metric()
    m.update_state(np.zeros((5, 7)), np.ones((5, 7)))
    assert m.count == 35.0 and m.total == 35.0


# -- 3. One update, weighted -------------------------------------------------

def test_3_1_per_sample_weights_apply_to_rows(make_metric):
    m = make_metric(dtype="float64")
    y_true = np.zeros((2, 3))
    y_pred = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    m.update_state(y_true, y_pred, sample_weight=[1.0, 3.0])   # (2,) -> (2, 1)
    assert m.total == 1.0 * 3 + 3.0 * 12                       # 39
    assert m.count == 3 * (1.0 + 3.0)                          # counted per element
    assert m.result() == math.sqrt(39.0 / 12.0)


def test_3_1_weights_with_extra_unit_axis_are_squeezed(make_metric):
    m = make_metric(dtype="float64")
    w = np.arange(12.0).reshape(4, 3, 1)
    m.update_state(np.zeros((4, 3)), np.ones((4, 3)), sample_weight=w)
    assert m.count == float(w.sum()) and m.total == float(w.sum())


def test_3_1_extra_axis_not_unit_is_an_error(make_metric):
    m = make_metric()
    with pytest.raises(ValueError, match="sample_weight"):
        m.update_state(np.zeros((4, 3)), np.ones((4, 3)), sample_weight=np.ones((4, 3, 2)))


def test_3_2_scalar_weight_counts_every_element(make_metric):
    m = make_metric(dtype="float64")
    m.update_state(np.zeros((2, 3)), np.ones((2, 3)), sample_weight=2.5)
    assert m.count == 15.0 and m.total == 15.0


def test_3_2_unit_dims_broadcast_strictly(make_metric):
    m = make_metric(dtype="float64")
    w = np.array([[1.0, 2.0, 3.0]])                  # (1, 3) against (2, 3)
    p = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    m.update_state(np.zeros((2, 3)), p, sample_weight=w)
    assert m.count == 2 * 6.0                        # broadcast weights, counted per element
    assert m.total == 6.0 * 1 + 6.0 * 4


def test_3_3_fallback_averages_trailing_axes(make_metric):
    m = make_metric(dtype="float64")
    y_true = np.zeros((2, 3, 4))
    y_pred = np.concatenate([np.full((1, 3, 4), 1.0), np.full((1, 3, 4), 3.0)])
    m.update_state(y_true, y_pred, sample_weight=[2.0, 5.0])
    # per-sample means 1 and 9; total 2*1 + 5*9 = 47; count 2 + 5 = 7
    assert m.total == 47.0 and m.count == 7.0


def test_3_3_fallback_matches_exact_reference(make_metric):
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 5))
    w = rng.random(3)
    m, ref = make_metric(dtype="float64"), ExactRMSE()
    m.update_state(y_true, y_pred, w)
    ref.update_state(y_true, y_pred, w)
    assert float(m.result()) == pytest.approx(ref.result(), rel=1e-15)
    assert m.count == pytest.approx(float(ref.count), rel=1e-16)


def test_3_3_fallback_must_broadcast(make_metric):
    m = make_metric()
    with pytest.raises(ValueError, match="sample_weight"):
        m.update_state(np.zeros((2, 3, 4)), np.ones((2, 3, 4)), sample_weight=[1.0, 2.0, 3.0])


def test_3_4_weights_3_against_4x3_are_an_error(make_metric):
    m = make_metric()
    with pytest.raises(ValueError, match=r"sample_weight.*\(3,\)"):
        m.update_state(np.zeros((4, 3)), np.ones((4, 3)), sample_weight=np.ones(3))


def test_3_4_weights_4x3x1_against_4x3_are_accepted(make_metric):
    m = make_metric()
    m.update_state(np.zeros((4, 3)), np.ones((4, 3)), sample_weight=np.ones((4, 3, 1)))
    assert m.count == 12.0


def test_3_4_negative_weights_enter_the_sums(make_metric):
    m = make_metric(dtype="float64")
    m.update_state([0.0, 0.0], [1.0, 2.0], sample_weight=[3.0, -0.5])
    assert m.total == 3.0 * 1 - 0.5 * 4 and m.count == 2.5


def test_3_4_all_zero_weights_give_zero(make_metric):
    m = make_metric()
    m.update_state([0.0, 1.0], [5.0, 7.0], sample_weight=[0, 0])
    assert m.result() == 0.0


# -- 4. Edge values ----------------------------------------------------------

def test_4_empty_batches_change_nothing(make_metric):
    m = make_metric()
    m.update_state([1.0, 2.0], [2.0, 4.0])
    before = snapshot(m)
    m.update_state([], [])
    m.update_state(np.zeros((0, 3)), np.zeros((0, 3)))
    m.update_state(np.zeros((0, 3)), np.zeros((0, 3)), sample_weight=np.zeros(0))
    m.update_state(np.zeros((2, 0, 3)), np.zeros((2, 0, 3)), sample_weight=[1.0, 2.0])
    assert snapshot(m) == before


@pytest.mark.parametrize("nan_policy", ["propagate", "omit", "raise"])
def test_4_weights_broadcast_to_no_row_change_nothing(make_metric, nan_policy):
    # issue 18 defect 4: 3.3 with weights of 0 rows against a non-empty batch;
    # tf_keras folds (row means) * w of shape (0,): nothing, and sum(w) = 0
    m = make_metric(nan_policy=nan_policy)
    m.update_state([0.0], [1.0])
    before = snapshot(m)
    m.update_state(np.zeros((1, 6, 2)), np.ones((1, 6, 2)), sample_weight=np.zeros((0,)))
    m.update_state(np.zeros((1, 6)), np.ones((1, 6)), sample_weight=np.zeros((0, 1)))
    assert snapshot(m) == before
    assert m.result() == 1.0


def test_4_nan_poisons_until_reset(make_metric):
    m = make_metric()
    m.update_state([1.0, np.nan], [1.0, 2.0])
    assert np.isnan(m.result())
    m.update_state([1.0], [2.0])
    assert np.isnan(m.result())
    m.reset_state()
    m.update_state([1.0], [2.0])
    assert m.result() == 1.0


def test_4_nan_weight_propagates(make_metric):
    m = make_metric()
    m.update_state([1.0, 2.0], [2.0, 3.0], sample_weight=[1.0, np.nan])
    assert np.isnan(m.result())


def test_4_infinite_error_gives_inf(make_metric):
    m = make_metric()
    m.update_state([0.0, 1.0], [np.inf, 1.0])
    assert np.isposinf(m.result())
    m2 = make_metric()
    m2.update_state([-1e200], [1e200])               # overflows to inf, not NaN
    m2.update_state([0.0], [1.0])
    assert np.isposinf(m2.result())


def test_4_ints_and_bools_are_numbers(make_metric):
    m = make_metric(dtype="float64")
    m.update_state(np.array([True, False, True]), np.array([0, 0, 1], dtype=np.int32))
    assert m.total == 1.0 and m.count == 3.0


def test_4_failed_update_leaves_state_as_it_was(make_metric):
    m = make_metric()
    m.update_state([1.0, 2.0], [2.0, 4.5])
    before = snapshot(m)
    with pytest.raises(ValueError):
        m.update_state(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError):
        m.update_state(np.zeros((4, 3)), np.zeros((4, 3)), sample_weight=np.ones(3))
    with pytest.raises(TypeError):
        m.update_state(["a", "b"], [1.0, 2.0])
    assert snapshot(m) == before


# -- 5. Where rmse_ext does better ----------------------------------------------

def test_5_no_rounding_to_float32(make_metric):
    m = make_metric()
    m.update_state([1e8], [1e8 + 1])                  # float32 would see 0
    assert m.result() == 1.0


def test_5_float32_inputs_read_natively(make_metric):
    # float32 values whose difference float32 arithmetic rounds away
    t = np.array([16777216.0], dtype=np.float32)      # 2**24
    p = np.array([16777218.0], dtype=np.float32)
    m = make_metric(dtype="float64")
    m.update_state(t, p)
    assert m.result() == 2.0


def test_5_long_stream_does_not_stall(make_metric):
    # 2**24 + 1000 unit errors: a float32 total stops growing at 2**24
    m = make_metric(dtype="float64")
    ones = np.ones(1 << 16)
    for _ in range(256):
        m.update_state(np.zeros(1 << 16), ones)
    m.update_state(np.zeros(1000), np.ones(1000))
    assert m.total == float((1 << 24) + 1000) and m.count == float((1 << 24) + 1000)


def test_5_dtype_applies_only_to_result(make_metric):
    m16 = make_metric(dtype="float16")
    m64 = make_metric(dtype="float64")
    for m in (m16, m64):
        m.update_state([0.0, 0.0, 0.0], [1.0, 1.0, 1.0 + 2**-40])
    assert m16.total == m64.total                      # same float64 state
    assert m16.result().dtype == np.float16
    assert m16.result() == np.float16(m64.result())


# -- 6. Keras 3's difference: every element counts once -------------------------

def test_6_elements_count_once_across_widths(make_metric):
    rng = np.random.default_rng(6)
    m, ref = make_metric(dtype="float64"), ExactRMSE()
    batches = [(rng.normal(size=(4, k)), rng.normal(size=(4, k))) for k in (1, 5, 2)]
    for t, p in batches:
        m.update_state(t, p)
        ref.update_state(t, p)
    assert m.count == 32.0
    all_sq = np.concatenate([((p - t) ** 2).ravel() for t, p in batches])
    assert float(m.result()) == pytest.approx(math.sqrt(math.fsum(all_sq) / 32), rel=1e-15)
    per_sample = np.concatenate([((p - t) ** 2).mean(axis=1) for t, p in batches])
    keras3 = math.sqrt(per_sample.mean())
    assert abs(float(m.result()) - keras3) > 1e-6     # not the Keras 3 answer


# -- 7. Public reference values ----------------------------------------------------

@pytest.mark.parametrize("y_true, y_pred, weight, expected", [
    ([2, 4, 6], [1, 3, 2], None, 2.449489742783178),
    ([2, 4, 6, 8], [1, 3, 2, 3], [0, 1, 0, 1], 3.605551275463989),
    ([[0, 1], [0, 0]], [[1, 1], [0, 0]], None, 0.5),
    ([[0, 1], [0, 0]], [[1, 1], [0, 0]], [1, 0], 0.7071067811865476),
])
def test_7_reference_values(y_true, y_pred, weight, expected, make_metric):
    m64 = make_metric(dtype="float64")
    m64.update_state(y_true, y_pred, sample_weight=weight)
    assert m64.result() == expected
    m32 = make_metric()
    m32.update_state(y_true, y_pred, sample_weight=weight)
    assert m32.result() == np.float32(expected)


def test_7_no_update_is_zero():
    assert RootMeanSquaredError().result() == 0.0


def test_7_seed_example_prints():
    m = RootMeanSquaredError()
    m.update_state([2, 4, 6], [1, 3, 2])
    assert str(m.result()) == "2.4494898"
