"""THE resolver: the Keras shape and weight rules, on shapes only.

``resolve(y_true shape, y_pred shape, weight shape or None) -> Layout``
applies docs/semantics.md sections 2.2 (rank fix-up), 2.3 (broadcasting),
3.1 (the weights' rank), the 3.2/3.3 decision (strict broadcast, or
averaging over trailing axes) and the empty case of section 4, and raises
the one TypeError/ValueError text for each failure.  Every caller -- the
in-memory planner, the C fast path's eligibility, the dask and Spark
engines, the command line -- goes through here; none of them restates a rule.
(``rmse_ext.reference``, the test oracle, deliberately shares nothing.)

>>> resolve((4, 3), (4, 3, 1), (4,))
Layout(t_shape=(4, 3), p_shape=(4, 3), shape=(4, 3), w_shape=(4, 1), keep=None, w_out_shape=None, size=12)
>>> resolve((2, 3, 4), (2, 3, 4), (2,)).keep      # per-sample weights, 3.1 -> (2, 1): averaged
1
"""
from __future__ import annotations

from math import prod
from typing import NamedTuple

Shape = tuple[int, ...]


class Layout(NamedTuple):
    """How one update reads: every shape after the rules."""

    t_shape: Shape            # y_true after the rank fix-up (2.2)
    p_shape: Shape            # y_pred after the rank fix-up (2.2)
    shape: Shape              # the squared errors (2.3)
    w_shape: Shape | None     # the weights after 3.1, or None (unweighted)
    keep: int | None          # 3.3: leading axes kept (the rest averaged); None: 3.2
    w_out_shape: Shape | None  # 3.3: the shape of (row means) * weights
    size: int                 # elements folded: those of the squared errors (0 also
                              # when 3.3's weights broadcast to no row: section 4)

    @property
    def samples(self) -> int:
        """The number of samples: the squared errors' first axis (one for 0-d)."""
        return self.shape[0] if self.shape else 1


def broadcast_shapes(a: Shape, b: Shape) -> Shape | None:
    """NumPy's broadcast of two shapes, or None when they do not broadcast."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def fix_ranks(t_shape: Shape, p_shape: Shape) -> tuple[Shape, Shape]:
    """Semantics 2.2: squeeze a trailing size-1 axis off the operand that has
    exactly one more dimension than the other."""
    if len(p_shape) == len(t_shape) + 1 and p_shape[-1] == 1:
        return t_shape, p_shape[:-1]
    if len(t_shape) == len(p_shape) + 1 and t_shape[-1] == 1:
        return t_shape[:-1], p_shape
    return t_shape, p_shape


def fix_weight_rank(w_shape: Shape, shape: Shape) -> Shape:
    """Semantics 3.1: match the weights' rank to the squared errors' ``shape``."""
    if len(w_shape) == 0:
        return w_shape
    if len(w_shape) == len(shape) + 1:
        if w_shape[-1] != 1:
            raise ValueError(
                f"sample_weight of shape {w_shape} has one more dimension than "
                f"the squared errors {shape}, and its last dimension is not 1"
            )
        return w_shape[:-1]
    if len(shape) == len(w_shape) + 1:
        return w_shape + (1,)
    return w_shape


def strictly_broadcastable(w_shape: Shape, shape: Shape) -> bool:
    """Semantics 3.2: scalar, or same rank with every dimension 1 or equal."""
    return len(w_shape) == 0 or (
        len(w_shape) == len(shape)
        and all(wd == 1 or wd == vd for wd, vd in zip(w_shape, shape))
    )


def resolve(t_shape: Shape, p_shape: Shape, w_shape: Shape | None = None) -> Layout:
    """The layout of one update, or the error (ValueError naming the
    arguments and their shapes)."""
    t_shape, p_shape = tuple(t_shape), tuple(p_shape)
    t_shape, p_shape = fix_ranks(t_shape, p_shape)                # 2.2
    shape = t_shape if t_shape == p_shape else broadcast_shapes(t_shape, p_shape)
    if shape is None:                                             # 2.3
        raise ValueError(
            f"y_true of shape {t_shape} and y_pred of shape {p_shape} do not broadcast"
        )
    if w_shape is None:
        return Layout(t_shape, p_shape, shape, None, None, None, prod(shape))
    given = tuple(w_shape)
    fixed = fix_weight_rank(given, shape)                         # 3.1
    if strictly_broadcastable(fixed, shape):                      # 3.2
        return Layout(t_shape, p_shape, shape, fixed, None, None, prod(shape))
    keep = min(len(fixed), len(shape))                            # 3.3
    lead = shape[:keep]
    out = broadcast_shapes(lead, fixed)
    if out is None:
        read_as = f" (read as {fixed}, semantics 3.1)" if fixed != given else ""
        averaged = f", averaged to {lead}" if lead != shape else ""
        raise ValueError(
            f"sample_weight of shape {given}{read_as} does not broadcast to the "
            f"squared errors of shape {shape}{averaged} (semantics 3.2/3.3)"
        )
    # tf_keras multiplies the row means by weights broadcast to ``out`` and adds
    # sum(weights) to the count: with no row of weights (an empty weight array
    # against a non-empty batch) both sums are empty, so the update folds nothing
    return Layout(t_shape, p_shape, shape, fixed, keep, out, prod(shape) if prod(out) else 0)
