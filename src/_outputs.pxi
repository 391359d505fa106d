# Per-output sums of one batch (multioutput='raw_values', issue 20): the
# squared errors of a batch read as rows of d outputs (the last axis), each
# output with its own compensated total, weight sum and omitted count,
# folded into one Accumulator per output.
#
# The lanes are _fold.pxi's, with the same per-element work (sq_into /
# wsq_into), so an output's sum has the accuracy of the pooled one.  Which
# lane holds which output:
# - no per-row weights and a short cycle: the chunk is read flat, as the
#   pooled fold reads it, in pieces of LANES elements, piece q into
#   lanes[q % m] (m = d / gcd(d, LANES) Lanes, a cycle of LANES * m
#   elements, a multiple of d), so lane l of lanes[k] holds output
#   (k * LANES + l) % d.  When d divides LANES (m = 1) this is the pooled
#   loop itself, at its speed;
# - otherwise row by row, the row's k-th block of LANES outputs into its own
#   Lanes, output j in lanes[j // LANES].s[j % LANES].
# Chunks are CHUNK elements rounded down to whole cycles (or rows; at least
# one); each chunk's lanes are folded into the outputs' Partials in chunk
# order.
# The fold is serial: its bits do not depend on num_threads.

from libc.stdlib cimport malloc, free

cdef enum:
    MAX_CYCLE = 64         # flat reading for cycles of at most this many Lanes


cdef inline Py_ssize_t flat_cycle(const BatchSpec* B, Py_ssize_t d) noexcept nogil:
    """The Lanes of a flat cycle (d / gcd(d, LANES)), or 0: read row by row."""
    cdef Py_ssize_t a = d, b = LANES, r
    while b:
        r = a % b
        a = b
        b = r
    if B.w_mode == PER_ROW or d // a > MAX_CYCLE:
        return 0
    return d // a


cdef inline void output_piece(policy* how, const BatchSpec* B, Py_ssize_t i, Py_ssize_t n,
                              const t_real* t, const p_real* p, const w_real* w,
                              Lanes* L) noexcept nogil:
    """Flat elements [i, i + n) into L, element i + k to lane k % LANES."""
    if B.w_mode == NONE or B.w_mode == SCALAR:
        run_unweighted(how, <NoInterval*>NULL, t + i, p + i, n, L)
    elif B.w_mode == FULL:
        run_weighted(how, <NoInterval*>NULL, t + i, p + i, w + weight_index(FULL, i, B.run),
                     1, n, L)
    else:  # PER_ROW: one weight per row of B.run == d elements
        run_weighted(how, <NoInterval*>NULL, t + i, p + i, w + weight_index(PER_ROW, i, B.run),
                     0, n, L)


cdef inline void lane_into(Partial* out, const Lanes* L, Py_ssize_t l) noexcept nogil:
    add_dd(&out.total, L.s[l], L.c[l] if isfinite(L.s[l]) else 0.0)
    add_dd(&out.weight, L.ws[l], L.wc[l] if isfinite(L.ws[l]) else 0.0)
    out.omitted += L.om[l]


cdef void outputs_chunk(policy* how, const BatchSpec* B, Py_ssize_t d, Py_ssize_t start,
                        Py_ssize_t stop, const t_real* t, const p_real* p, const w_real* w,
                        Lanes* lanes, Py_ssize_t blocks, Py_ssize_t m,
                        Partial* chunk) noexcept nogil:
    """Rows [start, stop) (flat element indices, whole rows; ``start`` a
    multiple of the cycle when ``m``) into one Partial per output
    (``chunk``, d of them, overwritten)."""
    cdef Py_ssize_t r, k, j, n, l
    cdef double w_scalar = B.w_scalar
    cdef int64_t rows = (stop - start) // d
    memset(lanes, 0, blocks * sizeof(Lanes))
    memset(chunk, 0, d * sizeof(Partial))
    if m == 1:
        output_piece(how, B, start, stop - start, t, p, w, lanes)
        for k in range(LANES):
            lane_into(&chunk[k % d], lanes, k)
    elif m:
        r = start
        k = 0
        while r < stop:
            n = stop - r if stop - r < LANES else LANES
            output_piece(how, B, r, n, t, p, w, &lanes[k])
            r += n
            k = k + 1 if k + 1 < m else 0
        for k in range(m):
            for l in range(LANES):
                lane_into(&chunk[(k * LANES + l) % d], &lanes[k], l)
    else:
        r = start
        while r < stop:
            for k in range(blocks):
                n = d - k * LANES
                output_piece(how, B, r + k * LANES, n if n < LANES else LANES, t, p, w,
                             &lanes[k])
            r += d
        for j in range(d):
            lane_into(&chunk[j], &lanes[j // LANES], j % LANES)
    if B.w_mode == SCALAR:              # as chunk_partial: one weight for the batch
        for j in range(d):
            if (policy is Omit or policy is ExactOmit) and w_scalar != w_scalar:
                memset(&chunk[j], 0, sizeof(Partial))
                chunk[j].omitted = rows
            elif w_scalar == 0.0:
                memset(&chunk[j], 0, sizeof(Partial))
            else:
                scale_dd(&chunk[j].total, w_scalar)
                chunk[j].weight.hi = w_scalar * <double>(rows - chunk[j].omitted)
                chunk[j].weight.lo = fma(w_scalar, <double>(rows - chunk[j].omitted),
                                         -chunk[j].weight.hi)


cdef void outputs_fold(policy* how, const BatchSpec* B, Py_ssize_t d, const t_real* t,
                       const p_real* p, const w_real* w, Lanes* lanes, Py_ssize_t blocks,
                       Partial* chunk, Partial* out) noexcept nogil:
    """The whole batch, chunk by chunk, into ``out`` (d Partials)."""
    cdef Py_ssize_t m = flat_cycle(B, d)
    cdef Py_ssize_t cycle = LANES * m if m else d
    cdef Py_ssize_t step = (CHUNK // cycle) * cycle if CHUNK >= cycle else cycle
    cdef Py_ssize_t start, stop, j
    memset(out, 0, d * sizeof(Partial))
    start = 0
    while start < B.size:
        stop = start + step if start + step < B.size else B.size
        outputs_chunk(how, B, d, start, stop, t, p, w, lanes, blocks, m, chunk)
        for j in range(d):
            add_partial(&out[j], &chunk[j])
        start = stop


cdef void outputs_policy(const BatchSpec* B, Py_ssize_t d, const t_real* t, const p_real* p,
                         const w_real* w, Lanes* lanes, Py_ssize_t blocks, Partial* chunk,
                         Partial* out) noexcept nogil:
    if B.policy == OMIT:
        outputs_fold(<Omit*>NULL, B, d, t, p, w, lanes, blocks, chunk, out)
    elif B.policy == EXACT_DIFF:
        outputs_fold(<ExactDiff*>NULL, B, d, t, p, w, lanes, blocks, chunk, out)
    elif B.policy == EXACT_OMIT:
        outputs_fold(<ExactOmit*>NULL, B, d, t, p, w, lanes, blocks, chunk, out)
    elif B.w_mode == FULL or B.w_mode == PER_ROW:   # a zero weight removes its element
        outputs_fold(<Careful*>NULL, B, d, t, p, w, lanes, blocks, chunk, out)
    else:
        outputs_fold(<Propagate*>NULL, B, d, t, p, w, lanes, blocks, chunk, out)


cdef void outputs_w(const BatchSpec* B, Py_ssize_t d, const t_real* t, const p_real* p,
                    Lanes* lanes, Py_ssize_t blocks, Partial* chunk,
                    Partial* out) noexcept nogil:
    if B.w64:
        outputs_policy(B, d, t, p, <const double*>B.w, lanes, blocks, chunk, out)
    else:
        outputs_policy(B, d, t, p, <const float*>B.w, lanes, blocks, chunk, out)


cdef void outputs_p(const BatchSpec* B, Py_ssize_t d, const t_real* t, Lanes* lanes,
                    Py_ssize_t blocks, Partial* chunk, Partial* out) noexcept nogil:
    if B.p64:
        outputs_w(B, d, t, <const double*>B.p, lanes, blocks, chunk, out)
    else:
        outputs_w(B, d, t, <const float*>B.p, lanes, blocks, chunk, out)


def fold_outputs(Batch batch, Py_ssize_t d, list accs):
    """Fold ``batch`` (y_true full, weights none, one, full or one per row
    of ``d``; no repeat, divisor or fixed count: rmse_ext._outputs checks)
    into ``accs``, one Accumulator per output, output j being the flat
    elements i with i % d == j."""
    cdef BatchSpec spec = batch.spec
    cdef Py_ssize_t blocks = max((d + LANES - 1) // LANES, flat_cycle(&spec, d)), j
    cdef Lanes* lanes = <Lanes*>malloc(blocks * sizeof(Lanes))
    cdef Partial* chunk = <Partial*>malloc(d * sizeof(Partial))
    cdef Partial* out = <Partial*>malloc(d * sizeof(Partial))
    cdef Accumulator acc
    if lanes == NULL or chunk == NULL or out == NULL:
        free(lanes)
        free(chunk)
        free(out)
        raise MemoryError()
    with nogil:
        if spec.t64:
            outputs_p(&spec, d, <const double*>spec.t, lanes, blocks, chunk, out)
        else:
            outputs_p(&spec, d, <const float*>spec.t, lanes, blocks, chunk, out)
    spec.size = spec.size // d if d else 0          # each output's elements
    for j in range(d):
        acc = <Accumulator>accs[j]
        acc.absorb(&out[j], &spec)
    free(lanes)
    free(chunk)
    free(out)
