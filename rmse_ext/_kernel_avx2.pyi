"""Type stub for rmse_ext._kernel_avx2: the same source as rmse_ext._kernel
(src/_kernel_body.pxi) compiled for AVX2 + FMA, so the same API.  (At run time
its classes are distinct; merge() and fold() take ones from the same module.)"""
from ._kernel import *  # noqa: F403  (the same API)
