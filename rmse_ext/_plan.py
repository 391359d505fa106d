"""One update as one kernel ``Batch``: the resolved layout (rmse_ext._rules)
applied to the actual arrays.

``plan_update`` either raises (the resolver's errors, or the input room's)
or returns a ``Plan`` whose ``apply`` cannot fail, so a rejected update
changes nothing.  The common layouts reach the kernel without any
batch-sized temporary: equal shapes, a scalar weight, per-sample weights
``(n,)`` against ``(n, d)``, a ``(d,)`` operand against an ``(n, d)`` one, and
zero-stride (``np.broadcast_to``) views, which count as a repeat factor.

>>> import numpy as np
>>> from rmse_ext import _backend
>>> acc = _backend.kernel.Accumulator()
>>> plan_update([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]], [1, 0]).apply(acc)
>>> acc.value()
0.7071067811865476
"""
from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from . import _backend, _parallel
from ._backend import Policy, TMode, WMode
from ._inputs import FLOAT64, as_array, as_operand, kernel_dtype
from ._missing import KERNEL_POLICIES
from ._rules import Layout, resolve

# y_true blocks shorter than this are tiled to about this many elements
SHORT_RUN = 2048
# integers beyond this magnitude are not all exact in float64
EXACT_INT_LIMIT = 2**53

NAN_POLICIES = KERNEL_POLICIES     # nan_policy -> the kernel Policy it folds under


class Plan:
    """One prepared update: ``apply(acc, num_threads)`` folds it.  It holds
    what the kernel ``Batch`` is built from (each ISA build has its own
    Batch type, so the accumulator's module builds it)."""

    __slots__ = ("t", "p", "w", "t_mode", "w_mode", "w_scalar", "run", "repeat", "divisor",
                 "policy", "count_weights")

    def __init__(self, t: Any = None, p: Any = None, w: Any = None,
                 t_mode: int = TMode.FULL_T, w_mode: int = WMode.NONE,
                 w_scalar: float = 0.0, run: int = 0, repeat: int = 1, divisor: int = 1,
                 policy: int = Policy.PROPAGATE, count_weights: Any = None) -> None:
        self.t, self.p, self.w = t, p, w
        self.t_mode, self.w_mode, self.w_scalar, self.run = t_mode, w_mode, w_scalar, run
        self.repeat, self.divisor, self.policy = repeat, divisor, policy
        self.count_weights = count_weights

    @property
    def size(self) -> int:
        """Elements the kernel reads (0: nothing to fold)."""
        return 0 if self.p is None else int(self.p.size)

    @property
    def averaged(self) -> bool:
        """Semantics 3.3: the squared errors are averaged over rows (an
        interval's units are the row means, whatever the policy)."""
        return self.count_weights is not None

    @property
    def omits(self) -> bool:
        """Whether the kernel omits NaN (nan_policy='omit')."""
        return self.policy in (Policy.OMIT, Policy.EXACT_OMIT)

    def batch_for(self, acc: Any, moments: bool = False) -> Any:
        """The kernel Batch for ``acc``'s module (``moments``: its chunks sum
        the "normal" interval's moments too)."""
        return _backend.module_of(acc).Batch(
            self.t, self.p, self.w, self.t_mode, self.w_mode, self.w_scalar, self.run,
            self.repeat, self.divisor, self.policy, self.count_weights, moments)

    def apply(self, acc: Any, num_threads: int = 1) -> None:
        if self.p is None:
            return
        batch = self.batch_for(acc)
        if num_threads > 1:
            _parallel.fold_parallel(acc, batch, num_threads)
        else:
            acc.fold(batch)


EMPTY = Plan()


def full_plan(t: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
              policy: int = Policy.PROPAGATE) -> Plan:
    """The plan for two same-shape operands (and same-shape weights), read in
    place when they already are kernel operands.  No rule is applied: the
    caller has resolved the layout."""
    t, p, policy = exact_operands(t, p, t.shape, policy)
    return Plan(as_operand(t, "y_true"), as_operand(p, "y_pred"),
                None if w is None else as_operand(w, "sample_weight"),
                w_mode=WMode.NONE if w is None else WMode.FULL, policy=policy)


def read_numbers(x: Any, name: str, *, nulls: str = "reject") -> np.ndarray:
    """``x`` as an array of numbers (TypeError naming ``name`` if it is not)."""
    a = as_array(x, name, nulls=nulls)
    kernel_dtype(a.dtype, name)
    return a


def read_arguments(y_true: Any, y_pred: Any, sample_weight: Any
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The three arguments as arrays of numbers (TypeError naming the one
    that is not)."""
    t, p = read_numbers(y_true, "y_true"), read_numbers(y_pred, "y_pred")
    w = None if sample_weight is None else read_numbers(sample_weight, "sample_weight")
    return t, p, w


def plan_update(y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                nan_policy: str = "propagate") -> Plan:
    """Validate one update and lay it out for the kernel, folding under
    ``nan_policy``'s fold policy (_missing.fold_policy)."""
    policy = NAN_POLICIES[nan_policy]
    key = recipe_key(y_true, y_pred, sample_weight, policy)
    recipe = RECIPES.get(key) if key is not None else None
    if recipe is not None:
        return recipe.plan(y_true, y_pred, sample_weight)
    t, p, w = read_arguments(y_true, y_pred, sample_weight)
    layout = resolve(t.shape, p.shape, None if w is None else w.shape)
    plan = plan_layout(layout, t, p, w, policy)
    if key is not None:
        if len(RECIPES) >= MAX_RECIPES:         # the oldest shapes make room
            del RECIPES[next(iter(RECIPES))]
        RECIPES[key] = Recipe.of(plan, y_true, y_pred, sample_weight)
    return plan


# -- resolved layouts cached by shape ------------------------------------------------------

MAX_RECIPES = 256     # distinct (shapes, dtypes) remembered


def is_plain(a: Any) -> bool:
    """A kernel operand as it is: an aligned, native, C-contiguous float32
    or float64 ndarray without zero strides."""
    return (type(a) is np.ndarray and a.dtype.char in "fd" and a.flags.c_contiguous
            and a.flags.aligned and a.dtype.isnative and 0 not in a.strides)


def remember_layout(acc: Any, t: Any, p: Any, w: Any) -> None:
    """After a planned update of plain operands: the accumulator remembers
    its layout (see Recipe.remember); anything else is left alone."""
    key = recipe_key(t, p, w, Policy.PROPAGATE)
    recipe = RECIPES.get(key) if key is not None else None
    if recipe is not None:
        recipe.remember(acc, t, p, w)


def recipe_key(t: Any, p: Any, w: Any, policy: int) -> tuple[Any, ...] | None:
    """The cache key of an update of plain operands (None: not cacheable)."""
    if not (is_plain(t) and is_plain(p) and (w is None or is_plain(w))):
        return None
    return (t.shape, t.dtype.char, p.shape, p.dtype.char,
            None if w is None else (w.shape, w.dtype.char), policy)


class Recipe:
    """How the planner laid out plain operands of given shapes and dtypes,
    when it read them in place: the same layout serves every later update
    of those shapes, so small per-sample-weighted batches skip the rules
    (they were resolved once, by rmse_ext._rules)."""

    __slots__ = ("swap", "t_shape", "p_shape", "w_shape", "modes")

    def __init__(self, swap: bool, t_shape: Any, p_shape: Any, w_shape: Any,
                 modes: tuple[Any, ...]) -> None:
        self.swap, self.t_shape, self.p_shape, self.w_shape = swap, t_shape, p_shape, w_shape
        self.modes = modes

    @classmethod
    def of(cls, plan: Plan, t: np.ndarray, p: np.ndarray, w: Any) -> Recipe | None:
        """The recipe of ``plan`` when it reads ``t``, ``p`` (either way
        round) and ``w`` in place, else None (nothing is cached)."""
        if plan.p is None or plan.repeat != 1 or plan.divisor != 1:
            return None
        swap = plan.t is not None and plan.t.ctypes.data == p.ctypes.data
        reads = [(plan.t, p if swap else t), (plan.p, t if swap else p)]
        if plan.w is not None:
            reads.append((plan.w, w))
        if not all(x is not None and y is not None and x.ctypes.data == y.ctypes.data
                   and x.size == y.size and x.dtype == y.dtype for x, y in reads):
            return None
        return cls(swap, plan.t.shape, plan.p.shape,
                   None if plan.w is None else plan.w.shape,
                   (plan.t_mode, plan.w_mode, plan.run, plan.policy))

    def remember(self, acc: Any, t: np.ndarray, p: np.ndarray, w: Any) -> None:
        """Let the accumulator's C fast path fold later operands of these
        shapes by this layout (Accumulator.remember_layout)."""
        t_mode, w_mode, run, policy = self.modes
        if policy == Policy.PROPAGATE:
            acc.remember_layout(t, p, w, self.swap, t_mode, w_mode, run)

    def plan(self, t: np.ndarray, p: np.ndarray, w: Any) -> Plan:
        if self.swap:
            t, p = p, t
        t_mode, w_mode, run, policy = self.modes
        if w_mode == WMode.SCALAR:
            return Plan(t.reshape(self.t_shape), p.reshape(self.p_shape), None, t_mode,
                        w_mode, float(w.reshape(())), run, policy=policy)
        return Plan(t.reshape(self.t_shape), p.reshape(self.p_shape),
                    None if self.w_shape is None else w.reshape(self.w_shape),
                    t_mode, w_mode, 0.0, run, policy=policy)


RECIPES: dict[tuple[Any, ...], Recipe | None] = {}


def plan_layout(layout: Layout, t: np.ndarray, p: np.ndarray, w: np.ndarray | None,
                policy: int = Policy.PROPAGATE) -> Plan:
    """The plan for arrays whose shapes ``layout`` resolved."""
    t, p = t.reshape(layout.t_shape), p.reshape(layout.p_shape)
    if w is not None:
        w = w.reshape(layout.w_shape)
    if layout.keep is not None:
        assert w is not None                                      # 3.3 needs weights
        return averaged_plan(layout, t, p, w, policy)
    if layout.size == 0:                                          # semantics 4
        return EMPTY
    shape = layout.shape
    t, p, policy = exact_operands(t, p, shape, policy)
    (t, p, w), shape, repeat = compress_repeats([t, p, w], shape)
    t, p, w = unbroadcast(t), unbroadcast(p), unbroadcast(w)
    t, p, w, t_mode, w_mode, w_scalar, run = lay_out(t, p, w, shape)
    return Plan(t, p, w, t_mode, w_mode, w_scalar, run, repeat, policy=policy)


def lay_out(t: np.ndarray, p: np.ndarray, w: np.ndarray | None, shape: tuple[int, ...]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Any, Any, float, int]:
    """How the kernel reads operands whose squared errors have ``shape``:
    ``(t, p, w, t_mode, w_mode, w_scalar, run)``, the operands in place
    where a mode can read them (the grouped planner shares this)."""
    t, p = as_operand(t, "y_true"), as_operand(p, "y_pred")

    # The kernel reads y_pred at full shape and y_true either full or as one
    # block repeated along it.  (p - t)**2 is symmetric, so whichever operand
    # is full plays y_pred (under EXACT_DIFF both are already full); if
    # neither is, one is spelled out.
    if p.shape != shape and t.shape == shape:
        t, p = p, t
    if p.shape != shape:
        p = np.ascontiguousarray(np.broadcast_to(p, shape))
    run = suffix_size(t.shape, shape)
    if t.shape == shape:
        t_mode, run = TMode.FULL_T, 0
    elif run:
        t_mode = TMode.TILED_T
    else:
        t, t_mode = np.ascontiguousarray(np.broadcast_to(t, shape)), TMode.FULL_T

    w_mode, w_scalar = WMode.NONE, 0.0
    if w is not None and w.size == 1:                             # semantics 3.2
        w_mode, w_scalar, w = WMode.SCALAR, float(w.reshape(())), None
    elif w is not None:
        w_mode, w_run = weight_mode(w.shape, shape)
        if w_mode in (WMode.PER_ROW, WMode.TILED):
            if t_mode == TMode.FULL_T:
                run = w_run
            elif w_run % run == 0:      # y_true's block, repeated to one weight row
                t, run = np.tile(t.reshape(-1), w_run // run), w_run
            else:
                w_mode = None
        if w_mode is None:              # an irregular pattern: spell the weights out
            w, w_mode = np.broadcast_to(w, shape), WMode.FULL
        w = as_operand(w, "sample_weight")
    if t_mode == TMode.TILED_T and w_mode not in (WMode.PER_ROW, WMode.TILED) and run < SHORT_RUN:
        # a short repeated block: tile it (a few KiB) so the kernel's runs are long
        reps = SHORT_RUN // run
        t, run = np.tile(t.reshape(-1), reps), run * reps
    return t, p, w, t_mode, w_mode, w_scalar, run


def averaged_plan(layout: Layout, t: np.ndarray, p: np.ndarray, w: np.ndarray,
                  policy: int) -> Plan:
    """Semantics 3.3: weights that do not strictly broadcast.  The squared
    errors are averaged over their trailing axes down to the weights' rank,
    the averages times the weights go into the total and ``sum(w)`` (the
    weights as given) into the count."""
    if layout.size == 0:                                          # semantics 4
        return EMPTY
    assert layout.keep is not None and layout.w_out_shape is not None
    tail = layout.shape[layout.keep:]
    rows_shape = layout.w_out_shape + tail
    return weighted_rows_plan(np.broadcast_to(t, rows_shape), np.broadcast_to(p, rows_shape),
                              np.broadcast_to(w, layout.w_out_shape), w, policy)


def compress_rows(t_rows: np.ndarray, p_rows: np.ndarray, w_rows: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Semantics 3.3's rows without their repetition, as compress_repeats
    does for the other layouts: an axis along which y_true, y_pred and the
    row weights are all constant (zero strides, ``np.broadcast_to`` views)
    is cut to length 1.  Returns ``(t_rows, p_rows, w_rows, repeat, run)``:
    every row sum of the cut arrays, counted ``repeat`` times and divided by
    ``run`` (the full row length), is the full arrays' total -- so a huge
    broadcast view costs only its distinct elements."""
    run = prod(t_rows.shape[w_rows.ndim:])
    w_wide = w_rows.reshape(w_rows.shape + (1,) * (t_rows.ndim - w_rows.ndim))
    (t_rows, p_rows, w_wide), _, repeat = compress_repeats([t_rows, p_rows, w_wide],
                                                           t_rows.shape)
    return t_rows, p_rows, w_wide.reshape(w_wide.shape[:w_rows.ndim]), repeat, run


def weighted_rows_plan(t_rows: np.ndarray, p_rows: np.ndarray, w_rows: np.ndarray,
                       w: np.ndarray, policy: int) -> Plan:
    """Semantics 3.3 for rows (t_rows, p_rows of shape w_rows.shape + the
    averaged axes) and the weights as given, ``w`` (broadcast to w_rows);
    under 'omit' with something missing, rows averaged over what is kept.
    Repeated (broadcast) rows and row elements are read once (compress_rows;
    issue 21 part 6: no batch-sized copy of a broadcast view)."""
    full = t_rows, p_rows, w_rows
    t_rows, p_rows, w_rows, repeat, run = compress_rows(t_rows, p_rows, w_rows)
    if policy == Policy.OMIT:
        kept = kept_row_weights(t_rows, p_rows, w_rows, w)
        if kept is not None and repeat != 1:     # rare: the kept counts need every row
            t_rows, p_rows, w_rows = full
            repeat, run = 1, prod(t_rows.shape[w_rows.ndim:])
            kept = kept_row_weights(t_rows, p_rows, w_rows, w)
        if kept is not None:
            element_w, count_w = kept
            t_rows, p_rows, policy = exact_operands(t_rows, p_rows, t_rows.shape, policy)
            return Plan(as_operand(t_rows, "y_true"), as_operand(p_rows, "y_pred"), element_w,
                        TMode.FULL_T, WMode.FULL, policy=policy, count_weights=count_w)
    return rows_plan(t_rows, p_rows, w_rows, t_rows.size // max(w_rows.size, 1),
                     count_weights=np.ascontiguousarray(w, dtype=FLOAT64).reshape(-1),
                     policy=policy, repeat=repeat, divisor=run)


def kept_row_weights(t_rows: np.ndarray, p_rows: np.ndarray, w_rows: np.ndarray,
                     w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Semantics 3.3 under nan_policy='omit' when something is missing
    (else None): each row is averaged over its kept elements, so every
    element weighs ``w_row / kept`` (a missing one is omitted by the kernel);
    the count grows by each given weight that is not NaN and weighs a row
    with a kept element.  Returns (element weights of the rows' shape,
    count weights), float64."""
    tail = tuple(range(w_rows.ndim, t_rows.ndim))
    missing = np.isnan(t_rows) | np.isnan(p_rows) | np.isnan(w_rows).reshape(
        w_rows.shape + (1,) * len(tail))
    if not missing.any():
        return None
    kept = (~missing).sum(axis=tail)
    element_w = np.ascontiguousarray(np.broadcast_to(
        (w_rows / np.maximum(kept, 1)).reshape(kept.shape + (1,) * len(tail)), t_rows.shape),
        dtype=FLOAT64)
    spread = tuple(i for i in range(w.ndim) if w.shape[i] == 1 and w_rows.shape[i] != 1)
    weighs_kept = np.any(kept > 0, axis=spread, keepdims=True).reshape(w.shape)
    count_w = np.where(weighs_kept & ~np.isnan(w), w, 0.0).astype(FLOAT64).reshape(-1)
    return element_w, count_w


def rows_plan(t_rows: np.ndarray, p_rows: np.ndarray, w_rows: np.ndarray, run: int,
              count_weights: np.ndarray | None = None, policy: int = Policy.PROPAGATE,
              repeat: int = 1, divisor: int = 0) -> Plan:
    """Semantics 3.3's fold: rows of ``run`` elements (t_rows and p_rows of
    one shape, w_rows one weight per row); total += sum(w_row * rowsum) / run,
    formed in the kernel's compensated arithmetic (a PER_ROW batch with a
    divisor), so cancelling signed weights keep their accuracy; the count
    grows by the sum of ``count_weights`` (none: by nothing -- rmse_ext.dask
    counts each weight block once, apart).  Rows cut by compress_rows count
    ``repeat`` times and divide by their full length ``divisor``."""
    t_rows, p_rows, policy = exact_operands(t_rows, p_rows, t_rows.shape, policy)
    t_rows, p_rows = (as_operand(np.ascontiguousarray(a), name)
                      for a, name in ((t_rows, "y_true"), (p_rows, "y_pred")))
    w_rows = np.ascontiguousarray(w_rows, dtype=FLOAT64).reshape(-1)
    if count_weights is None:
        count_weights = w_rows[:0]
    return Plan(t_rows, p_rows, w_rows, TMode.FULL_T, WMode.PER_ROW, 0.0, run, repeat,
                divisor=divisor or run, policy=policy, count_weights=count_weights)


# -- exact integers (semantics 5) -------------------------------------------------

def needs_exact_difference(t: np.ndarray, p: np.ndarray) -> bool:
    """Whether an integer operand holds values float64 cannot all hold."""
    for a in (t, p):
        if a.dtype.kind in "iu" and a.dtype.itemsize == 8 and a.size:
            if a.max() > EXACT_INT_LIMIT or (a.dtype.kind == "i" and a.min() < -EXACT_INT_LIMIT):
                return True
    return False


def two_exact_parts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a == high + low`` with both float64 and exact: a 64-bit integer cut
    into its multiple of 2**32 and its low 32 bits (a float: itself and 0)."""
    if a.dtype.kind not in "iu":
        return a.astype(FLOAT64), np.zeros((), FLOAT64)
    a = a.astype(np.uint64 if a.dtype.kind == "u" else np.int64, copy=False)
    low = a & 0xFFFFFFFF
    return (a - low).astype(FLOAT64), low.astype(FLOAT64)


def exact_operands(t: np.ndarray, p: np.ndarray, shape: tuple[int, ...], policy: int
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """``(t, p, policy)`` as the kernel reads them: as given, or, when an
    integer operand holds values float64 cannot (semantics 5), the exact
    difference's two terms (full ``shape``) under EXACT_DIFF -- EXACT_OMIT
    when the policy omits NaN (of a float operand or of the weights)."""
    if not needs_exact_difference(t, p):
        return t, p, policy
    p, t = exact_difference(t, p, shape)
    return t, p, Policy.EXACT_OMIT if policy == Policy.OMIT else Policy.EXACT_DIFF


def exact_difference(t: np.ndarray, p: np.ndarray, shape: tuple[int, ...]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), full-shape float64, with p - t == a + b exactly for integer
    operands (the kernel's EXACT_DIFF policy then squares a - (-b)
    exactly).  The high parts are multiples of 2**32 below 2**65 in
    magnitude, so their difference is exact; so is that of the low parts."""
    t_high, t_low = two_exact_parts(t)
    p_high, p_low = two_exact_parts(p)
    a = np.ascontiguousarray(np.broadcast_to(p_high - t_high, shape))
    minus_b = np.ascontiguousarray(np.broadcast_to(t_low - p_low, shape))
    return a, minus_b


# -- reading layouts in place ----------------------------------------------------

def suffix_size(small: tuple[int, ...], big: tuple[int, ...]) -> int:
    """If ``small`` broadcasts against ``big`` by repeating one contiguous
    block (its shape, leading 1s dropped, is a suffix of ``big``), the size of
    that block; else 0."""
    core = small
    while core and core[0] == 1:
        core = core[1:]
    if big[len(big) - len(core):] == core:
        return prod(core)   # 1 for a scalar-like operand
    return 0


def weight_mode(w_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[Any, int]:
    """For strictly broadcastable weights of the squared errors' rank: the
    kernel weight mode that reads them in place, and its run length (None:
    no mode does)."""
    r = len(shape)
    k = r
    while k > 0 and w_shape[k - 1] == 1 and shape[k - 1] != 1:
        k -= 1
    if tuple(w_shape[:k]) == tuple(shape[:k]) and all(d == 1 for d in w_shape[k:]):
        return (WMode.FULL, 0) if k == r else (WMode.PER_ROW, prod(shape[k:]))
    j = 0
    while j < r and w_shape[j] == 1:
        j += 1
    if tuple(w_shape[j:]) == tuple(shape[j:]):
        return WMode.TILED, prod(shape[j:])
    return None, 0


def constant_along(a: np.ndarray, axis: int) -> bool:
    """Whether ``a`` (right-aligned to the full rank) repeats along ``axis``
    (a negative axis: one it does not have)."""
    return axis < 0 or a.shape[axis] == 1 or a.strides[axis] == 0


def compress_repeats(arrays: list[Any], shape: tuple[int, ...]
                     ) -> tuple[list[Any], tuple[int, ...], int]:
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

    def shrink(a: Any) -> Any:
        if a is None:
            return None
        index = tuple(slice(0, 1) if i + (r - a.ndim) in cut else slice(None)
                      for i in range(a.ndim))
        return a[index]

    return ([shrink(a) for a in arrays],
            tuple(1 if i in cut else n for i, n in enumerate(shape)),
            prod(shape[i] for i in cut))


def unbroadcast(a: Any) -> Any:
    """A view of ``a`` with every zero-stride axis cut to length 1: the same
    values under broadcasting, without the repetition (``np.broadcast_to``
    views, scalars expanded by strides)."""
    if a is None or 0 not in a.strides:
        return a
    return a[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in a.strides)]


