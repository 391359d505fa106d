"""The grouped state: one row of sums per key, and which key owns which row.

A row is 8 float64 words (64 bytes, the kernel's ``GRow``): total (hi, lo),
weight (hi, lo), then three int64 words -- the elements of unweighted updates,
those of weighted updates and those omitted (nan_policy='omit') -- and a
spare word.

A table may carry ``extra_words`` more float64 words per key (``extra``, one
row per row of ``rows``, moved with it): the sums of a per-group confidence
interval (rmse_ext._grouped_intervals).  Its dense ranges shrink in
proportion, so absent keys cost the same bytes.

Integer keys (and bools, datetimes) index the rows directly while their
range is small (*dense*: the row of key k is k - base, no hashing at all);
every other key, and integers spread too wide, get rows in order of first
appearance (*hashed*: a dict from key to row, consulted once per distinct
key of a batch, never per sample).  A key exists once an accepted update has
given it at least one element.

>>> from rmse_ext._keys import read_keys
>>> table = GroupTable()
>>> keys, base = table.admit(read_keys(["b", "a", "b"], 3))
>>> keys.tolist(), base, table.kind
([0, 1, 0], 0, 'str')
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _backend
from ._keys import KeyBatch, check_kind, key_array

ROW_WORDS = _backend.baseline.GROUP_ROW_WORDS    # the kernel's GRow, 8 words
DENSE_MIN = 1 << 16     # a dense range this long is always fine (4 MiB of rows)
DENSE_MAX = 1 << 22     # and never longer than this (256 MiB of rows)


def empty_rows(n: int) -> np.ndarray:
    return np.zeros((n, ROW_WORDS))


def row_counts(rows: np.ndarray) -> np.ndarray:
    """The (n, 2) int64 view of the rows' element counts (unweighted, weighted)."""
    return rows[:, 4:6].view(np.int64)


def row_seen(rows: np.ndarray) -> np.ndarray:
    """Whether each row has had an element, counted or omitted."""
    seen: np.ndarray = (rows[:, 4:7].view(np.int64) != 0).any(axis=1)
    return seen


def row_omitted(rows: np.ndarray) -> np.ndarray:
    """The (n,) int64 view of the rows' omitted counts (nan_policy='omit')."""
    return rows[:, 6].view(np.int64)


class GroupTable:
    """Rows of sums (``rows``, the first ``size`` in use) and the key index."""

    def __init__(self, extra_words: int = 0) -> None:
        self.kind: Optional[str] = None
        self.dense = True
        self.base = 0
        self.size = 0
        self.rows = empty_rows(0)
        self.extra = np.zeros((0, extra_words))
        self._row_words = ROW_WORDS + extra_words    # in words: scales the dense limits
        self.key_list: list[Any] = []       # hashed: the key of each row
        self.row_of: dict[Any, int] = {}
        self._sorted: Optional[tuple[np.ndarray, np.ndarray]] = None

    def copy(self) -> GroupTable:
        new = GroupTable(self.extra.shape[1])
        new.kind, new.dense, new.base, new.size = self.kind, self.dense, self.base, self.size
        new.rows, new.extra = self.rows.copy(), self.extra.copy()
        new.key_list = list(self.key_list)
        new.row_of = dict(self.row_of)
        return new

    # -- keys in ------------------------------------------------------------------

    def check(self, batch: KeyBatch, name: str = "groups") -> None:
        """TypeError if ``batch`` holds another kind of key than the table."""
        check_kind(self.kind, batch.kind, name)

    def admit(self, batch: KeyBatch) -> tuple[np.ndarray, int]:
        """The kernel's keys for a checked, non-empty batch and their base
        (row = key - base), adding rows for new keys.  A batch the dense
        layout cannot index (factorised keys, or integers too spread out)
        moves the rows already held to the hashed layout first, keyed by
        their canonical values (rmse_ext._keys), so every earlier key keeps
        its row whatever form the new batch's keys come in."""
        keys, base, _ = self.admit_sorted(batch)
        return keys, base

    def admit_sorted(self, batch: KeyBatch) -> tuple[np.ndarray, int, bool]:
        """``admit``, and whether the kernel keys are known never to
        decrease (dense integer keys: the range pass checks it; the grouped
        fold then finds runs by bisection -- GroupedBatch(ascending=))."""
        self.kind = batch.kind
        if self.dense:
            if batch.ints is not None:
                lo, hi, ascending = _backend.kernel.int_span(batch.ints)
                if self._fits_dense(lo, hi, batch.ints.shape[0]):
                    self._extend_dense(lo, hi)
                    return batch.ints, self.base, bool(ascending)
            self._to_hashed()
        if batch.ints is not None:
            codes, first = _backend.kernel.factorize_records(batch.ints)
            uniques = batch.ints[first].tolist()
        else:
            assert batch.codes is not None and batch.uniques is not None
            codes, uniques = batch.codes, batch.uniques
        rows = self._rows_for(uniques)
        return rows[codes], 0, False

    def _fits_dense(self, lo: int, hi: int, samples: int) -> bool:
        if self.size:
            lo, hi = min(lo, self.base), max(hi, self.base + self.size - 1)
        span = (hi - lo + 1) * self._row_words // ROW_WORDS
        return bool(span <= DENSE_MAX and span <= max(DENSE_MIN, 4 * samples + 2 * self.size))

    def _relayout(self, capacity: int, to: Any, source: Any) -> None:
        """New rows (and extra rows) of ``capacity``; old rows ``source`` go
        to ``to``."""
        rows = empty_rows(capacity)
        rows[to] = self.rows[source]
        extra = np.zeros((capacity, self.extra.shape[1]))
        extra[to] = self.extra[source]
        self.rows, self.extra = rows, extra

    def _extend_dense(self, lo: int, hi: int) -> None:
        if not self.size:
            self.base = lo
        new_base = min(lo, self.base)
        new_end = max(hi + 1, self.base + self.size)
        capacity = self.rows.shape[0]
        if new_base == self.base and new_end - new_base <= capacity:
            self.size = max(self.size, new_end - new_base)
            return
        grown = min(max(new_end - new_base, 2 * capacity), DENSE_MAX)
        shift = self.base - new_base
        self._relayout(max(grown, new_end - new_base), slice(shift, shift + self.size),
                       slice(0, self.size))
        self.base, self.size = new_base, new_end - new_base
        self._sorted = None

    def _to_hashed(self) -> None:
        """Leave the dense layout: the present rows, compacted, keyed by dict."""
        present = self._present_dense()
        self.key_list = (present + self.base).tolist()
        self.row_of = {key: row for row, key in enumerate(self.key_list)}
        self._relayout(max(len(present), 1), slice(0, len(present)), present)
        self.size, self.base, self.dense = len(present), 0, False
        self._sorted = None

    def _rows_for(self, uniques: list[Any]) -> np.ndarray:
        """The row of each distinct key (appending rows for new ones)."""
        row_of, key_list = self.row_of, self.key_list
        out = np.empty(len(uniques), dtype=np.int64)
        for i, key in enumerate(uniques):
            row = row_of.get(key)
            if row is None:
                row = row_of[key] = len(key_list)
                key_list.append(key)
            out[i] = row
        if len(key_list) != self.size:
            self._sorted = None
            self.size = len(key_list)
            capacity = self.rows.shape[0]
            if self.size > capacity:
                self._relayout(max(self.size, 2 * capacity), slice(0, capacity),
                               slice(0, capacity))
        return out.astype(np.int32) if self.size < 2**31 else out

    # -- rows out -----------------------------------------------------------------

    def _present_dense(self) -> np.ndarray:
        return np.flatnonzero(row_seen(self.rows[:self.size]))

    def present(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, keys) of every key, in sorted key order."""
        if self.dense:
            rows = self._present_dense()
            return rows, key_array(self.kind, rows + self.base)
        if self._sorted is None:
            keys = key_array(self.kind, self.key_list)
            order = np.argsort(keys, kind="stable")
            order = order[row_seen(self.rows[order])]
            self._sorted = (order.astype(np.int64), keys[order])
        return self._sorted

    def merge_rows(self, batch: KeyBatch, rows: np.ndarray,
                   extra: Optional[np.ndarray] = None, half: int = 0) -> None:
        """Another state's rows (``batch`` holds their keys, distinct) added,
        compensated, and its extra rows too (blocks of ``half`` sums, then
        their compensations); TypeError for another kind of key, before any
        change."""
        self.check(batch, "keys")
        if rows.shape[0]:
            kernel_keys, base = self.admit(batch)
            slots = np.asarray(kernel_keys, dtype=np.int64) - base
            _backend.kernel.group_merge(self.rows, slots, rows)
            if extra is not None:
                _backend.kernel.group_merge_pairs(self.extra, slots,
                                                  np.ascontiguousarray(extra), half)
            self._sorted = None
