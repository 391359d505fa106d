"""The Keras shape and weight rules, turned into one kernel call.

Every rule cites its section of docs/semantics.md.  Nothing
here touches the metric's state: ``plan_update`` either raises (TypeError /
ValueError naming the argument and the shapes) or returns a ``Plan`` whose
``apply`` cannot fail.  The common layouts reach the kernel without any
batch-sized temporary: equal shapes, a scalar weight, per-sample weights
``(n,)`` against ``(n, d)``, and a ``(d,)`` operand against an ``(n, d)`` one.
"""
from math import prod

import numpy as np

from ._backend import (
    T_FULL, T_ROW, W_COL, W_FULL, W_NONE, W_ROW, W_SCALAR,
)
from ._inputs import FLOAT64, as_array, as_operand, kernel_dtype


class Plan:
    """One prepared update: ``apply(acc)`` folds it into an accumulator."""

    __slots__ = ("t", "p", "w", "cols", "t_mode", "w_mode", "w_scalar", "repeat")
    threadable = True   # rmse_ext._parallel may spread it over chunks

    def __init__(self, t, p, w=None, cols=0, t_mode=T_FULL, w_mode=W_NONE,
                 w_scalar=0.0, repeat=1):
        self.t, self.p, self.w, self.cols = t, p, w, cols
        self.t_mode, self.w_mode, self.w_scalar = t_mode, w_mode, w_scalar
        self.repeat = repeat

    def apply(self, acc):
        if self.p.size:
            acc.fold(self.t, self.p, self.w, self.cols or self.p.size,
                     self.t_mode, self.w_mode, self.w_scalar, self.repeat)


EMPTY = Plan(None, np.empty(0))

# y_true blocks shorter than this are tiled to about this many elements
SHORT_ROW = 2048


def squeeze_last(a):
    """Drop a trailing length-1 axis (a view; C order is kept)."""
    return a.reshape(a.shape[:-1])


def fix_ranks(t, p):
    """Semantics 2.2: squeeze a trailing size-1 axis off the operand that has
    exactly one more dimension than the other."""
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        p = squeeze_last(p)
    elif t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = squeeze_last(t)
    return t, p


def fix_weight_rank(w, shape):
    """Semantics 3.1: match the weights' rank to the squared errors' ``shape``."""
    if w.ndim == 0:
        return w
    if w.ndim == len(shape) + 1:
        if w.shape[-1] != 1:
            raise ValueError(
                f"sample_weight of shape {w.shape} has one more dimension than "
                f"the squared errors {shape}, and its last dimension is not 1"
            )
        return squeeze_last(w)
    if len(shape) == w.ndim + 1:
        return w.reshape(w.shape + (1,))
    return w


def strictly_broadcastable(wshape, shape):
    """Semantics 3.2: scalar, or same rank with every dimension 1 or equal."""
    return len(wshape) == 0 or (
        len(wshape) == len(shape)
        and all(wd == 1 or wd == vd for wd, vd in zip(wshape, shape))
    )


def suffix_size(small, big):
    """If ``small`` broadcasts against ``big`` by repeating one contiguous
    block (its shape, leading 1s dropped, is a suffix of ``big``), the size of
    that block; else 0."""
    core = small
    while core and core[0] == 1:
        core = core[1:]
    if big[len(big) - len(core):] == core:
        return prod(core)   # 1 for a scalar-like operand
    return 0


def block_structure(wshape, shape):
    """For strictly broadcastable weights of the squared errors' rank: which
    kernel weight mode reads them in place, and its row length."""
    r = len(shape)
    k = r
    while k > 0 and wshape[k - 1] == 1 and shape[k - 1] != 1:
        k -= 1
    if tuple(wshape[:k]) == tuple(shape[:k]) and all(d == 1 for d in wshape[k:]):
        return (W_FULL, 0) if k == r else (W_ROW, prod(shape[k:]))
    j = 0
    while j < r and wshape[j] == 1:
        j += 1
    if tuple(wshape[j:]) == tuple(shape[j:]):
        return W_COL, prod(shape[j:])
    return None, 0


def broadcast_error(name_a, a_shape, name_b, b_shape, why=""):
    return ValueError(
        f"{name_a} of shape {tuple(a_shape)} and {name_b} of shape "
        f"{tuple(b_shape)} do not broadcast{why}"
    )


def constant_along(a, axis):
    """Whether ``a`` (right-aligned to the full rank) repeats along ``axis``
    (a negative axis: one it does not have)."""
    return axis < 0 or a.shape[axis] == 1 or a.strides[axis] == 0


def compress_repeats(arrays, shape):
    """Axes along which every operand is constant (size 1 or a zero stride,
    e.g. ``np.broadcast_to`` views) add nothing but repetition: cut them to
    length 1 and return the repetition factor.  Huge broadcast views then
    cost the kernel only their distinct elements."""
    present = [a for a in arrays if a is not None]
    if not any(0 in a.strides for a in present):
        return arrays, shape, 1
    r = len(shape)
    cut = [i for i in range(r) if shape[i] > 1
           and all(constant_along(a, i - (r - a.ndim)) for a in present)]
    if not cut:
        return arrays, shape, 1

    def shrink(a):
        if a is None:
            return None
        index = tuple(slice(0, 1) if i + (r - a.ndim) in cut else slice(None)
                      for i in range(a.ndim))
        return a[index]

    return ([shrink(a) for a in arrays],
            tuple(1 if i in cut else n for i, n in enumerate(shape)),
            prod(shape[i] for i in cut))


def plan_update(y_true, y_pred, sample_weight=None):
    """Validate one update and lay it out for the kernel."""
    t = as_array(y_true, "y_true")
    kernel_dtype(t.dtype, "y_true")
    p = as_array(y_pred, "y_pred")
    kernel_dtype(p.dtype, "y_pred")
    w = None
    if sample_weight is not None:
        w = as_array(sample_weight, "sample_weight")
        kernel_dtype(w.dtype, "sample_weight")
    t, p = fix_ranks(t, p)                                        # semantics 2.2
    shape = t.shape
    if p.shape != shape:
        try:
            shape = np.broadcast_shapes(t.shape, p.shape)         # semantics 2.3
        except ValueError:
            raise broadcast_error("y_true", t.shape, "y_pred", p.shape) from None

    if w is not None:
        given = w.shape
        w = fix_weight_rank(w, shape)                             # semantics 3.1
        if not strictly_broadcastable(w.shape, shape):            # semantics 3.3
            return averaged_plan(t, p, w, shape, given)
    if prod(shape) == 0:                                          # semantics 4
        return EMPTY

    (t, p, w), shape, repeat = compress_repeats([t, p, w], shape)
    t, p, w = unbroadcast(t), unbroadcast(p), unbroadcast(w)
    t, p = as_operand(t, "y_true"), as_operand(p, "y_pred")

    # The kernel reads y_pred at full shape and y_true either full or as one
    # block repeated along it.  (p - t)**2 is symmetric, so whichever operand
    # is full plays y_pred; if neither is, one is spelled out.
    if p.shape != shape and t.shape == shape:
        t, p = p, t
    if p.shape != shape:
        p = np.ascontiguousarray(np.broadcast_to(p, shape))
    cols = suffix_size(t.shape, shape)
    if t.shape == shape:
        t_mode, cols = T_FULL, 0
    elif cols:
        t_mode = T_ROW
    else:
        t, t_mode = np.ascontiguousarray(np.broadcast_to(t, shape)), T_FULL

    w_mode, w_scalar = W_NONE, 0.0
    if w is not None and w.size == 1:                             # semantics 3.2
        w_mode, w_scalar, w = W_SCALAR, float(w.reshape(())), None
    elif w is not None:
        w_mode, w_cols = block_structure(w.shape, shape)
        if w_mode in (W_ROW, W_COL):
            if t_mode == T_FULL:
                cols = w_cols
            elif w_cols % cols == 0:    # y_true's block, repeated to one weight row
                t, cols = np.tile(t.reshape(-1), w_cols // cols), w_cols
            else:
                w_mode = None
        if w_mode is None:              # an irregular pattern: spell the weights out
            w, w_mode = np.broadcast_to(w, shape), W_FULL
        w = as_operand(w, "sample_weight")
    if t_mode == T_ROW and w_mode not in (W_ROW, W_COL) and cols < SHORT_ROW:
        # a short repeated block: tile it (a few KiB) so the kernel's runs are long
        reps = SHORT_ROW // cols
        t, cols = np.tile(t.reshape(-1), reps), cols * reps
    return Plan(t, p, w, cols, t_mode, w_mode, w_scalar, repeat=repeat)


def unbroadcast(a):
    """A view of ``a`` with every zero-stride axis cut to length 1: the same
    values under broadcasting, without the repetition (``np.broadcast_to``
    views, scalars expanded by strides)."""
    if a is None or 0 not in a.strides:
        return a
    return a[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in a.strides)]


def averaged_shape(w, shape, given):
    """Semantics 3.3: the number ``k`` of leading axes the squared errors keep
    (they are averaged over the rest) and the shape of their product with
    the weights; ValueError when the weights do not broadcast.  Works on
    anything with ``.shape``/``.ndim`` (rmse_ext.dask uses it too)."""
    k = min(w.ndim, len(shape))
    lead = shape[:k]
    try:
        return k, np.broadcast_shapes(lead, w.shape)
    except ValueError:
        read_as = f" (read as {w.shape}, semantics 3.1)" if w.shape != given else ""
        averaged = f", averaged to {lead}" if lead != shape else ""
        raise ValueError(
            f"sample_weight of shape {given}{read_as} does not broadcast to the "
            f"squared errors of shape {shape}{averaged} (semantics 3.2/3.3)"
        ) from None


def row_means(t, p, k):
    """Semantics 3.3: the mean of (p - t)**2 over all but the first ``k`` axes of
    the operands' broadcast shape (each row's sum rounded once to float64)."""
    t, p = as_operand(t, "y_true"), as_operand(p, "y_pred")
    t_full, p_full = (np.ascontiguousarray(a) for a in np.broadcast_arrays(t, p))
    cols = prod(t_full.shape[k:])
    from ._backend import kernel
    return (kernel.row_sums(t_full, p_full, cols) / cols).reshape(t_full.shape[:k])


def averaged_plan(t, p, w, shape, given):
    """Semantics 3.3: weights that do not strictly broadcast.  The squared errors
    are averaged over their trailing axes down to the weights' rank, the
    averages times the weights (ordinary broadcasting) go into the total and
    ``sum(w)`` into the count.  The kernel forms sum(w_i * rowsum_i) / cols
    in its compensated arithmetic, so cancelling signed weights keep it."""
    k, out_shape = averaged_shape(w, shape, given)
    weights = np.ascontiguousarray(w, dtype=FLOAT64).reshape(-1)
    if prod(shape) == 0:                                          # semantics 4
        return EMPTY
    cols = prod(shape[k:])
    rows_shape = tuple(out_shape) + tuple(shape[k:])
    t, p = as_operand(t, "y_true"), as_operand(p, "y_pred")
    t_full, p_full = (np.ascontiguousarray(np.broadcast_to(a, rows_shape)) for a in (t, p))
    w_rows = np.ascontiguousarray(np.broadcast_to(weights.reshape(w.shape), out_shape))
    return AveragedPlan(t_full, p_full, w_rows, cols, weights)


class AveragedPlan(Plan):
    """Semantics 3.3's update: total += sum over rows of w_row * mean(row),
    count += sum(w) (the weights as given, not as broadcast)."""

    __slots__ = ("count_weights",)
    threadable = False

    def __init__(self, t, p, w_rows, cols, count_weights):
        super().__init__(t, p, w_rows, cols, T_FULL, W_ROW)
        self.count_weights = count_weights

    def apply(self, acc):
        part, count = type(acc)(), type(acc)()
        part.fold(self.t, self.p, self.w, self.cols, T_FULL, W_ROW, 0.0, 1, self.cols)
        count.fold_values(np.empty(0), self.count_weights)
        total_hi, total_lo = part.get_raw()[:2]
        weight_hi, weight_lo = count.get_raw()[2:4]
        part.set_raw(total_hi, total_lo, weight_hi, weight_lo, 0)
        acc.merge(part)
