"""Dynamic batching on an asyncio loop: concurrent callers share one model call.

Design:
- One model thread. While it computes batch k, requests keep arriving and queue up.
- Before each model call the dispatcher lets the event loop finish what has already arrived:
  it yields for one loop round (the loop polls its sockets and runs the handlers that poll
  woke) and repeats while a round brings new requests, up to max_batch_size rows. On one
  core this is what makes batches large under load: every request parsed before the model
  call rides in it, instead of each model call taking the two or three requests that
  happened to be parsed the moment the model thread came free. An idle server spends one
  round (two passes of the loop) and no timer: a lone request is dispatched at once.
- It also waits for requests whose body is still being received (their handler started, the
  body is not complete): cheap to wait for, they fill the batch.
- max_wait_ms bounds all of this gathering: the first request of a batch waits for others
  at most that long.
- Idle fast path: a lone request with nothing else queued or arriving is predicted on the
  loop itself when the model's last call took under inline_below_ms. Handing a call to the
  model thread and back costs ~0.06 ms on one core (a thread wake-up, a GIL hand-off, a loop
  wake-up): for a sub-millisecond model at low load that is pure overhead, and there is
  nothing for the loop to do meanwhile. Slow models (and any batch) use the thread.
- The queue is bounded: a full queue rejects at once instead of growing latency forever.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shared_model.predictor import Predictions


class QueueFull(Exception):
    """The batcher's queue holds max_queue rows already."""


@dataclass
class _Pending:
    rows: Sequence[Any]
    future: asyncio.Future[Predictions]
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class BatcherStats:
    submitted: int = 0  # calls to submit()
    rows: int = 0
    batches: int = 0  # model calls
    rejected: int = 0
    failed_batches: int = 0
    inline_calls: int = 0  # model calls made on the loop (idle fast path)


class Batcher:
    def __init__(
        self,
        infer: Callable[[Sequence[Any]], Predictions],
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        max_queue: int = 1024,
        on_queue_wait: Callable[[float], None] | None = None,
        inline_below_ms: float = 0.0,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or max_wait_ms < 0 or inline_below_ms < 0:
            raise ValueError("max_batch_size and max_queue must be >= 1, max_wait_ms and "
                             "inline_below_ms >= 0")
        self._infer = infer
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.inline_below_s = inline_below_ms / 1000
        self._last_call_s = math.inf  # unknown until the first call: that one uses the thread
        self.max_queue = max_queue
        self._on_queue_wait = on_queue_wait
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._incoming = 0
        self._arrivals = 0
        self._changed = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._task: asyncio.Task[None] | None = None
        self.stats = BatcherStats()

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @contextmanager
    def arrival(self) -> Iterator[None]:
        """Wrap body reading and parsing, so the dispatcher knows a request is on its way."""
        self._incoming += 1
        self._arrivals += 1
        try:
            yield
        finally:
            self._incoming -= 1
            self._changed.set()

    async def submit(self, rows: Sequence[Any]) -> Predictions:
        """Predict `rows` as part of whatever batch forms; raises QueueFull when full."""
        if self._queued_rows + len(rows) > self.max_queue:
            self.stats.rejected += 1
            raise QueueFull
        pending = _Pending(rows, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        self._queued_rows += len(rows)
        self.stats.submitted += 1
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._dispatch())
        return await pending.future

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            await self._gather_stragglers(loop)
            batch = self._take()
            rows = [row for pending in batch for row in pending.rows]
            started = time.perf_counter()
            if self._on_queue_wait:
                for pending in batch:
                    self._on_queue_wait(started - pending.enqueued)
            self.stats.batches += 1
            self.stats.rows += len(rows)
            idle = len(batch) == 1 and not self._queue and not self._incoming
            try:
                if idle and self._last_call_s < self.inline_below_s:
                    self.stats.inline_calls += 1
                    result = self._call(rows)
                else:
                    result = await loop.run_in_executor(self._executor, self._call, rows)
            except Exception as exc:  # only this batch's callers fail
                self.stats.failed_batches += 1
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            start = 0
            for pending in batch:
                end = start + len(pending.rows)
                if not pending.future.done():
                    pending.future.set_result(
                        Predictions(result.classes[start:end], result.proba[start:end])
                    )
                start = end

    def _call(self, rows: Sequence[Any]) -> Predictions:
        started = time.perf_counter()
        try:
            return self._infer(rows)
        finally:
            self._last_call_s = time.perf_counter() - started

    async def _gather_stragglers(self, loop: asyncio.AbstractEventLoop) -> None:
        deadline = loop.time() + self.max_wait_s
        while self._queued_rows < self.max_batch_size:
            arrivals = self._arrivals
            await _one_loop_round()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if self._arrivals != arrivals:
                continue  # the round brought requests: there may be more behind them
            if not self._incoming:
                return
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):  # unlike wait_for, no task per wait
                    await self._changed.wait()
            except TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        size = len(batch[0].rows)
        while self._queue and size + len(self._queue[0].rows) <= self.max_batch_size:
            pending = self._queue.popleft()
            batch.append(pending)
            size += len(pending.rows)
        self._queued_rows -= size
        return batch

    async def close(self) -> None:
        """Finish what is queued, then stop the model thread."""
        if self._task is not None:
            await asyncio.shield(self._task)
        self._executor.shutdown(wait=True)


async def _one_loop_round() -> None:
    """Resume after the loop has polled its sockets once and run the handlers that woke.

    The first yield runs after the callbacks already scheduled; the loop then polls I/O and
    schedules the handlers of newly arrived requests behind us; the second yield lets those
    run (parse, submit) before we resume.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)
