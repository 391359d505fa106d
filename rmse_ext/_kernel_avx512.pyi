"""Type stub for rmse_ext._kernel_avx512: the same source as rmse_ext._kernel
(src/_kernel_body.pxi) compiled for AVX-512 F + VL and FMA, so the same API.
(At run time its Accumulator is a distinct class; merge() takes one from the
same module.)"""
from ._kernel import (
    Accumulator as Accumulator,
    TMode as TMode,
    WMode as WMode,
    CHUNK_SIZE as CHUNK_SIZE,
    MAX_THREADS as MAX_THREADS,
    chunk_partials as chunk_partials,
    cpu_has_avx2_fma as cpu_has_avx2_fma,
    cpu_kernels as cpu_kernels,
    hardware_fma as hardware_fma,
    pool_capsule as pool_capsule,
    pool_forget_after_fork as pool_forget_after_fork,
    pool_spin_ns as pool_spin_ns,
    pool_workers as pool_workers,
    row_sums as row_sums,
    share_pool_of as share_pool_of,
    threaded_partials as threaded_partials,
)
