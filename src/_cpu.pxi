# What this CPU and its OS can run: CPUID for the instructions, XGETBV for
# the register state the OS saves on a context switch (an OS that does not
# save the ZMM and opmask registers makes AVX-512 unusable on a CPU that has
# it).  rmse_ext._backend picks the kernel build from this.

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #include <cpuid.h>
    static unsigned long long rmse_xcr0(void) {
        unsigned eax, edx;
        __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
        return ((unsigned long long)edx << 32) | eax;
    }
    /* bit 0: AVX2 + FMA usable; bit 1: AVX-512 F + VL usable as well */
    static int rmse_cpu_isa(void) {
        unsigned a, b, c, d;
        unsigned long long xcr0;
        int isa = 0;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
        int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
        if (!(osxsave && avx)) return 0;
        xcr0 = rmse_xcr0();
        if ((xcr0 & 0x6) != 0x6) return 0;          /* XMM + YMM state */
        if (__get_cpuid_max(0, NULL) < 7) return 0;
        __cpuid_count(7, 0, a, b, c, d);
        if (fma && ((b >> 5) & 1)) isa |= 1;        /* AVX2 */
        if ((isa & 1) && ((b >> 16) & 1) && ((b >> 31) & 1)   /* AVX-512 F, VL */
                && (xcr0 & 0xE6) == 0xE6)           /* + opmask, ZMM0-15 high, ZMM16-31 */
            isa |= 2;
        return isa;
    }
    #else
    static int rmse_cpu_isa(void) { return 0; }
    #endif
    """
    int rmse_cpu_isa() nogil


def cpu_kernels():
    """The kernel builds this CPU and OS can run, as names:
    ``('baseline',)`` plus ``'avx2'`` (AVX2 + FMA) and ``'avx512'``
    (AVX-512 F + VL, with the OS saving the ZMM and opmask state)."""
    cdef int isa = rmse_cpu_isa()
    return (("baseline",) + (("avx2",) if isa & 1 else ())
            + (("avx512",) if isa & 2 else ()))
