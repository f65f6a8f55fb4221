"""Mistakes at a glance (issue 9): hint counts per item from real graded submissions, the
students who have not submitted, bulk regrade (all or only the failed ones)."""

from __future__ import annotations

import json

import pytest
import structural_grader as structural
from fastapi.testclient import TestClient
from live_service import released_env, solution_notebook

from grader.jail import sandbox_policy
from grader.service import auth
from grader.service.app import create_app
from grader.service.config import ServiceConfig
from grader.service.grading import engine_grader
from grader.service.worker import Worker, WorkerOptions

engine_grade = engine_grader(sandbox_policy(allow_unsandboxed=False))

A = "3-1-2_softmax_with_loss"
BACKWARD_END = "        dx = dx * dout\n"


@pytest.fixture
def svc(tmp_path):
    app = create_app(ServiceConfig(home=tmp_path / "home"), sandbox_mode="bwrap")
    st = app.state.grader
    with st.sessions.begin() as s:
        tokens = {"instructor": auth.create_instructor_token(s)}
        for sid in ("s1", "s2", "s3", "s4"):
            auth.ensure_user(s, sid, name=f"Student {sid}")
            tokens[sid] = auth.create_token(s, sid)
    c = TestClient(app, headers={"Origin": "http://testserver"})  # a same-origin browser
    c.st, c.tokens = st, tokens
    return c


def H(c, who):
    return {"Authorization": f"Bearer {c.tokens[who]}"}


def submit(c, who, notebook: bytes) -> str:
    r = c.post(
        "/api/v1/submissions",
        headers=H(c, who),
        data={"assignment_id": A},
        files={"notebook": ("hw.ipynb", notebook)},
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def with_backward_end(line: str) -> bytes:
    """The solution notebook with the last line of SoftmaxWithLoss.backward replaced."""
    nb = json.loads(solution_notebook())
    hits = 0
    for cell in nb["cells"]:
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if BACKWARD_END in src:
            cell["source"] = src.replace(BACKWARD_END, line)
            hits += 1
    assert hits == 1
    return json.dumps(nb).encode()


@pytest.fixture
def engine_env(tmp_path, monkeypatch):
    for k, v in released_env(tmp_path / "released").items():
        monkeypatch.setenv(k, v)


@pytest.mark.sandbox
def test_hint_counts_from_real_graded_submissions_match_by_hand(svc, engine_env):
    """s1 correct, s2 forgot ÷N (its result is N times too big), s3 flipped the sign; s4
    submitted nothing. By hand: of 3 graded students, 1 got batch_size_division and 1 got
    sign_flip on softmax_with_loss_backward; s4 is the one non-submitter."""
    ids = {
        "s1": submit(svc, "s1", solution_notebook()),
        "s2": submit(svc, "s2", with_backward_end("        dx = dx * dout * batch_size\n")),
        "s3": submit(svc, "s3", with_backward_end("        dx = -dx * dout\n")),
    }
    assert Worker(svc.st.engine, engine_grade, WorkerOptions(max_jobs=3)).run() == 3
    stats = svc.get(f"/api/v1/instructor/stats/{A}", headers=H(svc, "instructor")).json()
    assert stats["students"] == 3
    got = {(h["item_id"], h["hint_id"]): h for h in stats["hints"]}
    assert set(got) == {
        ("softmax_with_loss_backward", "batch_size_division"),
        ("softmax_with_loss_backward", "sign_flip"),
    }
    div = got[("softmax_with_loss_backward", "batch_size_division")]
    assert div["count"] == 1 and div["submissions"] == [ids["s2"]]
    assert "N" in div["text"]["en"] and div["text"]["ja"]
    sign = got[("softmax_with_loss_backward", "sign_flip")]
    assert sign["count"] == 1 and sign["submissions"] == [ids["s3"]]
    rate = {i["id"]: i["passed"] for i in stats["items"]}
    assert rate["softmax_with_loss_backward"] == 1 and rate["softmax"] == 3
    assert [u["id"] for u in stats["non_submitters"]] == ["s4"]


def test_bulk_regrade_all_or_only_failed(svc):
    unfinished = json.loads(solution_notebook())
    for cell in unfinished["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = "raise NotImplementedError()\n"
    good = submit(svc, "s1", solution_notebook())
    bad = submit(svc, "s2", json.dumps(unfinished).encode())
    assert Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=2)).run() == 2
    ih = H(svc, "instructor")
    stats = svc.get(f"/api/v1/instructor/stats/{A}", headers=ih).json()
    assert [u["id"] for u in stats["non_submitters"]] == ["s3", "s4"]
    url = f"/api/v1/instructor/assignments/{A}/regrade"
    r = svc.post(url, headers=ih, params={"only": "failed"})
    assert r.status_code == 202 and r.json()["queued"] == [bad]
    # the queued one is waiting: asking again does not queue it twice
    assert svc.post(url, headers=ih, params={"only": "failed"}).json()["queued"] == []
    assert Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=1)).run() == 1
    r = svc.post(url, headers=ih)
    assert sorted(r.json()["queued"]) == sorted([good, bad])
    assert Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=2)).run() == 2
    runs = {
        sid: svc.get(f"/api/v1/submissions/{sid}", headers=ih).json()["status"]
        for sid in (good, bad)
    }
    assert runs == {good: "graded", bad: "graded"}
    r = svc.post("/api/v1/instructor/assignments/nope/regrade", headers=ih)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_assignment"
    r = svc.post(url, headers=H(svc, "s1"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "instructor_only"
    r = svc.post(url, headers=ih, params={"only": "some"})
    assert r.status_code == 422
