"""Type stub for rmse_ext._kernel_avx512: the same source as rmse_ext._kernel
(src/_kernel_body.pxi) compiled for AVX-512 F + VL and FMA, so the same API.
(At run time its Accumulator is a distinct class; merge() takes one from the
same module.)"""
from ._kernel import *  # noqa: F403  (the same API)
