"""Type stub for rmse_ext._kernel (src/_kernel.pyx + src/_kernel_body.pxi).

The kernel trusts its arguments: operands are native-endian, aligned,
C-contiguous float32/float64 arrays laid out by rmse_ext._plan after
rmse_ext._rules resolved the layout.
"""
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

_Real = np.float32 | np.float64

CHUNK_SIZE: int

class TMode(IntEnum):
    FULL_T = 0
    TILED_T = 1

class WMode(IntEnum):
    NONE = 0
    SCALAR = 1
    FULL = 2
    TILED = 3
    PER_ROW = 4

class Policy(IntEnum):
    PROPAGATE = 0
    OMIT = 1
    EXACT_DIFF = 2

Raw = tuple[float, float, float, float, int, int]

class Batch:
    """One prepared update: operands, how each is read, policy, count rules."""

    operands: tuple[object, ...]
    def __init__(
        self,
        t: npt.NDArray[_Real],
        p: npt.NDArray[_Real],
        w: npt.NDArray[_Real] | None = None,
        t_mode: int = 0,
        w_mode: int = 0,
        w_scalar: float = 0.0,
        run: int = 0,
        repeat: int = 1,
        divisor: int = 1,
        policy: int = 0,
        count_weights: npt.NDArray[np.float64] | None = None,
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def chunks(self) -> int: ...
    def chunk_partials(self, k0: int, k1: int, out: npt.NDArray[np.float64]) -> None: ...

class Accumulator:
    """Compensated total and weight sum; exact element and omitted counts."""

    def __init__(self) -> None: ...
    def reset(self) -> None: ...
    def fold(self, batch: Batch) -> None: ...
    def fold_partials(
        self, batch: Batch, parts: npt.NDArray[np.float64], size: int = -1
    ) -> None: ...
    def fold_fast(self, t: object, p: object, w: object = None) -> bool: ...
    def remember_layout(
        self, t: object, p: object, w: object, swap: bool, t_mode: int, w_mode: int, run: int
    ) -> None: ...
    def value(self) -> float: ...
    def value_as(self, descr: np.dtype[Any]) -> np.floating[Any]: ...
    def count(self) -> float: ...
    def get_raw(self) -> Raw: ...
    def set_raw(
        self,
        total_hi: float,
        total_lo: float,
        weight_hi: float,
        weight_lo: float,
        elements: int,
        omitted: int = 0,
    ) -> None: ...
    def merge(self, other: Accumulator) -> None: ...

def cpu_has_avx2_fma() -> bool: ...
def cpu_kernels() -> tuple[str, ...]: ...

MAX_THREADS: int

def threaded_partials(batch: Batch, threads: int, out: npt.NDArray[np.float64]) -> None: ...
def pool_capsule() -> object: ...
def share_pool_of(capsule: object) -> None: ...
def pool_workers() -> int: ...
def pool_spin_ns(ns: int = -1) -> int: ...
def pool_forget_after_fork() -> None: ...
def hardware_fma() -> bool: ...

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
        main: npt.NDArray[np.float64] | None = None,
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
