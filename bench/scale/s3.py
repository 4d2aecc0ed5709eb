"""A model of S3 for one bucket: partitions over the key space, each with the published request limits, 503
SlowDown above them, partitions splitting after sustained load, and per-request latency distributions.

A partition is a range of the bucket's key order (global entry positions). Each has two token buckets: DELETE-class
requests (``s3_delete_per_partition``/s) and GET/LIST ones (``s3_read_per_partition``/s), each able to bank
``s3_burst_seconds`` of its rate. A request takes tokens from the partition(s) its keys fall in, or, if one of them
has too few, the whole call is answered 503 SlowDown and takes none (how S3 counts a partially hot call is not
published: the model refuses the whole call). Demand (accepted or refused) is summed per ``s3_split_window_seconds``;
once it stays above ``s3_split_load_fraction`` of a limit for ``s3_split_after_seconds`` the partition splits at its
middle into two with full limits each.

Requests may be made slightly out of time order (an invocation's calls are timed from its own start): a token bucket
never refills backwards, so such a request sees the bucket as the latest one left it.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from dataclasses import dataclass, field

from bench.scale.keyspace import Bucket, Position, Run
from bench.scale.parameters import Values

# The 99th percentile of a standard normal: a lognormal with median m and 99th percentile q has sigma ln(q/m)/Z99.
Z99 = 2.326


def lognormal(rng: random.Random, median: float, p99: float) -> float:
    sigma = math.log(p99 / median) / Z99 if p99 > median else 0.0
    return median * math.exp(rng.gauss(0.0, sigma)) if sigma else median


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst_seconds: float, now: float) -> None:
        self.rate = rate
        self.capacity = rate * burst_seconds
        self.tokens = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now


@dataclass
class Partition:
    start: int
    deletes: TokenBucket
    reads: TokenBucket
    window_start: float = 0.0
    window_deletes: float = 0.0
    window_reads: float = 0.0
    hot_since: float | None = None
    slowdowns: int = 0


class SlowDown(Exception):
    """503 SlowDown."""


@dataclass
class RequestLog:
    requests: Counter[str] = field(default_factory=Counter)
    slowdowns: Counter[str] = field(default_factory=Counter)
    keys_deleted_in_calls: int = 0


class S3Model:
    def __init__(self, bucket: Bucket, values: Values, rng: random.Random, *, partitioned_prefixes: bool = True
                 ) -> None:
        """``partitioned_prefixes``: each prefix starts as a partition of its own (a bucket whose load has been
        spread for long); otherwise the whole bucket is one partition, as a new or a one-hot-prefix bucket."""
        self.bucket = bucket
        self.values = values
        self.rng = rng
        self.log = RequestLog()
        self.splits: list[tuple[float, int]] = []
        starts = [bucket.global_position(p, 0) for p in range(bucket.prefixes)] if partitioned_prefixes else [0]
        starts = sorted(set(starts))
        self._starts = starts
        self._partitions = [self._new_partition(start, 0.0) for start in starts]

    # --- partitions ----------------------------------------------------------------------------------------------
    def _new_partition(self, start: int, now: float) -> Partition:
        v = self.values
        return Partition(start, TokenBucket(v.s3_delete_per_partition, v.s3_burst_seconds, now),
                         TokenBucket(v.s3_read_per_partition, v.s3_burst_seconds, now), window_start=now)

    @property
    def partition_count(self) -> int:
        return len(self._partitions)

    def _index_of(self, position: int) -> int:
        return bisect.bisect_right(self._starts, position) - 1

    def _end_of(self, index: int) -> int:
        return self._starts[index + 1] if index + 1 < len(self._starts) else self.bucket.total

    def _observe(self, partition: Partition, now: float, reads: float, deletes: float) -> bool:
        """Add demand to the partition's window; True when it has been hot long enough to split."""
        v = self.values
        window = v.s3_split_window_seconds
        if now - partition.window_start >= window:
            periods = (now - partition.window_start) / window
            hot = (partition.window_deletes / window >= v.s3_split_load_fraction * v.s3_delete_per_partition
                   or partition.window_reads / window >= v.s3_split_load_fraction * v.s3_read_per_partition)
            if hot and periods < 2:
                if partition.hot_since is None:
                    partition.hot_since = partition.window_start
            else:
                partition.hot_since = None
            partition.window_start += window * math.floor(periods)
            partition.window_deletes = partition.window_reads = 0.0
        partition.window_deletes += deletes
        partition.window_reads += reads
        return partition.hot_since is not None and now - partition.hot_since >= v.s3_split_after_seconds

    def _split(self, index: int, now: float) -> None:
        start, end = self._starts[index], self._end_of(index)
        if end - start < 2:
            return
        middle = (start + end) // 2
        self._starts.insert(index + 1, middle)
        self._partitions[index] = self._new_partition(start, now)
        self._partitions.insert(index + 1, self._new_partition(middle, now))
        self.splits.append((now, middle))

    def _take(self, now: float, costs: dict[int, tuple[float, float]], kind: str) -> None:
        """Take (reads, deletes) tokens from each partition index, all or none; SlowDown if one is short."""
        short = False
        to_split = []
        for index, (reads, deletes) in costs.items():
            partition = self._partitions[index]
            partition.reads.refill(now)
            partition.deletes.refill(now)
            if partition.reads.tokens < reads or partition.deletes.tokens < deletes:
                short = True
                partition.slowdowns += 1
            if self._observe(partition, now, reads, deletes):
                to_split.append(index)
        for index in sorted(to_split, reverse=True):
            self._split(index, now)
        if short:
            self.log.slowdowns[kind] += 1
            raise SlowDown(kind)
        for index, (reads, deletes) in costs.items():
            partition = self._partitions[index]
            partition.reads.tokens -= reads
            partition.deletes.tokens -= deletes

    # --- requests ------------------------------------------------------------------------------------------------
    def list_page(self, now: float, start: Position, *, limit: int = 1000, end_prefix: int | None = None,
                  end: Position | None = None, versions: bool = False) -> tuple[float, list[Run] | None,
                                                                                Position | None]:
        """ListObjectsV2 (or ListObjectVersions) from ``start``: (latency, runs or None for SlowDown, next)."""
        v = self.values
        kind = "ListObjectVersions" if versions else "ListObjectsV2"
        self.log.requests[kind] += 1
        index = self._index_of(self.bucket.global_position(min(start.prefix, self.bucket.prefixes - 1),
                                                            start.entry if start.prefix < self.bucket.prefixes else 0))
        try:
            self._take(now, {index: (1.0, 0.0)}, kind)
        except SlowDown:
            return v.s3_slowdown_ms / 1000, None, start
        runs, following = self.bucket.live_runs(start, limit, end_prefix=end_prefix, end=end)
        median = v.s3_list_versions_median_ms if versions else v.s3_list_median_ms
        latency = lognormal(self.rng, median, median * v.s3_list_p99_ms / v.s3_list_median_ms) / 1000
        return latency, runs, following

    def delete_objects(self, now: float, runs: list[Run]) -> tuple[float, int | None]:
        """DeleteObjects of the runs' entries (at most 1000): (latency, entries newly gone, or None for SlowDown)."""
        v = self.values
        self.log.requests["DeleteObjects"] += 1
        keys = sum(hi - lo for _, lo, hi in runs)
        if keys > 1000:
            raise ValueError(f"DeleteObjects takes at most 1000 keys, got {keys}")
        costs: dict[int, tuple[float, float]] = {}
        for p, lo, hi in runs:
            first, last = self.bucket.global_position(p, lo), self.bucket.global_position(p, hi - 1)
            for index in range(self._index_of(first), self._index_of(last) + 1):
                overlap = min(last + 1, self._end_of(index)) - max(first, self._starts[index])
                reads, deletes = costs.get(index, (0.0, 0.0))
                costs[index] = (reads, deletes + overlap * v.s3_delete_objects_key_cost)
        if not costs:
            return v.s3_slowdown_ms / 1000, 0
        try:
            self._take(now, costs, "DeleteObjects")
        except SlowDown:
            return v.s3_slowdown_ms / 1000, None
        fresh = sum(self.bucket.delete(run) for run in runs)
        self.log.keys_deleted_in_calls += keys
        median = v.s3_delete_objects_base_ms + v.s3_delete_objects_per_key_ms * keys
        return lognormal(self.rng, median, median * v.s3_delete_objects_p99_factor) / 1000, fresh

    def delete_object(self, now: float, p: int, e: int) -> tuple[float, int | None]:
        v = self.values
        self.log.requests["DeleteObject"] += 1
        index = self._index_of(self.bucket.global_position(p, e))
        try:
            self._take(now, {index: (0.0, 1.0)}, "DeleteObject")
        except SlowDown:
            return v.s3_slowdown_ms / 1000, None
        fresh = self.bucket.delete((p, e, e + 1))
        median = v.s3_delete_object_median_ms
        return lognormal(self.rng, median, median * 3) / 1000, fresh
