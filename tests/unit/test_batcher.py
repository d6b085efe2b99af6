"""The dynamic batcher, judged by its counters rather than by timing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from servers.batcher import REMEASURE_EVERY, Batcher, QueueFull
from shared_model.predictor import Predictions


class SlowModel:
    """Stands in for the model: echoes each row's value, blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[int] = []

    def __call__(self, rows: Sequence[float]) -> Predictions:
        self.release.wait(timeout=10)
        self.calls.append(len(rows))
        if any(r < 0 for r in rows):
            raise ValueError("poisoned row")
        values = np.asarray(rows, dtype=float)
        return Predictions(classes=values.astype(int), proba=np.column_stack([values, values]))


def test_concurrent_requests_share_model_calls() -> None:
    async def scenario() -> tuple[list[Predictions], Batcher, SlowModel]:
        model = SlowModel()
        batcher = Batcher(model, max_batch_size=16, max_wait_ms=0)
        first = asyncio.create_task(batcher.submit([0.0]))
        await asyncio.sleep(0.01)  # the first call is now inside the (blocked) model
        rest = [asyncio.create_task(batcher.submit([float(i)])) for i in range(1, 11)]
        await asyncio.sleep(0.01)
        model.release.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return results, batcher, model

    results, batcher, model = asyncio.run(scenario())
    assert [int(r.classes[0]) for r in results] == list(range(11))  # each caller gets its own row
    assert batcher.stats.submitted == 11
    assert batcher.stats.batches < batcher.stats.submitted
    assert model.calls == [1, 10]


def test_batches_respect_max_batch_size() -> None:
    async def scenario() -> list[int]:
        model = SlowModel()
        batcher = Batcher(model, max_batch_size=4, max_wait_ms=0)
        tasks = [asyncio.create_task(batcher.submit([float(i)])) for i in range(10)]
        await asyncio.sleep(0.01)
        model.release.set()
        await asyncio.gather(*tasks)
        await batcher.close()
        return model.calls

    calls = asyncio.run(scenario())
    assert max(calls) <= 4 and sum(calls) == 10


def test_a_lone_request_does_not_wait_for_max_wait() -> None:
    async def scenario() -> Predictions:
        model = SlowModel()
        model.release.set()
        batcher = Batcher(model, max_batch_size=64, max_wait_ms=60_000)
        # If the batcher waited for max_wait_ms when idle, this would time out.
        result = await asyncio.wait_for(batcher.submit([1.0]), timeout=30)
        await batcher.close()
        return result

    assert int(asyncio.run(scenario()).classes[0]) == 1


def test_requests_on_their_way_are_awaited_within_max_wait() -> None:
    async def scenario() -> list[int]:
        model = SlowModel()
        model.release.set()
        batcher = Batcher(model, max_batch_size=64, max_wait_ms=60_000)

        async def late_arrival() -> Predictions:
            with batcher.arrival():
                await asyncio.sleep(0.01)  # body still being read
            return await batcher.submit([2.0])

        with batcher.arrival():
            pass
        late = asyncio.create_task(late_arrival())
        await asyncio.sleep(0)
        first = asyncio.create_task(batcher.submit([1.0]))
        await asyncio.gather(first, late)
        await batcher.close()
        return model.calls

    assert asyncio.run(scenario()) == [2]


def test_requests_parsed_in_the_same_loop_round_share_the_model_call() -> None:
    """Handlers scheduled behind the dispatcher still ride in its batch: it yields a round."""

    async def scenario() -> list[int]:
        model = SlowModel()
        model.release.set()
        batcher = Batcher(model, max_batch_size=64, max_wait_ms=60_000)

        async def request(value: float) -> Predictions:
            with batcher.arrival():
                pass  # body read and parsed without waiting
            return await batcher.submit([value])

        first = asyncio.create_task(request(0.0))
        await asyncio.sleep(0)  # first has submitted; the dispatcher is scheduled next
        later = [asyncio.create_task(request(float(i))) for i in range(1, 5)]
        await asyncio.gather(first, *later)
        await batcher.close()
        return model.calls

    assert asyncio.run(scenario()) == [5]


def test_gathering_ends_at_max_wait_even_while_arrivals_continue() -> None:
    """A stream of requests that never reach the queue (bad input) cannot starve it."""

    async def scenario() -> Predictions:
        model = SlowModel()
        model.release.set()
        batcher = Batcher(model, max_batch_size=64, max_wait_ms=20)
        stop = asyncio.Event()

        async def rejected_requests() -> None:
            while not stop.is_set():
                with batcher.arrival():
                    pass
                await asyncio.sleep(0)

        noise = asyncio.create_task(rejected_requests())
        await asyncio.sleep(0)
        try:
            return await asyncio.wait_for(batcher.submit([3.0]), timeout=10)
        finally:
            stop.set()
            await noise
            await batcher.close()

    assert int(asyncio.run(scenario()).classes[0]) == 3


def _threads_used(inline_call_handoffs: float, lone: int) -> tuple[list[str], Batcher]:
    """Which thread made each model call: `lone` requests one after the other, then a batch."""
    async def scenario() -> tuple[list[str], Batcher]:
        threads: list[str] = []

        def model(rows: Sequence[float]) -> Predictions:
            threads.append(threading.current_thread().name)
            values = np.asarray(rows, dtype=float)
            return Predictions(classes=values.astype(int), proba=np.column_stack([values, values]))

        batcher = Batcher(model, max_batch_size=64, max_wait_ms=0, inline_call_handoffs=inline_call_handoffs)
        for i in range(lone):
            await batcher.submit([float(i)])
        await asyncio.gather(*(batcher.submit([float(i)]) for i in range(3)))  # a batch
        await batcher.close()
        return threads, batcher

    return asyncio.run(scenario())


def test_a_lone_request_runs_on_the_loop_once_measured_cheap_next_to_the_hop() -> None:
    threads, batcher = _threads_used(inline_call_handoffs=1e9, lone=5)
    loop = threading.main_thread().name
    # The first lone calls take the thread and measure the hop and the call; then the loop.
    assert [t == loop for t in threads[:5]] == [False, False, False, True, True]
    assert threads[5] != loop  # a batch always takes the thread
    assert batcher.stats.inline_calls == 2
    assert batcher.stats.handoff_s is not None and batcher.stats.lone_call_s is not None


def test_a_model_costly_next_to_the_hop_keeps_the_thread() -> None:
    threads, batcher = _threads_used(inline_call_handoffs=0, lone=6)
    assert threading.main_thread().name not in threads and batcher.stats.inline_calls == 0


def test_the_hop_is_measured_again_now_and_then() -> None:
    threads, _ = _threads_used(inline_call_handoffs=1e9, lone=REMEASURE_EVERY + 4)
    loop = threading.main_thread().name
    on_thread = [i for i, t in enumerate(threads[:-1]) if t != loop]
    assert on_thread == [0, 1, 2, REMEASURE_EVERY]


def test_a_full_queue_rejects_at_once() -> None:
    async def scenario() -> tuple[int, int]:
        model = SlowModel()
        batcher = Batcher(model, max_batch_size=2, max_wait_ms=0, max_queue=3)
        first = asyncio.create_task(batcher.submit([0.0]))
        await asyncio.sleep(0.01)  # dispatched: the queue is empty again
        queued = [asyncio.create_task(batcher.submit([1.0])) for _ in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await batcher.submit([9.0])
        model.release.set()
        await asyncio.gather(first, *queued)
        await batcher.close()
        return batcher.stats.rejected, batcher.stats.rows

    assert asyncio.run(scenario()) == (1, 4)


def test_a_failing_batch_fails_only_its_own_callers() -> None:
    async def scenario() -> list[object]:
        model = SlowModel()
        batcher = Batcher(model, max_batch_size=2, max_wait_ms=0)
        blocker = asyncio.create_task(batcher.submit([0.0]))
        await asyncio.sleep(0.01)
        # Queued behind the blocker: [5, -1] form one batch, [6, 7] the next.
        tasks = [asyncio.create_task(batcher.submit([v])) for v in (5.0, -1.0, 6.0, 7.0)]
        await asyncio.sleep(0)
        model.release.set()
        results = await asyncio.gather(blocker, *tasks, return_exceptions=True)
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    assert isinstance(results[1], ValueError) and isinstance(results[2], ValueError)
    assert [int(r.classes[0]) for r in (results[0], results[3], results[4])] == [0, 6, 7]


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Batcher(lambda rows: None, max_batch_size=0)  # type: ignore[arg-type, return-value]
