"""Models of DynamoDB (per-item write and read limits, transaction conflicts), SQS queues and the Lambda SQS event
source (gradual scaling, MaximumConcurrency, visibility timeout, redelivery, dead letters).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from bench.scale.clock import Channel, Simulator
from bench.scale.parameters import Values
from bench.scale.s3 import TokenBucket, lognormal

UNCONTENDED = "chunk#"


class Throttled(Exception):
    """DynamoDB ProvisionedThroughputExceeded / ThrottlingException (botocore retries it)."""


class TransactionConflict(Exception):
    """TransactionCanceledException, reason TransactionConflict: a 400, which botocore does not retry."""


class DynamoDBModel:
    """Items by name. Each item (a partition key, in the model its own partition) has 1,000 write units and 3,000
    read units a second; a transaction holds its items for ``ddb_transact_hold_ms`` and a concurrent transaction on
    one of them is cancelled."""

    def __init__(self, values: Values, rng: random.Random) -> None:
        self.values = values
        self.rng = rng
        self._writes: dict[str, TokenBucket] = {}
        self._reads: dict[str, TokenBucket] = {}
        # When the last transaction on each item began: another write within ``ddb_transact_hold_ms`` of it (before
        # or after: an invocation's calls are timed from its own start, so they may come out of order) conflicts.
        self._held_from: dict[str, float] = {}
        self.requests: Counter[str] = Counter()
        self.write_units = 0.0
        self.read_units = 0.0
        self.conflicts = 0
        self.throttles = 0

    def _bucket(self, table: dict[str, TokenBucket], item: str, rate: float, now: float) -> TokenBucket:
        if item.startswith(UNCONTENDED):
            # One item per chunk, written once: it never nears a limit, and keeping a bucket for each of a
            # billion-object task's million chunks would cost the simulator hundreds of MB.
            return TokenBucket(rate, 1.0, now)
        bucket = table.get(item)
        if bucket is None:
            bucket = table[item] = TokenBucket(rate, 1.0, now)
        bucket.refill(now)
        return bucket

    def _held(self, item: str, now: float) -> bool:
        began = self._held_from.get(item)
        return began is not None and abs(now - began) < self.values.ddb_transact_hold_ms / 1000

    def get(self, now: float, item: str, units: float = 1.0) -> float:
        self.requests["GetItem"] += 1
        bucket = self._bucket(self._reads, item, self.values.ddb_item_rcu_per_s, now)
        if bucket.tokens < units:
            self.throttles += 1
            raise Throttled(item)
        bucket.tokens -= units
        self.read_units += units
        return lognormal(self.rng, self.values.ddb_get_median_ms, 4 * self.values.ddb_get_median_ms) / 1000

    def update(self, now: float, item: str, units: float) -> float:
        self.requests["UpdateItem"] += 1
        if self._held(item, now):
            # A write on an item inside an ongoing transaction is refused too (TransactionConflictException).
            self.conflicts += 1
            raise TransactionConflict(item)
        bucket = self._bucket(self._writes, item, self.values.ddb_item_wcu_per_s, now)
        if bucket.tokens < units:
            self.throttles += 1
            raise Throttled(item)
        bucket.tokens -= units
        self.write_units += units
        return lognormal(self.rng, self.values.ddb_update_median_ms, 4 * self.values.ddb_update_median_ms) / 1000

    def transact(self, now: float, items: list[tuple[str, float]]) -> float:
        """TransactWriteItems over (item, write units before doubling): transactional writes cost twice."""
        self.requests["TransactWriteItems"] += 1
        if any(self._held(item, now) for item, _ in items):
            self.conflicts += 1
            raise TransactionConflict(items[0][0])
        buckets = [(self._bucket(self._writes, item, self.values.ddb_item_wcu_per_s, now), 2 * units)
                   for item, units in items]
        if any(bucket.tokens < units for bucket, units in buckets):
            self.throttles += 1
            raise Throttled(items[0][0])
        for bucket, units in buckets:
            bucket.tokens -= units
            self.write_units += units
        for item, _ in items:
            if not item.startswith(UNCONTENDED):
                self._held_from[item] = now
        return lognormal(self.rng, self.values.ddb_transact_median_ms, 4 * self.values.ddb_transact_median_ms) / 1000


def botocore_delay(rng: random.Random, attempt: int) -> float:
    """botocore standard mode: rand(0, 1) x 2^attempt seconds, at most 20."""
    return min(20.0, rng.random() * 2 ** attempt)


@dataclass
class Message:
    body: Any
    receives: int = 0


@dataclass
class QueueStats:
    sent: int = 0
    send_calls: int = 0
    billed_requests: int = 0
    received: int = 0
    deleted: int = 0
    redelivered: int = 0
    dead_lettered: int = 0


class Queue:
    """An SQS standard queue: visible messages in a channel; a message whose processing failed is visible again
    after the visibility timeout, and dead-lettered after ``max_receive_count`` receives."""

    def __init__(self, sim: Simulator, values: Values, *, visibility_timeout: float, on_dead_letter:
                 Callable[[Message], None] | None = None) -> None:
        self.sim = sim
        self.values = values
        self.visible = Channel(sim)
        self.visibility_timeout = visibility_timeout
        self.stats = QueueStats()
        self.in_flight = 0
        self.on_dead_letter = on_dead_letter

    def send(self, bodies: list[Any], *, kib_each: float = 1.0, delay: float = 0.0) -> float:
        """SendMessageBatch of up to 10 messages (or SendMessage of one), visible after ``delay``; returns the
        call's latency."""
        self.stats.send_calls += 1
        self.stats.sent += len(bodies)
        self.stats.billed_requests += max(1, int(-(-len(bodies) * kib_each // 64)))
        if delay > 0:
            def appear() -> Generator[Any, Any, None]:
                yield delay
                for body in bodies:
                    self.visible.put(Message(body))

            self.sim.start(appear())
        else:
            for body in bodies:
                self.visible.put(Message(body))
        return self.values.sqs_send_median_ms / 1000

    def fail(self, message: Message) -> None:
        if message.receives >= self.values.max_receive_count:
            self.stats.dead_lettered += 1
            if self.on_dead_letter:
                self.on_dead_letter(message)
            return
        self.stats.redelivered += 1

        def reappear() -> Generator[Any, Any, None]:
            yield self.visibility_timeout
            self.visible.put(message)

        self.sim.start(reappear())


Handler = Callable[[list[Message]], Generator[Any, Any, list[Message]]]


@dataclass
class EventSourceStats:
    invocations: int = 0
    cold_starts: int = 0
    peak_concurrency: int = 0
    busy_seconds: float = 0.0
    concurrency_samples: list[tuple[float, int]] = field(default_factory=list)


class EventSource:
    """Lambda's SQS event source mapping: pollers (one per concurrent invocation) take up to ``batch_size``
    messages and run the handler; their number starts at ``lambda_initial_concurrency`` and grows by
    ``lambda_scale_per_minute`` while messages wait, up to MaximumConcurrency. The handler (a process) returns the
    messages that failed (partial batch response); they are visible again after the visibility timeout."""

    def __init__(self, sim: Simulator, values: Values, queue: Queue, handler: Handler, *, max_concurrency: int,
                 batch_size: int) -> None:
        self.sim = sim
        self.values = values
        self.queue = queue
        self.handler = handler
        self.max_concurrency = int(min(max_concurrency, values.lambda_max_batches, values.account_concurrency))
        self.batch_size = batch_size
        self.pollers = 0
        self.busy = 0
        self.stats = EventSourceStats()
        self._scaling_started: float | None = None
        self._base = 0

    def start(self) -> None:
        # Lambda long-polls the queue with its first pollers before any message arrives.
        for _ in range(min(self.max_concurrency, int(self.values.lambda_initial_concurrency))):
            self.pollers += 1
            self.sim.start(self._poller())
        self.sim.start(self._scaler())

    def _target(self) -> int:
        if self._scaling_started is None:
            return 0
        minutes = (self.sim.now - self._scaling_started) / 60
        grown = self._base + int(self.values.lambda_scale_per_minute * minutes)
        return min(self.max_concurrency, max(int(self.values.lambda_initial_concurrency), grown))

    def _scaler(self) -> Generator[Any, Any, None]:
        while True:
            if len(self.queue.visible) and self._scaling_started is None:
                self._scaling_started = self.sim.now
                self._base = self.pollers
            while self.pollers < self._target():
                self.pollers += 1
                self.sim.start(self._poller())
            self.stats.concurrency_samples.append((self.sim.now, self.busy))
            yield 1.0

    def _poller(self) -> Generator[Any, Any, None]:
        warm = False
        while True:
            first: Message = yield self.queue.visible.take()
            batch = [first]
            while len(batch) < self.batch_size and self.queue.visible.items:
                batch.append(self.queue.visible.items.popleft())
            yield self.values.sqs_poll_gap_ms / 1000
            for message in batch:
                message.receives += 1
            self.queue.stats.received += len(batch)
            self.busy += 1
            self.stats.peak_concurrency = max(self.stats.peak_concurrency, self.busy)
            self.stats.invocations += 1
            started = self.sim.now
            if not warm:
                self.stats.cold_starts += 1
                yield self.values.cold_start_ms / 1000
                warm = True
            failed = yield from self.handler(batch)
            self.busy -= 1
            self.stats.busy_seconds += self.sim.now - started
            self.queue.stats.deleted += len(batch) - len(failed)
            for message in failed:
                self.queue.fail(message)
