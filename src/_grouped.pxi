# Grouped accumulation (issue 13): one compensated accumulator per group.
# Included by _kernel_body.pxi after the fold; reuses its numerics (DD,
# add_dd, add_lane, add_wsq, square errors under every policy) and its
# reduction of a contiguous range (chunk_partial through with_p), never
# copies of them.
#
# A grouped batch is a flat batch (a BatchSpec, laid out by rmse_ext.grouped
# as the ungrouped planner lays one out) plus one int32/int64 key per sample:
# element i belongs to sample i // inner, and its group's row is
# keys[sample] - base.
#
# The state is one row of 8 words per group (64 bytes, one cache line):
# total (hi, lo), weight (hi, lo), and the int64 counts of elements of
# unweighted updates, of weighted ones, and of omitted elements (nan_policy
# 'omit'), one spare word.  Elements go straight into their group's row
# (TwoSum, so either sign is exact), in stream order.
#
# Runs.  Consecutive samples with one key (data sorted by series) form a run
# (found 8 keys at a time, run_end); a run of GROUP_RUN_MIN elements or more
# is reduced by the ungrouped kernel's lanes (memory-bandwidth speed) and
# enters its row once.  Keys known to be ascending (GroupedBatch(...,
# ascending=True): the key table's range pass checked it, int_span) have
# their run ends found by galloping and bisection (sorted_run_end): the same
# runs, with a few key reads per run instead of all of them, so sorted data
# reads its keys once (in that range pass) and its operands once.
#
# Scattered keys (no key equal to the next) go in blocks of GROUP_BLOCK
# lone elements (fold_plain): the squares of a block are formed together
# (one vector operation), then each enters its row in stream order -- the
# same additions as one by one, so the same bits.
#
# Per-key interval moments (interval='normal': GROUP_MOMENT_WORDS per key,
# six sums, then their compensations) ride the same pass when the batch's
# units are its squared errors: each element's unit enters its key's moment
# row on its own, in stream order (moments_into, the units' own rule), runs
# included, so a row's bits depend on neither the batch split nor the
# thread count.
#
# Determinism.  Threads split the rows, not the elements: thread j folds
# only the runs whose row lies in its range [lo, hi), scanning every key.
# Each row therefore sees the same additions in the same order for any
# number of threads, and rows of different threads never share a line.

from libc.stdint cimport uint64_t
from libc.string cimport memcmp, memcpy

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define rmse_prefetch_write(p) __builtin_prefetch((p), 1, 1)
    #else
    #define rmse_prefetch_write(p) ((void)(p))
    #endif
    """
    void prefetch_write "rmse_prefetch_write"(const void* p) nogil

cdef enum:
    GROUP_RUN_MIN = 32
    GROUP_BLOCK = 8                 # lone elements whose squares are formed together
    PREFETCH_AHEAD = 16             # samples ahead (rows far out of cache)
    PREFETCH_ABOVE = 1 << 15        # rows (2 MiB of state)


ctypedef fused g_real:
    float
    double

ctypedef fused g_key:
    int
    int64_t


cdef struct GRow:
    DD total
    DD weight
    int64_t unweighted     # elements of unweighted updates
    int64_t weighted       # elements of weighted updates
    int64_t omitted        # elements omitted (nan_policy 'omit')
    int64_t spare


cdef struct GBatch:
    BatchSpec b
    const void* keys
    Py_ssize_t inner    # elements per sample (>= 1)
    int64_t base        # row = key - base
    bint k64
    bint ascending      # keys never decrease (checked by the caller: int_span)
    double* moments     # per-key moment rows (NULL: none), GROUP_MOMENT_WORDS each


cdef enum:
    GROUP_MOMENT_WORDS = 12     # a key's six moment sums, then their compensations
    GROUP_MOMENT_SUMS = 6


cdef inline hot_void key_moments_into(double x, double w, double* m) noexcept nogil:
    """One unit into a key's moment row m (moments_into: six sums, then
    their compensations).  A unit of weight 1 has the terms 1, x, x*x, then
    1, x, x*x again: while a row's last three pairs equal its first three
    (a row of unweighted units), only the first three are summed and
    copied -- bitwise what summing all six gives, at half the cost."""
    cdef double* c = m + GROUP_MOMENT_WORDS // 2
    if w == 1.0 and mirrored(m):
        add_unit_lanes(x, m, c)
        mirror(m)
        return
    moments_into(x, w, m, c, 1)


cdef inline bint mirrored(const double* m) noexcept nogil:
    """Whether a moment row's last three pairs equal its first three (every
    unit so far had weight 1)."""
    cdef const double* c = m + GROUP_MOMENT_WORDS // 2
    return (m[3] == m[0] and m[4] == m[1] and m[5] == m[2]
            and c[3] == c[0] and c[4] == c[1] and c[5] == c[2])


cdef inline hot_void add_unit_lanes(double x, double* m, double* c) noexcept nogil:
    """A unit x of weight 1 into the first three pairs: 1, x, x*x."""
    add_exact_lane(1.0, &m[0], &c[0])
    add_exact_lane(x, &m[1], &c[1])
    add_exact_lane(x * x, &m[2], &c[2])


cdef inline hot_void mirror(double* m) noexcept nogil:
    """The last three pairs of a row := its first three."""
    cdef double* c = m + GROUP_MOMENT_WORDS // 2
    m[3], m[4], m[5] = m[0], m[1], m[2]
    c[3], c[4], c[5] = c[0], c[1], c[2]


cdef inline double* moment_row(const GBatch* G, int64_t s) noexcept nogil:
    """Row s's moment sums, NULL when the batch carries none."""
    return NULL if G.moments == NULL else G.moments + s * GROUP_MOMENT_WORDS


cdef inline Py_ssize_t run_end(const g_key* keys, Py_ssize_t r, Py_ssize_t n, g_key k) noexcept nogil:
    """The first index from r on whose key is not k (n if none): 8 keys
    compared at a time (branch-free, vectorised) while they all match."""
    cdef Py_ssize_t j
    cdef g_key diff
    if r >= n or keys[r] != k:          # scattered keys: the run ends at once
        return r
    while r + 8 <= n:
        diff = 0
        for j in range(8):
            diff |= keys[r + j] ^ k
        if diff != 0:
            break
        r += 8
    while r < n and keys[r] == k:
        r += 1
    return r


cdef inline Py_ssize_t sorted_run_end(const g_key* keys, Py_ssize_t r, Py_ssize_t n,
                                      g_key k) noexcept nogil:
    """run_end for ascending keys with keys[r - 1] == k: probes r, r + 2,
    r + 6, ... (galloping) until a key differs, then bisects -- the same end
    from O(log(run)) key reads."""
    cdef Py_ssize_t lo = r, hi, mid, step = 1
    while True:                         # keys[lo - 1] == k
        hi = lo + step - 1
        if hi >= n:
            hi = n
            break
        if keys[hi] != k:
            break
        lo = hi + 1
        step *= 2
    while lo < hi:                      # keys[lo - 1] == k; keys[hi] != k or hi == n
        mid = lo + (hi - lo) // 2
        if keys[mid] == k:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t next_run_end(const GBatch* G, const g_key* keys, Py_ssize_t r,
                                    Py_ssize_t n, g_key k) noexcept nogil:
    """The first index from r on whose key is not k, keys[r - 1] == k."""
    if G.ascending:
        return sorted_run_end(keys, r, n, k)
    return run_end(keys, r, n, k)


cdef inline void element_into(policy* how, weight_tag* wt, const BatchSpec* B, Py_ssize_t i,
                              const g_real* t, const g_real* p, const g_real* w,
                              GRow* g, double* m) noexcept nogil:
    """Row g += element i of the batch (the fold's element rule: squared
    error in TwoSum form -- the row's total may be negative after negatively
    weighted updates -- and the weight when weighted); its unit into the
    moment row m unless m is NULL.  The weight mode is wt's (compile time)."""
    cdef int w_mode = weight_mode(wt)
    cdef double tv = <double>t[i] if B.t_mode == FULL_T else <double>t[i % B.run]
    cdef double wv = weight_at(w_mode, w, B.w_scalar, i, B.run)
    cdef double sq, e, unused_s = 0.0, unused_c = 0.0
    if m == NULL:       # the plain specialisation: one call of the fold's own add_wsq
        if w_mode == NONE:
            add_wsq(how, <double>p[i], tv, wv, &g.total.hi, &g.total.lo,
                    &unused_s, &unused_c, &g.omitted)
        else:
            add_wsq(how, <double>p[i], tv, wv, &g.total.hi, &g.total.lo,
                    &g.weight.hi, &g.weight.lo, &g.omitted)
        return
    e = weighted_square(how, <double>p[i], tv, &wv, &sq, &g.omitted)
    add_scaled_lane(wv, sq, e, &g.total.hi, &g.total.lo)
    if w_mode != NONE:
        add_exact_lane(wv, &g.weight.hi, &g.weight.lo)
    key_moments_into(sq, wv, m)


cdef inline void segment_into(const BatchSpec* B, Py_ssize_t start, Py_ssize_t stop,
                              GRow* g) noexcept nogil:
    """Row g += elements [start, stop), reduced in lanes by the fold."""
    cdef Partial part
    if B.t64:
        with_p(B, start, stop, <const double*>B.t, &part)
    else:
        with_p(B, start, stop, <const float*>B.t, &part)
    add_lane(part.total.hi, part.total.lo, &g.total.hi, &g.total.lo)
    if B.w_mode != NONE:
        add_lane(part.weight.hi, part.weight.lo, &g.weight.hi, &g.weight.lo)
    g.omitted += part.omitted


cdef inline void run_moments(policy* how, weight_tag* wt, const BatchSpec* B, Py_ssize_t start,
                             Py_ssize_t stop, const g_real* t, const g_real* p,
                             const g_real* w, double* m) noexcept nogil:
    """The units of elements [start, stop) into the moment row m, one by
    one (the run's sums went into its row by lanes; its omitted elements
    were counted there)."""
    cdef int w_mode = weight_mode(wt)
    cdef Py_ssize_t j
    cdef double tv, wv, sq
    cdef int64_t counted_already = 0
    cdef double row[GROUP_MOMENT_SUMS]     # the first three pairs
    if (w_mode == NONE and not (policy is Omit or policy is ExactOmit) and mirrored(m)):
        # Every unit has weight 1, so the row stays mirrored after each: the
        # three pairs key_moments_into would add to, in registers (m might
        # alias the operands), mirrored once at the end -- the same bits.
        row[0], row[1], row[2] = m[0], m[1], m[2]
        row[3], row[4] = m[GROUP_MOMENT_WORDS // 2], m[GROUP_MOMENT_WORDS // 2 + 1]
        row[5] = m[GROUP_MOMENT_WORDS // 2 + 2]
        for j in range(start, stop):
            tv = <double>t[j] if B.t_mode == FULL_T else <double>t[j % B.run]
            wv = 1.0
            weighted_square(how, <double>p[j], tv, &wv, &sq, &counted_already)
            add_unit_lanes(sq, &row[0], &row[3])
        m[0], m[1], m[2] = row[0], row[1], row[2]
        m[GROUP_MOMENT_WORDS // 2], m[GROUP_MOMENT_WORDS // 2 + 1] = row[3], row[4]
        m[GROUP_MOMENT_WORDS // 2 + 2] = row[5]
        mirror(m)
        return
    for j in range(start, stop):
        tv = <double>t[j] if B.t_mode == FULL_T else <double>t[j % B.run]
        wv = weight_at(w_mode, w, B.w_scalar, j, B.run)
        weighted_square(how, <double>p[j], tv, &wv, &sq, &counted_already)
        key_moments_into(sq, wv, m)


cdef void fold_rows(policy* how, weight_tag* wt, const GBatch* G, const g_real* t,
                    const g_real* p, const g_real* w, const g_key* keys, GRow* rows,
                    int64_t lo, int64_t hi, bint ranged, bint prefetch,
                    moment_block* with_m) noexcept nogil:
    """Every run of the batch whose row is in [lo, hi) (all runs unless
    ``ranged``) into its row; the per-key moments too with a MomentBlock
    tag (a compile-time choice, as in fold_plain); the weight mode is wt's
    (compile time too: no branch on it per element)."""
    cdef const BatchSpec* B = &G.b
    cdef Py_ssize_t inner = G.inner, size = G.b.size
    cdef Py_ssize_t samples = (size + inner - 1) // inner
    cdef Py_ssize_t i = 0, e, r, j
    cdef int64_t s, omitted
    cdef g_key k
    cdef GRow* g
    cdef double* m = NULL
    cdef bint weighted = weight_mode(wt) != NONE
    while i < size:
        r = i if inner == 1 else i // inner
        if prefetch and r + PREFETCH_AHEAD < samples:
            prefetch_write(rows + (<int64_t>keys[r + PREFETCH_AHEAD] - G.base))
        k = keys[r]
        e = r + 1                                         # the run of equal keys
        if e < samples and keys[e] == k:
            e = next_run_end(G, keys, e + 1, samples, k)
        e = e * inner if e * inner < size else size
        s = <int64_t>k - G.base
        if ranged and (s < lo or s >= hi):
            i = e
            continue
        g = rows + s
        if moment_block is MomentBlock:
            m = moment_row(G, s)
        omitted = g.omitted
        if e - i >= GROUP_RUN_MIN:
            segment_into(B, i, e, g)
            if moment_block is MomentBlock:
                run_moments(how, wt, B, i, e, t, p, w, m)
        else:
            for j in range(i, e):
                element_into(how, wt, B, j, t, p, w, g, m)
        if weighted:
            g.weighted += (e - i) - (g.omitted - omitted)
        else:
            g.unweighted += (e - i) - (g.omitted - omitted)
        i = e


cdef inline bint lone_block(const g_key* keys) noexcept nogil:
    """Whether none of keys[0 .. GROUP_BLOCK - 1] equals the key after it
    (GROUP_BLOCK + 1 keys read, compared branch-free)."""
    cdef Py_ssize_t j
    cdef bint same = False
    for j in range(GROUP_BLOCK):
        same |= keys[j] == keys[j + 1]
    return not same


cdef void fold_plain(const GBatch* G, const g_real* t, const g_real* p, const g_key* keys,
                     GRow* rows, bint prefetch, moment_block* with_m) noexcept nogil:
    """fold_rows for the commonest layout -- one key per element, y_true
    full, unweighted, NaN propagating, every row: no sample arithmetic, and
    a lone element goes straight into its row (runs as in fold_rows).  The
    per-key moments are a compile-time choice (a MomentBlock tag, always
    NULL: G.moments is set), so the plain loop carries nothing of them."""
    cdef const BatchSpec* B = &G.b
    cdef Py_ssize_t size = G.b.size, i = 0, e, j
    cdef double sq, err
    cdef double sqs[GROUP_BLOCK]
    cdef double errs[GROUP_BLOCK]
    cdef g_key k
    cdef GRow* g
    cdef double* m = NULL
    while i < size:
        if i + GROUP_BLOCK < size and lone_block(keys + i):
            if prefetch and i + GROUP_BLOCK + PREFETCH_AHEAD <= size:
                for j in range(GROUP_BLOCK):
                    prefetch_write(rows + (<int64_t>keys[i + j + PREFETCH_AHEAD] - G.base))
            for j in range(GROUP_BLOCK):
                errs[j] = square_err(<Propagate*>NULL, <double>p[i + j], <double>t[i + j],
                                     &sqs[j])
            for j in range(GROUP_BLOCK):
                g = rows + (<int64_t>keys[i + j] - G.base)
                add_lane(sqs[j], errs[j], &g.total.hi, &g.total.lo)
                if moment_block is MomentBlock:
                    key_moments_into(sqs[j], 1.0, moment_row(G, <int64_t>keys[i + j] - G.base))
                g.unweighted += 1
            i += GROUP_BLOCK
            continue
        k = keys[i]
        g = rows + (<int64_t>k - G.base)
        if moment_block is MomentBlock:
            m = moment_row(G, <int64_t>k - G.base)
        if i + 1 < size and keys[i + 1] == k:            # a run of equal keys
            e = next_run_end(G, keys, i + 2, size, k)
            if e - i >= GROUP_RUN_MIN:
                segment_into(B, i, e, g)
                if moment_block is MomentBlock:
                    run_moments(<Propagate*>NULL, <WNone*>NULL, B, i, e, t, p, t, m)
            else:
                for j in range(i, e):
                    err = square_err(<Propagate*>NULL, <double>p[j], <double>t[j], &sq)
                    add_lane(sq, err, &g.total.hi, &g.total.lo)
                    if moment_block is MomentBlock:
                        key_moments_into(sq, 1.0, m)
            g.unweighted += e - i
            i = e
            continue
        if prefetch and i + PREFETCH_AHEAD < size:
            prefetch_write(rows + (<int64_t>keys[i + PREFETCH_AHEAD] - G.base))
        err = square_err(<Propagate*>NULL, <double>p[i], <double>t[i], &sq)
        add_lane(sq, err, &g.total.hi, &g.total.lo)
        if moment_block is MomentBlock:
            key_moments_into(sq, 1.0, m)
        g.unweighted += 1
        i += 1


cdef void plain_keys(const GBatch* G, GRow* rows, bint prefetch,
                     moment_block* with_m) noexcept nogil:
    """fold_plain's operand and key width specialisation."""
    if G.b.p64:
        if G.k64:
            fold_plain(G, <const double*>G.b.t, <const double*>G.b.p,
                       <const int64_t*>G.keys, rows, prefetch, with_m)
        else:
            fold_plain(G, <const double*>G.b.t, <const double*>G.b.p,
                       <const int*>G.keys, rows, prefetch, with_m)
    elif G.k64:
        fold_plain(G, <const float*>G.b.t, <const float*>G.b.p,
                   <const int64_t*>G.keys, rows, prefetch, with_m)
    else:
        fold_plain(G, <const float*>G.b.t, <const float*>G.b.p,
                   <const int*>G.keys, rows, prefetch, with_m)


cdef void fold_keys(policy* how, const GBatch* G, GRow* rows, int64_t lo, int64_t hi,
                    bint ranged, bint prefetch, moment_block* with_m) noexcept nogil:
    """The plain layout (fold_plain) or the weight mode specialisation."""
    cdef bint plain = (policy is Propagate and not ranged and G.inner == 1
                       and G.b.t_mode == FULL_T and G.b.w_mode == NONE)
    if plain:
        plain_keys(G, rows, prefetch, with_m)
        return
    if G.b.w_mode == FULL:
        fold_weights(how, <WFull*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    elif G.b.w_mode == NONE:
        fold_weights(how, <WNone*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    elif G.b.w_mode == SCALAR:
        fold_weights(how, <WScalar*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    elif G.b.w_mode == TILED:
        fold_weights(how, <WTiled*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    else:
        fold_weights(how, <WPerRow*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)


cdef void fold_weights(policy* how, weight_tag* wt, const GBatch* G, GRow* rows, int64_t lo,
                       int64_t hi, bint ranged, bint prefetch,
                       moment_block* with_m) noexcept nogil:
    """The weight mode specialisation (wt's), then the key width and
    operand one (operands all float64 or all float32)."""
    if G.b.p64:
        if G.k64:
            fold_rows(how, wt, G, <const double*>G.b.t, <const double*>G.b.p,
                      <const double*>G.b.w, <const int64_t*>G.keys, rows, lo, hi,
                      ranged, prefetch, with_m)
        else:
            fold_rows(how, wt, G, <const double*>G.b.t, <const double*>G.b.p,
                      <const double*>G.b.w, <const int*>G.keys, rows, lo, hi,
                      ranged, prefetch, with_m)
    elif G.k64:
        fold_rows(how, wt, G, <const float*>G.b.t, <const float*>G.b.p, <const float*>G.b.w,
                  <const int64_t*>G.keys, rows, lo, hi, ranged, prefetch, with_m)
    else:
        fold_rows(how, wt, G, <const float*>G.b.t, <const float*>G.b.p, <const float*>G.b.w,
                  <const int*>G.keys, rows, lo, hi, ranged, prefetch, with_m)


cdef void fold_dispatch(const GBatch* G, GRow* rows, int64_t lo, int64_t hi,
                        bint ranged, bint prefetch) noexcept nogil:
    """The per-key moments specialisation (G.moments set or not)."""
    if G.moments != NULL:
        fold_policy(G, rows, lo, hi, ranged, prefetch, <MomentBlock*>NULL)
    else:
        fold_policy(G, rows, lo, hi, ranged, prefetch, <NoInterval*>NULL)


cdef void fold_policy(const GBatch* G, GRow* rows, int64_t lo, int64_t hi,
                      bint ranged, bint prefetch, moment_block* with_m) noexcept nogil:
    """The policy specialisation (weighted elements under Propagate go one by
    one under Careful: a zero weight removes its element, semantics 5)."""
    if G.b.policy == OMIT:
        fold_keys(<Omit*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    elif G.b.policy == EXACT_DIFF:
        fold_keys(<ExactDiff*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    elif G.b.policy == EXACT_OMIT:
        fold_keys(<ExactOmit*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    elif G.b.w_mode != NONE:
        fold_keys(<Careful*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)
    else:
        fold_keys(<Propagate*>NULL, G, rows, lo, hi, ranged, prefetch, with_m)


cdef struct RowsJob:
    const GBatch* G
    GRow* rows
    int64_t nrows
    Py_ssize_t parts
    bint prefetch


cdef void rows_job(void* ctx, Py_ssize_t k) noexcept nogil:
    """Part k of the rows: every run whose row lies in it."""
    cdef RowsJob* job = <RowsJob*>ctx
    fold_dispatch(job.G, job.rows, job.nrows * k // job.parts,
                  job.nrows * (k + 1) // job.parts, True, job.prefetch)


cdef class GroupedBatch:
    """One grouped update: a ``Batch`` (operands all float64 or all float32,
    no repeat, divisor or fixed count) and ``keys`` (int32/int64, one per
    sample of ``inner`` elements); the row of key k is k - base.
    ``fold(state, lo, hi)`` folds the runs whose row is in [lo, hi) into the
    (rows, 8) float64 state, without the GIL.  With ``moments`` (a C-contiguous
    (rows, 12) float64 array, rows as the state's) each element's unit --
    its squared error and weight -- also goes into its key's "normal"
    interval sums, in the same pass.  ``ascending``: the keys never
    decrease (int_span said so), so runs are found by bisection."""
    cdef GBatch G
    cdef object refs

    def __cinit__(self, Batch batch, cnp.ndarray keys, Py_ssize_t inner, int64_t base,
                  cnp.ndarray moments=None, bint ascending=False):
        self.G.b = batch.spec
        self.G.keys = cnp.PyArray_DATA(keys)
        self.G.k64 = cnp.PyArray_ITEMSIZE(keys) == 8
        self.G.ascending = ascending
        self.G.inner = inner if inner > 0 else 1
        self.G.base = base
        self.G.moments = NULL if moments is None else <double*>cnp.PyArray_DATA(moments)
        self.refs = (batch, keys, moments)

    def fold(self, double[:, ::1] state, int64_t lo=0, int64_t hi=-1):
        """Rows [lo, hi) of the state += this batch's runs that belong there
        (hi = -1: every row)."""
        cdef GRow* rows = <GRow*>&state[0, 0]
        cdef bint ranged = hi >= 0
        cdef bint prefetch = state.shape[0] > PREFETCH_ABOVE
        if self.G.b.size == 0:
            return
        with nogil:
            fold_dispatch(&self.G, rows, lo, hi, ranged, prefetch)

    def fold_threaded(self, double[:, ::1] state, int64_t nrows, int threads):
        """Rows [0, nrows) of the state += this batch, the rows cut into
        ``threads`` parts shared by the caller and the worker pool (each
        part's rows see the same additions as in ``fold``: same bits)."""
        cdef RowsJob job
        if self.G.b.size == 0 or nrows == 0:
            return
        job.G = &self.G
        job.rows = <GRow*>&state[0, 0]
        job.nrows = nrows
        job.parts = threads
        job.prefetch = state.shape[0] > PREFETCH_ABOVE
        with nogil:
            pool_run(pool_get(), threads - 1, rows_job, &job, threads)


cdef inline DD clean(double hi, double lo) noexcept nogil:
    """A row's (hi, lo) pair as a DD: once hi is inf or NaN, lo is dropped."""
    cdef DD x
    x.hi = hi
    x.lo = lo if isfinite(hi) else 0.0
    return x


def group_merge(double[:, ::1] state, const int64_t[::1] slots,
                const double[:, ::1] other):
    """Row slots[i] of the state += row i of another grouped state (same
    layout), compensations included."""
    cdef GRow* rows = <GRow*>&state[0, 0]
    cdef const GRow* src
    cdef GRow* g
    cdef DD x
    cdef Py_ssize_t i
    if slots.shape[0] == 0:
        return
    src = <const GRow*>&other[0, 0]
    for i in range(slots.shape[0]):
        g = rows + slots[i]
        x = clean(src[i].total.hi, src[i].total.lo)
        add_dd(&g.total, x.hi, x.lo)
        x = clean(src[i].weight.hi, src[i].weight.lo)
        add_dd(&g.weight, x.hi, x.lo)
        g.unweighted += src[i].unweighted
        g.weighted += src[i].weighted
        g.omitted += src[i].omitted


def group_divide(double[:, ::1] state, const int64_t[::1] slots, double divisor):
    """Totals of rows slots[i] /= divisor (semantics 3.3 row means)."""
    cdef GRow* g
    cdef Py_ssize_t i
    for i in range(slots.shape[0]):
        g = <GRow*>&state[slots[i], 0]
        g.total = clean(g.total.hi, g.total.lo)
        divide_dd(&g.total, divisor)


cdef inline DD row_count(const GRow* g) noexcept nogil:
    """The weight sum plus the unweighted elements, as a double-double."""
    cdef Count n
    n.lo = <uint64_t>g.unweighted
    n.hi = 0
    return count_dd(clean(g.weight.hi, g.weight.lo), n)


def group_read(const double[:, ::1] state, const int64_t[::1] slots,
               double[::1] result, double[::1] count):
    """For rows slots[i]: result[i] = sqrt(total / count) (0 while the count
    is 0) and count[i] = the weight sum plus the unweighted elements."""
    cdef const GRow* rows
    cdef const GRow* g
    cdef Py_ssize_t i
    if slots.shape[0] == 0:
        return
    rows = <const GRow*>&state[0, 0]
    with nogil:
        for i in range(slots.shape[0]):
            g = rows + slots[i]
            result[i] = sqrt_of_ratio(clean(g.total.hi, g.total.lo), row_count(g))
            count[i] = dd_value(row_count(g))


def group_pooled(const double[:, ::1] state, const int64_t[::1] slots):
    """The rows slots[i] pooled, compensated: (total_hi, total_lo,
    weight_hi, weight_lo, unweighted elements, omitted) as
    Accumulator.get_raw()."""
    cdef DD total, weight, x
    cdef Count n, omitted
    cdef const GRow* g
    cdef Py_ssize_t i
    memset(&total, 0, sizeof(DD))
    memset(&weight, 0, sizeof(DD))
    memset(&n, 0, sizeof(Count))
    memset(&omitted, 0, sizeof(Count))
    for i in range(slots.shape[0]):
        g = <const GRow*>&state[slots[i], 0]
        x = clean(g.total.hi, g.total.lo)
        add_dd(&total, x.hi, x.lo)
        x = clean(g.weight.hi, g.weight.lo)
        add_dd(&weight, x.hi, x.lo)
        add_count(&n, <uint64_t>g.unweighted)
        add_count(&omitted, <uint64_t>g.omitted)
    return (total.hi, total.lo, weight.hi, weight.lo, count_to_int(n), count_to_int(omitted))


# ---------------------------------------------------------------------------
# Factorising keys: fixed-width records (strings, bytes, wide-range ints)
# ---------------------------------------------------------------------------

cdef inline uint64_t record_hash(const unsigned char* x, Py_ssize_t size) noexcept nogil:
    """A 64-bit hash of ``size`` bytes (8 bytes at a time, multiply-xorshift)."""
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>size
    cdef uint64_t word
    cdef Py_ssize_t i = 0
    while i + 8 <= size:
        memcpy(&word, x + i, 8)
        h = (h ^ word) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 31
        i += 8
    if i < size:
        word = 0
        memcpy(&word, x + i, size - i)
        h = (h ^ word) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 31
    h *= 0x94D049BB133111EBULL
    return h ^ (h >> 29)


def factorize_records(cnp.ndarray records):
    """Codes (int64, in order of first appearance) and the index of each
    code's first appearance, for a C-contiguous array of fixed-width records
    compared bytewise (NumPy U/S strings, integers)."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(records)
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(records)
    cdef const unsigned char* data = <const unsigned char*>cnp.PyArray_DATA(records)
    cdef cnp.ndarray codes = np.empty(n, dtype=np.int64)
    cdef int64_t* code = <int64_t*>cnp.PyArray_DATA(codes)
    cdef Py_ssize_t cap = 1024, mask, i, j, slot
    cdef int64_t found
    cdef cnp.ndarray first_arr = np.empty(64, dtype=np.int64)
    cdef int64_t* first = <int64_t*>cnp.PyArray_DATA(first_arr)
    cdef Py_ssize_t distinct = 0
    cdef cnp.ndarray table_arr = np.full(cap, -1, dtype=np.int64)
    cdef int64_t* table = <int64_t*>cnp.PyArray_DATA(table_arr)
    mask = cap - 1
    for i in range(n):
        slot = <Py_ssize_t>(record_hash(data + i * size, size) & <uint64_t>mask)
        while True:
            found = table[slot]
            if found < 0:
                break
            if memcmp(data + first[found] * size, data + i * size, size) == 0:
                break
            slot = (slot + 1) & mask
        if found >= 0:
            code[i] = found
            continue
        if distinct == cnp.PyArray_SIZE(first_arr):
            first_arr = np.concatenate([first_arr, np.empty(distinct, dtype=np.int64)])
            first = <int64_t*>cnp.PyArray_DATA(first_arr)
        first[distinct] = i
        table[slot] = distinct
        code[i] = distinct
        distinct += 1
        if distinct * 2 > cap:              # keep the load below one half
            cap *= 4
            mask = cap - 1
            table_arr = np.full(cap, -1, dtype=np.int64)
            table = <int64_t*>cnp.PyArray_DATA(table_arr)
            for j in range(distinct):
                slot = <Py_ssize_t>(record_hash(data + first[j] * size, size) & <uint64_t>mask)
                while table[slot] >= 0:
                    slot = (slot + 1) & mask
                table[slot] = j
    return codes, first_arr[:distinct].copy()


def factorize_objects(object[:] keys, type kind):
    """Codes (int64, in order of first appearance), the distinct keys (a
    list) and the index of the first key that is not of ``kind`` (-1 when
    all are), for an object array of str or bytes keys."""
    cdef Py_ssize_t n = keys.shape[0], i
    cdef cnp.ndarray codes = np.empty(n, dtype=np.int64)
    cdef int64_t* code = <int64_t*>cnp.PyArray_DATA(codes)
    cdef dict seen = {}
    cdef list distinct = []
    cdef object key, found
    for i in range(n):
        key = keys[i]
        if not isinstance(key, kind):
            return codes, distinct, i
        found = seen.get(key)
        if found is None:
            found = len(distinct)
            seen[key] = found
            distinct.append(key)
        code[i] = <int64_t>found
    return codes, distinct, -1


cdef bint key_range(const g_key* keys, Py_ssize_t n, int64_t* lo, int64_t* hi) noexcept nogil:
    """lo, hi = min, max of n >= 1 keys, one pass; whether they never
    decrease (the same pass: the keys are read once)."""
    cdef Py_ssize_t i
    cdef g_key low = keys[0], high = keys[0], v
    cdef bint down = False
    for i in range(1, n):
        v = keys[i]
        low = v if v < low else low
        high = v if v > high else high
        down |= v < keys[i - 1]
    lo[0], hi[0] = low, high
    return not down


def int_span(cnp.ndarray keys):
    """(min, max, ascending) of a non-empty C-contiguous int32/int64 array,
    one pass: ascending when no key is below the one before it."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(keys)
    cdef int64_t lo, hi
    cdef bint up
    cdef const void* data = cnp.PyArray_DATA(keys)
    cdef bint k64 = cnp.PyArray_ITEMSIZE(keys) == 8
    with nogil:
        if k64:
            up = key_range(<const int64_t*>data, n, &lo, &hi)
        else:
            up = key_range(<const int*>data, n, &lo, &hi)
    return lo, hi, up


def int_range(cnp.ndarray keys):
    """(min, max) of a non-empty C-contiguous int32/int64 array, one pass."""
    return int_span(keys)[:2]


GROUP_ROW_WORDS = sizeof(GRow) // sizeof(double)
