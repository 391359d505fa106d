# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, cpow=True
"""rmse_ext._kernel_avx512: the same kernel compiled for AVX-512 F + VL and FMA.
Imported only after rmse_ext._kernel.cpu_kernels() says the CPU and OS can run it."""
include "_kernel_body.pxi"
