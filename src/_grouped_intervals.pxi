# Per-group confidence-interval sums (docs/grouped.md, docs/intervals.md).
# Included after _grouped.pxi; reuses the interval rooms' per-unit pieces
# (missing, data_or_null, unit_at from _moments.pxi; stream_key, unit_hash
# and the per-unit generator boot_unit from _bootstrap.pxi), the fold's
# branch-free TwoSum (add_exact_lane) and the grouped room's clean() and
# key_moments_into (GROUP_MOMENT_WORDS rows).  The grouped fold sums the
# "normal" moments itself when the units are the batch's squared errors
# (_grouped.pxi); this room folds the others (semantics 3.3's row means).
#
# The units are those of the ungrouped metric (rmse_ext._intervals.units_of):
# x = (p - t)**2, or x = p when t is absent, with weights per w_mode; unit i
# belongs to sample i // inner, whose key gives its row (key - base).  A unit
# with weight exactly 0, or under omit with a NaN operand, is not a unit.
#
# "normal": 12 words per group, the six sums in the order of the ungrouped
# Moments -- sum w, w*x, w*x**2, w**2, w**2*x, w**2*x**2 -- then their six
# compensations.
# "bootstrap": 4*n_boot words per group: the n_boot replicate totals
# sum k*w*x (sums, then compensations), then the replicate weight sums sum
# k*w (sums, then compensations); k = the unit's Poisson(1) draw for that
# replicate, keyed on (seed, stream, first + i) as in _bootstrap.pxi.
#
# Every unit enters its row's pairs on its own, in stream order, so a row's
# bits do not depend on the batch split; threads split the rows (each scans
# every unit, folding those of its rows), so neither on the thread count.
# Pairs are TwoSum lanes: once a sum is inf or NaN its compensation is
# meaningless, and readers drop it (rmse_ext._grouped_intervals.cleaned).

cdef struct GUnits:
    const void* t          # NULL: p holds the units
    const void* p
    const double* w
    Py_ssize_t size
    Py_ssize_t cols        # units per weight (PER_ROW)
    int w_mode
    double w_scalar
    bint omit
    bint p64
    const void* keys
    bint k64
    Py_ssize_t inner       # units per sample
    int64_t base
    # bootstrap only
    int n_boot
    uint64_t stream_key
    uint64_t first         # stream index of unit 0


cdef inline void replicates_into(double* g, const double* draws, int n_boot) noexcept nogil:
    """A unit's k_b*w*x and k_b*w (``draws``, n_boot of each, from boot_unit)
    into a group's replicate sums."""
    cdef int b
    for b in range(n_boot):
        add_exact_lane(draws[b], &g[b], &g[n_boot + b])
    for b in range(n_boot):
        add_exact_lane(draws[n_boot + b], &g[2 * n_boot + b], &g[3 * n_boot + b])


cdef void units_rows(const GUnits* U, const p_real* t, const p_real* p, const g_key* keys,
                     double* rows, Py_ssize_t words, double* draws, int64_t lo,
                     int64_t hi, bint ranged) noexcept nogil:
    """Every unit whose row is in [lo, hi) (all unless ``ranged``) into its
    row: its moments (n_boot 0), else its bootstrap replicates (draws: 2 *
    n_boot words of scratch)."""
    cdef Py_ssize_t i
    cdef int64_t s
    cdef double x, w
    for i in range(U.size):
        s = <int64_t>keys[i if U.inner == 1 else i // U.inner] - U.base
        if ranged and (s < lo or s >= hi):
            continue
        if not unit_at(t, p, U.w, i, U.cols, U.w_mode, U.w_scalar, U.omit, &x, &w):
            continue
        if U.n_boot == 0:
            key_moments_into(x, w, rows + s * words)
        else:   # boot_unit's loop over the replicates vectorises; it adds to 0
            memset(draws, 0, 2 * U.n_boot * sizeof(double))
            boot_unit(unit_hash(U.stream_key, U.first + <uint64_t>i), w * x, w, U.n_boot,
                      draws, draws + U.n_boot)
            replicates_into(rows + s * words, draws, U.n_boot)


cdef void units_dispatch(const GUnits* U, double* rows, Py_ssize_t words, double* draws,
                         int64_t lo, int64_t hi, bint ranged) noexcept nogil:
    """The operand and key width specialisation."""
    if U.p64:
        if U.k64:
            units_rows(U, <const double*>U.t, <const double*>U.p, <const int64_t*>U.keys,
                       rows, words, draws, lo, hi, ranged)
        else:
            units_rows(U, <const double*>U.t, <const double*>U.p, <const int*>U.keys,
                       rows, words, draws, lo, hi, ranged)
    elif U.k64:
        units_rows(U, <const float*>U.t, <const float*>U.p, <const int64_t*>U.keys,
                   rows, words, draws, lo, hi, ranged)
    else:
        units_rows(U, <const float*>U.t, <const float*>U.p, <const int*>U.keys,
                   rows, words, draws, lo, hi, ranged)


cdef struct UnitsJob:
    const GUnits* U
    double* rows
    Py_ssize_t words
    double* draws          # 2 * n_boot words of scratch per part (bootstrap)
    int64_t nrows
    Py_ssize_t parts


cdef void units_job(void* ctx, Py_ssize_t k) noexcept nogil:
    """Part k of the rows: every unit whose row lies in it."""
    cdef UnitsJob* job = <UnitsJob*>ctx
    units_dispatch(job.U, job.rows, job.words, job.draws + k * 2 * job.U.n_boot,
                   job.nrows * k // job.parts, job.nrows * (k + 1) // job.parts, True)


cdef inline void pairs_add(double* g, const double* src, Py_ssize_t half) noexcept nogil:
    """half sums g[0:half] with their compensations g[half:2*half] += src's."""
    cdef Py_ssize_t j
    cdef DD acc, x
    for j in range(half):
        acc.hi, acc.lo = g[j], g[half + j]
        x = clean(src[j], src[half + j])
        add_dd(&acc, x.hi, x.lo)
        g[j], g[half + j] = acc.hi, acc.lo


def group_units_fold(double[:, ::1] state, int64_t nrows, object t, cnp.ndarray p,
                     object w, Py_ssize_t cols, int w_mode, double w_scalar, bint omit,
                     cnp.ndarray keys, Py_ssize_t inner, int64_t base, int threads,
                     int n_boot=0, uint64_t seed=0, uint64_t stream=0, uint64_t first=0):
    """Rows [0, nrows) of the (rows, words) state += the units of p (and t,
    w; as Moments.fold and Bootstrap.fold take them), unit i into the row of
    keys[i // inner] - base: the six moments (n_boot 0), or the sums of
    n_boot replicates drawn on (seed, stream, first + i).  ``threads`` > 1
    splits the rows over the pool (the same bits)."""
    cdef GUnits U
    cdef UnitsJob job
    cdef Py_ssize_t parts = threads if threads > 1 else 1
    cdef cnp.ndarray scratch = np.zeros(2 * n_boot * parts + 1)
    U.t = data_or_null(t)
    U.p = cnp.PyArray_DATA(p)
    U.w = <const double*>data_or_null(w)
    U.size = cnp.PyArray_SIZE(p)
    U.cols = cols if cols > 0 else 1
    U.w_mode = w_mode
    U.w_scalar = w_scalar
    U.omit = omit
    U.p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
    U.keys = cnp.PyArray_DATA(keys)
    U.k64 = cnp.PyArray_ITEMSIZE(keys) == 8
    U.inner = inner if inner > 0 else 1
    U.base = base
    U.n_boot = n_boot
    U.stream_key = stream_key(seed, stream)
    U.first = first
    if U.size == 0 or nrows == 0:
        return
    job.U = &U
    job.rows = &state[0, 0]
    job.words = state.shape[1]
    job.draws = <double*>cnp.PyArray_DATA(scratch)
    job.nrows = nrows
    job.parts = parts
    with nogil:
        if parts == 1:
            units_dispatch(&U, job.rows, job.words, job.draws, 0, 0, False)
        else:
            pool_run(pool_get(), threads - 1, units_job, &job, parts)


def group_merge_pairs(double[:, ::1] state, const int64_t[::1] slots,
                      const double[:, ::1] other, Py_ssize_t half):
    """Row slots[i] of the state += row i of ``other`` (slots may repeat:
    rows pooled), compensated: each block of 2 * half words holds half sums,
    then their compensations."""
    cdef Py_ssize_t i, j, words = state.shape[1]
    for i in range(slots.shape[0]):
        for j in range(0, words, 2 * half):
            pairs_add(&state[slots[i], j], &other[i, j], half)
