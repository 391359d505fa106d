# Error-free building blocks: double-double (DD) arithmetic and the exact
# product error.  Everything the accumulators need, nothing about batches.

from libc.math cimport fma, sqrt, isfinite, ilogb, ldexp
from libc.stdint cimport int64_t, uint64_t

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

    /* a * b - z, rounded once, where p = fl(a * b) and p - z is exact (the
       TwoSum term of p): one FMA, or without one the exact p - z plus the
       product's exact error (Dekker), rounded twice. */
    static inline double rmse_prod_minus(double a, double b, double p, double z) {
    #if RMSE_HARDWARE_FMA
        (void)p;
        return fma(a, b, -z);
    #else
        return (p - z) + rmse_two_prod_err(a, b, p);
    #endif
    }
    """
    int rmse_cpu_has_avx2_fma() nogil
    int RMSE_HARDWARE_FMA
    double add_on_fma "rmse_add_on_fma"(double a, double b) nogil
    double sub_on_fma "rmse_sub_on_fma"(double a, double b) nogil
    double two_prod_err "rmse_two_prod_err"(double a, double b, double p) nogil
    double prod_minus "rmse_prod_minus"(double a, double b, double p, double z) nogil
    double mul_add "rmse_mul_add"(double a, double b, double c) nogil


cdef struct DD:
    double hi
    double lo


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


cdef inline DD normalized(DD x) noexcept nogil:
    """The same value with |lo| <= ulp(hi) / 2 (hi is then the rounded sum)."""
    cdef DD out
    out.hi = x.hi + x.lo
    out.lo = two_sum_err(x.hi, x.lo, out.hi) if isfinite(out.hi) else 0.0
    return out


cdef inline void add_count_dd(DD* acc, uint64_t n, double scale) noexcept nogil:
    """acc += n * scale exactly for a power-of-two scale: n is cut into two
    32-bit halves, each an exact double."""
    add_dd(acc, <double>(n >> 32) * 4294967296.0 * scale, 0.0)
    add_dd(acc, <double>(n & 0xFFFFFFFFu) * scale, 0.0)


cdef enum:
    NORMAL_QUOTIENT_MIN_EXP = -969   # 2**-969: the Newton residual below stays normal


cdef inline double quotient_dd(DD s, DD c) noexcept nogil:
    """s / c (normalized, c.hi != 0, both finite) to about u**2 relative:
    one Newton step on the quotient of the high parts."""
    cdef double q = s.hi / c.hi
    cdef double r = fma(-q, c.hi, s.hi) + s.lo - q * c.lo
    return q + r / c.hi


cdef inline double sqrt_of_ratio(DD s, DD c) noexcept nogil:
    """sqrt(s / c) for two double-doubles; 0.0 when c is 0 (Keras's
    divide_no_nan, semantics 1).  A ratio outside the normal range whose
    square root is inside it (a total of 1e-320 over a count of 4, or
    1e300 over 1e-300) is formed from s and c scaled by powers of two,
    so the root keeps full precision instead of underflowing to 0 or
    overflowing to inf; inf and NaN propagate."""
    cdef double q
    cdef int es, ec, half
    s = normalized(s)
    c = normalized(c)
    if c.hi == 0.0:
        return 0.0
    q = s.hi / c.hi
    if q == 0.0 and s.hi == 0.0 or not (isfinite(s.hi) and isfinite(c.hi)):
        return sqrt(q)
    if isfinite(q) and ilogb(q) > NORMAL_QUOTIENT_MIN_EXP:
        return sqrt(quotient_dd(s, c))
    # s = s' * 2**es, c = c' * 2**ec with es - ec even and s', c' near 1
    es = ilogb(s.hi)
    ec = ilogb(c.hi)
    if (es - ec) & 1:
        es -= 1
    half = (es - ec) // 2
    s.hi, s.lo = ldexp(s.hi, -es), ldexp(s.lo, -es)
    c.hi, c.lo = ldexp(c.hi, -ec), ldexp(c.lo, -ec)
    return ldexp(sqrt(quotient_dd(s, c)), half)
