# The streaming Poisson bootstrap of the "bootstrap" interval (docs/intervals.md).
#
# Unit number ``index`` of a stream (its flat position among all units the
# stream was given, omitted ones included) gets n_boot replicate weights
# k_b ~ Poisson(1), b = 0 .. n_boot-1, from a counter-based generator:
#   key  = mix64(mix64(seed + G) + stream * S)          one per stream
#   h    = mix64(key + (index + 1) * G)                  SplitMix64, per unit
#   u_b  = fmix32((lo32(h) + b * G32) ^ hi32(h))         MurmurHash3's finaliser
#   k_b  = #{j : u_b >= POISSON1_CDF[j]}                 inversion of Poisson(1)
# where POISSON1_CDF[j] = round(2**32 * P(K <= j)), j = 0 .. 11 (so k_b <= 12;
# P(K > 12) < 2**-32).  The
# draws depend only on (seed, stream, index, b): the same for any batch split
# and any thread count.  Replicate b keeps sum k_b*w*x and sum k_b*w; its RMSE
# is sqrt of their ratio.  Sums run as TwoSum pairs (boot_unit_pairs) over
# blocks of BOOT_BLOCK units and are folded into double-doubles (add_dd)
# between blocks: exact to O(u**2), so the same bits however the batches cut
# the blocks (issue 18: any split gives the same bits).

from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.math cimport NAN

cdef extern from *:
    """
    #include <stdint.h>
    static const uint32_t rmse_poisson1_cdf[12] = {
        0x5e2d58d9u, 0xbc5ab1b1u, 0xeb715e1eu, 0xfb239797u, 0xff1025f6u, 0xffd90f3cu,
        0xfffa8b72u, 0xffff540cu, 0xffffed1fu, 0xfffffe21u, 0xffffffd5u, 0xfffffffcu};

    static inline uint64_t rmse_mix64(uint64_t z) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    static inline uint64_t rmse_stream_key(uint64_t seed, uint64_t stream) {
        return rmse_mix64(rmse_mix64(seed + 0x9E3779B97F4A7C15ULL)
                          + stream * 0xD1B54A32D192ED03ULL);
    }

    static inline uint64_t rmse_unit_hash(uint64_t key, uint64_t index) {
        return rmse_mix64(key + (index + 1) * 0x9E3779B97F4A7C15ULL);
    }

    /* Replicate weight b of the unit with hash h. */
    static inline int rmse_poisson1(uint64_t h, uint32_t b) {
        uint32_t u = ((uint32_t)h + b * 0x9E3779B9u) ^ (uint32_t)(h >> 32);
        int k = 0, j;
        u ^= u >> 16; u *= 0x85EBCA6Bu; u ^= u >> 13; u *= 0xC2B2AE35u; u ^= u >> 16;
        for (j = 0; j < 12; j++) k += u >= rmse_poisson1_cdf[j];
        return k;
    }

    /* tot[b] += k_b * wx, wt[b] += k_b * w for every replicate b (a loop the
       compiler vectorises over b). */
    static inline void rmse_boot_unit(uint64_t h, double wx, double w, int n_boot,
                                      double* __restrict tot, double* __restrict wt) {
        const uint32_t lo = (uint32_t)h, hi = (uint32_t)(h >> 32);
        int b, j;
        for (b = 0; b < n_boot; b++) {
            uint32_t u = (lo + (uint32_t)b * 0x9E3779B9u) ^ hi;
            int k = 0;
            u ^= u >> 16; u *= 0x85EBCA6Bu; u ^= u >> 13; u *= 0xC2B2AE35u; u ^= u >> 16;
            for (j = 0; j < 12; j++) k += u >= rmse_poisson1_cdf[j];
            tot[b] += (double)k * wx;
            wt[b] += (double)k * w;
        }
    }

    /* boot_unit into compensated pairs: tot[b] + tot_c[b] += fl(k_b * wx),
       wt[b] + wt_c[b] += fl(k_b * w), each addition error-free (Knuth's
       TwoSum), so a block's sums are the terms' exact sum to O(u**2) and
       do not depend on where the batches cut the blocks; the terms are
       the grouped fold's (replicates_into), so the pooled replicates are
       its overall ones. */
    static inline void rmse_boot_pair(double x, double* __restrict s, double* __restrict c) {
        double sn = *s + x, z = sn - *s;
        *c += (*s - (sn - z)) + (x - z);
        *s = sn;
    }

    static inline void rmse_boot_unit_pairs(uint64_t h, double wx, double w, int n_boot,
                                            double* __restrict tot, double* __restrict wt,
                                            double* __restrict tot_c,
                                            double* __restrict wt_c) {
        const uint32_t lo = (uint32_t)h, hi = (uint32_t)(h >> 32);
        int b, j;
        for (b = 0; b < n_boot; b++) {
            uint32_t u = (lo + (uint32_t)b * 0x9E3779B9u) ^ hi;
            int k = 0;
            u ^= u >> 16; u *= 0x85EBCA6Bu; u ^= u >> 13; u *= 0xC2B2AE35u; u ^= u >> 16;
            for (j = 0; j < 12; j++) k += u >= rmse_poisson1_cdf[j];
            rmse_boot_pair((double)k * wx, &tot[b], &tot_c[b]);
            rmse_boot_pair((double)k * w, &wt[b], &wt_c[b]);
        }
    }
    """
    const uint32_t* POISSON1_CDF "rmse_poisson1_cdf"
    uint64_t stream_key "rmse_stream_key"(uint64_t seed, uint64_t stream) nogil
    uint64_t unit_hash "rmse_unit_hash"(uint64_t key, uint64_t index) nogil
    int poisson1 "rmse_poisson1"(uint64_t h, uint32_t b) nogil
    void boot_unit "rmse_boot_unit"(uint64_t h, double wx, double w, int n_boot,
                                    double* tot, double* wt) nogil
    void boot_unit_pairs "rmse_boot_unit_pairs"(uint64_t h, double wx, double w, int n_boot,
                                                double* tot, double* wt, double* tot_c,
                                                double* wt_c) nogil

cdef enum:
    BOOT_BLOCK = 1024      # units summed in TwoSum pairs before the double-double fold


cdef void boot_run(const p_real* t, const p_real* p, const double* w,
                   Py_ssize_t n, Py_ssize_t cols, int w_mode, double w_scalar,
                   bint omit, uint64_t key, uint64_t first, int n_boot,
                   double* tot, double* wt, DD* state) noexcept nogil:
    """Units 0 .. n-1 (stream indices first .. first+n-1) into the replicate
    double-doubles ``state`` (n_boot totals, then n_boot weight sums);
    tot and wt are n_boot-long scratch, each followed 2 * n_boot words on
    by its compensations (4 * n_boot words from tot)."""
    cdef Py_ssize_t i, b, block = 0, end
    cdef double wv, x
    while block < n:
        end = n if n < block + BOOT_BLOCK else block + BOOT_BLOCK
        memset(tot, 0, 4 * n_boot * sizeof(double))
        for i in range(block, end):
            if unit_at(t, p, w, i, cols, w_mode, w_scalar, omit, &x, &wv):
                boot_unit_pairs(unit_hash(key, first + <uint64_t>i), wv * x, wv, n_boot,
                                tot, wt, tot + 2 * n_boot, wt + 2 * n_boot)
        for b in range(n_boot):
            add_dd(&state[b], tot[b], tot[2 * n_boot + b])
            add_dd(&state[n_boot + b], wt[b], wt[2 * n_boot + b])
        block = end


cdef class Bootstrap:
    """Replicate sums of the streaming Poisson bootstrap: for each of n_boot
    replicates a double-double sum of k*w*x and of k*w.

    >>> import numpy as np
    >>> b = Bootstrap(4, 0, 0)
    >>> b.fold(np.zeros(3), np.array([1.0, 2.0, 3.0]), None, 0, NONE, 0.0, 0, False)
    >>> b.get_raw().shape
    (4, 4)
    """
    cdef readonly int n_boot
    cdef uint64_t key
    cdef cnp.ndarray sums      # (2 * n_boot, 2): DD totals, then DD weight sums

    def __cinit__(self, int n_boot, uint64_t seed, uint64_t stream):
        self.n_boot = n_boot
        self.key = stream_key(seed, stream)
        self.sums = np.zeros((2 * n_boot, 2))

    def fold(self, object t, cnp.ndarray p, object w, Py_ssize_t cols, int w_mode,
             double w_scalar, uint64_t first, bint omit):
        """Fold every unit of p (and t, w) with stream indices first, first+1,
        ...: x = (p - t)**2, or x = p when t is None; t and p share one
        dtype, w is float64 (NONE, SCALAR, FULL, PER_ROW with cols)."""
        cdef const void* tp = data_or_null(t)
        cdef const double* wp = <const double*>data_or_null(w)
        cdef const void* pp = cnp.PyArray_DATA(p)
        cdef bint p64 = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
        cdef Py_ssize_t n = cnp.PyArray_SIZE(p)
        cdef DD* state = <DD*>cnp.PyArray_DATA(self.sums)
        if cols <= 0:
            cols = 1
        cdef double* scratch = <double*>calloc(4 * self.n_boot, sizeof(double))
        if scratch == NULL:
            raise MemoryError()
        with nogil:
            if p64:
                boot_run(<const double*>tp, <const double*>pp, wp, n, cols, w_mode,
                         w_scalar, omit, self.key, first, self.n_boot,
                         scratch, scratch + self.n_boot, state)
            else:
                boot_run(<const float*>tp, <const float*>pp, wp, n, cols, w_mode,
                         w_scalar, omit, self.key, first, self.n_boot,
                         scratch, scratch + self.n_boot, state)
        free(scratch)

    def merge(self, Bootstrap other):
        """Add another stream's replicate sums (same n_boot) into these."""
        cdef DD* mine = <DD*>cnp.PyArray_DATA(self.sums)
        cdef DD* theirs = <DD*>cnp.PyArray_DATA(other.sums)
        cdef Py_ssize_t b
        for b in range(2 * self.n_boot):
            add_dd(&mine[b], theirs[b].hi, theirs[b].lo)

    def replicates(self):
        """Each replicate's weighted mean of the units, sqrt'ed (NaN for a
        replicate that drew no unit)."""
        cdef DD* s = <DD*>cnp.PyArray_DATA(self.sums)
        cdef cnp.ndarray out = np.empty(self.n_boot)
        cdef double* o = <double*>cnp.PyArray_DATA(out)
        cdef Py_ssize_t b
        for b in range(self.n_boot):
            o[b] = sqrt_of_ratio(s[b], s[self.n_boot + b]) if s[self.n_boot + b].hi != 0.0 \
                else NAN
        return out

    def get_raw(self):
        """A copy of the replicate sums: rows of (total_hi, total_lo,
        weight_hi, weight_lo), one per replicate."""
        return np.concatenate([self.sums[:self.n_boot], self.sums[self.n_boot:]], axis=1)

    def set_raw(self, cnp.ndarray raw):
        """Restore from a get_raw() array of shape (n_boot, 4)."""
        self.sums[:self.n_boot] = raw[:, :2]
        self.sums[self.n_boot:] = raw[:, 2:]


def poisson1_table():
    """The 12 thresholds of the Poisson(1) inversion, as Python ints."""
    return [POISSON1_CDF[j] for j in range(12)]


def poisson1_draws(uint64_t seed, uint64_t stream, uint64_t index, int n_boot):
    """The n_boot replicate weights of one unit (for tests and docs)."""
    cdef uint64_t h = unit_hash(stream_key(seed, stream), index)
    return [poisson1(h, <uint32_t>b) for b in range(n_boot)]
