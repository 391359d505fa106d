# Streamed moments for the "normal" confidence interval (docs/intervals.md).
#
# For units x (a squared error, or a row mean of squared errors under
# semantics 3.3) with weights w, the state is six compensated sums:
#   0: sum w      1: sum w*x      2: sum w*x**2
#   3: sum w**2   4: sum w**2*x   5: sum w**2*x**2
# Unweighted units have w = 1.  Products are rounded once; each sum is a
# compensated lane sum folded into a double-double (the DD primitives of the
# kernel body), so the sums carry about twice the float64 precision.
#
# Which units count follows the main fold: a weight of exactly zero removes
# its unit (semantics 5); with ``omit`` a unit whose y_true, y_pred or
# weight is NaN is skipped too.

cdef enum:
    MOMENTS = 6
    MOMENT_LANES = 8


cdef struct MomentLanes:
    double s[MOMENTS * MOMENT_LANES]
    double c[MOMENTS * MOMENT_LANES]
    int64_t used               # units that counted (the unweighted w-sums)


cdef inline void lane_add(double x, double* s, double* c) noexcept nogil:
    """(s, c) += x: Knuth's TwoSum error into the compensation."""
    cdef double sn = s[0] + x
    c[0] += two_sum_err(s[0], x, sn)
    s[0] = sn


cdef inline bint missing(double t, double p, double w) noexcept nogil:
    """A NaN in y_true, y_pred or the weight (nan_policy='omit')."""
    return t != t or p != p or w != w


cdef inline void moments_unit(double x, double w, bint weighted, Py_ssize_t lane,
                              MomentLanes* L) noexcept nogil:
    """One unit x with weight w into lane ``lane`` of every sum."""
    cdef double* s = L.s
    cdef double* c = L.c
    cdef double wx, ww
    if weighted:
        wx = w * x
        ww = w * w
        lane_add(w, &s[lane], &c[lane])
        lane_add(wx, &s[MOMENT_LANES + lane], &c[MOMENT_LANES + lane])
        lane_add(wx * x, &s[2 * MOMENT_LANES + lane], &c[2 * MOMENT_LANES + lane])
        lane_add(ww, &s[3 * MOMENT_LANES + lane], &c[3 * MOMENT_LANES + lane])
        lane_add(ww * x, &s[4 * MOMENT_LANES + lane], &c[4 * MOMENT_LANES + lane])
        lane_add(ww * x * x, &s[5 * MOMENT_LANES + lane], &c[5 * MOMENT_LANES + lane])
    else:
        lane_add(x, &s[MOMENT_LANES + lane], &c[MOMENT_LANES + lane])
        lane_add(x * x, &s[2 * MOMENT_LANES + lane], &c[2 * MOMENT_LANES + lane])
    L.used += 1


cdef void moments_run(const p_real* t, const p_real* p, const double* w,
                      Py_ssize_t start, Py_ssize_t stop, Py_ssize_t cols,
                      int w_mode, double w_scalar, bint omit,
                      MomentLanes* L) noexcept nogil:
    """Units start .. stop-1: x = (p - t)**2, or x = p when t is NULL; the
    weight per w_mode (NONE, SCALAR, FULL, PER_ROW with ``cols``)."""
    cdef Py_ssize_t i
    cdef double tv = 0.0, pv, wv = 1.0, d, x
    cdef bint weighted = w_mode != NONE
    for i in range(start, stop):
        pv = <double>p[i]
        if t != NULL:
            tv = <double>t[i]
        if w_mode == FULL:
            wv = <double>w[i]
        elif w_mode == PER_ROW:
            wv = <double>w[i // cols]
        elif w_mode == SCALAR:
            wv = w_scalar
        if omit and missing(tv, pv, wv):
            continue
        if weighted and wv == 0.0:
            continue
        if t != NULL:
            d = pv - tv
            x = d * d
        else:
            x = pv
        moments_unit(x, wv, weighted, i % MOMENT_LANES, L)


cdef inline double kept(double v, bint keep) noexcept nogil:
    return v if keep else 0.0


cdef void moments_plain(const p_real* t, const p_real* p, Py_ssize_t start,
                        Py_ssize_t stop, bint omit, MomentLanes* out) noexcept nogil:
    """The unweighted units (p - t)**2, start .. stop-1: sums 1 and 2, in
    MOMENT_LANES local lanes (registers; the loop vectorises).  Under omit a
    unit with a NaN operand adds zeros and is not counted."""
    cdef double s1[MOMENT_LANES]
    cdef double c1[MOMENT_LANES]
    cdef double s2[MOMENT_LANES]
    cdef double c2[MOMENT_LANES]
    cdef double used[MOMENT_LANES]
    cdef double d, x, tv, pv
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t body = start + (stop - start) // MOMENT_LANES * MOMENT_LANES
    for j in range(MOMENT_LANES):
        s1[j] = out.s[MOMENT_LANES + j]
        c1[j] = out.c[MOMENT_LANES + j]
        s2[j] = out.s[2 * MOMENT_LANES + j]
        c2[j] = out.c[2 * MOMENT_LANES + j]
        used[j] = 0.0
    if omit:
        for blk in range((body - start) // MOMENT_LANES):
            for j in range(MOMENT_LANES):
                i = start + blk * MOMENT_LANES + j
                tv = <double>t[i]
                pv = <double>p[i]
                d = pv - tv
                x = kept(d * d, tv == tv and pv == pv)
                used[j] += kept(1.0, tv == tv and pv == pv)
                add_lane_nonneg(x, 0.0, &s1[j], &c1[j])
                add_lane_nonneg(x * x, 0.0, &s2[j], &c2[j])
    else:
        for blk in range((body - start) // MOMENT_LANES):
            for j in range(MOMENT_LANES):
                i = start + blk * MOMENT_LANES + j
                d = <double>p[i] - <double>t[i]
                x = d * d
                add_lane_nonneg(x, 0.0, &s1[j], &c1[j])
                add_lane_nonneg(x * x, 0.0, &s2[j], &c2[j])
    for j in range(MOMENT_LANES):
        out.s[MOMENT_LANES + j] = s1[j]
        out.c[MOMENT_LANES + j] = c1[j]
        out.s[2 * MOMENT_LANES + j] = s2[j]
        out.c[2 * MOMENT_LANES + j] = c2[j]
        out.used += <int64_t>used[j] if omit else (body - start) // MOMENT_LANES
    moments_run(t, p, <const double*>NULL, body, stop, 1, NONE, 0.0, omit, out)


cdef void moments_weighted(const p_real* t, const p_real* p, const double* w,
                           Py_ssize_t start, Py_ssize_t stop, bint omit,
                           MomentLanes* out) noexcept nogil:
    """Units (p - t)**2 with weights w[i], start .. stop-1: all six sums,
    branch-free (a unit with a zero or, under omit, a NaN weight adds zeros)."""
    cdef MomentLanes L = out[0]
    cdef double d, x, wv, wx, ww
    cdef bint keep
    cdef Py_ssize_t i, j, base, blk
    cdef Py_ssize_t body = start + (stop - start) // MOMENT_LANES * MOMENT_LANES
    for blk in range((body - start) // MOMENT_LANES):
        base = start + blk * MOMENT_LANES
        for j in range(MOMENT_LANES):
            i = base + j
            d = <double>p[i] - <double>t[i]
            keep = w[i] != 0.0
            if omit:
                keep = keep and not missing(<double>t[i], <double>p[i], w[i])
            wv = kept(w[i], keep)
            x = kept(d * d, keep)
            wx = wv * x
            ww = wv * wv
            add_lane(wv, 0.0, &L.s[j], &L.c[j])
            add_lane(wx, 0.0, &L.s[MOMENT_LANES + j], &L.c[MOMENT_LANES + j])
            add_lane(wx * x, 0.0, &L.s[2 * MOMENT_LANES + j], &L.c[2 * MOMENT_LANES + j])
            add_lane(ww, 0.0, &L.s[3 * MOMENT_LANES + j], &L.c[3 * MOMENT_LANES + j])
            add_lane(ww * x, 0.0, &L.s[4 * MOMENT_LANES + j], &L.c[4 * MOMENT_LANES + j])
            add_lane(ww * x * x, 0.0, &L.s[5 * MOMENT_LANES + j], &L.c[5 * MOMENT_LANES + j])
    out[0] = L
    moments_run(t, p, w, body, stop, 1, FULL, 0.0, omit, out)


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
        """Fold units start .. stop-1 of p (and t, w) into the sums.  t None:
        p holds the units x themselves.  t and p share one dtype (float32
        or float64); w is float64."""
        cdef MomentLanes L
        cdef const void* tp = NULL
        cdef const double* wp = NULL
        cdef const void* pp = cnp.PyArray_DATA(p)
        cdef bint p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
        memset(&L, 0, sizeof(MomentLanes))
        if t is not None:
            tp = cnp.PyArray_DATA(<cnp.ndarray>t)
        if w is not None:
            wp = <const double*>cnp.PyArray_DATA(<cnp.ndarray>w)
        if cols <= 0:
            cols = 1
        with nogil:
            if tp != NULL and w_mode == NONE:
                if p64:
                    moments_plain(<const double*>tp, <const double*>pp, start, stop, omit, &L)
                else:
                    moments_plain(<const float*>tp, <const float*>pp, start, stop, omit, &L)
            elif tp != NULL and w_mode == FULL:
                if p64:
                    moments_weighted(<const double*>tp, <const double*>pp, wp, start, stop,
                                     omit, &L)
                else:
                    moments_weighted(<const float*>tp, <const float*>pp, wp, start, stop,
                                     omit, &L)
            elif p64:
                moments_run(<const double*>tp, <const double*>pp, wp,
                            start, stop, cols, w_mode, w_scalar, omit, &L)
            else:
                moments_run(<const float*>tp, <const float*>pp, wp,
                            start, stop, cols, w_mode, w_scalar, omit, &L)
            self.add_lanes(&L, w_mode != NONE)

    cdef void add_lanes(self, MomentLanes* L, bint weighted) noexcept nogil:
        cdef Py_ssize_t k, j
        cdef DD part[MOMENTS]
        memset(part, 0, sizeof(part))
        for k in range(MOMENTS):
            for j in range(MOMENT_LANES):
                add_dd(&part[k], L.s[k * MOMENT_LANES + j],
                       L.c[k * MOMENT_LANES + j] if isfinite(L.s[k * MOMENT_LANES + j]) else 0.0)
        if not weighted:
            # w = 1: sum w = sum w**2 = the units used, w**2 * x = w * x
            part[0].hi = <double>L.used
            part[0].lo = <double>(L.used - <int64_t>part[0].hi)
            part[3] = part[0]
            part[4] = part[1]
            part[5] = part[2]
        for k in range(MOMENTS):
            add_dd(&self.sums[k], part[k].hi, part[k].lo)

    def scale(self, double factor):
        """Every sum times ``factor`` (a batch repeated along zero-stride axes)."""
        cdef Py_ssize_t k
        for k in range(MOMENTS):
            scale_dd(&self.sums[k], factor)

    def merge(self, Moments other):
        cdef Py_ssize_t k
        for k in range(MOMENTS):
            add_dd(&self.sums[k], other.sums[k].hi, other.sums[k].lo)

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
