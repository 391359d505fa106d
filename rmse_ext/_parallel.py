"""Multi-threaded folding of very large batches.

The kernel always sums a batch in fixed chunks of ``CHUNK_SIZE`` elements and
folds the chunk sums in chunk order.  Here the chunks are spread over threads
(the kernel releases the GIL), their sums land in a small (chunks, 4) array,
and the same ordered fold runs on it: the result is bitwise identical for
every thread count.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._backend import baseline

CHUNK_SIZE = baseline.CHUNK_SIZE

MIN_CHUNKS_PER_THREAD = 4   # 4 x 65536 elements: below that a thread does not pay
MAX_THREADS = 1024


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_num_threads(value: object) -> int:
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

_pools = {}
_pools_lock = threading.Lock()


def shared_pool(workers):
    """One executor per worker count, created on first use, shared by all metrics."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="rmse_ext")
        return pool


def worth_threads(size, num_threads, chunk_size):
    """How many threads a batch of ``size`` elements gets (1: stay serial)."""
    chunks = -(-size // chunk_size)
    return max(1, min(num_threads, chunks // MIN_CHUNKS_PER_THREAD))


def fold_parallel(acc, batch, num_threads):
    """Fold the kernel ``batch`` into ``acc`` using up to ``num_threads``
    threads: bitwise what ``acc.fold(batch)`` gives."""
    threads = worth_threads(batch.size, num_threads, CHUNK_SIZE) if batch.size else 1
    if threads == 1:
        acc.fold(batch)
        return
    chunks = batch.chunks
    parts = np.empty((chunks, 5))
    bounds = [chunks * i // threads for i in range(threads + 1)]
    pool = shared_pool(threads - 1)
    futures = [pool.submit(batch.chunk_partials, bounds[i], bounds[i + 1], parts)
               for i in range(1, threads)]
    batch.chunk_partials(bounds[0], bounds[1], parts)
    for future in futures:
        future.result()
    acc.fold_partials(batch, parts)
