# The rmse_ext accumulator kernel.  Included by _kernel.pyx (baseline ISA) and
# _kernel_avx2.pyx (the same code compiled with -mavx2 -mfma); see setup.py.
#
# The kernel trusts its inputs: the Python side (rmse_ext/_plan.py) has already
# converted every operand to a native-endian, aligned, C-contiguous float32 or
# float64 buffer and chosen the iteration mode below.  Nothing here raises.
#
# Numerics.  d = fl(p - t) is exact whenever p and t are within a factor 2
# (Sterbenz) -- and for float32 inputs whenever they are within 2**28 -- and
# otherwise off by at most half an ulp of d, which moves the final square
# root by at most one ulp.  d*d (and w*d*d) is split error-free into hi + lo
# with FMA; hi goes into a Neumaier/Knuth compensated lane sum, lo into the
# lane's compensation.  LANES independent (sum, compensation) pairs keep the loop
# throughput-bound; they are folded into a double-double at the end of every
# CHUNK of elements.  Chunks have a fixed size, so a call gives bitwise the same
# answer for any number of threads.

from libc.math cimport fma, sqrt, isfinite
from libc.stdint cimport int64_t
from libc.string cimport memset
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void* data, cnp.dtype descr, object base)

from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int rmse_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #else
    static int rmse_cpu_has_avx2_fma(void) { return 0; }
    #endif
    #if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__FP_FAST_FMA)
    #define RMSE_HARDWARE_FMA 1
    /* a + b, rounded once, issued on the multiply-add ports: x86 cores have
       as many FMA ports as add ports, and this loop is add-port bound. */
    #define rmse_add_on_fma(a, b) fma((a), 1.0, (b))
    #define rmse_sub_on_fma(a, b) fma((b), -1.0, (a))
    #define rmse_mul_add(a, b, c) fma((a), (b), (c))
    #else
    #define RMSE_HARDWARE_FMA 0
    #define rmse_add_on_fma(a, b) ((a) + (b))
    #define rmse_sub_on_fma(a, b) ((a) - (b))
    #define rmse_mul_add(a, b, c) ((a) * (b) + (c))
    #endif

    /* The exact error of p = fl(a * b): a * b == p + err.  With a hardware
       FMA one instruction; without one (where fma() would be a slow libm
       routine) Dekker's product on Veltkamp splits, which is exact while
       the splits do not overflow (|a|, |b| < 2**996) and returns 0 past that
       instead of NaN. */
    static inline double rmse_two_prod_err(double a, double b, double p) {
    #if RMSE_HARDWARE_FMA
        return fma(a, b, -p);
    #else
        const double split = 134217729.0;   /* 2**27 + 1 */
        double ca = split * a, cb = split * b;
        double ah = ca - (ca - a), al = a - ah;
        double bh = cb - (cb - b), bl = b - bh;
        double err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
        return err == err ? err : 0.0;
    #endif
    }
    """
    int rmse_cpu_has_avx2_fma() nogil
    int RMSE_HARDWARE_FMA
    double add_on_fma "rmse_add_on_fma"(double a, double b) nogil
    double sub_on_fma "rmse_sub_on_fma"(double a, double b) nogil
    double two_prod_err "rmse_two_prod_err"(double a, double b, double p) nogil
    double mul_add "rmse_mul_add"(double a, double b, double c) nogil

ctypedef fused t_real:
    float
    double

ctypedef fused p_real:
    float
    double

ctypedef fused w_real:
    float
    double

cdef enum:
    LANES = 8
    CHUNK = 65536          # elements per deterministic partial sum
    GIL_FREE_ABOVE = 8192  # release the GIL only for batches at least this big

# Where y_true's element for flat index i lives (y_pred is always full).
cpdef enum TMode:
    T_FULL = 0      # t[i]: same shape as y_pred
    T_ROW = 1       # t[i % cols]: one row repeated over every row of y_pred

# How the weight of flat element i is found.
cpdef enum WMode:
    W_NONE = 0      # unweighted: count grows by the element count (exact integer)
    W_SCALAR = 1    # one weight for the whole batch
    W_FULL = 2      # w[i]
    W_ROW = 3       # w[i // cols]: per-sample weights
    W_COL = 4       # w[i % cols]: one weight row repeated

# ---------------------------------------------------------------------------
# Error-free building blocks (double-double arithmetic)
# ---------------------------------------------------------------------------

cdef struct DD:
    double hi
    double lo

cdef struct Partial:
    DD total       # sum of w * (p - t)**2
    DD weight      # sum of the weights that applied (unused when W_NONE)


cdef inline double two_sum_err(double a, double b, double s) noexcept nogil:
    """Exact error of s = fl(a + b): a + b == s + err (Knuth, branch-free)."""
    cdef double z = s - a
    return (a - (s - z)) + (b - z)


cdef inline void add_dd(DD* acc, double hi, double lo) noexcept nogil:
    """acc += hi + lo with compensation.  Once acc.hi is inf or NaN it stays
    so and the compensation (which would be NaN) is dropped: overflow gives
    inf, never NaN."""
    cdef double s = acc.hi + hi
    if isfinite(s):
        acc.lo += two_sum_err(acc.hi, hi, s) + lo
    else:
        acc.lo = 0.0
    acc.hi = s


cdef inline void scale_dd(DD* x, double w) noexcept nogil:
    """x *= w, keeping the product's rounding error in lo."""
    cdef double p = x.hi * w
    if isfinite(p):
        x.lo = fma(x.hi, w, -p) + x.lo * w
    else:
        x.lo = 0.0
    x.hi = p


cdef inline void divide_dd(DD* x, double d) noexcept nogil:
    """x /= d, to about u**2 relative."""
    cdef double q = x.hi / d
    cdef double prod
    if isfinite(q):
        prod = q * d
        x.lo = ((x.hi - prod) - two_prod_err(q, d, prod) + x.lo) / d
    else:
        x.lo = 0.0
    x.hi = q


cdef inline double dd_value(DD x) noexcept nogil:
    return x.hi + x.lo if isfinite(x.hi) else x.hi


# ---------------------------------------------------------------------------
# Per-element work: one squared error into one lane
# ---------------------------------------------------------------------------

cdef inline double sq_err(double d, double sq) noexcept nogil:
    """d*d - sq exactly, where sq = fl(d * d)."""
    return two_prod_err(d, d, sq)


cdef inline void add_lane(double x, double ex, double* s, double* c) noexcept nogil:
    """Lane (s, c) += x + ex, x entering the compensated sum error-free
    (Knuth's branch-free TwoSum, for terms of either sign)."""
    cdef double sn = s[0] + x
    cdef double z = sn - s[0]
    cdef double es = add_on_fma(s[0] - (sn - z), sub_on_fma(x, z))
    c[0] += add_on_fma(es, ex)
    s[0] = sn


cdef inline void add_lane_nonneg(double x, double ex, double* s, double* c) noexcept nogil:
    """add_lane for x >= 0 added to s >= 0 (unweighted squares): Neumaier's
    larger-minus-sum form, with max/min in place of the branch."""
    cdef double sn = s[0] + x
    cdef double big = s[0] if s[0] > x else x
    cdef double small = x if s[0] > x else s[0]
    c[0] += add_on_fma(sub_on_fma(big, sn) + small, ex)
    s[0] = sn


cdef inline void add_sq(double p, double t, double* s, double* c) noexcept nogil:
    """Lane (s, c) += d**2 for d = fl(p - t), the square error-free."""
    cdef double d = p - t
    cdef double sq = d * d
    add_lane_nonneg(sq, sq_err(d, sq), s, c)


cdef inline void add_wsq(double p, double t, double w,
                         double* s, double* c, double* ws, double* wc) noexcept nogil:
    """Lane (s, c) += w * d**2 for d = fl(p - t), products error-free
    up to O(u**2), and lane (ws, wc) += w."""
    cdef double d = p - t
    cdef double sq = d * d
    cdef double x = w * sq
    cdef double ex = mul_add(w, sq_err(d, sq), two_prod_err(w, sq, x))
    add_lane(x, ex, s, c)
    add_lane(w, 0.0, ws, wc)


# ---------------------------------------------------------------------------
# Contiguous runs: n elements into the LANES lanes
# ---------------------------------------------------------------------------

cdef struct Lanes:
    double s[LANES]
    double c[LANES]
    double ws[LANES]
    double wc[LANES]


# Each run works on a local copy of the lanes (so the compiler keeps them in
# registers), element i of the run going to lane i % LANES.

cdef inline void run_unweighted(const t_real* t, const p_real* p, Py_ssize_t n,
                                Lanes* lanes) noexcept nogil:
    cdef Lanes L = lanes[0]
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t n_body = n - n % LANES
    for blk in range(n_body // LANES):
        i = blk * LANES
        for j in range(LANES):
            add_sq(<double>p[i + j], <double>t[i + j], &L.s[j], &L.c[j])
    for i in range(n_body, n):
        j = i - n_body
        add_sq(<double>p[i], <double>t[i], &L.s[j], &L.c[j])
    lanes[0] = L


cdef inline void run_weighted(const t_real* t, const p_real* p, const w_real* w,
                              Py_ssize_t n, Lanes* lanes) noexcept nogil:
    cdef Lanes L = lanes[0]
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t n_body = n - n % LANES
    for blk in range(n_body // LANES):
        i = blk * LANES
        for j in range(LANES):
            add_wsq(<double>p[i + j], <double>t[i + j], <double>w[i + j],
                    &L.s[j], &L.c[j], &L.ws[j], &L.wc[j])
    for i in range(n_body, n):
        j = i - n_body
        add_wsq(<double>p[i], <double>t[i], <double>w[i],
                &L.s[j], &L.c[j], &L.ws[j], &L.wc[j])
    lanes[0] = L


cdef inline void run_const_weighted(const t_real* t, const p_real* p, double w,
                                    Py_ssize_t n, Lanes* lanes) noexcept nogil:
    """run_weighted for one weight applying to the whole run (a row)."""
    cdef Lanes L = lanes[0]
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t n_body = n - n % LANES
    for blk in range(n_body // LANES):
        i = blk * LANES
        for j in range(LANES):
            add_wsq(<double>p[i + j], <double>t[i + j], w,
                    &L.s[j], &L.c[j], &L.ws[j], &L.wc[j])
    for i in range(n_body, n):
        j = i - n_body
        add_wsq(<double>p[i], <double>t[i], w, &L.s[j], &L.c[j], &L.ws[j], &L.wc[j])
    lanes[0] = L


cdef inline void lanes_into(const double* s, const double* c, DD* out) noexcept nogil:
    """Fold the LANES (sum, compensation) pairs into out, lane 0 first."""
    cdef Py_ssize_t j
    for j in range(LANES):
        add_dd(out, s[j], c[j] if isfinite(s[j]) else 0.0)


# ---------------------------------------------------------------------------
# One batch, described once, cut into fixed chunks
# ---------------------------------------------------------------------------

cdef struct Batch:
    const void* t
    const void* p
    const void* w
    Py_ssize_t size        # elements of y_pred (== of the squared errors)
    Py_ssize_t cols        # row length for T_ROW / W_ROW / W_COL
    int t_mode
    int w_mode
    double w_scalar        # the weight for W_SCALAR
    bint t64, p64, w64     # float64 (else float32) operands


cdef void chunk_partial(const Batch* B, Py_ssize_t start, Py_ssize_t stop,
                        const t_real* t, const p_real* p, const w_real* w,
                        Partial* out) noexcept nogil:
    """Partial sums over flat elements [start, stop) of the batch."""
    cdef Lanes L
    cdef Py_ssize_t i = start, r, j, m
    cdef Py_ssize_t cols = B.cols
    cdef const t_real* t_at
    memset(&L, 0, sizeof(Lanes))
    while i < stop:
        r = i // cols
        j = i - r * cols
        m = cols - j
        if m > stop - i:
            m = stop - i
        if B.t_mode == T_FULL:
            t_at = t + i
        else:
            t_at = t + j
        if B.w_mode == W_NONE or B.w_mode == W_SCALAR:
            run_unweighted(t_at, p + i, m, &L)
        elif B.w_mode == W_FULL:
            run_weighted(t_at, p + i, w + i, m, &L)
        elif B.w_mode == W_COL:
            run_weighted(t_at, p + i, w + j, m, &L)
        else:  # W_ROW
            run_const_weighted(t_at, p + i, <double>w[r], m, &L)
        i += m
    out.total.hi = 0.0
    out.total.lo = 0.0
    out.weight.hi = 0.0
    out.weight.lo = 0.0
    lanes_into(L.s, L.c, &out.total)
    if B.w_mode == W_SCALAR:
        scale_dd(&out.total, B.w_scalar)
        out.weight.hi = B.w_scalar * <double>(stop - start)
        out.weight.lo = fma(B.w_scalar, <double>(stop - start), -out.weight.hi)
    elif B.w_mode != W_NONE:
        lanes_into(L.ws, L.wc, &out.weight)


cdef void chunk_dispatch(const Batch* B, Py_ssize_t start, Py_ssize_t stop,
                         Partial* out) noexcept nogil:
    """Pick the dtype specialisation (t, p, w each float32 or float64)."""
    if B.t64:
        if B.p64:
            if B.w64:
                chunk_partial(B, start, stop, <const double*>B.t, <const double*>B.p, <const double*>B.w, out)
            else:
                chunk_partial(B, start, stop, <const double*>B.t, <const double*>B.p, <const float*>B.w, out)
        else:
            if B.w64:
                chunk_partial(B, start, stop, <const double*>B.t, <const float*>B.p, <const double*>B.w, out)
            else:
                chunk_partial(B, start, stop, <const double*>B.t, <const float*>B.p, <const float*>B.w, out)
    else:
        if B.p64:
            if B.w64:
                chunk_partial(B, start, stop, <const float*>B.t, <const double*>B.p, <const double*>B.w, out)
            else:
                chunk_partial(B, start, stop, <const float*>B.t, <const double*>B.p, <const float*>B.w, out)
        else:
            if B.w64:
                chunk_partial(B, start, stop, <const float*>B.t, <const float*>B.p, <const double*>B.w, out)
            else:
                chunk_partial(B, start, stop, <const float*>B.t, <const float*>B.p, <const float*>B.w, out)


cdef void batch_partial(const Batch* B, Py_ssize_t k0, Py_ssize_t k1,
                        Partial* out) noexcept nogil:
    """Sum of chunks k0 .. k1-1, folded in chunk order (so any way of
    spreading the chunks over threads gives bitwise the same sum)."""
    cdef Partial part
    cdef Py_ssize_t k, start, stop
    memset(out, 0, sizeof(Partial))
    for k in range(k0, k1):
        start = k * CHUNK
        stop = start + CHUNK if start + CHUNK < B.size else B.size
        chunk_dispatch(B, start, stop, &part)
        add_dd(&out.total, part.total.hi, part.total.lo)
        add_dd(&out.weight, part.weight.hi, part.weight.lo)


# ---------------------------------------------------------------------------
# The running state
# ---------------------------------------------------------------------------

cdef class Accumulator:
    """Running state of the metric: a compensated total, a compensated weight
    sum and an exact element count.  All methods trust their arguments; the
    checks live in rmse_ext.

    >>> import numpy as np
    >>> acc = Accumulator()
    >>> acc.fold_fast(np.array([2., 4, 6]), np.array([1., 3, 2]))
    True
    >>> acc.value()
    2.449489742783178
    """
    cdef DD total
    cdef DD weight
    cdef int64_t elements

    def __cinit__(self):
        self.reset()

    cpdef void reset(self) noexcept:
        self.total.hi = 0.0
        self.total.lo = 0.0
        self.weight.hi = 0.0
        self.weight.lo = 0.0
        self.elements = 0

    cdef inline void add_partial(self, const Partial* part, int w_mode, int64_t n) noexcept nogil:
        add_dd(&self.total, part.total.hi, part.total.lo)
        if w_mode == W_NONE:
            self.elements += n
        else:
            add_dd(&self.weight, part.weight.hi, part.weight.lo)

    cdef void fold_batch(self, const Batch* B, int64_t repeat, int64_t divisor) noexcept:
        """Sum the batch (without the GIL when it is big enough to pay), then
        fold the sum into the state while holding the GIL: concurrent Python
        threads never interleave inside the state update."""
        cdef Partial part
        cdef Py_ssize_t chunks = (B.size + CHUNK - 1) // CHUNK
        if B.size >= GIL_FREE_ABOVE:
            with nogil:
                batch_partial(B, 0, chunks, &part)
        else:
            batch_partial(B, 0, chunks, &part)
        if repeat != 1:
            scale_dd(&part.total, <double>repeat)
            scale_dd(&part.weight, <double>repeat)
        if divisor != 1:
            divide_dd(&part.total, <double>divisor)
            divide_dd(&part.weight, <double>divisor)
        self.add_partial(&part, B.w_mode, B.size * repeat)

    def fold(self, cnp.ndarray t, cnp.ndarray p, object w, Py_ssize_t cols,
             int t_mode, int w_mode, double w_scalar, int64_t repeat=1,
             int64_t divisor=1):
        """Fold one prepared batch: p is the full squared-error shape, t is
        laid out per t_mode, w per w_mode (None for W_NONE / W_SCALAR); the
        whole batch counts ``repeat`` times (zero-stride broadcasts) and its
        weighted sums are divided by ``divisor`` (row means, semantics 3.3)."""
        cdef Batch B
        make_batch(&B, t, p, w, cols, t_mode, w_mode, w_scalar)
        self.fold_batch(&B, repeat, divisor)

    def fold_partials(self, const double[:, ::1] parts, int w_mode,
                      int64_t size, int64_t repeat=1):
        """Fold per-chunk partial sums (rows of chunk_partials' output, in
        chunk order) into the state: bitwise what fold() gives for the same
        batch, however the chunks were spread over threads."""
        cdef Partial part, chunk
        cdef Py_ssize_t k
        memset(&part, 0, sizeof(Partial))
        for k in range(parts.shape[0]):
            add_dd(&part.total, parts[k, 0], parts[k, 1])
            add_dd(&part.weight, parts[k, 2], parts[k, 3])
        if repeat != 1:
            scale_dd(&part.total, <double>repeat)
            scale_dd(&part.weight, <double>repeat)
        self.add_partial(&part, w_mode, size * repeat)

    def fold_fast(self, object t, object p, object w=None):
        """Fast path for the commonest calls: y_true and y_pred ndarrays of
        one shape (aligned, native, C-contiguous float32/float64) and the
        weights None, a Python float, the same shape, or per-sample (n,)
        against (n, d) (semantics 3.1-3.2).  Returns False, having done nothing,
        for anything else: the caller then takes the full path."""
        cdef Batch B
        cdef int w_mode = W_NONE
        cdef double w_scalar = 0.0
        cdef Py_ssize_t cols
        cdef cnp.ndarray wa = None
        if not (cnp.PyArray_CheckExact(t) and cnp.PyArray_CheckExact(p)):
            return False
        cdef cnp.ndarray ta = <cnp.ndarray>t
        cdef cnp.ndarray pa = <cnp.ndarray>p
        if not (is_plain_float(ta) and is_plain_float(pa) and cnp.PyArray_SAMESHAPE(ta, pa)):
            return False
        cols = cnp.PyArray_SIZE(pa)
        if w is None:
            pass
        elif PyFloat_CheckExact(w):
            w_mode = W_SCALAR
            w_scalar = PyFloat_AS_DOUBLE(w)
        elif cnp.PyArray_CheckExact(w) and is_plain_float(<cnp.ndarray>w):
            wa = <cnp.ndarray>w
            if cnp.PyArray_SAMESHAPE(wa, pa):
                w_mode = W_FULL
            elif (cnp.PyArray_NDIM(wa) == 1 and cnp.PyArray_NDIM(pa) == 2
                  and cnp.PyArray_DIM(wa, 0) == cnp.PyArray_DIM(pa, 0)):
                # (n,) -> (n, 1) against (n, d); for d == 1 that is (n,) itself
                if cnp.PyArray_DIM(pa, 1) == 1:
                    w_mode = W_FULL
                else:
                    w_mode = W_ROW
                    cols = cnp.PyArray_DIM(pa, 1)
            else:
                return False
            if cnp.PyArray_SIZE(wa) == 1:
                # one weight for the batch: the planner's W_SCALAR, so every
                # path through update_state gives the same bits
                w_mode = W_SCALAR
                w_scalar = ((<const double*>cnp.PyArray_DATA(wa))[0]
                            if cnp.PyArray_TYPE(wa) == cnp.NPY_DOUBLE
                            else (<const float*>cnp.PyArray_DATA(wa))[0])
                wa = None
        else:
            return False
        make_batch(&B, ta, pa, wa, cols, T_FULL, w_mode, w_scalar)
        self.fold_batch(&B, 1, 1)
        return True

    def value(self):
        """sqrt(total / count) in float64; 0.0 while count is 0 (Keras's
        divide_no_nan, semantics 1)."""
        return result_of(self.total, self.weight, self.elements)

    def value_as(self, cnp.dtype descr):
        """value() as a NumPy scalar of the float dtype ``descr`` (float32
        and float64 built in C: no Python-level conversion)."""
        cdef double v = result_of(self.total, self.weight, self.elements)
        cdef float f
        if descr.type_num == cnp.NPY_DOUBLE and descr.byteorder != c'>':
            return PyArray_Scalar(&v, descr, None)
        if descr.type_num == cnp.NPY_FLOAT and descr.byteorder != c'>':
            f = <float>v
            return PyArray_Scalar(&f, descr, None)
        return (<object>descr).type(v)

    def count(self):
        """The weight sum plus the unweighted element count, in float64."""
        cdef DD c = count_of(self.weight, self.elements)
        return dd_value(c)

    def get_raw(self):
        """(total_hi, total_lo, weight_hi, weight_lo, elements): the whole state."""
        return (self.total.hi, self.total.lo, self.weight.hi, self.weight.lo,
                self.elements)

    def set_raw(self, double total_hi, double total_lo, double weight_hi,
                double weight_lo, int64_t elements):
        self.total.hi = total_hi
        self.total.lo = total_lo
        self.weight.hi = weight_hi
        self.weight.lo = weight_lo
        self.elements = elements

    def fold_values(self, cnp.ndarray values, cnp.ndarray weights):
        """total += sum(values), weight += sum(weights); both contiguous
        float64 (the rare averaged-weights path of semantics 3.3)."""
        cdef const double* v = <const double*>cnp.PyArray_DATA(values)
        cdef const double* w = <const double*>cnp.PyArray_DATA(weights)
        cdef Py_ssize_t i, nv = cnp.PyArray_SIZE(values), nw = cnp.PyArray_SIZE(weights)
        cdef Lanes L
        memset(&L, 0, sizeof(Lanes))
        for i in range(nv):
            add_lane(v[i], 0.0, &L.s[i % LANES], &L.c[i % LANES])
        for i in range(nw):
            add_lane(w[i], 0.0, &L.ws[i % LANES], &L.wc[i % LANES])
        cdef Partial part
        memset(&part, 0, sizeof(Partial))
        lanes_into(L.s, L.c, &part.total)
        lanes_into(L.ws, L.wc, &part.weight)
        self.add_partial(&part, W_FULL, 0)

    def merge(self, Accumulator other):
        """Fold another accumulator's state into this one, compensations included."""
        add_dd(&self.total, other.total.hi, other.total.lo)
        add_dd(&self.weight, other.weight.hi, other.weight.lo)
        self.elements += other.elements


cdef inline bint is_plain_float(cnp.ndarray a) noexcept:
    cdef int typenum = cnp.PyArray_TYPE(a)
    return ((typenum == cnp.NPY_DOUBLE or typenum == cnp.NPY_FLOAT)
            and cnp.PyArray_ISCARRAY_RO(a) and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline void make_batch(Batch* B, cnp.ndarray t, cnp.ndarray p, object w,
                            Py_ssize_t cols, int t_mode, int w_mode,
                            double w_scalar) noexcept:
    B.t = cnp.PyArray_DATA(t)
    B.p = cnp.PyArray_DATA(p)
    B.size = cnp.PyArray_SIZE(p)
    B.cols = cols if cols > 0 else 1
    B.t_mode = t_mode
    B.w_mode = w_mode
    B.w_scalar = w_scalar
    B.t64 = cnp.PyArray_TYPE(t) == cnp.NPY_DOUBLE
    B.p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
    if w is None:
        B.w = NULL
        B.w64 = True
    else:
        B.w = cnp.PyArray_DATA(<cnp.ndarray>w)
        B.w64 = cnp.PyArray_TYPE(<cnp.ndarray>w) == cnp.NPY_DOUBLE


cdef inline DD count_of(DD weight, int64_t elements) noexcept nogil:
    cdef DD c = weight
    cdef double n_hi = <double>elements
    add_dd(&c, n_hi, <double>(elements - <int64_t>n_hi))
    return c


cdef inline DD normalized(DD x) noexcept nogil:
    """The same value with |lo| <= ulp(hi) / 2 (hi is then the rounded sum)."""
    cdef DD out
    out.hi = x.hi + x.lo
    out.lo = two_sum_err(x.hi, x.lo, out.hi) if isfinite(out.hi) else 0.0
    return out


cdef double result_of(DD total, DD weight, int64_t elements) noexcept nogil:
    cdef DD c = normalized(count_of(weight, elements))
    cdef DD s = normalized(total)
    cdef double q, r
    if c.hi == 0.0:
        return 0.0
    q = s.hi / c.hi
    if isfinite(q) and q != 0.0:
        # one Newton step on the quotient of two double-doubles
        r = fma(-q, c.hi, s.hi) + s.lo - q * c.lo
        q = q + r / c.hi
    return sqrt(q)


def cpu_has_avx2_fma():
    """Whether this CPU can run the _kernel_avx2 build."""
    return bool(rmse_cpu_has_avx2_fma())


def hardware_fma():
    """Whether this build's fma() is a single instruction (else a libm call)."""
    return bool(RMSE_HARDWARE_FMA)


CHUNK_SIZE = CHUNK


def chunk_partials(cnp.ndarray t, cnp.ndarray p, object w, Py_ssize_t cols,
                   int t_mode, int w_mode, double w_scalar,
                   Py_ssize_t k0, Py_ssize_t k1, double[:, ::1] out):
    """Partial sums of chunks k0 .. k1-1 of a prepared batch into rows
    k0 .. k1-1 of out (total hi, lo, weight hi, lo), without the GIL: one
    thread's share of a multi-threaded update."""
    cdef Batch B
    cdef Partial part
    cdef Py_ssize_t k, start, stop
    make_batch(&B, t, p, w, cols, t_mode, w_mode, w_scalar)
    with nogil:
        for k in range(k0, k1):
            start = k * CHUNK
            stop = start + CHUNK if start + CHUNK < B.size else B.size
            chunk_dispatch(&B, start, stop, &part)
            out[k, 0] = part.total.hi
            out[k, 1] = part.total.lo
            out[k, 2] = part.weight.hi
            out[k, 3] = part.weight.lo


def row_sums(cnp.ndarray t, cnp.ndarray p, Py_ssize_t cols):
    """Per-row sum of (p - t)**2 over rows of length cols, rounded to float64
    (t and p of one shape).  Used by the averaged-weights path, semantics 3.3."""
    cdef Py_ssize_t rows = cnp.PyArray_SIZE(p) // cols if cols > 0 else 0
    cdef cnp.ndarray out = np.zeros(rows)
    cdef double* o = <double*>cnp.PyArray_DATA(out)
    cdef Batch B
    cdef Partial part
    cdef Py_ssize_t r
    make_batch(&B, t, p, None, cols, T_FULL, W_NONE, 0.0)
    for r in range(rows):
        chunk_dispatch(&B, r * cols, (r + 1) * cols, &part)
        o[r] = dd_value(part.total)
    return out


include "_moments.pxi"
include "_bootstrap.pxi"
