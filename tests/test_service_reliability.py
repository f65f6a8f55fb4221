"""The whole service on loopback: a real ``grader serve`` with real worker processes and the
real engine. Killing a worker mid-grading, restarting the service with jobs queued, and many
concurrent clients must all end with every submission graded exactly once."""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from live_service import (
    FAST_ASSIGNMENT,
    LiveService,
    cli,
    fast_spec,
    released_env,
    solution_notebook,
)
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.sandbox]


@pytest.fixture
def home(tmp_path, monkeypatch):
    for k, v in released_env(tmp_path / "released").items():
        monkeypatch.setenv(k, v)
    h = tmp_path / "home"
    h.mkdir()
    return h


def roster(home, n: int) -> dict[str, str]:
    path = home / "roster.csv"
    path.write_text("student_id,name,email\n" + "".join(f"c{i:03d},S{i},\n" for i in range(n)))
    out = cli(home, "roster", "import", str(path))
    return {r["student_id"]: r["token"] for r in csv.DictReader(io.StringIO(out))}


def submit(url: str, token: str, nb: bytes) -> str:
    r = httpx.post(
        f"{url}/api/v1/submissions",
        headers={"Authorization": f"Bearer {token}"},
        data={"assignment_id": FAST_ASSIGNMENT},
        files={"notebook": ("hw.ipynb", nb)},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def wait_all(url: str, token: str, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = httpx.get(
            f"{url}/api/v1/instructor/submissions",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        by = {r["id"]: r for r in rows if r["id"] in ids}
        if all(by.get(i, {}).get("status") in ("graded", "rejected", "failed") for i in ids):
            return by
        if time.monotonic() > deadline:
            raise AssertionError(f"not finished: {[(i, by.get(i, {}).get('status')) for i in ids]}")
        time.sleep(0.3)


def db_rows(home, sql: str) -> list:
    eng = create_engine(f"sqlite:///{home / 'grader.sqlite3'}")
    with eng.connect() as c:
        rows = c.execute(text(sql)).all()
    eng.dispose()
    return rows


def assert_exactly_once(home, ids: list[str]) -> None:
    per_job = db_rows(home, "SELECT job_id, COUNT(*) FROM results GROUP BY job_id")
    assert all(n == 1 for _j, n in per_job)
    per_sub = dict(
        db_rows(home, "SELECT submission_id, COUNT(*) FROM results GROUP BY submission_id")
    )
    assert {i: per_sub.get(i) for i in ids} == {i: 1 for i in ids}


def test_kill_9_worker_mid_grading_loses_nothing(home):
    itok = cli(home, "token", "create", "--instructor").strip()
    stok = roster(home, 1)["c000"]
    nb = solution_notebook()
    with LiveService(home, workers=2, extra=["--lease-seconds", "3", "--max-queued", "10"]) as svc:
        ids = [submit(svc.url, stok, nb) for _ in range(4)]
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            rows = httpx.get(
                f"{svc.url}/api/v1/instructor/submissions",
                headers={"Authorization": f"Bearer {itok}"},
            ).json()
            running = [r for r in rows if r["status"] == "running" and r["job"]["worker_id"]]
            if running:
                victim = running[0]
            else:
                time.sleep(0.05)
        assert victim is not None, "no job was ever seen running"
        pid = int(victim["job"]["worker_id"].split(":")[1])
        os.kill(pid, signal.SIGKILL)
        by = wait_all(svc.url, itok, ids, timeout=120)
        assert {by[i]["status"] for i in ids} == {"graded"}
        assert {by[i]["score"] for i in ids} == {fast_spec().max_score}
        assert httpx.get(f"{svc.url}/healthz").json()["status"] == "ok"
    assert_exactly_once(home, ids)
    ((attempts, worker),) = db_rows(
        home, f"SELECT attempts, worker_id FROM jobs WHERE submission_id = '{victim['id']}'"
    )
    assert attempts == 2 and worker != victim["job"]["worker_id"]
    assert "restarting" in svc.log_text()  # the supervisor replaced the dead worker


def test_restart_with_jobs_queued_grades_everything(home):
    itok = cli(home, "token", "create", "--instructor").strip()
    tokens = roster(home, 4)
    nb = solution_notebook()
    svc = LiveService(home, workers=2, extra=["--shutdown-grace", "0.5"]).start()
    ids = [submit(svc.url, t, nb) for t in tokens.values() for _ in range(2)]
    assert svc.stop() == 0  # SIGTERM with jobs queued and some running
    left = db_rows(home, "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
    assert left[0][0] > 0  # the restart below has work to do
    with LiveService(home, workers=2) as svc2:
        by = wait_all(svc2.url, itok, ids, timeout=180)
    assert {by[i]["status"] for i in ids} == {"graded"}
    assert_exactly_once(home, ids)


@pytest.mark.slow
def test_200_submissions_from_20_concurrent_clients(home):
    itok = cli(home, "token", "create", "--instructor").strip()
    tokens = list(roster(home, 20).values())
    nb = solution_notebook()
    with LiveService(home, workers=2, extra=["--max-queued", "20"]) as svc:

        def client(tok: str) -> list[str]:
            return [submit(svc.url, tok, nb) for _ in range(10)]

        with ThreadPoolExecutor(20) as pool:
            ids = [i for batch in pool.map(client, tokens) for i in batch]
        assert len(set(ids)) == 200
        by = wait_all(svc.url, itok, ids, timeout=900)
        assert {by[i]["status"] for i in ids} == {"graded"}
        assert {by[i]["score"] for i in ids} == {fast_spec().max_score}
        assert httpx.get(f"{svc.url}/readyz").json()["queue"]["failed"] == 0
    assert_exactly_once(home, ids)


def test_each_local_worker_grades_in_its_own_engine_slot(home):
    """``grader serve --workers 2`` gives worker i slot i (own sandbox uid): two jobs graded at
    the same time arrive at the grade function with slots 0 and 1."""
    import json

    itok = cli(home, "token", "create", "--instructor").strip()
    slow = {"nbformat": 4, "nbformat_minor": 5, "cells": []}
    slow["metadata"] = {"structural_grader_seconds": 2.0}
    extra = ["--grade-fn", "structural_grader:grade", "--allow-unsandboxed"]
    with LiveService(home, workers=2, extra=extra) as svc:
        ids = [submit(svc.url, itok, json.dumps(slow).encode()) for _ in range(2)]
        wait_all(svc.url, itok, ids, timeout=60)
        logs = svc.log_text()
    rows = db_rows(home, "SELECT payload FROM results")
    assert sorted(json.loads(p)["log"][-1] for (p,) in rows) == [
        "graded in slot 0",
        "graded in slot 1",
    ]
    assert "worker[0]" in logs and "worker[1]" in logs
