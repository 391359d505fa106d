# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, cpow=True
"""rmse_ext._kernel, _kernel_avx2, _kernel_avx512: the compensated
squared-error accumulator.  One generated C file, compiled for the baseline
instruction set, for AVX2 + FMA (x86-64-v3) and for AVX-512 F + VL and FMA
(setup.py); an ISA build is imported only after rmse_ext._kernel.cpu_kernels()
says the CPU and OS can run it.  The builds share their type names
(rmse_ext._kernel.Batch, ...): rmse_ext._backend.module_of tells them apart."""
include "_kernel_body.pxi"
