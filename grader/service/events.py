"""What the submission status streams (Server-Sent Events) share: a cap on the streams one
user may hold open, and one status read per submission and period, whatever the number of
streams watching it (400 streams on one pending submission used to cost 400 reads every
50 ms and slowed every other request)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, select
from starlette.responses import StreamingResponse

from grader.service.db import reader
from grader.service.models import Submission

STATUS_POLL = 0.05  # seconds between status reads of a submission with open event streams

Mark = tuple | None  # (status, current result id, error) of one submission, None if gone


class StreamLimit:
    """How many event streams each user holds open; refuses one over ``per_user``."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, user_id: str) -> bool:
        with self._lock:
            if self._open[user_id] >= self.per_user:
                return False
            self._open[user_id] += 1
            return True

    def release(self, user_id: str) -> None:
        with self._lock:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]

    def open_streams(self, user_id: str) -> int:
        with self._lock:
            return self._open[user_id]


class StatusMarks:
    """The status mark of each watched submission, read from the database at most once per
    ``period``: streams of the same submission share the reading (and one read in flight)."""

    MAX_CACHED = 10_000

    def __init__(self, engine: Engine, period: float) -> None:
        self.engine = engine
        self.period = period
        self._cache: dict[str, tuple[float, Mark]] = {}
        self._pending: dict[str, asyncio.Future] = {}

    async def get(self, submission_id: str) -> Mark:
        hit = self._cache.get(submission_id)
        if hit is not None and time.monotonic() - hit[0] < self.period:
            return hit[1]
        pending = self._pending.get(submission_id)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(self._read(submission_id))
            self._pending[submission_id] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(submission_id, None))
        # one stream going away must not cancel the reading the others wait for
        return await asyncio.shield(pending)

    async def _read(self, submission_id: str) -> Mark:
        mark = await run_in_threadpool(status_mark, self.engine, submission_id)
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        self._cache[submission_id] = (time.monotonic(), mark)
        return mark


def status_mark(engine: Engine, submission_id: str) -> Mark:
    """A one-row read without the write lock."""
    with reader(engine) as conn:
        row = conn.execute(
            select(Submission.status, Submission.current_result_id, Submission.error).where(
                Submission.id == submission_id
            )
        ).first()
    return tuple(row) if row is not None else None


class ReleasingStream(StreamingResponse):
    """A streaming response that calls ``release`` once it has ended, however it ends
    (finished, client gone, cancelled)."""

    def __init__(self, content, release: Callable[[], None], **kwargs) -> None:  # noqa: ANN001
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
