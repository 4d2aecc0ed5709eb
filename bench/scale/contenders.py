"""The contenders on the model: the peers (s5cmd, boto3 scripts, aws s3 rm) and Eraser's engine as a per-stage
model (listing chains, the chunk queue and its Lambda event source, batch-delete invocations, the task record in
DynamoDB). Each is a set of simulator processes against the same S3 model; each returns a ``Result``.

Eraser here is the engine's structure, call by call (which calls a listing step and a chunk make, in which order,
with which retries and what happens when one fails), not its code: ``bench.scale.engine_drive`` runs the real engine
code through its gateways at small sizes and checks these request counts against it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from bench.scale.clock import Channel, Simulator
from bench.scale.keyspace import Bucket, Position, Run
from bench.scale.parameters import Values
from bench.scale.s3 import S3Model
from bench.scale.services import (
    DynamoDBModel,
    EventSource,
    Message,
    Queue,
    Throttled,
    TransactionConflict,
    botocore_delay,
)

Gen = Generator[Any, Any, Any]


@dataclass
class Result:
    contender: str
    entries: int
    seconds: float | None
    left: int
    bottleneck: str
    requests: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exact: bool | None = None
    extrapolated_from: int | None = None
    slowdowns: int = 0
    partitions_at_end: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def chunks_of(runs: list[Run], size: int = 1000) -> list[list[Run]]:
    """Cut runs into groups of at most ``size`` entries (one DeleteObjects call each)."""
    groups: list[list[Run]] = []
    current: list[Run] = []
    count = 0
    for p, lo, hi in runs:
        while lo < hi:
            take = min(hi - lo, size - count)
            current.append((p, lo, lo + take))
            count += take
            lo += take
            if count == size:
                groups.append(current)
                current, count = [], 0
    if current:
        groups.append(current)
    return groups


def run_keys(runs: list[Run]) -> int:
    return sum(hi - lo for _, lo, hi in runs)


# --- retries ---------------------------------------------------------------------------------------------------------
def list_with_retries(sim: Simulator, s3: S3Model, start: Position, attempts: int, delay: Callable[[int], float],
                      **kwargs: Any) -> Gen:
    """(runs, next) or None once every attempt was answered SlowDown."""
    for attempt in range(attempts):
        latency, runs, following = s3.list_page(sim.now, start, **kwargs)
        yield latency
        if runs is not None:
            return runs, following
        if attempt + 1 < attempts:
            yield delay(attempt)
    return None


def delete_with_retries(sim: Simulator, s3: S3Model, runs: list[Run], attempts: int,
                        delay: Callable[[int], float]) -> Gen:
    for attempt in range(attempts):
        latency, fresh = s3.delete_objects(sim.now, runs)
        yield latency
        if fresh is not None:
            return fresh
        if attempt + 1 < attempts:
            yield delay(attempt)
    return None


# --- peers -------------------------------------------------------------------------------------------------------------
def s5cmd(sim: Simulator, s3: S3Model, values: Values, rng: random.Random, versions: bool) -> Result:
    """s5cmd rm 's3://bucket/*': one listing stream (aws-sdk-go's paginator) feeding an unbuffered channel;
    chunks of 1000 keys go to at most 10 DeleteObjects in flight. Retries: 503 is a throttle for aws-sdk-go, delay
    2^n x [0.5, 1) s, ``--retry-count`` times; a call still refused is reported and its keys stay."""
    in_flight = int(values.s5cmd_delete_in_flight)
    slots = Channel(sim)
    for _ in range(in_flight + 1):
        slots.put(None)
    chunks = Channel(sim)
    attempts = int(values.s5cmd_retry_count) + 1
    state = {"listed_at": 0.0, "errors": 0, "done": 0, "chunks": 0, "finished": False}

    def throttle_delay(attempt: int) -> float:
        base = values.s5cmd_throttle_min_delay_s
        return min(300.0, 2 ** attempt * base * (1 + rng.random()))

    def lister() -> Gen:
        position: Position | None = Position(0, 0)
        while position is not None:
            page = yield from list_with_retries(sim, s3, position, attempts, throttle_delay, versions=versions)
            if page is None:
                state["errors"] += 1
                break
            runs, position = page
            for chunk in chunks_of(runs):
                yield slots.take()
                state["chunks"] += 1
                chunks.put(chunk)
        state["listed_at"] = sim.now
        state["finished"] = True
        for _ in range(in_flight):
            chunks.put(None)

    def deleter() -> Gen:
        while True:
            chunk = yield chunks.take()
            if chunk is None:
                state["done"] += 1
                if state["done"] == in_flight:
                    sim.stop()
                return
            fresh = yield from delete_with_retries(sim, s3, chunk, attempts, throttle_delay)
            if fresh is None:
                state["errors"] += 1
            slots.put(None)

    sim.start(lister())
    for _ in range(in_flight):
        sim.start(deleter())
    sim.run()
    total = sim.now
    bottleneck = ("one listing stream" if state["listed_at"] >= 0.9 * total
                  else f"{in_flight} DeleteObjects in flight")
    if s3.log.slowdowns:
        bottleneck += ", S3 SlowDown"
    result = Result("s5cmd (rm, default --numworkers 256)", s3.bucket.total, total, s3.bucket.left, bottleneck)
    if state["errors"]:
        result.notes.append(f"{state['errors']} calls still refused after {attempts} attempts: keys left")
    return result


def boto3_script(sim: Simulator, s3: S3Model, values: Values, rng: random.Random, versions: bool,
                 threads: int) -> Result:
    """A boto3 script: list a page, DeleteObjects it, repeat; ``threads`` > 1 gives each thread every
    ``threads``-th prefix. botocore standard retries, 10 attempts (bench/worker.py)."""
    attempts = int(values.boto3_max_attempts)
    cpu = values.client_page_cpu_ms / 1000
    state = {"running": threads, "errors": 0}

    def delay(attempt: int) -> float:
        return botocore_delay(rng, attempt)

    def worker(index: int) -> Gen:
        prefixes = range(index, s3.bucket.prefixes, threads) if threads > 1 else [None]
        for prefix in prefixes:
            position: Position | None = Position(prefix or 0, 0)
            while position is not None:
                page = yield from list_with_retries(sim, s3, position, attempts, delay, versions=versions,
                                                    end_prefix=prefix)
                if page is None:
                    state["errors"] += 1
                    break
                runs, position = page
                yield cpu
                for chunk in chunks_of(runs):
                    fresh = yield from delete_with_retries(sim, s3, chunk, attempts, delay)
                    if fresh is None:
                        state["errors"] += 1
                    yield cpu
        state["running"] -= 1
        if not state["running"]:
            sim.stop()

    for index in range(threads):
        sim.start(worker(index))
    sim.run()
    name = "boto3 list + DeleteObjects, 1 thread" if threads == 1 else f"boto3 {threads}-prefix partitioned"
    bottleneck = "one thread: list and delete in series" if threads == 1 else \
        f"{threads} threads, each list and delete in series"
    if s3.log.slowdowns:
        bottleneck += ", S3 SlowDown"
    result = Result(name, s3.bucket.total, sim.now, s3.bucket.left, bottleneck)
    if state["errors"]:
        result.notes.append(f"{state['errors']} calls failed after {attempts} attempts: keys left")
    return result


def aws_s3_rm(sim: Simulator, s3: S3Model, values: Values, rng: random.Random, window: int) -> Result:
    """aws s3 rm --recursive: one listing stream, one DeleteObject per key, ``max_concurrent_requests`` (10) in
    flight. Simulated on the first ``window`` keys and extrapolated linearly (its rate is flat: it never comes near
    a partition's limit)."""
    concurrency = int(values.awscli_concurrency)
    keys = Channel(sim)
    state = {"left": min(window, s3.bucket.total), "stopped": 0}
    target = state["left"]

    def lister() -> Gen:
        position: Position | None = Position(0, 0)
        sent = 0
        while position is not None and sent < target:
            page = yield from list_with_retries(sim, s3, position, 5, lambda a: botocore_delay(rng, a),
                                                limit=min(1000, target - sent))
            if page is None:
                break
            runs, position = page
            for p, lo, hi in runs:
                for e in range(lo, hi):
                    keys.put((p, e))
                    sent += 1
            while len(keys) > 1000:  # the CLI's max_queue_size
                yield 0.01
        for _ in range(concurrency):
            keys.put(None)

    def deleter() -> Gen:
        while True:
            item = yield keys.take()
            if item is None:
                state["stopped"] += 1
                if state["stopped"] == concurrency:
                    sim.stop()
                return
            for attempt in range(5):
                latency, fresh = s3.delete_object(sim.now, *item)
                yield latency
                if fresh is not None:
                    break
                yield botocore_delay(rng, attempt)

    sim.start(lister())
    for _ in range(concurrency):
        sim.start(deleter())
    sim.run()
    scale = s3.bucket.total / target if target else 1.0
    result = Result("aws s3 rm --recursive", s3.bucket.total, sim.now * scale, s3.bucket.total - s3.bucket.deleted
                    if scale == 1.0 else 0, f"one DeleteObject per key, {concurrency} in flight",
                    extrapolated_from=target if scale > 1.0 else None)
    result.requests = {f"s3:{kind}": count * scale for kind, count in s3.log.requests.items()}
    return result


# --- Eraser ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EraserDesign:
    """What differs between today's engine and the issue-12 design, as the model sees it."""

    name: str
    # Independent listing chains; 1 is today's single cursor.
    listing_ranges: int = 1
    # Where a chain's checkpoint lives: the task item (today) or an item of its own per range.
    checkpoint_on_task_item: bool = True
    # Items the chunk counts are added to (1: the task item, today).
    count_shards: int = 1
    # Shared per-prefix AIMD rate in front of DeleteObjects.
    aimd: bool = False
    batch_delete_max_concurrency: int | None = None
    listing_max_concurrency: int | None = None
    # Retry a DynamoDB TransactionConflict in the invocation (botocore does not: it is a 400) instead of failing the
    # message until its visibility timeout ends.
    retry_conflicts: bool = False


TODAY = EraserDesign("eraser (today: one listing chain)")
DESIGN = EraserDesign("eraser (issue 12 design: ranges + AIMD, model)", listing_ranges=128,
                      checkpoint_on_task_item=False, count_shards=32, aimd=True, batch_delete_max_concurrency=1000,
                      listing_max_concurrency=200, retry_conflicts=True)


class PrefixRate:
    """Additive increase, multiplicative decrease of the DELETE keys/s sent to one prefix, shared by every
    worker (the design keeps it in one place; the model shares it directly). Calls are spaced at the current rate;
    a SlowDown cuts the rate, pauses the prefix a second, and every call still waiting takes a new slot at the new
    rate (``epoch``)."""

    __slots__ = ("epoch", "next_free", "rate", "values")

    def __init__(self, values: Values) -> None:
        self.values = values
        self.rate = values.aimd_start_fraction * values.s3_delete_per_partition
        self.next_free = 0.0
        self.epoch = 0

    def reserve(self, now: float, keys: int) -> tuple[float, int]:
        """Seconds to wait before sending ``keys`` keys, and the epoch the slot belongs to."""
        start = max(now, self.next_free)
        self.next_free = start + keys / self.rate
        return start - now, self.epoch

    def succeeded(self, keys: int) -> None:
        self.rate += self.values.aimd_increase_per_s * keys / self.rate

    def throttled(self, now: float) -> None:
        self.rate = max(self.values.aimd_floor, self.rate * self.values.aimd_decrease)
        self.next_free = now + 1.0
        self.epoch += 1


def split_ranges(bucket: Bucket, count: int) -> list[tuple[Position, Position | None]]:
    """The design's split of the key space into ``count`` ranges: whole prefixes (from a delimiter listing) while
    there are more prefixes than ranges, else each prefix bisected by StartAfter into equal parts."""
    if count <= 1:
        return [(Position(0, 0), None)]
    ranges: list[tuple[Position, Position | None]] = []
    if bucket.prefixes >= count:
        bounds = [round(i * bucket.prefixes / count) for i in range(count + 1)]
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                ranges.append((Position(lo, 0), Position(hi, 0) if hi < bucket.prefixes else None))
        return ranges
    parts = max(1, count // bucket.prefixes)
    for p, size in enumerate(bucket.sizes):
        cuts = [round(i * size / parts) for i in range(parts + 1)]
        for lo, hi in itertools.pairwise(cuts):
            if hi > lo:
                ranges.append((Position(p, lo), Position(p, hi) if hi < size else (
                    Position(p + 1, 0) if p + 1 < bucket.prefixes else None)))
    return ranges


def eraser(sim: Simulator, s3: S3Model, values: Values, rng: random.Random, versions: bool,
           design: EraserDesign, ddb: DynamoDBModel | None = None) -> Result:
    ddb = ddb or DynamoDBModel(values, rng)
    # DynamoDB bills (and limits) writes per started KiB of the item, reads per started 4 KiB.
    task_wcu = math.ceil(values.task_item_kib)
    task_rcu = math.ceil(values.task_item_kib / 4)
    chunk_kib = values.chunk_message_kib
    per_batch = max(1, int(244 // chunk_kib))  # SendMessageBatch: 256 KiB in all (queues.py cuts at 250,000 B)
    # Lambda's CPU share is memory / 1,769 MB of a vCPU: CPU time measured on one core here takes longer there.
    page_cpu = values.page_cpu_ms / 1000 * max(1.0, values.lambda_mb_per_vcpu / values.listing_memory_mb)
    chunk_cpu = values.chunk_cpu_ms / 1000 * max(1.0, values.lambda_mb_per_vcpu / values.batch_delete_memory_mb)
    recorded: set[tuple[int, int]] = set()
    state: dict[str, Any] = {"seq": 0, "chains_done": 0, "listing_done_at": None, "counted": 0, "failed": False,
                             "step_failures": 0, "chunk_failures": Counter(), "finished_at": None,
                             "delete_calls_refused": 0, "conflicts_retried": 0,
                             "aimd_wait": 0.0}
    ranges = split_ranges(s3.bucket, design.listing_ranges)
    rates = [PrefixRate(values) for _ in range(s3.bucket.prefixes)] if design.aimd else []
    max_concurrency = int(design.batch_delete_max_concurrency or values.batch_delete_max_concurrency)
    listing_concurrency = int(design.listing_max_concurrency or values.listing_max_concurrency)

    def dead_letter(message: Message) -> None:
        state["failed"] = True
        sim.stop()

    deletion_queue = Queue(sim, values, visibility_timeout=values.deletion_visibility_timeout_s,
                           on_dead_letter=dead_letter)
    listing_queue = Queue(sim, values, visibility_timeout=720.0, on_dead_letter=dead_letter)

    def ddb_call(call: Callable[[], float]) -> Gen:
        """A DynamoDB call with botocore's standard retries of throttling; a conflict is raised, or retried the same
        way where the design says so."""
        for attempt in range(int(values.botocore_max_attempts)):
            try:
                latency = call()
            except Throttled:
                yield botocore_delay(rng, attempt)
                continue
            except TransactionConflict:
                if not design.retry_conflicts or attempt + 1 == int(values.botocore_max_attempts):
                    raise
                state["conflicts_retried"] += 1
                yield min(1.0, rng.random() * 0.05 * 2 ** attempt)
                continue
            yield latency
            return True
        return False

    def checkpoint_item(range_index: int) -> str:
        return "task" if design.checkpoint_on_task_item else f"range#{range_index}"

    # --- a listing step (one invocation of the listing function) ------------------------------------------------
    # Each chain's checkpoint: where its next page starts and the sequence number of its next chunk (a page listed
    # again after a failed step cuts the same chunks with the same numbers, as the engine's cursor does).
    cursors: list[tuple[Position | None, int]] = [(start, 0) for start, _ in ranges]

    def listing_step(batch: list[Message]) -> Gen:
        message = batch[0]
        range_index = message.body
        end = ranges[range_index][1]
        try:
            yield from ddb_call(lambda: ddb.get(sim.now, "task", task_rcu))
            yield from ddb_call(lambda: ddb.update(sim.now, checkpoint_item(range_index), task_wcu))
            for _ in range(int(values.listing_pages_per_step)):
                position, next_seq = cursors[range_index]
                if position is None:
                    break
                page = yield from list_with_retries(sim, s3, position, int(values.botocore_max_attempts),
                                                    lambda a: botocore_delay(rng, a), versions=versions, end=end)
                if page is None:
                    raise TransactionConflict("list page still throttled")  # the step fails: SQS redelivers
                runs, following = page
                yield page_cpu
                bodies = [((range_index, next_seq + index), chunk) for index, chunk in enumerate(chunks_of(runs))]
                for start in range(0, len(bodies), per_batch):
                    yield deletion_queue.send(bodies[start:start + per_batch], kib_each=chunk_kib)
                yield from ddb_call(lambda: ddb.update(sim.now, checkpoint_item(range_index), task_wcu))
                cursors[range_index] = (following, next_seq + len(bodies))
            if cursors[range_index][0] is None:
                state["chains_done"] += 1
                state["seq"] += cursors[range_index][1]
                if state["chains_done"] == len(ranges):
                    state["listing_done_at"] = sim.now
                    check_pass_end()
            else:
                yield listing_queue.send([range_index])
        except TransactionConflict:
            # UpdateItem on an item inside a transaction: TransactionConflictException, a 400 botocore does not
            # retry; the step releases its claim and SQS delivers it again after the visibility timeout.
            state["step_failures"] += 1
            return [message]
        return []

    # --- a batch-delete invocation ----------------------------------------------------------------------------------
    def delete_attempts(chunk: list[Run]) -> Gen:
        keys = run_keys(chunk)
        prefix = chunk[0][0]
        for loop_attempt in range(int(values.key_retry_attempts)):
            for attempt in range(int(values.botocore_max_attempts)):
                while rates:
                    wait, epoch = rates[prefix].reserve(sim.now, keys)
                    if wait:
                        state["aimd_wait"] += wait
                        yield wait
                    if epoch == rates[prefix].epoch:
                        break
                latency, fresh = s3.delete_objects(sim.now, chunk)
                yield latency
                if fresh is not None:
                    if rates:
                        rates[prefix].succeeded(keys)
                    return True
                state["delete_calls_refused"] += 1
                if rates:
                    rates[prefix].throttled(sim.now)
                yield botocore_delay(rng, attempt)
            yield min(20.0, rng.uniform(0, values.key_retry_base_s * 2 ** loop_attempt))
        return False

    def batch_delete(batch: list[Message]) -> Gen:
        failed = []
        for message in batch:
            seq, chunk = message.body
            yield from ddb_call(lambda: ddb.get(sim.now, "task", task_rcu))
            yield from ddb_call(lambda seq=seq: ddb.get(sim.now, f"chunk#{seq[0]}.{seq[1]}"))
            if seq in recorded:
                continue
            yield chunk_cpu
            deleted = yield from delete_attempts(chunk)
            if not deleted:
                state["chunk_failures"]["throttled"] += 1
                failed.append(message)
                continue
            shard = "task" if design.count_shards <= 1 else f"counts#{rng.randrange(design.count_shards)}"
            try:
                done = yield from ddb_call(lambda seq=seq, shard=shard: ddb.transact(
                    sim.now, [(f"chunk#{seq[0]}.{seq[1]}", 1.0), (shard, task_wcu if shard == "task" else 1.0)]))
            except TransactionConflict:
                state["chunk_failures"]["transaction conflict"] += 1
                failed.append(message)
                continue
            if not done:
                failed.append(message)
                continue
            if seq in recorded:
                continue  # another delivery of the chunk counted it first (attribute_not_exists failed)
            recorded.add(seq)
            state["counted"] += run_keys(chunk)
            yield from ddb_call(lambda: ddb.get(sim.now, "task", task_rcu))
            check_pass_end()
        return failed

    def check_pass_end() -> None:
        if state["listing_done_at"] is not None and len(recorded) == state["seq"] and state["finished_at"] is None:
            state["finished_at"] = -1.0
            sim.start(verify_and_finalize())

    def verify_and_finalize() -> Gen:
        # The claim of the pass end, a verification pass (one page per range, each empty), finalization (uploads,
        # the emptiness check, the end status).
        yield from ddb_call(lambda: ddb.update(sim.now, "task", task_wcu))
        for start, end in ranges:
            page = yield from list_with_retries(sim, s3, start, 8, lambda a: botocore_delay(rng, a),
                                                versions=versions, end=end)
            if page and page[0]:
                state["verification_found"] = run_keys(page[0])
        yield 3 * values.s3_list_median_ms / 1000
        yield from ddb_call(lambda: ddb.update(sim.now, "task", task_wcu))
        state["finished_at"] = sim.now
        sim.stop()

    listing_source = EventSource(sim, values, listing_queue, listing_step, max_concurrency=listing_concurrency,
                                 batch_size=1)
    deletion_source = EventSource(sim, values, deletion_queue, batch_delete, max_concurrency=max_concurrency,
                                  batch_size=int(values.batch_delete_batch_size))
    listing_source.start()
    deletion_source.start()
    # Discovering the ranges: a delimiter listing (1000 common prefixes a page) and one sampled page per bisection.
    discovery = math.ceil(s3.bucket.prefixes / 1000) + max(0, len(ranges) - s3.bucket.prefixes) if len(ranges) > 1 \
        else 0
    for _ in range(discovery):
        s3.log.requests["ListObjectsV2"] += 1

    def begin() -> Gen:
        yield discovery * values.s3_list_median_ms / 1000
        listing_queue.send(list(range(len(ranges))))

    sim.start(begin())
    sim.run()
    finished = state["finished_at"] if state["finished_at"] and state["finished_at"] > 0 else None
    total = finished or sim.now
    listed_at = state["listing_done_at"] or total
    peak = deletion_source.stats.peak_concurrency
    conflicts = sum(state["chunk_failures"].values()) + state["step_failures"]
    busy = deletion_source.stats.busy_seconds / total if total else 0.0
    s3_capacity = s3.partition_count * values.s3_delete_per_partition / values.s3_delete_objects_key_cost
    s3_use = (s3.bucket.deleted / total) / s3_capacity if total else 0.0
    if len(ranges) == 1 and s3.log.slowdowns["DeleteObjects"] > 0.05 * s3.log.requests["DeleteObjects"]:
        bottleneck = "S3 DELETE limit of one partition: one cursor feeds one prefix at a time"
    elif listed_at >= 0.85 * total and s3_use < 0.7:
        bottleneck = f"listing: {len(ranges)} chain(s), one page after another"
    elif s3_use >= 0.7 or s3.log.slowdowns["DeleteObjects"] > 0.05 * s3.log.requests["DeleteObjects"]:
        bottleneck = f"S3 DELETE limit ({s3.partition_count} partitions, {s3_use:.0%} used)"
    elif rates and state["aimd_wait"] > 0.3 * deletion_source.stats.busy_seconds:
        bottleneck = (f"S3 DELETE limit per prefix, paced by AIMD (partitions {s3.bucket.prefixes} -> "
                      f"{s3.partition_count})")
    elif busy >= 0.8 * max_concurrency:
        bottleneck = f"batch-delete MaximumConcurrency ({max_concurrency})"
    elif total < 600:
        bottleneck = "start-up: Lambda scale-up and the first pages"
    else:
        bottleneck = "DynamoDB task item" if ddb.conflicts or ddb.throttles else "Lambda scaling"
    if conflicts:
        bottleneck += f"; {conflicts} DynamoDB conflicts (each waits a visibility timeout)"
    result = Result(design.name, s3.bucket.total, total if not state["failed"] else None, s3.bucket.left, bottleneck)
    result.exact = state["counted"] == s3.bucket.total and s3.bucket.left == 0
    if state["failed"]:
        result.notes.append("a message was dead-lettered: the task FAILED")
    result.requests = {
        "sqs": deletion_queue.stats.billed_requests + listing_queue.stats.billed_requests
        + 2 * (deletion_source.stats.invocations + listing_source.stats.invocations),
        "dynamodb_write_units": ddb.write_units, "dynamodb_read_units": ddb.read_units,
        "lambda_invocations": deletion_source.stats.invocations + listing_source.stats.invocations,
        "lambda_gb_seconds": (deletion_source.stats.busy_seconds * values.batch_delete_memory_mb
                              + listing_source.stats.busy_seconds * values.listing_memory_mb) / 1024,
    }
    result.details = {"ranges": len(ranges), "listing_done_at": listed_at, "peak_batch_delete_concurrency": peak,
                      "chunks": state["seq"], "redelivered_chunks": deletion_queue.stats.redelivered,
                      "listing_step_failures": state["step_failures"],
                      "chunk_failures": dict(state["chunk_failures"]), "dynamodb_conflicts": ddb.conflicts,
                      "dynamodb_throttles": ddb.throttles, "delete_calls_refused": state["delete_calls_refused"],
                      "deleted_again": s3.bucket.deleted_again, "counted_deleted": state["counted"],
                      "cold_starts": deletion_source.stats.cold_starts,
                      "conflicts_retried": state["conflicts_retried"],
                      "aimd_wait_share": state["aimd_wait"] / max(deletion_source.stats.busy_seconds, 1e-9)}
    return result
