"""A discrete-event simulator with a virtual clock: a heap of events, no real sleeping, no threads.

A process is a generator. It yields a number to wait that many virtual seconds, or a ``Take`` to wait for an item
of a ``Channel``; the simulator resumes it with the item (``send``). Service models are plain functions called at
``sim.now`` that return (latency, answer); the process then yields the latency.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Generator
from typing import Any

Process = Generator[Any, Any, None]


class Take:
    __slots__ = ("channel",)

    def __init__(self, channel: Channel) -> None:
        self.channel = channel


class Channel:
    """An unbounded FIFO that processes wait on (``yield channel.take()``)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.items: deque[Any] = deque()
        self._waiting: deque[Process] = deque()

    def put(self, item: Any) -> None:
        if self._waiting:
            self._sim.resume(self._waiting.popleft(), item)
        else:
            self.items.append(item)

    def take(self) -> Take:
        return Take(self)

    def __len__(self) -> int:
        return len(self.items)


class Simulator:
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Process, Any]] = []
        self._order = itertools.count()
        self.events = 0
        self.stopped = False

    def stop(self) -> None:
        """End ``run`` after the current event (processes that run forever, such as pollers, are left)."""
        self.stopped = True

    def start(self, process: Process, delay: float = 0.0) -> None:
        heapq.heappush(self._heap, (self.now + delay, next(self._order), process, None))

    def resume(self, process: Process, value: Any = None, delay: float = 0.0) -> None:
        heapq.heappush(self._heap, (self.now + delay, next(self._order), process, value))

    def run(self, until: float = float("inf")) -> None:
        heap = self._heap
        while heap and not self.stopped:
            when, _, process, value = heap[0]
            if when > until:
                self.now = until
                return
            heapq.heappop(heap)
            self.now = when
            self.events += 1
            try:
                yielded = process.send(value)
            except StopIteration:
                continue
            if isinstance(yielded, Take):
                channel = yielded.channel
                if channel.items:
                    self.resume(process, channel.items.popleft())
                else:
                    channel._waiting.append(process)
            else:
                heapq.heappush(heap, (when + float(yielded), next(self._order), process, None))
