"""Multi-threaded folding of very large batches.

The kernel sums a batch in fixed chunks of ``CHUNK_SIZE`` elements.  Here
the chunks are shared out between the calling thread and the kernel's pool
of worker threads (C threads, one pool per process, at most the CPUs this
process may use minus one); each chunk's sums land in its own row of a
small (chunks, row width) array and the rows are folded in chunk order, so
the result -- and an interval batch's moments -- is bitwise identical for
every thread count.

The pool does not survive ``fork()``: the child forgets the parent's
workers (``os.register_at_fork``) and starts its own on its first threaded
update.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _backend

MIN_CHUNKS_PER_THREAD = 4   # 4 x 65536 elements: below that a thread does not pay
MAX_THREADS = 1024          # the largest num_threads accepted


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_num_threads(value: Any) -> int:
    """The one validation of ``num_threads``: an int from 1 to MAX_THREADS,
    or None / 0 for every CPU available to this process.  TypeError /
    ValueError naming ``num_threads`` otherwise.

    >>> check_num_threads(2), check_num_threads(None) == available_cpus()
    (2, True)
    """
    if value is None:
        return available_cpus()
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"num_threads must be an int (or None); got {type(value).__name__}")
    n = int(value)
    if n == 0:
        return available_cpus()
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"num_threads must be from 1 to {MAX_THREADS}, or 0 / None for "
                         f"every available CPU; got {n}")
    return n


def threads_for(size: int, num_threads: int, chunk_size: int) -> int:
    """How many threads (the caller included) a batch of ``size`` elements
    gets: ``num_threads``, at most the CPUs available now, at least
    MIN_CHUNKS_PER_THREAD chunks each; 1 means stay serial."""
    wanted = min(num_threads, available_cpus())
    chunks = -(-size // chunk_size)
    return max(1, min(wanted, chunks // MIN_CHUNKS_PER_THREAD))


def batch_threads(batch: Any, num_threads: int) -> int:
    """Threads for the kernel ``batch`` (``threads_for``; 1 when empty)."""
    chunk = _backend.module_of(batch).CHUNK_SIZE
    return threads_for(batch.size, num_threads, chunk) if batch.size else 1


def chunk_rows(batch: Any, num_threads: int) -> np.ndarray:
    """Every chunk's sums (Batch.chunk_partials rows, ``batch.row_width``
    words each), summed by up to ``num_threads`` threads."""
    parts = np.empty((batch.chunks, batch.row_width))
    threads = batch_threads(batch, num_threads)
    if threads == 1:
        batch.chunk_partials(0, batch.chunks, parts)
    else:
        _backend.module_of(batch).threaded_partials(batch, threads, parts)
    return parts


def fold_parallel(acc: Any, batch: Any, num_threads: int) -> None:
    """Fold the kernel ``batch`` into ``acc`` using up to ``num_threads``
    threads: bitwise what ``acc.fold(batch)`` gives."""
    if batch_threads(batch, num_threads) == 1:
        acc.fold(batch)
    else:
        acc.fold_partials(batch, chunk_rows(batch, num_threads))


def _forget_pool_in_child() -> None:
    _backend.baseline.pool_forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
