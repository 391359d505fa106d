# One batch, described once (a BatchSpec), summed in fixed chunks.
#
# The squared errors are read in flat (C) order.  y_pred is always full;
# y_true is full or one block of `run` elements repeated (TILED); the weights
# are absent, one scalar, full, one repeated block (TILED), or one per row of
# `run` elements (PER_ROW).  Each chunk of CHUNK elements is summed in LANES
# independent (sum, compensation) lanes and folded into a double-double; the
# chunk sums are folded in chunk order, so any split of the chunks over
# threads gives bitwise the same sum.
#
# A batch built with moments=True (the "normal" interval, _moments.pxi) sums
# in the same pass, next to the main lanes and without touching them, the
# interval's higher moment sums of the same elements (see "The interval's
# moments" in _kernel_body.pxi): one read of the operands for both.

from libc.string cimport memset

cdef extern from *:
    """
    /* A hint to start loading the cache line `ahead` bytes past p (no fault,
       whatever the address; nothing where the compiler has no prefetch). */
    #if defined(__GNUC__) || defined(__clang__)
    #define rmse_prefetch_ahead(p, ahead) \
        __builtin_prefetch((const void*)((uintptr_t)(p) + (uintptr_t)(ahead)))
    #else
    #define rmse_prefetch_ahead(p, ahead) ((void)0)
    #endif
    """
    void prefetch_ahead "rmse_prefetch_ahead"(const void* p, Py_ssize_t ahead) nogil

cdef extern from *:
    """
    /* The lane additions and the per-unit helpers of the grouped and moment
       rooms are inlined whatever the compiler's budget: in a kernel this
       size gcc's inline-unit-growth limit runs out (-Winline) before the
       grouped loops' calls are reached, and add_lane, key_moments_into were
       called out of line per element (issue 21 part 5: the grouped fold
       1.3x, its 'normal' 1.5x slower).  The fold's own sq_into / wsq_into
       are left to gcc: forced, they cost the float32 loop 40 % (measured).
       Only for functions returning void: on a value-returning one the
       attribute would also land on Cython's result variable. */
    #if defined(__GNUC__) || defined(__clang__)
    #define RMSE_HOT __attribute__((always_inline))
    #else
    #define RMSE_HOT
    #endif
    """
    # The return type of a void per-element helper: always inlined.
    ctypedef void hot_void "RMSE_HOT void"

ctypedef fused t_real:
    float
    double

ctypedef fused p_real:
    float
    double

ctypedef fused w_real:
    float
    double

# How one element's error is formed: a compile-time choice, so each policy is
# its own loop and Propagate (the default) pays for nothing it does not use.
cdef struct Propagate:      # d = fl(p - t); NaN and inf propagate (Keras)
    char unused
cdef struct Careful:        # Propagate, each zero weight removing its element
    char unused
cdef struct Omit:           # t, p or w NaN: contributes nothing, is counted
    char unused
cdef struct ExactDiff:      # d = p - t formed exactly as two terms
    char unused
cdef struct ExactOmit:      # ExactDiff, with Omit's rule for NaN (integers
    char unused             # beyond 2**53 against NaN weights or floats)

ctypedef fused policy:
    Propagate
    Careful
    Omit
    ExactDiff
    ExactOmit

cdef enum:
    LANES = 8
    CHUNK = 65536          # elements per deterministic partial sum
    GIL_FREE_ABOVE = 8192  # release the GIL only for batches at least this big
    # Bytes read ahead of the loop, per operand: the hardware prefetcher
    # alone let the float64 loop run at ~85 % of np.dot's bandwidth on a
    # Zen 3 (interleaved runs, 512 / 1024 / 2048 tried: 1024 best).
    READ_AHEAD = 1024

# Where y_true's element for flat index i lives.
cpdef enum TMode:
    FULL_T = 0      # t[i]
    TILED_T = 1     # t[i % run]: one block repeated

# How the weight of flat element i is found.
cpdef enum WMode:
    NONE = 0        # unweighted: the count grows by the element count (exact)
    SCALAR = 1      # one weight for the whole batch
    FULL = 2        # w[i]
    TILED = 3       # w[i % run]: one block of weights repeated
    PER_ROW = 4     # w[i // run]: one weight per row of run elements

cpdef enum Policy:
    PROPAGATE = 0
    OMIT = 1
    EXACT_DIFF = 2
    EXACT_OMIT = 3


cdef struct BatchSpec:
    const void* t
    const void* p
    const void* w
    Py_ssize_t size        # elements of the squared errors (as read)
    Py_ssize_t run         # block length for TILED_T / TILED, row length for PER_ROW
    int t_mode
    int w_mode
    int policy
    double w_scalar        # the weight for SCALAR
    bint t64, p64, w64     # float64 (else float32) operands
    int64_t repeat         # the batch counts this many times (zero-stride axes)
    double divisor         # total / divisor (row means, semantics 3.3)
    bint fixed_count       # the count grows by count_sum, not the weights read
    DD count_sum
    bint moments           # sum the interval's moments too (Partial.moments)


cdef enum:
    MOMENT_SUMS = 4        # Partial.moments
    ROW = 5                # chunk_row's words: total hi, lo, weight hi, lo, omitted
    MOMENTS_ROW = ROW + 2 * MOMENT_SUMS     # ... then each moment's hi, lo


cdef struct Partial:
    DD total       # sum of w * (p - t)**2
    DD weight      # sum of the weights that applied (unused when NONE)
    int64_t omitted
    # With BatchSpec.moments, for x = fl((p - t)**2) and the same weights
    # (w = 1 unweighted): sum w*x**2, sum w**2, sum w**2*x, sum w**2*x**2.
    DD moments[MOMENT_SUMS]


cdef struct Lanes:
    double s[LANES]
    double c[LANES]
    double ws[LANES]
    double wc[LANES]
    int64_t om[LANES]


# The interval's moment sums, beside the main Lanes (which they never
# change): x = fl((p - t)**2), w the weight (1 unweighted).  Each term, the
# rounded product moment_factors names (the same term the grouped and the
# spelled-out rooms add), enters a lane of a block sum (MomentBlock) by
# TwoSum, its error into the block's compensation; the block moves into the
# compensated lanes of IntervalLanes once its lanes may hold MOMENT_BLOCK
# terms, and at the end of a chunk.  Every addition is error-free, so the
# sums are exact to O(u**2) wherever a batch or a block starts: the interval
# has the same bits in 1 or 7 batches (issue 18; a plain block sum, rounded
# per term, depended on the cuts).  Unweighted runs use xx only.
cdef enum:
    MOMENT_BLOCK = 16      # terms in a block lane between flushes

cdef struct MomentBlock:
    double xx[LANES]       # w * x**2
    double ww[LANES]       # w**2
    double wwx[LANES]      # w**2 * x
    double wwxx[LANES]     # w**2 * x**2
    double xx_e[LANES]     # their TwoSum errors
    double ww_e[LANES]
    double wwx_e[LANES]
    double wwxx_e[LANES]

cdef struct IntervalLanes:
    MomentBlock block      # first: a MomentBlock* of the lanes is their address
    double xx_s[LANES]
    double xx_c[LANES]
    double ww_s[LANES]
    double ww_c[LANES]
    double wwx_s[LANES]
    double wwx_c[LANES]
    double wwxx_s[LANES]
    double wwxx_c[LANES]
    int pending            # terms in each block lane (at most)


# Whether a loop sums the moments too: a compile-time choice, so the plain
# loops carry nothing of them.  A NoInterval* is a tag (always NULL); a
# MomentBlock* is the block of an IntervalLanes (an interval batch).
cdef struct NoInterval:
    char unused

ctypedef fused moment_block:
    NoInterval
    MomentBlock


# ---------------------------------------------------------------------------
# Per-element work: one squared error into one lane
# ---------------------------------------------------------------------------

cdef inline Py_ssize_t weight_index(int w_mode, Py_ssize_t i, Py_ssize_t run) noexcept nogil:
    """Where the weight of flat element i is in the weight array: i (FULL),
    i % run (TILED), i // run (PER_ROW); 0 for NONE and SCALAR (no array).
    The one statement of WMode: the runs, the grouped rows and the interval
    units all read weights through it."""
    if w_mode == FULL:
        return i
    if w_mode == TILED:
        return i % run
    if w_mode == PER_ROW:
        return i // run
    return 0


cdef inline double weight_at(int w_mode, const w_real* w, double w_scalar, Py_ssize_t i,
                             Py_ssize_t run) noexcept nogil:
    """The weight of flat element i: 1 unweighted (NONE), w_scalar (SCALAR),
    else w[weight_index(w_mode, i, run)]."""
    if w_mode == NONE:
        return 1.0
    if w_mode == SCALAR:
        return w_scalar
    return <double>w[weight_index(w_mode, i, run)]


# The weight mode as a compile-time choice, for per-element loops that read
# weights through weight_at (the grouped rows): a loop specialised on a tag
# passes weight_mode(tag), a constant there, so weight_at is inlined down to
# its one case -- no branch on the mode per element.  A tag pointer is
# always NULL: only its type counts.
cdef struct WNone:
    char unused
cdef struct WScalar:
    char unused
cdef struct WFull:
    char unused
cdef struct WTiled:
    char unused
cdef struct WPerRow:
    char unused

ctypedef fused weight_tag:
    WNone
    WScalar
    WFull
    WTiled
    WPerRow


cdef inline int weight_mode(weight_tag* tag) noexcept nogil:
    """The WMode a weight tag stands for."""
    if weight_tag is WNone:
        return NONE
    elif weight_tag is WScalar:
        return SCALAR
    elif weight_tag is WFull:
        return FULL
    elif weight_tag is WTiled:
        return TILED
    else:
        return PER_ROW


# The interval's higher moment terms of a unit x with weight w, each ONE
# product of two rounded factors, wx = fl(w * x): the one product order of
# every room that sums them (this fold's block lanes, _moments' lanes, the
# per-key sums of _grouped_intervals), so a term has the same bits in each:
#   w*x**2 = wx*x     w**2 = w*w     w**2*x = w*wx     w**2*x**2 = wx*wx
cdef enum:
    MOMENT_TERMS = 4

cdef struct MomentFactors:
    double a[MOMENT_TERMS]
    double b[MOMENT_TERMS]


cdef inline MomentFactors moment_factors(double x, double w, double wx) noexcept nogil:
    """Term k of the higher moments is a[k] * b[k] (wx = fl(w * x))."""
    cdef MomentFactors f
    f.a[0] = wx
    f.b[0] = x
    f.a[1] = w
    f.b[1] = w
    f.a[2] = w
    f.b[2] = wx
    f.a[3] = wx
    f.b[3] = wx
    return f


cdef inline hot_void add_lane(double x, double ex, double* s, double* c) noexcept nogil:
    """Lane (s, c) += x + ex, x entering the compensated sum error-free
    (Knuth's branch-free TwoSum, for terms of either sign)."""
    cdef double sn = s[0] + x
    cdef double z = sn - s[0]
    cdef double es = add_on_fma(s[0] - (sn - z), sub_on_fma(x, z))
    c[0] += add_on_fma(es, ex)
    s[0] = sn


cdef inline hot_void add_exact_lane(double x, double* s, double* c) noexcept nogil:
    """add_lane for a term without an error part (a weight)."""
    cdef double sn = s[0] + x
    cdef double z = sn - s[0]
    c[0] += add_on_fma(s[0] - (sn - z), sub_on_fma(x, z))
    s[0] = sn


cdef inline void add_product_lane(double a, double b, double* s, double* c) noexcept nogil:
    """Lane (s, c) += a * b: x = fl(a * b) enters by Knuth's TwoSum,
    s + x == sn + (s - (sn - z)) + (x - z) with both parts exact; x - z and
    the product's error a*b - x are one value, a*b - z, formed by one FMA
    (rounded once: O(u**2) of the term, as the compensation's own sum)."""
    cdef double x = a * b
    cdef double sn = s[0] + x
    cdef double z = sn - s[0]
    c[0] += add_on_fma(sub_on_fma(s[0], sn - z), prod_minus(a, b, x, z))
    s[0] = sn


cdef inline hot_void add_scaled_lane(double w, double sq, double e, double* s,
                                 double* c) noexcept nogil:
    """Lane (s, c) += w * (sq + e), sq + e an error-free square: as
    add_product_lane for w * sq, w * e joining the FMA's term."""
    cdef double x = w * sq
    cdef double sn = s[0] + x
    cdef double z = sn - s[0]
    c[0] += add_on_fma(sub_on_fma(s[0], sn - z), mul_add(w, e, prod_minus(w, sq, x, z)))
    s[0] = sn


cdef inline double square_err(policy* how, double p, double t, double* sq) noexcept nogil:
    """sq = fl(d * d) for d = p - t; returns the error e with sq + e == d**2
    (for d = fl(p - t), or under ExactDiff for the exact difference, whose
    rounding error enters e as (2d + r) * r, exact to O(u**2))."""
    cdef double d = p - t
    cdef double r
    sq[0] = d * d
    if policy is ExactDiff or policy is ExactOmit:
        r = two_sum_err(p, -t, d)
        return mul_add(2.0 * d + r, r, two_prod_err(d, d, sq[0]))
    else:
        return two_prod_err(d, d, sq[0])


cdef inline void add_sq(policy* how, double p, double t, double* s, double* c,
                        int64_t* om) noexcept nogil:
    """Lane (s, c) += (p - t)**2, the square error-free."""
    sq_into(how, <NoInterval*>NULL, 0, p, t, s, c, om)


cdef inline void sq_into(policy* how, moment_block* A, Py_ssize_t j, double p, double t,
                         double* s, double* c, int64_t* om) noexcept nogil:
    """add_sq; for an interval batch also A's lane j of sum x**2 += fl(x*x),
    x = fl(d*d) (the product the main lane formed, so the same value), into
    block lane j error-free."""
    cdef double sq, e, d
    cdef bint ok
    cdef MomentFactors f
    if policy is Omit or policy is ExactOmit:
        ok = (p == p) & (t == t)
        om[0] += not ok
        p = p if ok else 0.0
        t = t if ok else 0.0
    d = p - t
    if policy is ExactDiff or policy is ExactOmit:
        e = square_err(how, p, t, &sq)
        add_lane(sq, e, s, c)
    else:
        add_product_lane(d, d, s, c)
        sq = d * d
    if moment_block is MomentBlock:      # w = 1: only w*x**2 = x*x is summed
        f = moment_factors(sq, 1.0, sq)
        add_exact_lane(f.a[0] * f.b[0], &A.xx[j], &A.xx_e[j])


cdef inline void add_wsq(policy* how, double p, double t, double w, double* s, double* c,
                         double* ws, double* wc, int64_t* om) noexcept nogil:
    """Lane (s, c) += w * (p - t)**2, products error-free up to O(u**2), and
    lane (ws, wc) += w.  A zero weight removes its element, even an infinite
    or NaN error (semantics 5): every policy but Propagate selects it here;
    Propagate, the fast loop, leaves 0 * inf = NaN, and chunk_partial then
    sums that chunk again under Careful."""
    wsq_into(how, <NoInterval*>NULL, 0, p, t, w, s, c, ws, wc, om)


cdef inline double weighted_square(policy* how, double p, double t, double* w, double* sq,
                                   int64_t* om) noexcept nogil:
    """The element rule, stated once: sq = fl((p - t)**2) and its error (the
    return value, square_err), w its weight -- all three 0 for a removed
    element: a zero weight (every policy but Propagate, semantics 5), or
    under Omit a NaN in p, t or w (counted in om)."""
    cdef double e
    cdef bint ok
    if policy is Omit or policy is ExactOmit:
        ok = (p == p) & (t == t) & (w[0] == w[0])
        om[0] += not ok
        p = p if ok else 0.0
        t = t if ok else 0.0
        w[0] = w[0] if ok else 0.0
    e = square_err(how, p, t, sq)
    if policy is not Propagate:
        sq[0] = sq[0] if w[0] != 0.0 else 0.0
        e = e if w[0] != 0.0 else 0.0
    return e


cdef inline void wsq_into(policy* how, moment_block* A, Py_ssize_t j, double p, double t,
                          double w, double* s, double* c, double* ws, double* wc,
                          int64_t* om) noexcept nogil:
    """add_wsq; for an interval batch also A's lane j of the four moment
    sums (moment_factors of the unit sq with weight w, x = fl(w * sq) the
    product the main lane formed), each rounded product added into block
    lane j error-free (TwoSum).  A
    removed element (zero weight, omitted) has sq = w = 0 here, so it adds
    zeros."""
    cdef double sq, e
    cdef MomentFactors f
    e = weighted_square(how, p, t, &w, &sq, om)
    add_scaled_lane(w, sq, e, s, c)
    add_exact_lane(w, ws, wc)
    if moment_block is MomentBlock:
        f = moment_factors(sq, w, w * sq)
        add_exact_lane(f.a[0] * f.b[0], &A.xx[j], &A.xx_e[j])
        add_exact_lane(f.a[1] * f.b[1], &A.ww[j], &A.ww_e[j])
        add_exact_lane(f.a[2] * f.b[2], &A.wwx[j], &A.wwx_e[j])
        add_exact_lane(f.a[3] * f.b[3], &A.wwxx[j], &A.wwxx_e[j])


cdef inline void flush_lanes(double* a, double* e, double* s, double* c) noexcept nogil:
    """Block lanes a (errors e) into the compensated lanes (s, c), error-free
    (TwoSum)."""
    cdef Py_ssize_t j
    for j in range(LANES):
        add_lane(a[j], e[j], &s[j], &c[j])
        a[j] = 0.0
        e[j] = 0.0


cdef inline void flush_block(MomentBlock* a, IntervalLanes* X, bint weighted) noexcept nogil:
    """The block sums a into X's compensated lanes (xx only unweighted)."""
    flush_lanes(a.xx, a.xx_e, X.xx_s, X.xx_c)
    if weighted:
        flush_lanes(a.ww, a.ww_e, X.ww_s, X.ww_c)
        flush_lanes(a.wwx, a.wwx_e, X.wwx_s, X.wwx_c)
        flush_lanes(a.wwxx, a.wwxx_e, X.wwxx_s, X.wwxx_c)


cdef void flush_moments(IntervalLanes* X) noexcept nogil:
    """Every block lane of X into its compensated lane."""
    flush_block(&X.block, X, True)
    X.pending = 0


cdef inline void count_terms(IntervalLanes* X) noexcept nogil:
    """One more term (at most) in each block lane; flush them when full."""
    X.pending += 1
    if X.pending == MOMENT_BLOCK:
        flush_moments(X)


# ---------------------------------------------------------------------------
# Contiguous runs: n elements into the LANES lanes
# ---------------------------------------------------------------------------

# Each run works on a local copy of the lanes (so the compiler keeps them in
# registers and vectorises the LANES-wide body), element i of the run going
# to lane i % LANES; the tail (fewer than LANES elements) goes to the lanes
# in memory once the copy is stored: a tail on the copy cost the body its
# vector form.  An interval batch's block sums are copied alike, and flushed
# every MOMENT_BLOCK blocks inside the loop (the compensated lanes stay in
# memory: they are touched only then).

cdef inline void run_unweighted(policy* how, moment_block* A, const t_real* t,
                                const p_real* p, Py_ssize_t n, Lanes* lanes) noexcept nogil:
    cdef Lanes L = lanes[0]
    cdef moment_block a
    cdef IntervalLanes* X = <IntervalLanes*>A
    cdef int pending = 0
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t n_body = n - n % LANES
    if moment_block is MomentBlock:
        a = A[0]
        pending = X.pending
    for blk in range(n_body // LANES):
        i = blk * LANES
        prefetch_ahead(p + i, READ_AHEAD)
        prefetch_ahead(t + i, READ_AHEAD)
        for j in range(LANES):
            sq_into(how, &a, j, <double>p[i + j], <double>t[i + j], &L.s[j], &L.c[j],
                    &L.om[j])
        if moment_block is MomentBlock:
            pending += 1
            if pending == MOMENT_BLOCK:
                flush_block(&a, X, False)
                pending = 0
    lanes[0] = L
    if moment_block is MomentBlock:
        A[0] = a
        X.pending = pending
    for i in range(n_body, n):
        j = i - n_body
        sq_into(how, A, j, <double>p[i], <double>t[i], &lanes.s[j], &lanes.c[j],
                &lanes.om[j])
    if moment_block is MomentBlock:
        if n_body < n:
            count_terms(X)


cdef inline void run_weighted(policy* how, moment_block* A, const t_real* t,
                              const p_real* p, const w_real* w, Py_ssize_t w_step,
                              Py_ssize_t n, Lanes* lanes) noexcept nogil:
    """w_step 1: one weight per element; 0: w[0] for the whole run (a row).
    Always called with a literal w_step, so each call site compiles to its
    own loop."""
    cdef Lanes L = lanes[0]
    cdef moment_block a
    cdef IntervalLanes* X = <IntervalLanes*>A
    cdef int pending = 0
    cdef Py_ssize_t i, j, blk
    cdef Py_ssize_t n_body = n - n % LANES
    if moment_block is MomentBlock:
        a = A[0]
        pending = X.pending
    for blk in range(n_body // LANES):
        i = blk * LANES
        prefetch_ahead(p + i, READ_AHEAD)
        prefetch_ahead(t + i, READ_AHEAD)
        prefetch_ahead(w + i * w_step, READ_AHEAD * w_step)
        for j in range(LANES):
            wsq_into(how, &a, j, <double>p[i + j], <double>t[i + j],
                     <double>w[(i + j) * w_step], &L.s[j], &L.c[j], &L.ws[j], &L.wc[j],
                     &L.om[j])
        if moment_block is MomentBlock:
            pending += 1
            if pending == MOMENT_BLOCK:
                flush_block(&a, X, True)
                pending = 0
    lanes[0] = L
    if moment_block is MomentBlock:
        A[0] = a
        X.pending = pending
    for i in range(n_body, n):
        j = i - n_body
        wsq_into(how, A, j, <double>p[i], <double>t[i], <double>w[i * w_step],
                 &lanes.s[j], &lanes.c[j], &lanes.ws[j], &lanes.wc[j], &lanes.om[j])
    if moment_block is MomentBlock:
        if n_body < n:
            count_terms(X)


cdef inline void lanes_into(const double* s, const double* c, DD* out) noexcept nogil:
    """Fold the LANES (sum, compensation) pairs into out, lane 0 first."""
    cdef Py_ssize_t j
    for j in range(LANES):
        add_dd(out, s[j], c[j] if isfinite(s[j]) else 0.0)


cdef inline DD sum_dd(const double* v, Py_ssize_t n) noexcept nogil:
    """The compensated sum of n doubles of either sign."""
    cdef Lanes L
    cdef DD out
    cdef Py_ssize_t i
    memset(&L, 0, sizeof(Lanes))
    for i in range(n):
        add_exact_lane(v[i], &L.s[i % LANES], &L.c[i % LANES])
    out.hi = 0.0
    out.lo = 0.0
    lanes_into(L.s, L.c, &out)
    return out


# ---------------------------------------------------------------------------
# One chunk of a batch
# ---------------------------------------------------------------------------

cdef inline void sum_runs(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                          const t_real* t, const p_real* p, const w_real* w,
                          policy* how, moment_block* A, Lanes* L) noexcept nogil:
    """Flat elements [start, stop) of the batch into the lanes, run by run."""
    cdef Py_ssize_t i = start, r, j, m
    cdef Py_ssize_t run = B.run
    cdef const t_real* t_at
    while i < stop:
        r = i // run
        j = i - r * run
        m = run - j
        if m > stop - i:
            m = stop - i
        t_at = t + i if B.t_mode == FULL_T else t + j
        if B.w_mode == NONE or B.w_mode == SCALAR:
            run_unweighted(how, A, t_at, p + i, m, L)
        elif B.w_mode == PER_ROW:           # one weight for the run
            run_weighted(how, A, t_at, p + i, w + weight_index(PER_ROW, i, run), 0, m, L)
        else:                               # FULL, TILED: one weight per element
            run_weighted(how, A, t_at, p + i, w + weight_index(B.w_mode, i, run), 1, m, L)
        i += m


cdef inline bint lanes_finite(const Lanes* L) noexcept nogil:
    cdef Py_ssize_t j
    cdef bint ok = True
    for j in range(LANES):
        ok &= isfinite(L.s[j]) & isfinite(L.ws[j])
    return ok


cdef inline void scaled_copy(DD* out, DD x, double w) noexcept nogil:
    out[0] = x
    scale_dd(out, w)


cdef inline void chunk_moments(const IntervalLanes* X, const BatchSpec* B, int64_t kept,
                               Partial* out) noexcept nogil:
    """Partial.moments from the moment lanes, once out.total and out.weight
    are final.  Unweighted (w = 1): sum w**2 is the count kept, sum w**2*x
    the total, and both x**2 sums the one lane sum.  One weight w for the
    batch: the unweighted sums times w or w**2 (exactly, to O(u**2))."""
    if B.w_mode == NONE or B.w_mode == SCALAR:
        lanes_into(X.xx_s, X.xx_c, &out.moments[0])
        out.moments[1].hi = <double>kept
        out.moments[2] = out.total
        out.moments[3] = out.moments[0]
        if B.w_mode == SCALAR:          # the total and weight already carry one w
            scale_dd(&out.moments[0], B.w_scalar)
            scaled_copy(&out.moments[1], out.weight, B.w_scalar)
            scale_dd(&out.moments[2], B.w_scalar)
            scale_dd(&out.moments[3], B.w_scalar)
            scale_dd(&out.moments[3], B.w_scalar)
        return
    lanes_into(X.xx_s, X.xx_c, &out.moments[0])
    lanes_into(X.ww_s, X.ww_c, &out.moments[1])
    lanes_into(X.wwx_s, X.wwx_c, &out.moments[2])
    lanes_into(X.wwxx_s, X.wwxx_c, &out.moments[3])


cdef void chunk_partial(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                        const t_real* t, const p_real* p, const w_real* w,
                        policy* how, moment_block* with_moments,
                        Partial* out) noexcept nogil:
    """Partial sums over flat elements [start, stop) of the batch; with a
    MomentBlock tag (always NULL: only its type counts) the moments too."""
    cdef Lanes L
    cdef IntervalLanes M
    cdef moment_block* A = <moment_block*>&M
    cdef Py_ssize_t k
    cdef int64_t omitted = 0
    cdef double w_scalar = B.w_scalar
    memset(&L, 0, sizeof(Lanes))
    if moment_block is MomentBlock:
        memset(&M, 0, sizeof(IntervalLanes))
    if policy is Omit:
        # NaN-free data first, by the Propagate loop: without a NaN every
        # element is kept and both loops do the same arithmetic, so the same
        # bits.  A NaN anywhere (t, p or w) leaves a lane NaN; a lane that is
        # not finite sends the range through the Omit loop, which counts.
        sum_runs(B, start, stop, t, p, w, <Propagate*>NULL, A, &L)
        if not lanes_finite(&L):
            memset(&L, 0, sizeof(Lanes))
            if moment_block is MomentBlock:
                memset(&M, 0, sizeof(IntervalLanes))
            sum_runs(B, start, stop, t, p, w, how, A, &L)
    else:
        sum_runs(B, start, stop, t, p, w, how, A, &L)
    for k in range(LANES):
        omitted += L.om[k]
    memset(out, 0, sizeof(Partial))
    out.omitted = omitted
    if B.w_mode == SCALAR:
        if policy is Omit or policy is ExactOmit:
            if w_scalar != w_scalar:    # a NaN weight omits the whole batch
                out.omitted = stop - start
                return
        if w_scalar == 0.0:             # a zero weight removes its elements
            return
        lanes_into(L.s, L.c, &out.total)
        scale_dd(&out.total, w_scalar)
        out.weight.hi = w_scalar * <double>(stop - start - omitted)
        out.weight.lo = fma(w_scalar, <double>(stop - start - omitted), -out.weight.hi)
    else:
        lanes_into(L.s, L.c, &out.total)
        if B.w_mode != NONE:
            if policy is Propagate:
                if not isfinite(out.total.hi):   # perhaps 0 * inf: again, zero weights removed
                    chunk_partial(B, start, stop, t, p, w, <Careful*>NULL, with_moments, out)
                    return
            lanes_into(L.ws, L.wc, &out.weight)
    if moment_block is MomentBlock:
        flush_moments(&M)
        chunk_moments(&M, B, stop - start - omitted, out)


# The dtype, policy and moments specialisation, one choice per dimension.

cdef void with_moments(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                       const t_real* t, const p_real* p, const w_real* w,
                       policy* how, Partial* out) noexcept nogil:
    if B.moments:
        chunk_partial(B, start, stop, t, p, w, how, <MomentBlock*>NULL, out)
    else:
        chunk_partial(B, start, stop, t, p, w, how, <NoInterval*>NULL, out)


cdef void with_policy(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                      const t_real* t, const p_real* p, const w_real* w,
                      Partial* out) noexcept nogil:
    if B.policy == OMIT:
        with_moments(B, start, stop, t, p, w, <Omit*>NULL, out)
    elif B.policy == EXACT_DIFF:
        with_moments(B, start, stop, t, p, w, <ExactDiff*>NULL, out)
    elif B.policy == EXACT_OMIT:
        with_moments(B, start, stop, t, p, w, <ExactOmit*>NULL, out)
    else:
        with_moments(B, start, stop, t, p, w, <Propagate*>NULL, out)


cdef void with_w(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                 const t_real* t, const p_real* p, Partial* out) noexcept nogil:
    if B.w64:
        with_policy(B, start, stop, t, p, <const double*>B.w, out)
    else:
        with_policy(B, start, stop, t, p, <const float*>B.w, out)


cdef void with_p(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                 const t_real* t, Partial* out) noexcept nogil:
    if B.p64:
        with_w(B, start, stop, t, <const double*>B.p, out)
    else:
        with_w(B, start, stop, t, <const float*>B.p, out)


cdef void chunk_of(const BatchSpec* B, Py_ssize_t k, Partial* out) noexcept nogil:
    """Partial sums of chunk k of the batch."""
    cdef Py_ssize_t start = k * CHUNK
    cdef Py_ssize_t stop = start + CHUNK if start + CHUNK < B.size else B.size
    if B.t64:
        with_p(B, start, stop, <const double*>B.t, out)
    else:
        with_p(B, start, stop, <const float*>B.t, out)


cdef inline Py_ssize_t row_width(const BatchSpec* B) noexcept nogil:
    return MOMENTS_ROW if B.moments else ROW


cdef inline void chunk_row(const BatchSpec* B, Py_ssize_t k, double* row) noexcept nogil:
    """Chunk k's partial sums as a row of row_width(B) words: total hi, lo,
    weight hi, lo, omitted, then (an interval batch) each moment's hi, lo."""
    cdef Partial part
    cdef Py_ssize_t m
    chunk_of(B, k, &part)
    row[0] = part.total.hi
    row[1] = part.total.lo
    row[2] = part.weight.hi
    row[3] = part.weight.lo
    row[4] = <double>part.omitted
    if B.moments:
        for m in range(MOMENT_SUMS):
            row[ROW + 2 * m] = part.moments[m].hi
            row[ROW + 2 * m + 1] = part.moments[m].lo


cdef inline Py_ssize_t chunk_count(const BatchSpec* B) noexcept nogil:
    return (B.size + CHUNK - 1) // CHUNK


cdef inline void add_partial(Partial* acc, const Partial* part) noexcept nogil:
    cdef Py_ssize_t m
    add_dd(&acc.total, part.total.hi, part.total.lo)
    add_dd(&acc.weight, part.weight.hi, part.weight.lo)
    acc.omitted += part.omitted
    for m in range(MOMENT_SUMS):
        add_dd(&acc.moments[m], part.moments[m].hi, part.moments[m].lo)


cdef void chunks_partial(const BatchSpec* B, Py_ssize_t k0, Py_ssize_t k1,
                         Partial* out) noexcept nogil:
    """Sum of chunks k0 .. k1-1, folded in chunk order."""
    cdef Partial part
    cdef Py_ssize_t k
    memset(out, 0, sizeof(Partial))
    for k in range(k0, k1):
        chunk_of(B, k, &part)
        add_partial(out, &part)


cdef void rows_partial(const double[:, ::1] rows, bint moments, Partial* out) noexcept:
    """The sum, in row order, of the Partials chunk_row wrote (the moments
    too when ``moments``)."""
    cdef Partial chunk
    cdef Py_ssize_t k, m
    memset(out, 0, sizeof(Partial))
    memset(&chunk, 0, sizeof(Partial))
    for k in range(rows.shape[0]):
        chunk.total.hi = rows[k, 0]
        chunk.total.lo = rows[k, 1]
        chunk.weight.hi = rows[k, 2]
        chunk.weight.lo = rows[k, 3]
        chunk.omitted = <int64_t>rows[k, 4]
        if moments:
            for m in range(MOMENT_SUMS):
                chunk.moments[m].hi = rows[k, ROW + 2 * m]
                chunk.moments[m].lo = rows[k, ROW + 2 * m + 1]
        add_partial(out, &chunk)


cdef inline bint is_plain_float(cnp.ndarray a) noexcept:
    cdef int typenum = cnp.PyArray_TYPE(a)
    return ((typenum == cnp.NPY_DOUBLE or typenum == cnp.NPY_FLOAT)
            and cnp.PyArray_ISCARRAY_RO(a) and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline void describe(BatchSpec* B, cnp.ndarray t, cnp.ndarray p, cnp.ndarray w,
                          int t_mode, int w_mode, double w_scalar, Py_ssize_t run) noexcept:
    """Fill B for the operands (w may be None) and modes; count rules off."""
    memset(B, 0, sizeof(BatchSpec))
    B.t = cnp.PyArray_DATA(t)
    B.p = cnp.PyArray_DATA(p)
    B.size = cnp.PyArray_SIZE(p)
    B.run = run if run > 0 else (B.size if B.size > 0 else 1)
    B.t_mode = t_mode
    B.w_mode = w_mode
    B.w_scalar = w_scalar
    B.t64 = cnp.PyArray_TYPE(t) == cnp.NPY_DOUBLE
    B.p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
    B.w64 = True
    if w is not None:
        B.w = cnp.PyArray_DATA(w)
        B.w64 = cnp.PyArray_TYPE(w) == cnp.NPY_DOUBLE
    B.repeat = 1
    B.divisor = 1.0


cdef class Batch:
    """One prepared update, described once: the operands (kept alive here),
    how each is read, the policy, the count rules, and whether its chunks
    sum the "normal" interval's moments too (``moments``).  The Python side
    (rmse_ext._plan) has already checked everything: operands are aligned,
    native, C-contiguous float32/float64 arrays of the right sizes.

    >>> import numpy as np
    >>> b = Batch(np.zeros(3), np.array([1., 2, 2]))
    >>> acc = Accumulator(); acc.fold(b); acc.value()
    1.7320508075688772
    """
    cdef BatchSpec spec
    cdef readonly object operands

    def __cinit__(self, cnp.ndarray t, cnp.ndarray p, cnp.ndarray w=None,
                  int t_mode=FULL_T, int w_mode=NONE, double w_scalar=0.0,
                  Py_ssize_t run=0, int64_t repeat=1, Py_ssize_t divisor=1,
                  int policy=PROPAGATE, cnp.ndarray count_weights=None,
                  bint moments=False):
        describe(&self.spec, t, p, w, t_mode, w_mode, w_scalar, run)
        self.spec.moments = moments
        self.spec.repeat = repeat
        self.spec.divisor = <double>divisor
        self.spec.policy = policy
        if count_weights is not None:
            self.spec.fixed_count = True
            self.spec.count_sum = sum_dd(<const double*>cnp.PyArray_DATA(count_weights),
                                         cnp.PyArray_SIZE(count_weights))
        self.operands = (t, p, w, count_weights)

    @property
    def size(self):
        return self.spec.size

    @property
    def chunks(self):
        return chunk_count(&self.spec)

    @property
    def row_width(self):
        """Words in a row of chunk_partials' output: 5, or 13 with moments."""
        return row_width(&self.spec)

    def chunk_partials(self, Py_ssize_t k0, Py_ssize_t k1, double[:, ::1] out):
        """Partial sums of chunks k0 .. k1-1 into rows k0 .. k1-1 of out
        (total hi, lo, weight hi, lo, omitted, then with moments each
        moment's hi, lo: row_width words), without the GIL: one thread's
        share of a multi-threaded update."""
        cdef Py_ssize_t k
        with nogil:
            for k in range(k0, k1):
                chunk_row(&self.spec, k, &out[k, 0])
