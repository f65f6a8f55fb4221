"""The worker loop: claim a job, grade it with a heartbeat running, write the result once.

Shutdown: the first SIGTERM/SIGINT stops claiming and lets the current job finish; a second
one interrupts grading and gives the job back to the queue. A worker started by
``grader serve`` also exits when its parent disappears.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from grader.service import course_settings, feedback, queue
from grader.service.catalog import LatePolicy
from grader.service.grading import GradeFn
from grader.service.lanes import LIGHT_SECONDS
from grader.service.models import Submission

if TYPE_CHECKING:
    from grader.jail.warm import WarmPool

log = logging.getLogger("grader.worker")
MIN_POLL = 0.01  # first idle poll; doubles up to WorkerOptions.poll_interval


class ShutdownNow(BaseException):
    """Raised in the main thread by the second termination signal."""


@dataclass
class WorkerOptions:
    slot: int = 0
    lease_seconds: float = 60.0
    poll_interval: float = 0.05  # longest idle poll; polls start at MIN_POLL after work
    idle_render_after: float = 2.0  # idle this long: pre-render pending feedback reports
    parent_pid: int | None = None
    max_jobs: int | None = None  # stop after this many jobs (tests, benchmarks)
    lane: str = "any"  # claim order (grader/service/queue.py): any | light-first | fifo
    light_seconds: float = LIGHT_SECONDS  # light-first: what counts as a light job
    warm_pool: WarmPool | None = None  # the next job's sandbox, kept started while idle


class Worker:
    def __init__(
        self,
        engine: Engine,
        grade_fn: GradeFn,
        options: WorkerOptions | None = None,
    ) -> None:
        self.engine = engine
        self.grade_fn = grade_fn
        self.opts = options or WorkerOptions()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{self.opts.slot}"
        self.stopping = threading.Event()
        self._current: queue.ClaimedJob | None = None
        self.jobs_done = 0

    # -- signals -----------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:  # noqa: ANN001
        if self.stopping.is_set() and self._current is not None:
            raise ShutdownNow()
        log.info("worker %s: signal %s, finishing the current job", self.worker_id, signum)
        self.stopping.set()

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> int:
        """Work until stopped; returns the number of jobs completed.

        Idle polling is a read that takes no lock (``queue.has_queued``), starting at
        ``MIN_POLL`` and doubling to ``poll_interval``, so a new job waits on average less
        than half of that before it is claimed."""
        try:
            return self._loop()
        finally:
            if self.opts.warm_pool:  # a sandbox started for a job that will not come
                self.opts.warm_pool.close()

    def _loop(self) -> int:
        last_sweep = 0.0
        delay = MIN_POLL
        idle_since: float | None = None
        while not self.stopping.is_set():
            if self.opts.warm_pool:
                self.opts.warm_pool.refill()  # no-op while one is ready
            if self.opts.parent_pid and os.getppid() != self.opts.parent_pid:
                log.warning("worker %s: parent exited, stopping", self.worker_id)
                break
            now = time.time()
            if now - last_sweep > min(1.0, self.opts.lease_seconds / 4):
                queue.requeue_expired(self.engine, now)
                last_sweep = now
            job = None
            if queue.has_queued(self.engine):
                job = queue.claim(
                    self.engine,
                    self.worker_id,
                    self.opts.lease_seconds,
                    lane=self.opts.lane,
                    light_seconds=self.opts.light_seconds,
                )
            if job is None:
                idle_since = idle_since or now
                if now - idle_since >= self.opts.idle_render_after and self._render_pending():
                    continue
                self.stopping.wait(delay)
                delay = min(2 * delay, self.opts.poll_interval)
                continue
            delay, idle_since = MIN_POLL, None
            try:
                self.process(job)
            except ShutdownNow:
                queue.release(self.engine, job)
                log.info("worker %s: returned job %s to the queue", self.worker_id, job.job_id)
                break
            if self.opts.max_jobs and self.jobs_done >= self.opts.max_jobs:
                break
        return self.jobs_done

    def _render_pending(self) -> bool:
        try:
            return feedback.render_one_pending(self.engine)
        except Exception:  # a report is a convenience; the loop must go on
            log.exception("pre-rendering a feedback report failed")
            return False

    def process(self, job: queue.ClaimedJob) -> None:
        self._current = job
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, beat_stop), daemon=True)
        beat.start()
        try:
            try:
                engine_start = time.time()
                out = self.grade_fn(job.assignment_id, job.notebook, self.opts.slot)
                engine_end = time.time()
            except ShutdownNow:
                raise
            except Exception as exc:  # a grader bug: record it, never lose the job silently
                log.error("grading job %s crashed:\n%s", job.job_id, traceback.format_exc())
                msg = f"{type(exc).__name__}: {exc}"[:2000]
                queue.fail(
                    self.engine,
                    job,
                    {
                        "ja": f"採点中に内部エラーが発生しました: {msg}",
                        "en": f"Internal grader error: {msg}",
                    },
                )
                return
            penalty = self._policy(job).penalty(job.late_days, out.score, out.max_score)
            # Phase timestamps (UNIX s) for bench/service_speed.py; upload and claim times
            # are in the submissions and jobs rows.
            out.payload["service_timings"] = {
                "engine_start": engine_start,
                "engine_end": engine_end,
                "slot": self.opts.slot,
            }
            try:
                written = queue.complete(
                    self.engine,
                    job,
                    outcome=out.outcome,
                    score=out.score,
                    max_score=out.max_score,
                    penalty=penalty,
                    payload=out.payload,
                    executed_notebook=out.executed_notebook,
                    feedback_html=out.feedback_html,
                    worker_id=self.worker_id,
                )
            except Exception as exc:  # a result the database refuses fails this job only
                log.error("storing job %s failed:\n%s", job.job_id, traceback.format_exc())
                msg = f"{type(exc).__name__}: {exc}"[:500].encode("ascii", "replace").decode()
                queue.fail(
                    self.engine,
                    job,
                    {
                        "ja": f"採点結果を保存できませんでした: {msg}",
                        "en": f"The grading result could not be stored: {msg}",
                    },
                )
                return
            if written:
                self.jobs_done += 1
            else:
                log.warning("job %s: lease lost, result discarded", job.job_id)
        finally:
            beat_stop.set()
            self._current = None

    def _policy(self, job: queue.ClaimedJob) -> LatePolicy:
        """The submitter's late rule as the database holds it now (their extension too)."""
        with Session(self.engine) as s:
            user_id = s.scalar(select(Submission.user_id).where(Submission.id == job.submission_id))
            return course_settings.policy_for(s, job.assignment_id, user_id)

    def _heartbeat(self, job: queue.ClaimedJob, stop: threading.Event) -> None:
        interval = max(0.2, self.opts.lease_seconds / 4)
        while not stop.wait(interval):
            try:
                if not queue.heartbeat(self.engine, job, self.opts.lease_seconds):
                    log.warning("job %s: heartbeat refused (lease lost)", job.job_id)
                    return
            except Exception:  # a busy database must not kill the grading thread
                log.exception("heartbeat failed")
