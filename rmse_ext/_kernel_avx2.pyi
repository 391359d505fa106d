"""Type stub for rmse_ext._kernel_avx2: the same source as rmse_ext._kernel
(src/_kernel_body.pxi) compiled for AVX2 + FMA, so the same API.  (At run time
its classes are distinct; merge() and fold() take ones from the same module.)"""
from ._kernel import (
    CHUNK_SIZE as CHUNK_SIZE,
    Accumulator as Accumulator,
    Batch as Batch,
    Policy as Policy,
    TMode as TMode,
    WMode as WMode,
    cpu_has_avx2_fma as cpu_has_avx2_fma,
    hardware_fma as hardware_fma,
    Moments as Moments,
    Bootstrap as Bootstrap,
    poisson1_table as poisson1_table,
    poisson1_draws as poisson1_draws,
)
