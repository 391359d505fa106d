# Sliding windows without subtraction (issue 19, docs/windows.md).
#
# A window holds samples; a sample is one index of the leading axis, and its
# item is the compensated sum of its elements' w * (p - t)**2 and of their
# weights (the kernel's per-element helpers: square_err, add_lane,
# add_scaled_lane, add_exact_lane), plus exact integer counts.  The window's
# sums are never updated by subtracting what leaves: the items sit in a ring,
# split into a front [head, mid) with precomputed suffix sums and a back
# [mid, tail) with one running sum (the two-stacks scheme of sliding-window
# aggregation, Tangwongsan, Hirzel, Schneider, DEBS 2017).  The window's sum
# is suffix[head] + back; when the front runs empty the back is flipped into
# it (suffix sums recomputed from the items, newest first).  So a value only
# ever holds sums of samples still in the window -- a burst of 1e150 errors,
# a NaN or an inf leaves no trace once it has left -- and every sum is a
# double-double sum of non-negative terms (non-negative weights): within
# O(n u**2) relative of the exact one, the root within 2 ulp.
#
# The counts (elements kept, elements omitted, samples with a kept element)
# are exact integers, so they may be subtracted.  Suffix sums depend only on
# the items from their position to mid, and the back sum only on the items
# from mid: the state is the items and mid, and a restored window continues
# bitwise.

from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy
from libc.math cimport NAN
from libc.stdint cimport INT64_MIN

cdef struct WinItem:
    DD total           # sum of w * (p - t)**2 over the sample's kept elements
    DD weight          # sum of their weights (their number unweighted)
    int64_t elements   # elements kept
    int64_t omitted    # elements omitted (nan_policy='omit')
    int64_t ti         # time: int64 (datetime64 / timedelta64 ticks)
    double tf          # time: float (a numeric time axis)

cdef struct Window:
    WinItem* items     # ring of cap items (cap a power of two)
    DD* suf_total      # suffix sums of the front, indexed like the items
    DD* suf_weight
    int64_t cap
    int64_t head       # logical positions (ring index: pos & (cap - 1))
    int64_t mid
    int64_t tail
    DD back_total
    DD back_weight
    int64_t elements   # exact running counts over [head, tail)
    int64_t omitted
    int64_t valid      # samples with at least one kept element
    bint weighted      # False: every item's weight is its element count, so
                       # the weight sums are not formed (the count is exact)

cdef enum:
    WIN_COUNT = 0      # the last `size` samples
    WIN_INT_TIME = 1   # time in (t - span, t], int64 times
    WIN_FLOAT_TIME = 2 # the same, float64 times

cdef struct WinSpec:
    int kind
    int64_t size
    int64_t span_i
    double span_f


cdef inline int64_t window_floor(int64_t t, int64_t span) noexcept nogil:
    """t - span, the excluded lower end of the window (t - span, t] of int64
    times, saturated at INT64_MIN (NaT, never a time: times are checked) when
    it would fall below int64's range -- the window then holds every earlier
    sample; a wrapped difference would empty it or never stop searching."""
    if t < INT64_MIN + span:          # span > 0: INT64_MIN + span does not overflow
        return INT64_MIN
    return t - span


cdef inline void dd_zero(DD* x) noexcept nogil:
    x.hi = 0.0
    x.lo = 0.0


cdef int window_init(Window* W, int64_t cap, bint weighted=True) noexcept nogil:
    """An empty window with room for cap (rounded up to a power of two)
    items; -1 when out of memory.  weighted=False: only unweighted items
    will be pushed (their weight sums are the element counts)."""
    cdef int64_t c = 8
    while c < cap:
        c *= 2
    memset(W, 0, sizeof(Window))
    W.items = <WinItem*>malloc(c * sizeof(WinItem))
    W.suf_total = <DD*>malloc(c * sizeof(DD))
    W.suf_weight = <DD*>malloc(c * sizeof(DD))
    W.cap = c
    W.weighted = weighted
    if W.items == NULL or W.suf_total == NULL or W.suf_weight == NULL:
        window_free(W)
        return -1
    return 0


cdef void window_free(Window* W) noexcept nogil:
    free(W.items)
    free(W.suf_total)
    free(W.suf_weight)
    W.items = NULL
    W.suf_total = NULL
    W.suf_weight = NULL
    W.cap = 0


cdef inline void window_clear(Window* W) noexcept nogil:
    """Empty the window, keeping its memory."""
    W.head = 0
    W.mid = 0
    W.tail = 0
    dd_zero(&W.back_total)
    dd_zero(&W.back_weight)
    W.elements = 0
    W.omitted = 0
    W.valid = 0


cdef int window_grow(Window* W) noexcept nogil:
    """Double the ring, keeping the logical positions; -1 out of memory."""
    cdef int64_t c = W.cap * 2, pos, m_old = W.cap - 1, m_new = c - 1
    cdef WinItem* items = <WinItem*>malloc(c * sizeof(WinItem))
    cdef DD* st = <DD*>malloc(c * sizeof(DD))
    cdef DD* sw = <DD*>malloc(c * sizeof(DD))
    if items == NULL or st == NULL or sw == NULL:
        free(items)
        free(st)
        free(sw)
        return -1
    for pos in range(W.head, W.tail):
        items[pos & m_new] = W.items[pos & m_old]
        st[pos & m_new] = W.suf_total[pos & m_old]
        sw[pos & m_new] = W.suf_weight[pos & m_old]
    free(W.items)
    free(W.suf_total)
    free(W.suf_weight)
    W.items = items
    W.suf_total = st
    W.suf_weight = sw
    W.cap = c
    return 0


cdef inline void window_flip(Window* W) noexcept nogil:
    """Every item becomes front: suffix sums from the newest back."""
    cdef int64_t pos, m = W.cap - 1
    cdef DD st, sw
    cdef WinItem* it
    dd_zero(&st)
    dd_zero(&sw)
    pos = W.tail
    while pos > W.head:
        pos -= 1
        it = &W.items[pos & m]
        add_dd(&st, it.total.hi, it.total.lo)
        W.suf_total[pos & m] = st
        if W.weighted:
            add_dd(&sw, it.weight.hi, it.weight.lo)
            W.suf_weight[pos & m] = sw
    W.mid = W.tail
    dd_zero(&W.back_total)
    dd_zero(&W.back_weight)


cdef inline WinItem* window_slot(Window* W) noexcept nogil:
    """Where the next sample's item goes (filled in place, then
    window_commit); NULL out of memory (nothing changed)."""
    if W.tail - W.head == W.cap:
        if window_grow(W) < 0:
            return NULL
    return &W.items[W.tail & (W.cap - 1)]


cdef inline void window_commit(Window* W) noexcept nogil:
    """Append the item filled in at window_slot."""
    cdef const WinItem* item = &W.items[W.tail & (W.cap - 1)]
    W.tail += 1
    add_dd(&W.back_total, item.total.hi, item.total.lo)
    if W.weighted:
        add_dd(&W.back_weight, item.weight.hi, item.weight.lo)
    W.elements += item.elements
    W.omitted += item.omitted
    W.valid += item.elements > 0


cdef inline int window_push(Window* W, const WinItem* item) noexcept nogil:
    """Append one sample; -1 out of memory (nothing changed)."""
    cdef WinItem* slot = window_slot(W)
    if slot == NULL:
        return -1
    slot[0] = item[0]
    window_commit(W)
    return 0


cdef inline void pop_front(Window* W) noexcept nogil:
    """Drop the oldest sample, which is in the front (head < mid)."""
    cdef const WinItem* it = &W.items[W.head & (W.cap - 1)]
    W.elements -= it.elements
    W.omitted -= it.omitted
    W.valid -= it.elements > 0
    W.head += 1


cdef inline void window_pop(Window* W) noexcept nogil:
    """Drop the oldest sample (the window is not empty)."""
    if W.head == W.mid:
        window_flip(W)
    pop_front(W)
    if W.head == W.tail:          # empty: start again from zero sums
        window_clear(W)


cdef inline bint must_pop(const Window* W, const WinSpec* S) noexcept nogil:
    """Whether the oldest sample has left the window of the newest (the
    newest itself never has: a span is positive)."""
    cdef int64_t m = W.cap - 1
    if S.kind == WIN_COUNT:
        return W.tail - W.head > S.size
    if S.kind == WIN_INT_TIME:
        return W.items[W.head & m].ti <= window_floor(W.items[(W.tail - 1) & m].ti, S.span_i)
    return W.items[(W.tail - 1) & m].tf - W.items[W.head & m].tf >= S.span_f


cdef inline void window_evict(Window* W, const WinSpec* S) noexcept nogil:
    """Drop what the newest sample has pushed out of the window."""
    while must_pop(W, S):
        window_pop(W)


cdef inline void sums_with(const Window* W, const DD* back_total, const DD* back_weight,
                           DD* total, DD* weight) noexcept nogil:
    """The window's sums, suffix[head] + back (no subtraction), for the back
    sums given (roll_series keeps them in registers)."""
    cdef int64_t h
    if W.head < W.mid:
        h = W.head & (W.cap - 1)
        total[0] = W.suf_total[h]
        add_dd(total, back_total.hi, back_total.lo)
        if W.weighted:
            weight[0] = W.suf_weight[h]
            add_dd(weight, back_weight.hi, back_weight.lo)
    else:
        total[0] = back_total[0]
        weight[0] = back_weight[0]
    if not W.weighted:
        weight.hi = <double>W.elements
        weight.lo = 0.0


cdef inline void window_sums(const Window* W, DD* total, DD* weight) noexcept nogil:
    """The window's sums."""
    sums_with(W, &W.back_total, &W.back_weight, total, weight)


cdef inline double window_value(const Window* W, double* weight_sum) noexcept nogil:
    """The window's RMSE: 0 empty or at weight 0 (Keras), NaN when every
    element in it was omitted (semantics 4)."""
    cdef DD total, weight
    window_sums(W, &total, &weight)
    weight_sum[0] = dd_value(weight)
    if W.elements == 0 and W.omitted > 0:
        return NAN
    return window_root(total, weight)


# ---------------------------------------------------------------------------
# One sample's item, by the per-element helpers of _fold.pxi
# ---------------------------------------------------------------------------

cdef inline void sample_item(const double* t, const double* p, const double* w,
                             Py_ssize_t run, bint omit, bint exact, WinItem* it) noexcept nogil:
    """The item of the `run` elements at t, p (w: their weights, or NULL).
    A zero weight removes its element (semantics 5); under omit a NaN in
    t, p or w omits it.  exact: p - t is an exact difference's two terms
    (integers past 2**53, rmse_ext._plan.exact_difference), squared as the
    fold's ExactDiff policy squares it."""
    cdef Py_ssize_t k
    cdef double s = 0.0, c = 0.0, ws = 0.0, wc = 0.0, sq, e, wk
    cdef int64_t kept = 0, omitted = 0
    for k in range(run):
        if omit and not ((t[k] == t[k]) & (p[k] == p[k]) & (w == NULL or w[k] == w[k])):
            omitted += 1
            continue
        if exact:
            e = square_err(<ExactDiff*>NULL, p[k], t[k], &sq)
        else:
            e = square_err(<Propagate*>NULL, p[k], t[k], &sq)
        if w == NULL:
            add_lane(sq, e, &s, &c)
        else:
            wk = w[k]
            if wk == 0.0:
                continue
            add_scaled_lane(wk, sq, e, &s, &c)
            add_exact_lane(wk, &ws, &wc)
        kept += 1
    it.total.hi = s
    it.total.lo = c if isfinite(s) else 0.0
    if w == NULL:
        it.weight.hi = <double>kept
        it.weight.lo = 0.0
    else:
        it.weight.hi = ws
        it.weight.lo = wc if isfinite(ws) else 0.0
    it.elements = kept if w == NULL else run - omitted
    it.omitted = omitted


cdef inline void one_item(const double* t, const double* p, const double* w,
                          Py_ssize_t run, bint omit, bint exact, WinItem* it) noexcept nogil:
    """sample_item, with the one-element sample inlined (the hot case)."""
    cdef double sq, e, wk
    if run != 1 or omit or exact:
        sample_item(t, p, w, run, omit, exact, it)
        return
    e = square_err(<Propagate*>NULL, p[0], t[0], &sq)
    it.elements = 1
    it.omitted = 0
    if w == NULL:
        it.total.hi = sq
        it.total.lo = e if isfinite(sq) else 0.0
        it.weight.hi = 1.0
        it.weight.lo = 0.0
    else:
        wk = w[0]
        it.total.hi = 0.0
        it.total.lo = 0.0
        it.weight.hi = 0.0
        it.weight.lo = 0.0
        if wk != 0.0:
            add_scaled_lane(wk, sq, e, &it.total.hi, &it.total.lo)
            if not isfinite(it.total.hi):
                it.total.lo = 0.0
            it.weight.hi = wk


cdef enum:
    GATHER_AHEAD = 16      # samples ahead whose scattered operands are prefetched


cdef struct RollOut:
    double* rmse
    int64_t* count
    double* weight_sum
    int64_t* omitted
    int64_t min_samples


# The roots of a run of windows are taken together: the sums of ROOT_BLOCK
# consecutive windows are parked, then one branch-free loop the compiler
# vectorises forms every sqrt(total / weight) (a division and a square root
# per window are most of a window's cost when taken one by one), and a
# second loop takes the rare rest (a quotient outside the normal range,
# inf, NaN, weight 0) through sqrt_of_ratio and writes the outputs.
cdef enum:
    ROOT_BLOCK = 256

cdef struct RootBlock:
    double s_hi[ROOT_BLOCK]
    double s_lo[ROOT_BLOCK]
    double c_hi[ROOT_BLOCK]
    double c_lo[ROOT_BLOCK]
    double root[ROOT_BLOCK]
    double usual[ROOT_BLOCK]      # 1.0 where root is the answer
    Py_ssize_t pos[ROOT_BLOCK]
    int64_t count[ROOT_BLOCK]
    int64_t omitted[ROOT_BLOCK]
    char empty[ROOT_BLOCK]        # NaN: too few samples, or all omitted


cdef inline double usual_root(double s_hi, double s_lo, double c_hi, double c_lo,
                              double* usual) noexcept nogil:
    """sqrt(s / c) for double-doubles s and c by one Newton step on the
    quotient from 1 / c.hi (one division); *usual is 1.0 when that is the
    answer -- the first quotient between 1e-289 and 1e300 and c > 0 --
    else 0.0 (then sqrt_of_ratio is)."""
    return root_by(s_hi, s_lo, c_hi, c_lo, 1.0 / c_hi, usual)


cdef inline double root_by(double s_hi, double s_lo, double c_hi, double c_lo, double inv,
                           double* usual) noexcept nogil:
    """usual_root with inv = 1 / c_hi given (a window of a fixed count
    divides once for all its windows)."""
    cdef double q = s_hi * inv
    cdef double r = mul_add(-q, c_hi, s_hi) + (s_lo - q * c_lo)
    usual[0] = 1.0 if (q > 1e-289) & (q < 1e300) & (c_hi > 0.0) else 0.0
    return sqrt(mul_add(r, inv, q))


cdef inline double window_root(DD s, DD c) noexcept nogil:
    """sqrt(s / c), as the blocks of roll_series take it."""
    cdef double usual
    cdef double v = usual_root(s.hi, s.lo, c.hi, c.lo, &usual)
    return v if usual == 1.0 else sqrt_of_ratio(s, c)


cdef inline void park(const Window* W, const DD* back_total, const DD* back_weight,
                      Py_ssize_t i, int64_t min_samples, RootBlock* B,
                      Py_ssize_t m) noexcept nogil:
    """The window's sums, for the value of sample i, into slot m of B."""
    cdef DD total, weight
    sums_with(W, back_total, back_weight, &total, &weight)
    B.s_hi[m] = total.hi
    B.s_lo[m] = total.lo
    B.c_hi[m] = weight.hi
    B.c_lo[m] = weight.lo
    B.pos[m] = i
    B.count[m] = W.elements
    B.omitted[m] = W.omitted
    B.empty[m] = (W.valid < min_samples) | ((W.elements == 0) & (W.omitted > 0))


cdef void flush_roots(RootBlock* B, Py_ssize_t m, const RollOut* O) noexcept nogil:
    """The values of the m parked windows, written at their positions."""
    cdef Py_ssize_t j
    cdef DD s, c
    cdef double v
    for j in range(m):          # vectorised: no branch, no call
        B.root[j] = usual_root(B.s_hi[j], B.s_lo[j], B.c_hi[j], B.c_lo[j], &B.usual[j])
    for j in range(m):
        v = B.root[j]
        if B.usual[j] != 1.0:
            s.hi = B.s_hi[j]
            s.lo = B.s_lo[j]
            c.hi = B.c_hi[j]
            c.lo = B.c_lo[j]
            v = sqrt_of_ratio(s, c)
        if B.empty[j]:
            v = NAN
        O.rmse[B.pos[j]] = v
    if O.count != NULL:
        for j in range(m):
            O.count[B.pos[j]] = B.count[j]
    if O.weight_sum != NULL:
        for j in range(m):
            O.weight_sum[B.pos[j]] = B.c_hi[j] + B.c_lo[j] if isfinite(B.c_hi[j]) else B.c_hi[j]
    if O.omitted != NULL:
        for j in range(m):
            O.omitted[B.pos[j]] = B.omitted[j]


cdef int roll_series(Window* W, const WinSpec* S, const double* t, const double* p,
                     const double* w, Py_ssize_t run, bint omit, bint exact,
                     const int64_t* order, Py_ssize_t k0, Py_ssize_t k1,
                     const int64_t* ti, const double* tf, const RollOut* O) noexcept nogil:
    """Samples order[k0:k1] (k0:k1 without an order) of one series, in
    order, continuing the window W: each pushed, the window evicted, its
    value written at the sample's position.  -1 out of memory."""
    cdef WinItem* it
    cdef RootBlock B
    cdef Py_ssize_t k, i, j, m = 0
    cdef const double* wi
    # The back sums live in locals, not in W: each sample adds to them, and
    # a loop-carried sum through memory waits on store forwarding.
    cdef DD bt = W.back_total, bw = W.back_weight
    for k in range(k0, k1):
        if order != NULL:
            i = order[k]
            if k + GATHER_AHEAD < k1:       # scattered rows: ask for them early
                j = order[k + GATHER_AHEAD]
                prefetch_ahead(t + j * run, 0)
                prefetch_ahead(p + j * run, 0)
                if w != NULL:
                    prefetch_ahead(w + j * run, 0)
        else:
            i = k
        wi = w + i * run if w != NULL else NULL
        it = window_slot(W)
        if it == NULL:
            flush_roots(&B, m, O)
            W.back_total = bt
            W.back_weight = bw
            return -1
        one_item(t + i * run, p + i * run, wi, run, omit, exact, it)
        it.ti = ti[i] if ti != NULL else 0
        it.tf = tf[i] if tf != NULL else 0.0
        W.tail += 1
        add_dd(&bt, it.total.hi, it.total.lo)
        if W.weighted:
            add_dd(&bw, it.weight.hi, it.weight.lo)
        W.elements += it.elements
        W.omitted += it.omitted
        W.valid += it.elements > 0
        while must_pop(W, S):           # never empties: the newest stays
            if W.head == W.mid:
                window_flip(W)          # the back becomes front: its sums restart
                dd_zero(&bt)
                dd_zero(&bw)
            pop_front(W)
        park(W, &bt, &bw, i, O.min_samples, &B, m)
        m += 1
        if m == ROOT_BLOCK:
            flush_roots(&B, m, O)
            m = 0
    flush_roots(&B, m, O)
    W.back_total = bt
    W.back_weight = bw
    return 0


# ---------------------------------------------------------------------------
# Windows of one-element samples, every value at once: the block-suffix scheme
# ---------------------------------------------------------------------------
#
# The two-stacks window above, laid out for a whole series at once.  Cut the
# series into blocks at the samples where a window first loses the start of
# the block before (for the last L samples: every L samples; for a time
# window where the window start passes it).  The window ending at a sample
# of a block is then the previous block's suffix sum from the window's start
# on, plus the running prefix sum of this block up to the sample: S[h] + P,
# two double-double sums of samples in the window and nothing else -- no
# subtraction, as the two-stacks window (its flip is the block boundary).
# Per block: one pass forms the items (vectorised), one sequential pass runs
# the prefix sum forwards and, interleaved with it, the block's own suffix
# sums backwards (two independent chains: the pass is bound by the latency of
# one addition per sample, not two), and per chunk of rows one vectorised
# pass forms S[h] + P and its root.  rolling_values takes this path for
# one-element samples without 'omit', for count and time windows; it holds
# O(window) doubles (the largest block, grown as needed).

cdef enum:
    CHUNK_ROWS = 128           # rows whose roots are taken in one vectorised pass

cdef struct BlockBufs:
    double* x_hi               # the block's items: w * (p - t)**2 as hi + lo,
    double* x_lo               # and the weight
    double* xw
    double* s_hi               # the previous block's suffix sums (entry m: 0)
    double* s_lo
    double* sw_hi
    double* sw_lo
    double* n_hi               # this block's suffix sums, being formed
    double* n_lo
    double* nw_hi
    double* nw_lo
    int64_t* heads             # each sample's window start (a series position)
    Py_ssize_t cap             # entries each array holds

cdef enum:
    BLOCK_DOUBLES = 11         # the double arrays of BlockBufs

cdef struct RootChunk:         # fixed arrays: the loops over them vectorise
    double f_hi[CHUNK_ROWS]    # the front: the previous block's suffix at the head
    double f_lo[CHUNK_ROWS]
    double fw_hi[CHUNK_ROWS]
    double fw_lo[CHUNK_ROWS]
    double p_hi[CHUNK_ROWS]    # the back: this block's prefix
    double p_lo[CHUNK_ROWS]
    double pw_hi[CHUNK_ROWS]
    double pw_lo[CHUNK_ROWS]
    double t_hi[CHUNK_ROWS]    # the window's sums
    double t_lo[CHUNK_ROWS]
    double c_hi[CHUNK_ROWS]
    double c_lo[CHUNK_ROWS]
    double root[CHUNK_ROWS]
    double usual[CHUNK_ROWS]
    double samples[CHUNK_ROWS]


cdef void block_bufs_free(BlockBufs* B) noexcept nogil:
    cdef double** arrays[BLOCK_DOUBLES]
    cdef int k
    block_arrays(B, arrays)
    for k in range(BLOCK_DOUBLES):
        free(arrays[k][0])
        arrays[k][0] = NULL
    free(B.heads)
    B.heads = NULL
    B.cap = 0


cdef inline void block_arrays(BlockBufs* B, double*** arrays) noexcept nogil:
    arrays[0] = &B.x_hi
    arrays[1] = &B.x_lo
    arrays[2] = &B.xw
    arrays[3] = &B.s_hi
    arrays[4] = &B.s_lo
    arrays[5] = &B.sw_hi
    arrays[6] = &B.sw_lo
    arrays[7] = &B.n_hi
    arrays[8] = &B.n_lo
    arrays[9] = &B.nw_hi
    arrays[10] = &B.nw_lo


cdef int block_bufs_grow(BlockBufs* B, Py_ssize_t cap) noexcept nogil:
    """Room for cap + 1 entries in every array, keeping what they hold (the
    previous block's suffix sums, the heads); -1 out of memory."""
    cdef Py_ssize_t c = 64 if B.cap < 64 else B.cap
    cdef double** arrays[BLOCK_DOUBLES]
    cdef double* d
    cdef int64_t* h
    cdef int k
    while c < cap + 1:
        c *= 2
    if c == B.cap:
        return 0
    block_arrays(B, arrays)
    for k in range(BLOCK_DOUBLES):
        d = <double*>realloc(arrays[k][0], c * sizeof(double))
        if d == NULL:
            return -1
        arrays[k][0] = d
    h = <int64_t*>realloc(B.heads, c * sizeof(int64_t))
    if h == NULL:
        return -1
    B.heads = h
    B.cap = c
    return 0


cdef inline void item_of(double p, double t, const double* w, Py_ssize_t i, double* x_hi,
                         double* x_lo, double* xw) noexcept nogil:
    """One one-element sample's item: w * (p - t)**2 as x_hi + x_lo (a zero
    weight removes it, semantics 5) and its weight."""
    cdef double sq, wk, x
    cdef double e = square_err(<Propagate*>NULL, p, t, &sq)
    if w == NULL:
        x_hi[0] = sq
        x_lo[0] = e
        return
    wk = w[i]
    x = wk * sq
    x_hi[0] = x if wk != 0.0 else 0.0
    x_lo[0] = mul_add(wk, e, two_prod_err(wk, sq, x)) if wk != 0.0 else 0.0
    xw[0] = wk


cdef inline void dd_sum_into(double a_hi, double a_lo, double b_hi, double b_lo, double* hi,
                             double* lo) noexcept nogil:
    """hi + lo = (a_hi + a_lo) + (b_hi + b_lo), branch-free (Knuth's TwoSum
    of the high parts; not finite: hi is inf or NaN, lo may be NaN)."""
    cdef double s = a_hi + b_hi
    cdef double z = s - a_hi
    hi[0] = s
    lo[0] = ((a_hi - (s - z)) + (b_hi - z)) + (a_lo + b_lo)


cdef inline Py_ssize_t block_end(const WinSpec* S, const int64_t* order, Py_ssize_t k0,
                                 Py_ssize_t k1, Py_ssize_t b0, const int64_t* ti,
                                 const double* tf, Py_ssize_t* h, BlockBufs* B) noexcept nogil:
    """The end of the block starting at series position b0: the first
    position whose window starts after b0 (k1 if none); each sample's window
    start stored in B.heads (h: a time window's moving start).  -1 out of
    memory."""
    cdef Py_ssize_t k = b0, end, cap = B.cap - 1, start = h[0]
    cdef int64_t* heads = B.heads
    cdef int64_t lim_i
    cdef double now
    if S.kind == WIN_COUNT:                 # the window of k starts at k - L + 1
        end = b0 + S.size if k1 - b0 > S.size else k1
        if end - b0 > cap and block_bufs_grow(B, end - b0) < 0:
            return -1
        for k in range(b0, end):
            B.heads[k - b0] = k - S.size + 1 if k - S.size + 1 > k0 else k0
        return end
    while k < k1:
        if S.kind == WIN_INT_TIME:          # as must_pop: oldest <= newest - span
            lim_i = window_floor(ti[order[k] if order != NULL else k], S.span_i)
            while ti[order[start] if order != NULL else start] <= lim_i:
                start += 1
        else:                               # newest - oldest >= span
            now = tf[order[k] if order != NULL else k]
            while now - tf[order[start] if order != NULL else start] >= S.span_f:
                start += 1
        if start > b0:
            break
        if k - b0 >= cap:
            if block_bufs_grow(B, k - b0 + 1) < 0:
                h[0] = start
                return -1
            cap = B.cap - 1
            heads = B.heads
        heads[k - b0] = start
        k += 1
    h[0] = start
    return k


cdef int roll_blocks(const WinSpec* S, const double* t, const double* p, const double* w,
                     const int64_t* order, Py_ssize_t k0, Py_ssize_t k1, const int64_t* ti,
                     const double* tf, const RollOut* O, BlockBufs* B,
                     RootChunk* C) noexcept nogil:
    """The values of samples order[k0:k1] (k0:k1 without an order) of one
    series of one-element samples; -1 out of memory."""
    cdef Py_ssize_t b0 = k0, b1, m, prev = k0, j, c0, r, i, g, h = k0, q
    cdef double ph, pl, wh, wl, sh, sl, vh, vl, least = <double>O.min_samples
    cdef double* swap
    cdef DD T, W
    cdef bint weighted = w != NULL
    cdef double size_d = <double>S.size
    if B.cap == 0 and block_bufs_grow(B, 64) < 0:
        return -1
    B.s_hi[0] = 0.0                      # no previous block: an empty front
    B.s_lo[0] = 0.0
    B.sw_hi[0] = 0.0
    B.sw_lo[0] = 0.0
    while b0 < k1:
        b1 = block_end(S, order, k0, k1, b0, ti, tf, &h, B)
        if b1 < 0:
            return -1
        m = b1 - b0
        if order == NULL:                           # the block's items (vectorised)
            for j in range(m):
                item_of(p[b0 + j], t[b0 + j], w, b0 + j, &B.x_hi[j], &B.x_lo[j], &B.xw[j])
        else:
            for j in range(m):
                if j + GATHER_AHEAD < m:            # scattered rows: ask for them early
                    g = order[b0 + j + GATHER_AHEAD]
                    prefetch_ahead(t + g, 0)
                    prefetch_ahead(p + g, 0)
                    if weighted:
                        prefetch_ahead(w + g, 0)
                i = order[b0 + j]
                item_of(p[i], t[i], w, i, &B.x_hi[j], &B.x_lo[j], &B.xw[j])
        ph = pl = wh = wl = 0.0                     # the prefix (the back)
        sh = sl = vh = vl = 0.0                     # this block's suffix, from its end
        B.n_hi[m] = B.n_lo[m] = B.nw_hi[m] = B.nw_lo[m] = 0.0
        c0 = 0
        while c0 < m:
            q = m - c0 if m - c0 < CHUNK_ROWS else CHUNK_ROWS
            for j in range(q):                      # two independent chains
                add_lane(B.x_hi[c0 + j], B.x_lo[c0 + j], &ph, &pl)
                C.p_hi[j] = ph
                C.p_lo[j] = pl
                r = m - 1 - c0 - j
                add_lane(B.x_hi[r], B.x_lo[r], &sh, &sl)
                B.n_hi[r] = sh
                B.n_lo[r] = sl
                if weighted:
                    add_exact_lane(B.xw[c0 + j], &wh, &wl)
                    C.pw_hi[j] = wh
                    C.pw_lo[j] = wl
                    add_exact_lane(B.xw[r], &vh, &vl)
                    B.nw_hi[r] = vh
                    B.nw_lo[r] = vl
            if S.kind == WIN_COUNT and b0 > k0 and not weighted:
                count_front(C, B, q, c0 + 1, size_d)  # starts at c0 + j + 1, L samples
                chunk_roots(C, q, False, size_d, least)
                chunk_out(C, q, order, b0 + c0, O)
                c0 += q
                continue
            for j in range(q):                      # the front at each window's start
                r = B.heads[c0 + j] - prev
                C.f_hi[j] = B.s_hi[r]
                C.f_lo[j] = B.s_lo[r]
                C.samples[j] = <double>(b0 + c0 + j + 1 - B.heads[c0 + j])
                if weighted:
                    C.fw_hi[j] = B.sw_hi[r]
                    C.fw_lo[j] = B.sw_lo[r]
            chunk_roots(C, q, weighted, 0.0, least)
            chunk_out(C, q, order, b0 + c0, O)
            c0 += q
        swap = B.s_hi; B.s_hi = B.n_hi; B.n_hi = swap      # this block is the next front
        swap = B.s_lo; B.s_lo = B.n_lo; B.n_lo = swap
        swap = B.sw_hi; B.sw_hi = B.nw_hi; B.nw_hi = swap
        swap = B.sw_lo; B.sw_lo = B.nw_lo; B.nw_lo = swap
        prev = b0
        b0 = b1
    return 0


cdef inline void chunk_roots(RootChunk* C, Py_ssize_t q, bint weighted, double fixed,
                             double least) noexcept nogil:
    """Each window's sums S[h] + P and root (vectorised: no call, no branch),
    then the rare rest (inf, NaN, weight 0, a quotient out of range) by
    sqrt_of_ratio.  fixed > 0: unweighted windows of that many samples each,
    so one division serves them all."""
    cdef Py_ssize_t j
    cdef double inv = 1.0 / fixed
    cdef int rare = 0
    cdef DD T, W
    if weighted:
        for j in range(q):
            dd_sum_into(C.fw_hi[j], C.fw_lo[j], C.pw_hi[j], C.pw_lo[j], &C.c_hi[j], &C.c_lo[j])
    else:
        for j in range(q):
            C.c_hi[j] = C.samples[j]
            C.c_lo[j] = 0.0
    if fixed > 0.0:
        for j in range(q):
            chunk_root(C, j, inv, least)
    else:
        for j in range(q):
            chunk_root(C, j, 1.0 / C.c_hi[j], least)
    for j in range(q):                      # any rare one? (vectorised)
        rare |= C.usual[j] != 1.0
    for j in range(q if rare else 0):
        if C.usual[j] != 1.0:
            T.hi = C.t_hi[j]
            T.lo = C.t_lo[j] if isfinite(T.hi) else 0.0
            W.hi = C.c_hi[j]
            W.lo = C.c_lo[j] if isfinite(W.hi) else 0.0
            C.root[j] = sqrt_of_ratio(T, W)


cdef inline void chunk_root(RootChunk* C, Py_ssize_t j, double inv, double least) noexcept nogil:
    """Window j's sum S[h] + P and its root from inv = 1 / its weight (NaN
    below least samples).  Formed in registers and stored once each (a
    masked store read back at once stalls the loads of the rare pass)."""
    cdef double usual, th, tl, v
    cdef bint few = C.samples[j] < least
    dd_sum_into(C.f_hi[j], C.f_lo[j], C.p_hi[j], C.p_lo[j], &th, &tl)
    v = root_by(th, tl, C.c_hi[j], C.c_lo[j], inv, &usual)
    C.t_hi[j] = th
    C.t_lo[j] = tl
    C.root[j] = NAN if few else v
    C.usual[j] = 1.0 if few else usual


cdef inline void count_front(RootChunk* C, const BlockBufs* B, Py_ssize_t q, Py_ssize_t r0,
                             double size_d) noexcept nogil:
    """The fronts of a count window's chunk past its first block: the
    previous block's suffix sums from r0 on, contiguous; L samples each."""
    cdef Py_ssize_t j
    for j in range(q):
        C.f_hi[j] = B.s_hi[r0 + j]
        C.f_lo[j] = B.s_lo[r0 + j]
        C.samples[j] = size_d


cdef inline void chunk_out(const RootChunk* C, Py_ssize_t q, const int64_t* order,
                           Py_ssize_t k, const RollOut* O) noexcept nogil:
    """Write the chunk's values for series positions k, k + 1, ..."""
    cdef Py_ssize_t j, i
    if order == NULL:
        memcpy(O.rmse + k, C.root, q * sizeof(double))
    else:
        for j in range(q):
            O.rmse[order[k + j]] = C.root[j]
    if O.count != NULL:
        for j in range(q):
            i = k + j if order == NULL else order[k + j]
            O.count[i] = <int64_t>C.samples[j]
            O.weight_sum[i] = C.c_hi[j] + C.c_lo[j] if isfinite(C.c_hi[j]) else C.c_hi[j]
            O.omitted[i] = 0


cdef int push_samples(Window* W, const WinSpec* S, const double* t, const double* p,
                      const double* w, Py_ssize_t n, Py_ssize_t run, bint omit, bint exact,
                      const int64_t* ti, const double* tf) noexcept nogil:
    """Push n samples (the streaming class); -1 out of memory."""
    cdef WinItem* it
    cdef Py_ssize_t i
    for i in range(n):
        it = window_slot(W)
        if it == NULL:
            return -1
        one_item(t + i * run, p + i * run, w + i * run if w != NULL else NULL, run, omit, exact,
                 it)
        it.ti = ti[i] if ti != NULL else 0
        it.tf = tf[i] if tf != NULL else 0.0
        window_commit(W)
        window_evict(W, S)
    return 0


cdef inline void spec_of(WinSpec* S, int kind, int64_t size, int64_t span_i,
                         double span_f) noexcept nogil:
    S.kind = kind
    S.size = size
    S.span_i = span_i
    S.span_f = span_f


def rolling_values(cnp.ndarray t, cnp.ndarray p, cnp.ndarray w, Py_ssize_t run,
                   bint omit, int kind, int64_t size, int64_t span_i, double span_f,
                   cnp.ndarray ti, cnp.ndarray tf, cnp.ndarray order, cnp.ndarray starts,
                   int64_t min_samples, cnp.ndarray rmse, cnp.ndarray count=None,
                   cnp.ndarray weight_sum=None, cnp.ndarray omitted=None, bint exact=False):
    """The rolling RMSE of every sample (rmse_ext.rolling): t, p (and w, or
    None) C-contiguous float64, `run` elements per sample; the series are
    order[starts[g]:starts[g+1]] (order None: one series, starts None); ti
    (int64) or tf (float64) the times of a time window (kind 1 or 2), else
    None.  Writes rmse (and count, weight_sum, omitted when given) at each
    sample's position.  exact: p - t is an exact difference's two terms
    (sample_item).  The Python side has checked everything."""
    cdef Window W
    cdef WinSpec S
    cdef RollOut O
    cdef Py_ssize_t n = cnp.PyArray_SIZE(rmse), g, groups
    cdef const int64_t* order_p = NULL
    cdef const int64_t* starts_p = NULL
    cdef const double* tp = <const double*>data_or_null(t)
    cdef const double* pp = <const double*>data_or_null(p)
    cdef const double* wp = <const double*>data_or_null(w)
    cdef const int64_t* tip = <const int64_t*>data_or_null(ti)
    cdef const double* tfp = <const double*>data_or_null(tf)
    cdef int failed = 0
    cdef BlockBufs B
    cdef RootChunk* C
    spec_of(&S, kind, size, span_i, span_f)
    O.rmse = <double*>cnp.PyArray_DATA(rmse)
    O.count = NULL if count is None else <int64_t*>cnp.PyArray_DATA(count)
    O.weight_sum = NULL if weight_sum is None else <double*>cnp.PyArray_DATA(weight_sum)
    O.omitted = NULL if omitted is None else <int64_t*>cnp.PyArray_DATA(omitted)
    O.min_samples = min_samples
    if order is not None:
        order_p = <const int64_t*>cnp.PyArray_DATA(order)
        starts_p = <const int64_t*>cnp.PyArray_DATA(starts)
        groups = cnp.PyArray_SIZE(starts) - 1
    if run == 1 and not omit and not exact:
        memset(&B, 0, sizeof(BlockBufs))
        C = <RootChunk*>malloc(sizeof(RootChunk))
        if C == NULL:
            raise MemoryError("rolling window")
        with nogil:
            if order_p == NULL:
                failed = roll_blocks(&S, tp, pp, wp, NULL, 0, n, tip, tfp, &O, &B, C)
            else:
                for g in range(groups):
                    failed = roll_blocks(&S, tp, pp, wp, order_p, starts_p[g], starts_p[g + 1],
                                         tip, tfp, &O, &B, C)
                    if failed:
                        break
        block_bufs_free(&B)
        free(C)
        if failed:
            raise MemoryError("rolling window")
        return
    if window_init(&W, size + 1 if kind == WIN_COUNT else 64, w is not None) < 0:
        raise MemoryError("rolling window")
    with nogil:
        if order_p == NULL:
            window_clear(&W)
            failed = roll_series(&W, &S, tp, pp, wp, run, omit, exact, NULL, 0, n, tip, tfp, &O)
        else:
            for g in range(groups):
                window_clear(&W)
                failed = roll_series(&W, &S, tp, pp, wp, run, omit, exact, order_p,
                                     starts_p[g], starts_p[g + 1], tip, tfp, &O)
                if failed:
                    break
    window_free(&W)
    if failed:
        raise MemoryError("rolling window")


def series_order(cnp.ndarray codes, Py_ssize_t groups):
    """(order, starts): a stable counting sort of int64 codes in
    [0, groups) -- the samples of series g are order[starts[g]:starts[g+1]],
    in their original order."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(codes), i, g
    cdef const int64_t* c = <const int64_t*>cnp.PyArray_DATA(codes)
    cdef cnp.ndarray order = np.empty(n, dtype=np.int64)
    cdef cnp.ndarray starts = np.zeros(groups + 1, dtype=np.int64)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(order)
    cdef int64_t* s = <int64_t*>cnp.PyArray_DATA(starts)
    cdef int64_t* nxt
    with nogil:
        for i in range(n):
            s[c[i] + 1] += 1
        for g in range(groups):
            s[g + 1] += s[g]
    nxt_a = starts[:groups].copy()
    nxt = <int64_t*>cnp.PyArray_DATA(nxt_a)
    with nogil:
        for i in range(n):
            o[nxt[c[i]]] = i
            nxt[c[i]] += 1
    return order, starts


cdef inline bint plain_double(cnp.ndarray a) noexcept:
    return (cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE and cnp.PyArray_ISCARRAY_RO(a)
            and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline bint has_nan(const double* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint bad = False
    for i in range(n):
        bad |= x[i] != x[i]
    return bad


cdef int64_t NAT = INT64_MIN        # numpy.datetime64("NaT") as int64


def time_faults(cnp.ndarray x):
    """(missing, decrease): the first position of x -- C-contiguous int64
    times (NaT, INT64_MIN, missing) or float64 (not finite missing) --
    holding a missing time, and the first whose time is before the one
    before it; -1 for none.  One branch-free pass finds whether there is
    either; the positions are looked for only then."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x), i, missing = -1, down = -1
    cdef const int64_t* a = <const int64_t*>cnp.PyArray_DATA(x)
    cdef const double* f = <const double*>cnp.PyArray_DATA(x)
    cdef bint ints = cnp.PyArray_TYPE(x) != cnp.NPY_DOUBLE, bad = False
    if n == 0:
        return -1, -1
    with nogil:
        if ints:
            bad = a[0] == NAT
            for i in range(1, n):
                bad |= (a[i] == NAT) | (a[i] < a[i - 1])
        else:
            bad = not isfinite(f[0])
            for i in range(1, n):
                bad |= (f[i] - f[i] != 0.0) | (f[i] < f[i - 1])
        if bad:
            for i in range(n):
                if (a[i] == NAT) if ints else not isfinite(f[i]):
                    missing = i
                    break
            for i in range(1, n):
                if (a[i] < a[i - 1]) if ints else f[i] < f[i - 1]:
                    down = i
                    break
    return missing, down
NS_DATETIME = np.dtype("M8[ns]")


cdef class RollingWindow:
    """The streaming window of RollingRootMeanSquaredError: push samples,
    read the RMSE of those in the window.

    >>> import numpy as np
    >>> r = RollingWindow(0, 2, 0, 0.0)
    >>> r.push(np.zeros(3), np.array([1.0, 2.0, 3.0]), None, 3, 1, False, None, None)
    >>> r.value()
    2.5495097567963922
    """
    cdef Window W
    cdef WinSpec S
    cdef object read_out      # value_as's last answer; None once the window changed
    cdef object read_descr    # the dtype it was made in

    def __cinit__(self, int kind, int64_t size, int64_t span_i, double span_f):
        spec_of(&self.S, kind, size, span_i, span_f)
        if window_init(&self.W, size + 1 if kind == WIN_COUNT else 64) < 0:
            raise MemoryError("rolling window")

    def __dealloc__(self):
        window_free(&self.W)

    def push(self, cnp.ndarray t, cnp.ndarray p, cnp.ndarray w, Py_ssize_t n,
             Py_ssize_t run, bint omit, cnp.ndarray ti, cnp.ndarray tf, bint exact=False):
        """Push n samples of C-contiguous float64 t, p (w or None), run
        elements each, with their times (int64 ti or float64 tf, or None);
        exact: p - t is an exact difference's two terms (sample_item)."""
        cdef WinItem it
        cdef Py_ssize_t i
        cdef const double* tp = <const double*>data_or_null(t)
        cdef const double* pp = <const double*>data_or_null(p)
        cdef const double* wp = <const double*>data_or_null(w)
        cdef const int64_t* tip = <const int64_t*>data_or_null(ti)
        cdef const double* tfp = <const double*>data_or_null(tf)
        cdef int failed
        self.read_out = None
        if n * run > GIL_FREE_ABOVE:
            with nogil:
                failed = push_samples(&self.W, &self.S, tp, pp, wp, n, run, omit, exact, tip,
                                      tfp)
        else:
            failed = push_samples(&self.W, &self.S, tp, pp, wp, n, run, omit, exact, tip, tfp)
        if failed:
            raise MemoryError("rolling window")

    def push_fast(self, object t, object p, object w, object time, int policy):
        """Fast path of update_state for the commonest calls, which need no
        rule: y_true and y_pred plain float64 ndarrays (aligned, native,
        C-contiguous) of one 1-D or 2-D shape, the weights None or the same;
        times (a time window) a plain int64 / datetime64[ns] or float64
        array, non-decreasing from the newest time in the window; policy 0
        propagate, 1 omit, 2 raise (no NaN).  Returns False, having done
        nothing, for anything else: the caller then reads the batch."""
        cdef cnp.ndarray ta, pa, wa = None, xa = None
        cdef Py_ssize_t n, run, i
        cdef const double* wp = NULL
        cdef const int64_t* tip = NULL
        cdef const double* tfp = NULL
        cdef int64_t last_i
        cdef double last_f
        cdef bint have_last = self.W.tail > self.W.head
        cdef int typenum
        if not (cnp.PyArray_CheckExact(t) and cnp.PyArray_CheckExact(p)):
            return False
        ta = <cnp.ndarray>t
        pa = <cnp.ndarray>p
        if not (plain_double(ta) and plain_double(pa) and cnp.PyArray_NDIM(ta) == cnp.PyArray_NDIM(pa)
                and 1 <= cnp.PyArray_NDIM(pa) <= 2
                and cnp.PyArray_DIMS(ta)[0] == cnp.PyArray_DIMS(pa)[0]
                and cnp.PyArray_SIZE(ta) == cnp.PyArray_SIZE(pa)):
            return False
        if cnp.PyArray_NDIM(pa) == 2 and (cnp.PyArray_DIMS(ta)[1] != cnp.PyArray_DIMS(pa)[1]
                                          or cnp.PyArray_DIMS(pa)[1] == 1):
            return False                    # (n, 1) meets the rank rules: not here
        n = cnp.PyArray_DIMS(pa)[0]
        run = cnp.PyArray_SIZE(pa) // n if n > 0 else 0
        if n == 0 or run == 0:
            return False
        if w is not None:
            if not cnp.PyArray_CheckExact(w):
                return False
            wa = <cnp.ndarray>w
            if not (plain_double(wa) and cnp.PyArray_NDIM(wa) == cnp.PyArray_NDIM(pa)
                    and cnp.PyArray_SIZE(wa) == cnp.PyArray_SIZE(pa)
                    and cnp.PyArray_DIMS(wa)[0] == n):
                return False
            wp = <const double*>cnp.PyArray_DATA(wa)
        if self.S.kind != WIN_COUNT:
            if time is None or not cnp.PyArray_CheckExact(time):
                return False
            xa = <cnp.ndarray>time
            if not (cnp.PyArray_ISCARRAY_RO(xa) and cnp.PyArray_ISNOTSWAPPED(xa)
                    and cnp.PyArray_NDIM(xa) == 1 and cnp.PyArray_DIMS(xa)[0] == n):
                return False
            typenum = cnp.PyArray_TYPE(xa)
            if self.S.kind == WIN_INT_TIME:
                if not (typenum == cnp.NPY_INT64 or (typenum == cnp.NPY_DATETIME
                                                     and xa.dtype == NS_DATETIME)):
                    return False
                tip = <const int64_t*>cnp.PyArray_DATA(xa)
                last_i = self.W.items[(self.W.tail - 1) & (self.W.cap - 1)].ti if have_last \
                    else tip[0]
                for i in range(n):
                    if tip[i] < last_i or tip[i] == NAT:
                        return False
                    last_i = tip[i]
            else:
                if typenum != cnp.NPY_DOUBLE:
                    return False
                tfp = <const double*>cnp.PyArray_DATA(xa)
                last_f = self.W.items[(self.W.tail - 1) & (self.W.cap - 1)].tf if have_last \
                    else tfp[0]
                for i in range(n):
                    if not (tfp[i] >= last_f and isfinite(tfp[i])):
                        return False
                    last_f = tfp[i]
        if policy == 2 and (has_nan(<const double*>cnp.PyArray_DATA(ta), n * run)
                            or has_nan(<const double*>cnp.PyArray_DATA(pa), n * run)
                            or (wp != NULL and has_nan(wp, n * run))):
            return False
        self.read_out = None
        if push_samples(&self.W, &self.S, <const double*>cnp.PyArray_DATA(ta),
                        <const double*>cnp.PyArray_DATA(pa), wp, n, run, policy == 1,
                        False, tip, tfp) < 0:
            raise MemoryError("rolling window")
        return True

    def roll(self, cnp.ndarray t, cnp.ndarray p, cnp.ndarray w, Py_ssize_t run, bint omit,
             cnp.ndarray order, Py_ssize_t k0, Py_ssize_t k1, cnp.ndarray ti, cnp.ndarray tf,
             int64_t min_samples, cnp.ndarray rmse, cnp.ndarray count, cnp.ndarray weight_sum,
             cnp.ndarray omitted):
        """rolling_values for one series continuing this window: the samples
        order[k0:k1] of the operands pushed in turn, each one's value (and
        count, weight_sum) written at its position (the command line's
        streaming, one window per open series)."""
        cdef RollOut O
        cdef int failed
        cdef const double* tp = <const double*>data_or_null(t)
        cdef const double* pp = <const double*>data_or_null(p)
        cdef const double* wp = <const double*>data_or_null(w)
        cdef const int64_t* tip = <const int64_t*>data_or_null(ti)
        cdef const double* tfp = <const double*>data_or_null(tf)
        cdef const int64_t* op = <const int64_t*>data_or_null(order)
        O.rmse = <double*>cnp.PyArray_DATA(rmse)
        O.count = <int64_t*>cnp.PyArray_DATA(count)
        O.weight_sum = <double*>cnp.PyArray_DATA(weight_sum)
        O.omitted = <int64_t*>cnp.PyArray_DATA(omitted)
        O.min_samples = min_samples
        self.read_out = None
        with nogil:
            failed = roll_series(&self.W, &self.S, tp, pp, wp, run, omit, False, op, k0, k1, tip,
                                 tfp, &O)
        if failed:
            raise MemoryError("rolling window")

    def push_items(self, double[:, ::1] sums, int64_t[:, ::1] counts, cnp.ndarray ti,
                   cnp.ndarray tf):
        """Push ready items: rows of sums (total hi, lo, weight hi, lo) and
        counts (elements, omitted), with their times."""
        cdef WinItem it
        cdef Py_ssize_t i
        self.read_out = None
        for i in range(sums.shape[0]):
            it.total.hi = sums[i, 0]
            it.total.lo = sums[i, 1]
            it.weight.hi = sums[i, 2]
            it.weight.lo = sums[i, 3]
            it.elements = counts[i, 0]
            it.omitted = counts[i, 1]
            it.ti = 0 if ti is None else (<const int64_t*>cnp.PyArray_DATA(ti))[i]
            it.tf = 0.0 if tf is None else (<const double*>cnp.PyArray_DATA(tf))[i]
            if window_push(&self.W, &it) < 0:
                raise MemoryError("rolling window")
            window_evict(&self.W, &self.S)

    def value(self):
        """The RMSE of the samples in the window (0.0 empty)."""
        cdef double ws
        return window_value(&self.W, &ws)

    def value_as(self, cnp.dtype descr):
        """value() as a NumPy scalar of the float dtype ``descr``, built in C
        and kept until the window changes (result()'s fast path)."""
        cdef double ws
        if self.read_out is not None and self.read_descr is descr:
            return self.read_out
        out = float_scalar(window_value(&self.W, &ws), descr)
        self.read_out = out
        self.read_descr = descr
        return out

    def weight_sum(self):
        cdef double ws
        window_value(&self.W, &ws)
        return ws

    @property
    def elements(self):
        return self.W.elements

    @property
    def omitted(self):
        return self.W.omitted

    @property
    def samples(self):
        return self.W.tail - self.W.head

    @property
    def valid(self):
        """Samples in the window with at least one kept element."""
        return self.W.valid

    def last_time(self):
        """The newest sample's time (None when empty)."""
        cdef const WinItem* it
        if self.W.tail == self.W.head:
            return None
        it = &self.W.items[(self.W.tail - 1) & (self.W.cap - 1)]
        return it.ti if self.S.kind == WIN_INT_TIME else it.tf

    def clear(self):
        self.read_out = None
        window_clear(&self.W)

    def get_raw(self):
        """(front, sums, counts, ti, tf): how many of the items are front,
        then the items, oldest first, as arrays; set_raw restores them
        bitwise (the suffix and back sums are recomputed from the items,
        exactly as they were formed)."""
        cdef Py_ssize_t n = self.W.tail - self.W.head, k
        cdef int64_t m = self.W.cap - 1
        cdef WinItem* it
        sums = np.empty((n, 4), dtype=np.float64)
        counts = np.empty((n, 2), dtype=np.int64)
        ti = np.empty(n, dtype=np.int64)
        tf = np.empty(n, dtype=np.float64)
        cdef double[:, ::1] s = sums
        cdef int64_t[:, ::1] c = counts
        for k in range(n):
            it = &self.W.items[(self.W.head + k) & m]
            s[k, 0] = it.total.hi
            s[k, 1] = it.total.lo
            s[k, 2] = it.weight.hi
            s[k, 3] = it.weight.lo
            c[k, 0] = it.elements
            c[k, 1] = it.omitted
            ti[k] = it.ti
            tf[k] = it.tf
        return self.W.mid - self.W.head, sums, counts, ti, tf

    def set_raw(self, Py_ssize_t front, double[:, ::1] sums, int64_t[:, ::1] counts,
                int64_t[::1] ti, double[::1] tf):
        """Restore a get_raw() state (checked by the caller)."""
        cdef WinItem it
        cdef Py_ssize_t k, n = sums.shape[0]
        self.read_out = None
        window_clear(&self.W)
        for k in range(n):
            it.total.hi = sums[k, 0]
            it.total.lo = sums[k, 1]
            it.weight.hi = sums[k, 2]
            it.weight.lo = sums[k, 3]
            it.elements = counts[k, 0]
            it.omitted = counts[k, 1]
            it.ti = ti[k]
            it.tf = tf[k]
            if k == front:
                window_flip(&self.W)
            if window_push(&self.W, &it) < 0:
                raise MemoryError("rolling window")
        if front == n:
            window_flip(&self.W)
