"""How fast to send DELETE-class requests to each key prefix: additive increase, multiplicative decrease (AIMD).

S3 accepts at least 3,500 DELETE-class requests a second per partitioned prefix and answers 503 SlowDown above that
(S3 User Guide, "Best practices design patterns: optimizing Amazon S3 performance"); how its partitions fall is not
visible to clients. So each prefix (the key up to its first ``/``; the whole key space for keys without one) gets a
rate of its own, in keys a second: calls are spaced at that rate, a SlowDown cuts it (``decrease``) and pauses the
prefix, every key sent at the rate adds ``increase_per_second`` a second. A throttled prefix slows alone; the others
go on.

The rates live in one process (one worker); ``bench/scale`` models them shared by every worker of a task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from eraser.storage import retries

# The published floor per partitioned prefix; a prefix starts a little under it.
S3_DELETES_PER_SECOND = 3500.0


def _pause(seconds: float) -> None:
    retries.wait(seconds)  # looked up at each pause, so that a test replacing ``wait`` is obeyed


def prefix_of(key: str) -> str:
    """The part of a key S3 is most likely to partition on first: up to and including its first ``/``."""
    head, slash, _ = key.partition("/")
    return head + slash if slash else ""


@dataclass
class _Prefix:
    rate: float
    next_free: float
    epoch: int = 0


class PrefixRates:
    def __init__(self, *, start: float = 0.9 * S3_DELETES_PER_SECOND, floor: float = 100.0,
                 increase_per_second: float = 50.0, decrease: float = 0.9, pause_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None) -> None:
        if not 0 < decrease < 1 or floor <= 0 or start < floor:
            raise ValueError("need 0 < decrease < 1 and 0 < floor <= start")
        self._start, self._floor = start, floor
        self._increase, self._decrease, self._pause = increase_per_second, decrease, pause_seconds
        self._clock = clock
        # By default the pauses every retry of the deletion loop takes (tests replace ``retries.wait``).
        self._sleep = sleep or _pause
        self._lock = threading.Lock()
        self._prefixes: dict[str, _Prefix] = {}

    def _state(self, prefix: str) -> _Prefix:
        state = self._prefixes.get(prefix)
        if state is None:
            state = self._prefixes[prefix] = _Prefix(self._start, self._clock())
        return state

    def rate(self, prefix: str) -> float:
        with self._lock:
            return self._state(prefix).rate

    def acquire(self, prefix: str, keys: int) -> float:
        """Wait until ``keys`` keys may be sent to ``prefix``; returns the seconds waited. A slot taken before a
        SlowDown cut the rate is taken again at the new rate."""
        waited = 0.0
        while True:
            with self._lock:
                state = self._state(prefix)
                now = self._clock()
                start = max(now, state.next_free)
                state.next_free = start + keys / state.rate
                epoch = state.epoch
            if start > now:
                self._sleep(start - now)
                waited += start - now
            with self._lock:
                if self._state(prefix).epoch == epoch:
                    return waited

    def succeeded(self, prefix: str, keys: int) -> None:
        with self._lock:
            state = self._state(prefix)
            state.rate += self._increase * keys / state.rate

    def throttled(self, prefix: str) -> None:
        with self._lock:
            state = self._state(prefix)
            state.rate = max(self._floor, state.rate * self._decrease)
            state.next_free = self._clock() + self._pause
            state.epoch += 1
