# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, cpow=True
"""rmse_ext._kernel_avx2: the same kernel compiled for AVX2 + FMA (x86-64-v3).
Imported only after rmse_ext._kernel.cpu_has_avx2_fma() says the CPU can run it."""
include "_kernel_body.pxi"
