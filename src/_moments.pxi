# Streamed moments for the "normal" confidence interval (docs/intervals.md).
#
# For units x (a squared error, or a row mean of squared errors under
# semantics 3.3) with weights w, the state is six compensated sums:
#   0: sum w      1: sum w*x      2: sum w*x**2
#   3: sum w**2   4: sum w**2*x   5: sum w**2*x**2
# Unweighted units have w = 1: sums 0 and 3 are then the count, 4 is 1 and
# 5 is 2, and none of them is summed twice.
#
# Two ways in:
# - fold_rows, for every batch whose units are its squared errors (any
#   layout the planner reads, any policy): the batch was summed with
#   moments=True, so each chunk's row holds the main fold's sums (sum w*x
#   is its total, sum w its weight sum, bitwise the plain metric's) and the
#   four others, all from one read of the operands (_fold.pxi; the error
#   bounds are in _kernel_body.pxi).  Rows fold in chunk order: the same
#   bits for any number of threads.
# - fold, for units spelled out by the caller (the row means of semantics
#   3.3): one unit at a time into MOMENT_LANES lanes of each sum, each term
#   a rounded product.
#
# Which units count follows the main fold: a weight of exactly zero removes
# its unit (semantics 5); with ``omit`` a unit whose y_true, y_pred or
# weight is NaN is skipped too.

cdef enum:
    MOMENTS = 6
    MOMENT_LANES = LANES        # lanes_into folds them


cdef struct MomentLanes:
    double s[MOMENTS * MOMENT_LANES]
    double c[MOMENTS * MOMENT_LANES]
    int64_t used               # units that counted (the unweighted w-sums)


cdef inline const void* data_or_null(object a):
    """The data of an ndarray operand, NULL for None (an absent y_true or
    weight)."""
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint missing(double t, double p, double w) noexcept nogil:
    """A NaN in y_true, y_pred or the weight (nan_policy='omit')."""
    return t != t or p != p or w != w


cdef inline bint unit_at(const p_real* t, const p_real* p, const double* w, Py_ssize_t i,
                         Py_ssize_t cols, int w_mode, double w_scalar, bint omit,
                         double* x, double* wv) noexcept nogil:
    """Unit i of spelled-out units: x = (p - t)**2, or x = p when t is NULL,
    and its weight (weight_at: cols is the run of TILED and PER_ROW).  False
    when the unit does not count: a zero weight, or under omit a NaN
    operand."""
    cdef double tv = <double>t[i] if t != NULL else 0.0
    cdef double pv = <double>p[i]
    cdef double d = pv - tv
    wv[0] = weight_at(w_mode, w, w_scalar, i, cols)
    if (omit and missing(tv, pv, wv[0])) or wv[0] == 0.0:
        return False
    x[0] = d * d if t != NULL else pv
    return True


cdef inline hot_void moments_into(double x, double w, double* s, double* c,
                              Py_ssize_t stride) noexcept nogil:
    """One unit x with weight w into the six sums, sum k a TwoSum pair
    (s[k * stride], c[k * stride]): w, wx = fl(w * x), then the four
    moment_factors products.  Every room that sums units one by one (these
    lanes, the per-key sums of _grouped_intervals, the grouped fold) calls
    it."""
    cdef double wx = w * x
    cdef MomentFactors f = moment_factors(x, w, wx)
    cdef Py_ssize_t k
    add_exact_lane(w, &s[0], &c[0])
    add_exact_lane(wx, &s[stride], &c[stride])
    for k in range(MOMENT_TERMS):
        add_exact_lane(f.a[k] * f.b[k], &s[(2 + k) * stride], &c[(2 + k) * stride])


cdef inline void moments_unit(double x, double w, bint weighted, Py_ssize_t lane,
                              MomentLanes* L) noexcept nogil:
    """One unit x with weight w into lane ``lane`` of every sum (unweighted:
    sums 1 and 2 only, x and x*x = moment_factors' w*x**2 for w = 1; the
    others follow from them in add_lanes)."""
    cdef MomentFactors f
    if weighted:
        moments_into(x, w, &L.s[lane], &L.c[lane], MOMENT_LANES)
    else:
        f = moment_factors(x, 1.0, x)
        add_exact_lane(x, &L.s[MOMENT_LANES + lane], &L.c[MOMENT_LANES + lane])
        add_exact_lane(f.a[0] * f.b[0], &L.s[2 * MOMENT_LANES + lane],
                       &L.c[2 * MOMENT_LANES + lane])
    L.used += 1


cdef void moments_run(const p_real* t, const p_real* p, const double* w,
                      Py_ssize_t start, Py_ssize_t stop, Py_ssize_t cols,
                      int w_mode, double w_scalar, bint omit,
                      MomentLanes* L) noexcept nogil:
    """Units start .. stop-1 (unit_at) into the lanes."""
    cdef Py_ssize_t i
    cdef double x, wv
    for i in range(start, stop):
        if unit_at(t, p, w, i, cols, w_mode, w_scalar, omit, &x, &wv):
            moments_unit(x, wv, w_mode != NONE, i % MOMENT_LANES, L)


cdef class Moments:
    """The six moment sums of the "normal" interval, as double-doubles.

    >>> import numpy as np
    >>> m = Moments()
    >>> m.fold(np.zeros(3), np.array([1.0, 2.0, 3.0]), None, 0, NONE, 0.0, 0, 3, False)
    >>> [round(v, 12) for v in m.values()]
    [3.0, 14.0, 98.0, 3.0, 14.0, 98.0]
    """
    cdef DD sums[MOMENTS]

    def __cinit__(self):
        memset(self.sums, 0, sizeof(self.sums))

    def fold(self, object t, cnp.ndarray p, object w, Py_ssize_t cols, int w_mode,
             double w_scalar, Py_ssize_t start, Py_ssize_t stop, bint omit):
        """Fold spelled-out units start .. stop-1 of p (and t, w) into the
        sums.  t None: p holds the units x themselves.  t and p share one
        dtype (float32 or float64); w is float64."""
        cdef MomentLanes L
        cdef const void* tp = data_or_null(t)
        cdef const double* wp = <const double*>data_or_null(w)
        cdef const void* pp = cnp.PyArray_DATA(p)
        cdef bint p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
        memset(&L, 0, sizeof(MomentLanes))
        if cols <= 0:
            cols = 1
        with nogil:
            if p64:
                moments_run(<const double*>tp, <const double*>pp, wp,
                            start, stop, cols, w_mode, w_scalar, omit, &L)
            else:
                moments_run(<const float*>tp, <const float*>pp, wp,
                            start, stop, cols, w_mode, w_scalar, omit, &L)
            self.add_lanes(&L, w_mode != NONE)

    cdef void add_lanes(self, MomentLanes* L, bint weighted) noexcept nogil:
        cdef Py_ssize_t k
        cdef DD part[MOMENTS]
        memset(part, 0, sizeof(part))
        for k in range(MOMENTS):
            lanes_into(&L.s[k * MOMENT_LANES], &L.c[k * MOMENT_LANES], &part[k])
        if not weighted:
            # w = 1: sum w = sum w**2 = the units used, w**2 * x = w * x
            part[0].hi = <double>L.used
            part[0].lo = <double>(L.used - <int64_t>part[0].hi)
            part[3] = part[0]
            part[4] = part[1]
            part[5] = part[2]
        self.add(part)

    cdef void add(self, const DD* part) noexcept nogil:
        cdef Py_ssize_t k
        for k in range(MOMENTS):
            add_dd(&self.sums[k], part[k].hi, part[k].lo)

    def fold_rows(self, Batch batch, const double[:, ::1] rows):
        """Fold the chunk rows of ``batch`` (built with moments=True; rows:
        Batch.chunk_partials or threaded_partials output, row_width words
        each) in chunk order; the units are the batch's squared errors,
        counted ``repeat`` times.  Not for batches with a divisor (row
        means: those units are spelled out for ``fold``)."""
        cdef Partial sum
        cdef DD part[MOMENTS]
        cdef Py_ssize_t k
        rows_partial(rows, True, &sum)
        # unweighted, sum w = sum w**2 (moments[1]): the count kept
        part[0] = sum.weight if batch.spec.w_mode != NONE else sum.moments[1]
        part[1] = sum.total
        for k in range(MOMENT_SUMS):
            part[2 + k] = sum.moments[k]
        if batch.spec.repeat != 1:
            for k in range(MOMENTS):
                scale_dd(&part[k], <double>batch.spec.repeat)
        self.add(part)

    def scale(self, double factor):
        """Every sum times ``factor``."""
        cdef Py_ssize_t k
        for k in range(MOMENTS):
            scale_dd(&self.sums[k], factor)

    def merge(self, Moments other):
        self.add(other.sums)

    def values(self):
        """The six sums, each rounded to float64."""
        return [dd_value(self.sums[k]) for k in range(MOMENTS)]

    def get_raw(self):
        """(hi, lo) of each sum, flat: twelve floats."""
        out = []
        for k in range(MOMENTS):
            out.append(self.sums[k].hi)
            out.append(self.sums[k].lo)
        return tuple(out)

    def set_raw(self, raw):
        cdef Py_ssize_t k
        for k in range(MOMENTS):
            self.sums[k].hi = raw[2 * k]
            self.sums[k].lo = raw[2 * k + 1]
