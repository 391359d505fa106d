# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, cpow=True
"""rmse_ext._kernel: the compensated squared-error accumulator, baseline ISA."""
include "_kernel_body.pxi"
