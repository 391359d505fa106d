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


# Compile-time flags of the fast loops (one specialisation each, so the
# inner loops carry no branch): omit NaN units or not, form the sums of w
# and w*x or take them from the main fold.
cdef struct KeepNaN:
    char unused
cdef struct SkipNaN:
    char unused
cdef struct FormSums:
    char unused
cdef struct GivenSums:
    char unused

ctypedef fused nan_rule:
    KeepNaN
    SkipNaN

ctypedef fused sums_rule:
    FormSums
    GivenSums


cdef struct MomentLanes:
    double s[MOMENTS * MOMENT_LANES]
    double c[MOMENTS * MOMENT_LANES]
    int64_t used               # units that counted (the unweighted w-sums)


cdef inline void lane_add(double x, double* s, double* c) noexcept nogil:
    """(s, c) += x: Knuth's TwoSum error into the compensation."""
    cdef double sn = s[0] + x
    c[0] += two_sum_err(s[0], x, sn)
    s[0] = sn


cdef inline const void* data_or_null(object a):
    """The data of an ndarray operand, NULL for None (an absent y_true or
    weight)."""
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


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


cdef inline void lanes_load(const MomentLanes* L, int k, double* s, double* c) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(MOMENT_LANES):
        s[j] = L.s[k * MOMENT_LANES + j]
        c[j] = L.c[k * MOMENT_LANES + j]


cdef inline void lanes_store(MomentLanes* L, int k, const double* s, const double* c) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(MOMENT_LANES):
        L.s[k * MOMENT_LANES + j] = s[j]
        L.c[k * MOMENT_LANES + j] = c[j]


cdef void moments_plain(nan_rule* nans, sums_rule* sums, const p_real* t, const p_real* p,
                        Py_ssize_t start, Py_ssize_t stop, MomentLanes* out) noexcept nogil:
    """The unweighted units (p - t)**2, start .. stop-1, in MOMENT_LANES
    local lanes (registers; the loop vectorises): sum 2 (x**2), and sum 1
    (x) unless the caller has it from the main fold (``have_sums``).  Under
    omit a unit with a NaN operand adds zeros and is not counted."""
    cdef double s1[MOMENT_LANES]
    cdef double c1[MOMENT_LANES]
    cdef double s2[MOMENT_LANES]
    cdef double c2[MOMENT_LANES]
    cdef double used[MOMENT_LANES]
    cdef double d, x, tv, pv
    cdef bint keep
    cdef bint omit = nan_rule is SkipNaN
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t body = start + (stop - start) // MOMENT_LANES * MOMENT_LANES
    lanes_load(out, 1, s1, c1)
    lanes_load(out, 2, s2, c2)
    memset(used, 0, sizeof(used))
    for blk in range((body - start) // MOMENT_LANES):
        for j in range(MOMENT_LANES):
            i = start + blk * MOMENT_LANES + j
            tv = <double>t[i]
            pv = <double>p[i]
            d = pv - tv
            x = d * d
            if nan_rule is SkipNaN:
                keep = tv == tv and pv == pv
                x = kept(x, keep)
                used[j] += kept(1.0, keep)
            if sums_rule is FormSums:
                add_lane_nonneg(x, 0.0, &s1[j], &c1[j])
            add_lane_nonneg(x * x, 0.0, &s2[j], &c2[j])
    lanes_store(out, 1, s1, c1)
    lanes_store(out, 2, s2, c2)
    for j in range(MOMENT_LANES):
        out.used += <int64_t>used[j] if omit else (body - start) // MOMENT_LANES
    moments_run(t, p, <const double*>NULL, body, stop, 1, NONE, 0.0, omit, out)


cdef void moments_weighted(nan_rule* nans, sums_rule* sums, const p_real* t,
                           const p_real* p, const double* w, Py_ssize_t start,
                           Py_ssize_t stop, MomentLanes* out) noexcept nogil:
    """Units (p - t)**2 with weights w[i], start .. stop-1: sums 2 to 5, and
    sums 0 and 1 unless the main fold gave them (``have_sums``); branch-free
    (a unit with a zero or, under omit, a NaN weight adds zeros)."""
    cdef double s0[MOMENT_LANES]
    cdef double c0[MOMENT_LANES]
    cdef double s1[MOMENT_LANES]
    cdef double c1[MOMENT_LANES]
    cdef double s2[MOMENT_LANES]
    cdef double c2[MOMENT_LANES]
    cdef double s3[MOMENT_LANES]
    cdef double c3[MOMENT_LANES]
    cdef double s4[MOMENT_LANES]
    cdef double c4[MOMENT_LANES]
    cdef double s5[MOMENT_LANES]
    cdef double c5[MOMENT_LANES]
    cdef double d, x, wv, wx, ww, tv, pv
    cdef bint keep
    cdef bint omit = nan_rule is SkipNaN
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t body = start + (stop - start) // MOMENT_LANES * MOMENT_LANES
    lanes_load(out, 0, s0, c0)
    lanes_load(out, 1, s1, c1)
    lanes_load(out, 2, s2, c2)
    lanes_load(out, 3, s3, c3)
    lanes_load(out, 4, s4, c4)
    lanes_load(out, 5, s5, c5)
    for blk in range((body - start) // MOMENT_LANES):
        for j in range(MOMENT_LANES):
            i = start + blk * MOMENT_LANES + j
            tv = <double>t[i]
            pv = <double>p[i]
            wv = w[i]
            d = pv - tv
            keep = wv != 0.0
            if nan_rule is SkipNaN:
                keep = keep and not missing(tv, pv, wv)
            wv = kept(wv, keep)
            x = kept(d * d, keep)
            wx = wv * x
            ww = wv * wv
            if sums_rule is FormSums:
                add_lane(wv, 0.0, &s0[j], &c0[j])
                add_lane(wx, 0.0, &s1[j], &c1[j])
            add_lane(wx * x, 0.0, &s2[j], &c2[j])
            add_lane_nonneg(ww, 0.0, &s3[j], &c3[j])
            add_lane_nonneg(ww * x, 0.0, &s4[j], &c4[j])
            add_lane_nonneg(ww * x * x, 0.0, &s5[j], &c5[j])
    lanes_store(out, 0, s0, c0)
    lanes_store(out, 1, s1, c1)
    lanes_store(out, 2, s2, c2)
    lanes_store(out, 3, s3, c3)
    lanes_store(out, 4, s4, c4)
    lanes_store(out, 5, s5, c5)
    moments_run(t, p, w, body, stop, 1, FULL, 0.0, omit, out)


cdef void plain_as(const p_real* t, const p_real* p, Py_ssize_t start, Py_ssize_t stop,
                   bint omit, bint have_sums, MomentLanes* L) noexcept nogil:
    """moments_plain with its two flags made compile-time."""
    cdef KeepNaN keep
    cdef SkipNaN skip
    cdef FormSums form
    cdef GivenSums given
    if omit:
        if have_sums:
            moments_plain(&skip, &given, t, p, start, stop, L)
        else:
            moments_plain(&skip, &form, t, p, start, stop, L)
    elif have_sums:
        moments_plain(&keep, &given, t, p, start, stop, L)
    else:
        moments_plain(&keep, &form, t, p, start, stop, L)


cdef void weighted_as(const p_real* t, const p_real* p, const double* w, Py_ssize_t start,
                      Py_ssize_t stop, bint omit, bint have_sums, MomentLanes* L) noexcept nogil:
    """moments_weighted with its two flags made compile-time."""
    cdef KeepNaN keep
    cdef SkipNaN skip
    cdef FormSums form
    cdef GivenSums given
    if omit:
        if have_sums:
            moments_weighted(&skip, &given, t, p, w, start, stop, L)
        else:
            moments_weighted(&skip, &form, t, p, w, start, stop, L)
    elif have_sums:
        moments_weighted(&keep, &given, t, p, w, start, stop, L)
    else:
        moments_weighted(&keep, &form, t, p, w, start, stop, L)


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
             double w_scalar, Py_ssize_t start, Py_ssize_t stop, bint omit,
             object main=None):
        """Fold units start .. stop-1 of p (and t, w) into the sums.  t None:
        p holds the units x themselves.  t and p share one dtype (float32
        or float64); w is float64.  ``main``: the main fold's partial sums
        of the same units, (total hi, lo, weight hi, lo) -- sums 1 and 0 --
        which the loop then need not form (y_true full, weights none or
        full only)."""
        cdef MomentLanes L
        cdef Py_ssize_t k
        cdef const void* tp = data_or_null(t)
        cdef const double* wp = <const double*>data_or_null(w)
        cdef const void* pp = cnp.PyArray_DATA(p)
        cdef bint p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
        cdef bint have_sums = main is not None
        cdef double main_sums[4]
        if have_sums:
            for k in range(4):
                main_sums[k] = main[k]
        memset(&L, 0, sizeof(MomentLanes))
        if cols <= 0:
            cols = 1
        with nogil:
            if tp != NULL and w_mode == NONE:
                if p64:
                    plain_as(<const double*>tp, <const double*>pp, start, stop, omit,
                             have_sums, &L)
                else:
                    plain_as(<const float*>tp, <const float*>pp, start, stop, omit,
                             have_sums, &L)
            elif tp != NULL and w_mode == FULL:
                if p64:
                    weighted_as(<const double*>tp, <const double*>pp, wp, start, stop, omit,
                                have_sums, &L)
                else:
                    weighted_as(<const float*>tp, <const float*>pp, wp, start, stop, omit,
                                have_sums, &L)
            elif p64:
                moments_run(<const double*>tp, <const double*>pp, wp,
                            start, stop, cols, w_mode, w_scalar, omit, &L)
            else:
                moments_run(<const float*>tp, <const float*>pp, wp,
                            start, stop, cols, w_mode, w_scalar, omit, &L)
            self.add_lanes(&L, w_mode != NONE, have_sums, main_sums)

    cdef void add_lanes(self, MomentLanes* L, bint weighted, bint have_sums,
                        const double* main) noexcept nogil:
        cdef Py_ssize_t k, j
        cdef DD part[MOMENTS]
        memset(part, 0, sizeof(part))
        for k in range(MOMENTS):
            for j in range(MOMENT_LANES):
                add_dd(&part[k], L.s[k * MOMENT_LANES + j],
                       L.c[k * MOMENT_LANES + j] if isfinite(L.s[k * MOMENT_LANES + j]) else 0.0)
        if have_sums:               # the main fold's sum w*x and sum w of these units
            part[1].hi, part[1].lo = main[0], main[1]
            if weighted:
                part[0].hi, part[0].lo = main[2], main[3]
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
