"""The service on a real PostgreSQL (throw-away cluster, tests/pg_cluster.py): the Alembic
migration, the claim skipping rows another transaction holds (``FOR UPDATE SKIP LOCKED``),
and one submission graded end to end by ``grader serve --db postgresql+psycopg://…`` with the
real engine. The queue's own tests also run on PostgreSQL (tests/test_service_queue.py)."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

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
from pg_cluster import pg_cluster as pg_cluster_fixture
from sqlalchemy import inspect, select, text

from grader.service import auth, queue
from grader.service.catalog import Catalog
from grader.service.config import ServiceConfig
from grader.service.db import MIGRATIONS_DIR, make_engine, make_sessionmaker, migrate
from grader.service.models import Job, Result
from grader.service.state import AppState
from grader.service.submissions import create_submission

pg_cluster = pg_cluster_fixture  # one throw-away PostgreSQL cluster per test process
ASSIGNMENT = "q-1_queue"


def _head_revision() -> str:
    """The newest revision of the migration scripts (the one a complete migration reaches)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_migration_on_postgresql_is_complete_and_idempotent(pg_cluster):
    engine = make_engine(pg_cluster.new_database())
    migrate(engine)
    migrate(engine)  # every start runs it again
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            _head_revision()
        )
        insp = inspect(conn)
        tables = set(insp.get_table_names())
        cols = {c["name"]: c for c in insp.get_columns("submissions")}
        uniques = {u["name"] for u in insp.get_unique_constraints("results")}
    assert tables >= {"users", "tokens", "web_sessions", "submissions", "jobs", "results"}
    assert tables >= {"assignment_settings", "extensions"}
    assert str(cols["notebook"]["type"]) == "BYTEA"
    assert "uq_results_job_id" in uniques
    engine.dispose()


def _state(url: str, home) -> AppState:  # noqa: ANN001
    item = SimpleNamespace(id="notebook_complete", title={"ja": "完成", "en": "done"}, points=1)
    source = [SimpleNamespace(id=ASSIGNMENT, title={"ja": "q", "en": "q"}, items=[item])]
    cfg = ServiceConfig(home=home, db_url=url, max_queued_per_student=100)
    engine = make_engine(url)
    migrate(engine)
    st = AppState(cfg, engine, make_sessionmaker(engine), Catalog(lambda: source), "bwrap")
    with st.sessions.begin() as s:
        auth.ensure_user(s, "s1")
    return st


def test_claim_skips_a_job_locked_by_another_transaction(pg_cluster, tmp_path):
    st = _state(pg_cluster.new_database(), tmp_path)
    who = auth.Principal("s1", "student", "", 0)
    for i in range(2):
        nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"tag": i}, "cells": []}
        create_submission(st, who, ASSIGNMENT, "a.ipynb", json.dumps(nb).encode())
    with st.engine.connect() as locker:
        first = locker.execute(select(Job.id).order_by(Job.id).limit(1).with_for_update())
        first_id = first.scalar_one()  # row lock held until this transaction ends
        got: list = []
        t = threading.Thread(target=lambda: got.append(queue.claim(st.engine, "w1", 60)))
        t.start()
        t.join(20)
        assert not t.is_alive(), "claim waited for the locked row instead of skipping it"
        locker.rollback()
    assert got[0] is not None and got[0].job_id != first_id
    assert queue.claim(st.engine, "w2", 60).job_id == first_id  # free again after the rollback
    assert queue.claim(st.engine, "w3", 60) is None
    st.engine.dispose()


@pytest.mark.sandbox
def test_submission_graded_end_to_end_on_postgresql(pg_cluster, tmp_path, monkeypatch):
    for k, v in released_env(tmp_path / "released").items():
        monkeypatch.setenv(k, v)
    url = pg_cluster.new_database()
    home = tmp_path / "home"
    home.mkdir()
    itok = cli(home, "token", "create", "--instructor", "--db", url).strip()
    headers = {"Authorization": f"Bearer {itok}"}
    with LiveService(home, workers=1, extra=["--db", url]) as svc:
        assert httpx.get(f"{svc.url}/readyz").json()["database"] == "postgresql"
        r = httpx.post(
            f"{svc.url}/api/v1/submissions",
            headers=headers,
            data={"assignment_id": FAST_ASSIGNMENT},
            files={"notebook": ("hw.ipynb", solution_notebook())},
            timeout=60,
        )
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        deadline = time.monotonic() + 120
        while (view := httpx.get(f"{svc.url}/api/v1/submissions/{sid}", headers=headers).json())[
            "status"
        ] not in ("graded", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert view["status"] == "graded", view
        assert view["result"]["final_score"] == fast_spec().max_score
        fb = httpx.get(f"{svc.url}/api/v1/submissions/{sid}/feedback", headers=headers)
        assert fb.status_code == 200 and "softmax" in fb.text
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Result.submission_id, Result.feedback_html)).all()
    engine.dispose()
    assert [r[0] for r in rows] == [sid] and rows[0][1] == fb.text  # one result, report stored
