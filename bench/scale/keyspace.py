"""A bucket of N entries over P prefixes that exists only as arithmetic: entry ``e`` of prefix ``p`` is a function
of (p, e), never a string in a list. Deletions are one bit per entry (``bytearray`` per prefix: 125 MB at a
billion), so "every entry deleted, none twice" is checked exactly at any size.

Key order is S3's: prefixes ``p00000/`` ... in order, and inside a prefix zero-padded names, so the entry index is
the listing order. A versioned bucket holds, for key ``j``, two versions and, on every second key, a delete marker
on top (the pattern ``make bench`` populates): 5 entries per 2 keys, each entry one bit.

A run ``(p, lo, hi)`` is the entries ``lo <= e < hi`` of prefix ``p``: listings answer runs, and the deleters pass
runs, so a 1000-key call costs a few integer operations, not 1000.
"""

from __future__ import annotations

from dataclasses import dataclass

Run = tuple[int, int, int]
_FULL = 0xFF
_SKIP_BYTES = 1 << 16


def _append(runs: list[Run], run: Run) -> None:
    """Add a run, merged with the previous one where they touch."""
    if runs and runs[-1][0] == run[0] and runs[-1][2] == run[1]:
        runs[-1] = (run[0], runs[-1][1], run[2])
    else:
        runs.append(run)


@dataclass(frozen=True)
class Position:
    """Where a listing resumes: entry ``entry`` of prefix ``prefix`` (S3's continuation token or key marker)."""

    prefix: int
    entry: int


class Bucket:
    def __init__(self, entries: int, prefixes: int, *, versioned: bool = False) -> None:
        if prefixes < 1 or entries < 0:
            raise ValueError("a bucket needs at least one prefix")
        self.prefixes = prefixes
        self.versioned = versioned
        base, extra = divmod(entries, prefixes)
        self.sizes = [base + (1 if p < extra else 0) for p in range(prefixes)]
        self.total = entries
        self._deleted = [bytearray((size + 7) // 8) for size in self.sizes]
        self.deleted = 0
        # Entries named in a successful delete after they were already gone (S3 answers Deleted again).
        self.deleted_again = 0
        self.prefix_start = []
        start = 0
        for size in self.sizes:
            self.prefix_start.append(start)
            start += size

    # --- names (for reports and tests; the model never needs them) ----------------------------------------------
    @staticmethod
    def prefix_name(p: int) -> str:
        return f"p{p:05d}/"

    def key_of(self, p: int, e: int) -> str:
        key = 2 * (e // 5) + (0 if e % 5 < 3 else 1) if self.versioned else e
        return f"{self.prefix_name(p)}{key:012d}"

    def global_position(self, p: int, e: int) -> int:
        return self.prefix_start[p] + e

    # --- bits --------------------------------------------------------------------------------------------------
    def _window(self, p: int, lo: int, hi: int) -> tuple[int, int, int]:
        first, last = lo >> 3, (hi + 7) >> 3
        value = int.from_bytes(self._deleted[p][first:last], "little")
        mask = ((1 << (hi - lo)) - 1) << (lo - (first << 3))
        return value, mask, first

    def deleted_in(self, p: int, lo: int, hi: int) -> int:
        value, mask, _ = self._window(p, lo, hi)
        return (value & mask).bit_count()

    def delete(self, run: Run) -> int:
        """Mark a run deleted; returns how many of its entries were still there."""
        p, lo, hi = run
        if not 0 <= lo <= hi <= self.sizes[p]:
            raise ValueError(f"run {run} outside prefix {p} of {self.sizes[p]} entries")
        if lo == hi:
            return 0
        value, mask, first = self._window(p, lo, hi)
        already = (value & mask).bit_count()
        last = (hi + 7) >> 3
        self._deleted[p][first:last] = (value | mask).to_bytes(last - first, "little")
        fresh = (hi - lo) - already
        self.deleted += fresh
        self.deleted_again += already
        return fresh

    def live_runs(self, start: Position, limit: int, *, end_prefix: int | None = None,
                  end: Position | None = None) -> tuple[list[Run], Position | None]:
        """Up to ``limit`` live entries from ``start`` in key order, as runs, and where the next page starts (None
        at the end). ``end_prefix``: stop after that prefix (a listing with ``Prefix``); ``end``: stop before that
        position (a range's upper bound)."""
        runs: list[Run] = []
        found = 0
        p, e = start.prefix, start.entry
        last_prefix = self.prefixes - 1 if end_prefix is None else end_prefix
        while found < limit:
            if end is not None and (p, e) >= (end.prefix, end.entry):
                return runs, None
            if p > last_prefix:
                return runs, None
            size = self.sizes[p] if end is None or p < end.prefix else min(self.sizes[p], end.entry)
            if e >= size:
                p, e = p + 1, 0
                continue
            e = self._skip_deleted(p, e, size)
            if e >= size:
                continue
            hi = min(size, e + (limit - found))
            value, mask, first = self._window(p, e, hi)
            dead = (value & mask) >> (e - (first << 3))
            if not dead:
                _append(runs, (p, e, hi))
                found += hi - e
                e = hi
                continue
            # Some entries in the window are gone: walk its live stretches.
            offset, width = 0, hi - e
            while offset < width and found < limit:
                while offset < width and dead >> offset & 1:
                    offset += 1
                begin = offset
                while offset < width and not dead >> offset & 1 and found + (offset - begin) < limit:
                    offset += 1
                if offset > begin:
                    _append(runs, (p, e + begin, e + offset))
                    found += offset - begin
            e += offset
        if end is not None and (p, e) >= (end.prefix, end.entry):
            return runs, None
        while p <= last_prefix and e >= self.sizes[p]:
            p, e = p + 1, 0
        return runs, (Position(p, e) if p <= last_prefix else None)

    def _skip_deleted(self, p: int, e: int, size: int) -> int:
        """The first live entry at or after ``e`` (``size`` if none): whole deleted bytes are skipped 64 KiB at a
        time, so listing a purged prefix again costs little."""
        bits = self._deleted[p]
        while e < size and e & 7:
            if not bits[e >> 3] >> (e & 7) & 1:
                return e
            e += 1
        byte = e >> 3
        end_byte = (size + 7) >> 3
        while byte < end_byte:
            block = bytes(bits[byte:byte + _SKIP_BYTES])
            stripped = block.lstrip(b"\xff")
            byte += len(block) - len(stripped)
            if stripped:
                break
        e = max(e, byte << 3)
        while e < size and bits[e >> 3] >> (e & 7) & 1:
            e += 1
        return min(e, size)

    @property
    def left(self) -> int:
        return self.total - self.deleted

    def memory_bytes(self) -> int:
        return sum(len(bits) for bits in self._deleted)
