"""Type stub for rmse_ext._kernel (src/_kernel.pyx + src/_kernel_body.pxi).

The kernel trusts its arguments: operands are native-endian, aligned,
C-contiguous float32/float64 arrays laid out by rmse_ext._plan.
"""
from enum import IntEnum

import numpy as np
import numpy.typing as npt

_Real = np.float32 | np.float64

class TMode(IntEnum):
    T_FULL = 0
    T_ROW = 1

class WMode(IntEnum):
    W_NONE = 0
    W_SCALAR = 1
    W_FULL = 2
    W_ROW = 3
    W_COL = 4

class Accumulator:
    """Compensated total, compensated weight sum and exact element count."""

    def __init__(self) -> None: ...
    def reset(self) -> None: ...
    def fold(
        self,
        t: npt.NDArray[_Real],
        p: npt.NDArray[_Real],
        w: npt.NDArray[_Real] | None,
        cols: int,
        t_mode: int,
        w_mode: int,
        w_scalar: float,
        repeat: int = 1,
    ) -> None: ...
    def fold_same_shape(self, t: object, p: object) -> bool: ...
    def value(self) -> float: ...
    def count(self) -> float: ...
    def get_raw(self) -> tuple[float, float, float, float, int]: ...
    def set_raw(
        self,
        total_hi: float,
        total_lo: float,
        weight_hi: float,
        weight_lo: float,
        elements: int,
    ) -> None: ...
    def fold_values(
        self, values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]
    ) -> None: ...
    def merge(self, other: Accumulator) -> None: ...

def cpu_has_avx2_fma() -> bool: ...
def hardware_fma() -> bool: ...
def row_sums(
    t: npt.NDArray[_Real], p: npt.NDArray[_Real], cols: int
) -> npt.NDArray[np.float64]: ...

class Moments:
    """The six moment sums of the "normal" interval (src/_moments.pxi)."""

    def __init__(self) -> None: ...
    def fold(
        self,
        t: npt.NDArray[_Real] | None,
        p: npt.NDArray[_Real],
        w: npt.NDArray[np.float64] | None,
        cols: int,
        w_mode: int,
        w_scalar: float,
        start: int,
        stop: int,
        omit: bool,
    ) -> None: ...
    def scale(self, factor: float) -> None: ...
    def merge(self, other: Moments) -> None: ...
    def values(self) -> list[float]: ...
    def get_raw(self) -> tuple[float, ...]: ...
    def set_raw(self, raw: list[float] | tuple[float, ...]) -> None: ...

class Bootstrap:
    """Replicate sums of the streaming Poisson bootstrap (src/_bootstrap.pxi)."""

    n_boot: int
    def __init__(self, n_boot: int, seed: int, stream: int) -> None: ...
    def fold(
        self,
        t: npt.NDArray[_Real] | None,
        p: npt.NDArray[_Real],
        w: npt.NDArray[np.float64] | None,
        cols: int,
        w_mode: int,
        w_scalar: float,
        first: int,
        omit: bool,
    ) -> None: ...
    def merge(self, other: Bootstrap) -> None: ...
    def replicates(self) -> npt.NDArray[np.float64]: ...
    def get_raw(self) -> npt.NDArray[np.float64]: ...
    def set_raw(self, raw: npt.NDArray[np.float64]) -> None: ...

def poisson1_table() -> list[int]: ...
def poisson1_draws(seed: int, stream: int, index: int, n_boot: int) -> list[int]: ...
