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

from libc.stdlib cimport malloc, free
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
        return W.items[W.head & m].ti <= W.items[(W.tail - 1) & m].ti - S.span_i
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
                             Py_ssize_t run, bint omit, WinItem* it) noexcept nogil:
    """The item of the `run` elements at t, p (w: their weights, or NULL).
    A zero weight removes its element (semantics 5); under omit a NaN in
    t, p or w omits it."""
    cdef Py_ssize_t k
    cdef double s = 0.0, c = 0.0, ws = 0.0, wc = 0.0, sq, e, wk
    cdef int64_t kept = 0, omitted = 0
    for k in range(run):
        if omit and not ((t[k] == t[k]) & (p[k] == p[k]) & (w == NULL or w[k] == w[k])):
            omitted += 1
            continue
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
                          Py_ssize_t run, bint omit, WinItem* it) noexcept nogil:
    """sample_item, with the one-element sample inlined (the hot case)."""
    cdef double sq, e, wk
    if run != 1 or omit:
        sample_item(t, p, w, run, omit, it)
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
    cdef double inv = 1.0 / c_hi
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
                     const double* w, Py_ssize_t run, bint omit,
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
        one_item(t + i * run, p + i * run, wi, run, omit, it)
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
# Sample-count windows of one-element samples: the block-suffix scheme
# ---------------------------------------------------------------------------
#
# For a window of the last L samples, cut a series into blocks of L.  The
# window ending at offset j of a block is the previous block's samples from
# j + 1 on (its suffix sum S[j + 1]) plus this block's first j + 1 (the
# running prefix sum P): S[j + 1] + P, two double-double sums of samples in
# the window and nothing else -- no subtraction, as the two-stacks window,
# with fewer steps per sample: one pass gathers the squared errors, one
# forms P and S[j + 1] + P, one (vectorised) takes the roots, one forms the
# block's suffix sums for the next block.  rolling_values takes this path
# for count windows of one-element samples without 'omit'; it holds
# BLOCK_ARRAYS * (L + 1) doubles.

cdef enum:
    BLOCK_MAX = 1 << 16        # longer count windows go through the two-stacks window
    BLOCK_ARRAYS = 16


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


cdef int roll_count_blocks(const double* t, const double* p, const double* w,
                           const int64_t* order, Py_ssize_t k0, Py_ssize_t k1,
                           int64_t L, const RollOut* O, double* buf) noexcept nogil:
    """The values of samples order[k0:k1] (k0:k1 without an order) of one
    series for a window of the last L samples; buf holds BLOCK_ARRAYS *
    (L + 1) doubles.  Returns 0."""
    cdef Py_ssize_t stride = L + 1
    cdef double* x_hi = buf
    cdef double* x_lo = buf + stride
    cdef double* xw = buf + 2 * stride
    cdef double* s_hi = buf + 3 * stride
    cdef double* s_lo = buf + 4 * stride
    cdef double* sw_hi = buf + 5 * stride
    cdef double* sw_lo = buf + 6 * stride
    cdef double* p_hi = buf + 7 * stride
    cdef double* p_lo = buf + 8 * stride
    cdef double* pw_hi = buf + 9 * stride
    cdef double* pw_lo = buf + 10 * stride
    cdef double* c_hi = buf + 11 * stride
    cdef double* c_lo = buf + 12 * stride
    cdef double* root = buf + 13 * stride
    cdef double* usual = buf + 14 * stride
    cdef double* tot_hi = buf + 15 * stride       # the fix-ups' totals
    cdef Py_ssize_t n = k1 - k0, b0, m, j, i, g
    cdef double ph, pl, wh, wl, th, tl, least = <double>O.min_samples
    cdef DD T, C, S, Sw
    cdef int64_t count
    for j in range(stride):
        s_hi[j] = 0.0
        s_lo[j] = 0.0
        sw_hi[j] = 0.0
        sw_lo[j] = 0.0
    b0 = 0
    while b0 < n:
        m = L if n - b0 > L else n - b0
        if order == NULL:                           # the block's items (vectorised)
            for j in range(m):
                item_of(p[k0 + b0 + j], t[k0 + b0 + j], w, k0 + b0 + j, &x_hi[j], &x_lo[j],
                        &xw[j])
        else:
            for j in range(m):
                if j + GATHER_AHEAD < m:            # scattered rows: ask for them early
                    g = order[k0 + b0 + j + GATHER_AHEAD]
                    prefetch_ahead(t + g, 0)
                    prefetch_ahead(p + g, 0)
                    if w != NULL:
                        prefetch_ahead(w + g, 0)
                i = order[k0 + b0 + j]
                item_of(p[i], t[i], w, i, &x_hi[j], &x_lo[j], &xw[j])
        ph = 0.0                                    # the running prefix sums
        pl = 0.0
        wh = 0.0
        wl = 0.0
        for j in range(m):
            add_lane(x_hi[j], x_lo[j], &ph, &pl)
            p_hi[j] = ph
            p_lo[j] = pl
            if w != NULL:
                add_exact_lane(xw[j], &wh, &wl)
                pw_hi[j] = wh
                pw_lo[j] = wl
        if w != NULL:                               # the windows' weights
            for j in range(m):
                dd_sum_into(sw_hi[j + 1], sw_lo[j + 1], pw_hi[j], pw_lo[j], &c_hi[j], &c_lo[j])
        else:
            for j in range(m):
                c_hi[j] = <double>(b0 + j + 1 if b0 + j + 1 < L else L)
                c_lo[j] = 0.0
        for j in range(m):                          # vectorised: S[j + 1] + P, and its root
            dd_sum_into(s_hi[j + 1], s_lo[j + 1], p_hi[j], p_lo[j], &th, &tl)
            tot_hi[j] = th
            p_lo[j] = tl
            root[j] = usual_root(th, tl, c_hi[j], c_lo[j], &usual[j])
            if <double>(b0 + j + 1 if b0 + j + 1 < L else L) < least:
                root[j] = NAN
                usual[j] = 1.0
        for j in range(m):                          # the rare rest: inf, NaN, weight 0, ...
            if usual[j] != 1.0:
                T.hi = tot_hi[j]
                T.lo = p_lo[j] if isfinite(T.hi) else 0.0
                C.hi = c_hi[j]
                C.lo = c_lo[j] if isfinite(C.hi) else 0.0
                root[j] = sqrt_of_ratio(T, C)
        if order == NULL:
            for j in range(m):
                O.rmse[k0 + b0 + j] = root[j]
        else:
            for j in range(m):
                O.rmse[order[k0 + b0 + j]] = root[j]
        if O.count != NULL:
            for j in range(m):
                i = k0 + b0 + j if order == NULL else order[k0 + b0 + j]
                count = b0 + j + 1 if b0 + j + 1 < L else L
                O.count[i] = count
                O.weight_sum[i] = c_hi[j] + c_lo[j] if isfinite(c_hi[j]) else c_hi[j]
                O.omitted[i] = 0
        if m == L:                                  # the block's suffix sums, newest first
            dd_zero(&S)
            dd_zero(&Sw)
            j = m
            while j > 0:
                j -= 1
                add_lane(x_hi[j], x_lo[j], &S.hi, &S.lo)
                s_hi[j] = S.hi
                s_lo[j] = S.lo
                if w != NULL:
                    add_exact_lane(xw[j], &Sw.hi, &Sw.lo)
                    sw_hi[j] = Sw.hi
                    sw_lo[j] = Sw.lo
        b0 += m
    return 0


cdef int push_samples(Window* W, const WinSpec* S, const double* t, const double* p,
                      const double* w, Py_ssize_t n, Py_ssize_t run, bint omit,
                      const int64_t* ti, const double* tf) noexcept nogil:
    """Push n samples (the streaming class); -1 out of memory."""
    cdef WinItem* it
    cdef Py_ssize_t i
    for i in range(n):
        it = window_slot(W)
        if it == NULL:
            return -1
        one_item(t + i * run, p + i * run, w + i * run if w != NULL else NULL, run, omit, it)
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
                   cnp.ndarray weight_sum=None, cnp.ndarray omitted=None):
    """The rolling RMSE of every sample (rmse_ext.rolling): t, p (and w, or
    None) C-contiguous float64, `run` elements per sample; the series are
    order[starts[g]:starts[g+1]] (order None: one series, starts None); ti
    (int64) or tf (float64) the times of a time window (kind 1 or 2), else
    None.  Writes rmse (and count, weight_sum, omitted when given) at each
    sample's position.  The Python side has checked everything."""
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
    cdef double* buf
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
    if kind == WIN_COUNT and run == 1 and not omit and size <= BLOCK_MAX:
        buf = <double*>malloc(BLOCK_ARRAYS * (size + 1) * sizeof(double))
        if buf == NULL:
            raise MemoryError("rolling window")
        with nogil:
            if order_p == NULL:
                roll_count_blocks(tp, pp, wp, NULL, 0, n, size, &O, buf)
            else:
                for g in range(groups):
                    roll_count_blocks(tp, pp, wp, order_p, starts_p[g], starts_p[g + 1], size,
                                      &O, buf)
        free(buf)
        return
    if window_init(&W, size + 1 if kind == WIN_COUNT else 64, w is not None) < 0:
        raise MemoryError("rolling window")
    with nogil:
        if order_p == NULL:
            window_clear(&W)
            failed = roll_series(&W, &S, tp, pp, wp, run, omit, NULL, 0, n, tip, tfp, &O)
        else:
            for g in range(groups):
                window_clear(&W)
                failed = roll_series(&W, &S, tp, pp, wp, run, omit, order_p,
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

    def __cinit__(self, int kind, int64_t size, int64_t span_i, double span_f):
        spec_of(&self.S, kind, size, span_i, span_f)
        if window_init(&self.W, size + 1 if kind == WIN_COUNT else 64) < 0:
            raise MemoryError("rolling window")

    def __dealloc__(self):
        window_free(&self.W)

    def push(self, cnp.ndarray t, cnp.ndarray p, cnp.ndarray w, Py_ssize_t n,
             Py_ssize_t run, bint omit, cnp.ndarray ti, cnp.ndarray tf):
        """Push n samples of C-contiguous float64 t, p (w or None), run
        elements each, with their times (int64 ti or float64 tf, or None)."""
        cdef WinItem it
        cdef Py_ssize_t i
        cdef const double* tp = <const double*>data_or_null(t)
        cdef const double* pp = <const double*>data_or_null(p)
        cdef const double* wp = <const double*>data_or_null(w)
        cdef const int64_t* tip = <const int64_t*>data_or_null(ti)
        cdef const double* tfp = <const double*>data_or_null(tf)
        cdef int failed
        if n * run > GIL_FREE_ABOVE:
            with nogil:
                failed = push_samples(&self.W, &self.S, tp, pp, wp, n, run, omit, tip, tfp)
        else:
            failed = push_samples(&self.W, &self.S, tp, pp, wp, n, run, omit, tip, tfp)
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
        if push_samples(&self.W, &self.S, <const double*>cnp.PyArray_DATA(ta),
                        <const double*>cnp.PyArray_DATA(pa), wp, n, run, policy == 1,
                        tip, tfp) < 0:
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
        with nogil:
            failed = roll_series(&self.W, &self.S, tp, pp, wp, run, omit, op, k0, k1, tip, tfp,
                                 &O)
        if failed:
            raise MemoryError("rolling window")

    def push_items(self, double[:, ::1] sums, int64_t[:, ::1] counts, cnp.ndarray ti,
                   cnp.ndarray tf):
        """Push ready items: rows of sums (total hi, lo, weight hi, lo) and
        counts (elements, omitted), with their times."""
        cdef WinItem it
        cdef Py_ssize_t i
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
