"""The job queue on SQLite and on a real PostgreSQL (a throw-away cluster, tests/pg_cluster.py):
exclusive claims across processes (``UPDATE … RETURNING`` / ``FOR UPDATE SKIP LOCKED``),
leases, exactly-once results, idempotent enqueue, graceful release, heartbeats. Grading here is
the small structural grade function (tests/structural_grader.py), since these tests are about
the queue itself."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
import time
from types import SimpleNamespace

import pytest
from pg_cluster import pg_cluster as pg_cluster_fixture
from sqlalchemy import func, select
from structural_grader import grade

from grader.service import auth, queue
from grader.service.catalog import Catalog
from grader.service.config import ServiceConfig
from grader.service.db import make_engine, make_sessionmaker, migrate
from grader.service.models import Job, Result, Submission
from grader.service.state import AppState
from grader.service.submissions import create_submission, regrade
from grader.service.worker import Worker, WorkerOptions

ASSIGNMENT = "q-1_queue"
pg_cluster = pg_cluster_fixture  # one throw-away PostgreSQL cluster per test process


def _source():
    item = SimpleNamespace(id="notebook_complete", title={"ja": "完成", "en": "done"}, points=1)
    return [SimpleNamespace(id=ASSIGNMENT, title={"ja": "キュー", "en": "queue"}, items=[item])]


def notebook(seconds: float = 0.0, tag: int = 0) -> bytes:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"structural_grader_seconds": seconds, "tag": tag},
        "cells": [],
    }
    return json.dumps(nb).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def st(request, tmp_path):
    db_url = None  # ServiceConfig's default: SQLite in the home directory
    if request.param == "postgresql":
        db_url = request.getfixturevalue("pg_cluster").new_database()
    cfg = ServiceConfig(
        home=tmp_path,
        db_url=db_url,
        max_queued_per_student=10_000,
        max_attempts_per_assignment=10_000,
        max_job_attempts=2,
    )
    engine = make_engine(cfg.db_url)
    migrate(engine)
    assert engine.dialect.name == request.param
    state = AppState(cfg, engine, make_sessionmaker(engine), Catalog(_source), "bwrap")
    with state.sessions.begin() as s:
        auth.ensure_user(s, "s1")
    return state


def submit(st, n: int = 1, seconds: float = 0.0) -> list[str]:
    who = auth.Principal("s1", "student", "", 0)
    return [
        create_submission(st, who, ASSIGNMENT, "a.ipynb", notebook(seconds, i)).id for i in range(n)
    ]


def _claim_all(url: str, worker: str, out) -> None:  # runs in a child process
    engine = make_engine(url)
    got = []
    while (job := queue.claim(engine, worker, 300)) is not None:
        got.append((job.job_id, job.lease_token))
    out.put((worker, got))


def test_claims_are_exclusive_across_processes(st):
    submit(st, 60)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_all, args=(st.config.db_url, f"w{i}", out)) for i in range(4)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    claimed = [job_id for _w, got in results for job_id, _tok in got]
    assert len(claimed) == 60
    assert len(set(claimed)) == 60  # nobody got a job twice
    with st.sessions() as s:
        rows = s.execute(select(Job.status, Job.attempts, Job.worker_id)).all()
    assert {r[0] for r in rows} == {"running"} and {r[1] for r in rows} == {1}
    owner = {job_id: w for w, got in results for job_id, _ in got}
    with st.sessions() as s:
        for job_id, worker_id in s.execute(select(Job.id, Job.worker_id)):
            assert owner[job_id] == worker_id


def test_expired_lease_requeues_then_fails_after_max_attempts(st):
    (sid,) = submit(st)
    first = queue.claim(st.engine, "w1", lease_seconds=-1)  # lease already over
    assert first is not None
    assert queue.requeue_expired(st.engine) == (1, 0)
    with st.sessions() as s:
        assert s.get(Submission, sid).status == "queued"
    second = queue.claim(st.engine, "w2", lease_seconds=-1)
    assert second.job_id == first.job_id and second.attempts == 2
    assert queue.requeue_expired(st.engine) == (0, 1)  # max_job_attempts = 2
    with st.sessions() as s:
        sub = s.get(Submission, sid)
        assert sub.status == "failed"
        assert "2" in json.loads(sub.error)["en"]
    assert queue.claim(st.engine, "w3", 60) is None


def test_result_written_once_by_the_current_lease_holder(st):
    (sid,) = submit(st)
    old = queue.claim(st.engine, "w1", lease_seconds=-1)
    queue.requeue_expired(st.engine)
    new = queue.claim(st.engine, "w2", lease_seconds=60)
    out = grade(ASSIGNMENT, notebook(), 0)
    kw = dict(
        outcome="graded",
        score=out.score,
        max_score=out.max_score,
        penalty=0.0,
        payload=out.payload,
        executed_notebook=None,
        feedback_html=None,
    )
    assert queue.complete(st.engine, old, worker_id="w1", **kw) is False  # lease lost
    assert queue.complete(st.engine, new, worker_id="w2", **kw) is True
    assert queue.complete(st.engine, new, worker_id="w2", **kw) is False  # second write
    with st.sessions() as s:
        assert s.scalar(select(func.count(Result.id))) == 1
        assert s.scalar(select(Result.worker_id)) == "w2"
        assert s.get(Submission, sid).status == "graded"
    assert not queue.heartbeat(st.engine, old, 60)


def test_enqueue_is_idempotent_and_regrade_adds_a_run(st):
    (sid,) = submit(st)
    with st.sessions.begin() as s:
        sub = s.get(Submission, sid)
        assert queue.enqueue(s.connection(), sid, sub.sha256, 1, 3) is False
    regrade(st, sid)
    with st.sessions() as s:
        keys = list(s.scalars(select(Job.idempotency_key).order_by(Job.id)))
    assert len(keys) == 2 and keys[0].endswith(":1") and keys[1].endswith(":2")


def test_release_gives_the_job_back_without_counting_the_attempt(st):
    (sid,) = submit(st)
    job = queue.claim(st.engine, "w1", 60)
    assert queue.release(st.engine, job)
    with st.sessions() as s:
        j = s.scalar(select(Job))
        assert (j.status, j.attempts, j.lease_token) == ("queued", 0, None)
        assert s.get(Submission, sid).status == "queued"
    assert queue.claim(st.engine, "w2", 60).job_id == job.job_id


def test_heartbeat_keeps_a_long_job_from_being_requeued(st):
    (sid,) = submit(st, seconds=2.0)
    worker = Worker(st.engine, grade, WorkerOptions(lease_seconds=0.8, max_jobs=1))
    t = threading.Thread(target=worker.run)
    t.start()
    requeued = 0
    deadline = time.monotonic() + 20
    while t.is_alive() and time.monotonic() < deadline:
        requeued += queue.requeue_expired(st.engine)[0]  # a second worker sweeping
        time.sleep(0.1)
    t.join(5)
    assert requeued == 0
    with st.sessions() as s:
        assert s.get(Submission, sid).status == "graded"
        assert s.scalar(select(Job.attempts)) == 1


def test_worker_records_a_grader_crash_as_failed(st):
    (sid,) = submit(st)

    def broken(assignment_id, nb, slot):
        raise ValueError("boom")

    Worker(st.engine, broken, WorkerOptions(max_jobs=1, poll_interval=0.01)).process(
        queue.claim(st.engine, "w", 60)
    )
    with st.sessions() as s:
        sub = s.get(Submission, sid)
        assert sub.status == "failed" and "boom" in json.loads(sub.error)["en"]


def test_a_result_the_database_refuses_fails_that_job_not_the_worker(st):
    """Issue 13, finding 6: a lone surrogate in the payload made the result insert raise
    UnicodeEncodeError, which killed the worker (three times per submission)."""
    sid_bad, sid_good = submit(st, 2)

    def unstorable(assignment_id, nb, slot):
        out = grade(assignment_id, nb, slot)
        if json.loads(nb)["metadata"]["tag"] == 0:
            out.payload["log"] = ["lone \ud800 surrogate"]
            out.executed_notebook = "\udfff"
        return out

    worker = Worker(st.engine, unstorable, WorkerOptions(poll_interval=0.01))
    for _ in range(2):  # the same worker goes on to the next job
        worker.process(queue.claim(st.engine, "w", 60))
    assert worker.jobs_done == 1
    with st.sessions() as s:
        bad, good = s.get(Submission, sid_bad), s.get(Submission, sid_good)
        assert bad.status == "failed", bad.status
        message = json.loads(bad.error)
        assert "could not be stored" in message["en"] and "保存できませんでした" in message["ja"]
        assert good.status == "graded"
