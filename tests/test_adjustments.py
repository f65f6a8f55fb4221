"""Instructor adjustments with an audit trail (issue 9): score override with a reason, a
comment the student sees, both recorded with who and when and visible in the exports."""

from __future__ import annotations

import csv
import io

import fixture_course
import pytest
import structural_grader as structural
from fastapi.testclient import TestClient

from grader.service import auth
from grader.service.app import create_app
from grader.service.config import ServiceConfig
from grader.service.worker import Worker, WorkerOptions

A = fixture_course.FIXTURE  # 6 points


@pytest.fixture
def svc(tmp_path):
    app = create_app(
        ServiceConfig(home=tmp_path / "home"),
        catalog_source=fixture_course.course,
        sandbox_mode="bwrap",
    )
    st = app.state.grader
    with st.sessions.begin() as s:
        tokens = {"instructor": auth.create_instructor_token(s)}
        auth.ensure_user(s, "s1", name="山田 太郎")
        tokens["s1"] = auth.create_token(s, "s1")
    c = TestClient(app, headers={"Origin": "http://testserver"})  # a same-origin browser
    c.st, c.tokens = st, tokens
    return c


def H(c, who):
    return {"Authorization": f"Bearer {c.tokens[who]}"}


def submit(c) -> str:
    r = c.post(
        "/api/v1/submissions",
        headers=H(c, "s1"),
        data={"assignment_id": A},
        files={"notebook": ("hw.ipynb", fixture_course.notebook())},
    )
    assert r.status_code == 202
    return r.json()["id"]


def nbgrader_score(c) -> str:
    text = c.get(f"/api/v1/instructor/gradebook.csv?assignment_id={A}", headers=H(c, "instructor"))
    return {r["student_id"]: r for r in csv.DictReader(io.StringIO(text.text))}["s1"]["score"]


def test_override_and_comment_with_audit_trail_reach_student_and_exports(svc):
    sid = submit(svc)
    ih = H(svc, "instructor")
    r = svc.post(
        f"/api/v1/instructor/submissions/{sid}/override",
        headers=ih,
        json={"score": 1, "reason": "x"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_ready"  # not graded yet
    assert Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=1)).run() == 1
    assert nbgrader_score(svc) == "6"
    url = f"/api/v1/instructor/submissions/{sid}/override"
    r = svc.post(url, headers=ih, json={"score": 2.5, "reason": "copied from a classmate"})
    assert r.status_code == 200 and r.json()["final_score"] == 2.5
    mine = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert mine["result"]["final_score"] == 2.5 and mine["result"]["override_score"] == 2.5
    assert nbgrader_score(svc) == "2.5"
    book = svc.get("/api/v1/instructor/gradebook", headers=ih).json()
    assert {r["id"]: r for r in book["students"]}["s1"]["scores"][A]["score"] == 2.5
    c = svc.post(
        f"/api/v1/instructor/submissions/{sid}/comments",
        headers=ih,
        json={"text": "softmax の数値安定化がよくできています"},
    )
    assert c.status_code == 201 and c.json()["by"] == "instructor"
    mine = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert [x["text"] for x in mine["comments"]] == ["softmax の数値安定化がよくできています"]
    svc.post("/login", data={"token": svc.tokens["s1"]})
    page = svc.get(f"/submissions/{sid}").text
    svc.cookies.clear()
    assert "数値安定化" in page and 'id="override"' in page
    # clear the override: the computed score counts again; the trail keeps both entries
    assert (
        svc.post(url, headers=ih, json={"score": None, "reason": "resolved"}).json()["final_score"]
        == 6
    )
    assert nbgrader_score(svc) == "6"
    trail = svc.get(f"/api/v1/instructor/submissions/{sid}/adjustments", headers=ih).json()
    assert [(a["kind"], a["score"], a["text"]) for a in trail] == [
        ("override", 2.5, "copied from a classmate"),
        ("comment", None, "softmax の数値安定化がよくできています"),
        ("override", None, "resolved"),
    ]
    assert all(a["by"] == "instructor" and a["at"] for a in trail)
    audit = svc.get("/api/v1/instructor/adjustments.csv?bom=true", headers=ih)
    rows = list(csv.DictReader(io.StringIO(audit.content.decode("utf-8-sig"))))
    assert [(r["kind"], r["score"], r["student_id"]) for r in rows] == [
        ("override", "2.5", "s1"),
        ("comment", "", "s1"),
        ("override", "", "s1"),
    ]


def test_bad_adjustments_are_refused_and_change_nothing(svc):
    sid = submit(svc)
    assert Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=1)).run() == 1
    ih = H(svc, "instructor")
    url = f"/api/v1/instructor/submissions/{sid}/override"
    for body in (
        {"score": 7, "reason": "x"},  # above the maximum, 6
        {"score": -1, "reason": "x"},
        {"score": 3, "reason": " "},
    ):
        r = svc.post(url, headers=ih, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_adjustment", body
        assert r.json()["error"]["message"]["ja"]
    r = svc.post(f"/api/v1/instructor/submissions/{sid}/comments", headers=ih, json={"text": ""})
    assert r.status_code == 422
    r = svc.post(
        "/api/v1/instructor/submissions/nope/override", headers=ih, json={"score": 1, "reason": "x"}
    )
    assert r.status_code == 404
    r = svc.post(url, headers=H(svc, "s1"), json={"score": 6, "reason": "please"})
    assert r.status_code == 403
    assert svc.get(f"/api/v1/instructor/submissions/{sid}/adjustments", headers=ih).json() == []
    assert nbgrader_score(svc) == "6"


def test_instructor_forms_on_the_submission_page(svc):
    sid = submit(svc)
    assert Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=1)).run() == 1
    svc.post("/login", data={"token": svc.tokens["instructor"]})
    page = svc.get(f"/submissions/{sid}").text
    assert 'id="override-form"' in page and 'id="gradescope-results"' in page
    r = svc.post(
        f"/instructor/submissions/{sid}/override",
        data={"score": "4", "reason": "partial credit for the idea"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    svc.post(f"/instructor/submissions/{sid}/comment", data={"text": "よくできました"})
    bad = svc.post(f"/instructor/submissions/{sid}/override", data={"score": "x", "reason": "r"})
    assert bad.status_code == 422 and "調整が不正です" in bad.text  # the site's error page
    svc.cookies.clear()
    mine = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert mine["result"]["final_score"] == 4 and mine["comments"][0]["text"] == "よくできました"
    trail = svc.get(
        f"/api/v1/instructor/submissions/{sid}/adjustments", headers=H(svc, "instructor")
    )
    assert [a["kind"] for a in trail.json()] == ["override", "comment"]
