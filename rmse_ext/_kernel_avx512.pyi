"""Type stub for rmse_ext._kernel_avx512: the same source as rmse_ext._kernel
(src/_kernel_body.pxi) compiled for AVX-512 F + VL and FMA, so the same API.
(At run time its Accumulator is a distinct class; merge() takes one from the
same module.)"""
from ._kernel import (
    CHUNK_SIZE as CHUNK_SIZE,
    MAX_THREADS as MAX_THREADS,
    Accumulator as Accumulator,
    Batch as Batch,
    Bootstrap as Bootstrap,
    Moments as Moments,
    Policy as Policy,
    TMode as TMode,
    WMode as WMode,
    cpu_has_avx2_fma as cpu_has_avx2_fma,
    cpu_kernels as cpu_kernels,
    hardware_fma as hardware_fma,
    poisson1_draws as poisson1_draws,
    poisson1_table as poisson1_table,
    pool_capsule as pool_capsule,
    pool_forget_after_fork as pool_forget_after_fork,
    pool_spin_ns as pool_spin_ns,
    pool_workers as pool_workers,
    share_pool_of as share_pool_of,
    threaded_partials as threaded_partials,
)
