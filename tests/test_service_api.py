"""The JSON API against the real app (temp SQLite, real catalog from grader.specs), and the
real engine for the graded paths: refusals with their status and bilingual message, auth,
limits, deadlines, roster, exports, OpenAPI."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import structural_grader as structural
from fastapi.testclient import TestClient
from live_service import FAST_ASSIGNMENT, released_env, solution_notebook

from grader.jail import sandbox_policy
from grader.service import auth, course_settings
from grader.service.app import create_app
from grader.service.config import ServiceConfig
from grader.service.errors import ApiError
from grader.service.exports import NBGRADER_COLUMNS
from grader.service.grading import engine_grader
from grader.service.models import Result, Submission
from grader.service.worker import Worker, WorkerOptions

engine_grade = engine_grader(sandbox_policy(allow_unsandboxed=False))

A = FAST_ASSIGNMENT
CAP = 256 * 1024


def minimal_nb(**extra) -> bytes:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [], **extra}
    return json.dumps(nb).encode()


@pytest.fixture
def svc(tmp_path):
    cfg = ServiceConfig(
        home=tmp_path / "home",
        max_upload_bytes=CAP,
        max_queued_per_student=3,
        max_attempts_per_assignment=5,
    )
    app = create_app(cfg, sandbox_mode="bwrap")
    st = app.state.grader
    with st.sessions.begin() as s:
        tokens = {"instructor": auth.create_instructor_token(s)}
        for sid in ("s1", "s2"):
            auth.ensure_user(s, sid, name=f"Student {sid}", email=f"{sid}@example.ac.jp")
            tokens[sid] = auth.create_token(s, sid)
    # a browser sends its page's origin with every form post (security.SameOriginForms)
    client = TestClient(app, headers={"Origin": "http://testserver"})
    client.tokens = tokens
    client.st = st
    return client


def H(client, who: str) -> dict:
    return {"Authorization": f"Bearer {client.tokens[who]}"}


MINIMAL = minimal_nb()


def post(client, who="s1", assignment=A, data=MINIMAL, name="hw.ipynb", headers=None):
    files = {"notebook": (name, data, "application/json")} if data is not None else None
    form = {"assignment_id": assignment} if assignment is not None else {}
    return client.post(
        "/api/v1/submissions",
        headers=headers if headers is not None else H(client, who),
        data=form,
        files=files,
    )


def expect(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]["ja"] and body["error"]["message"]["en"]
    assert body["detail"] == body["error"]["message"]["en"]


BAD_UPLOADS = [
    ("not_json", dict(data=b"this is not json"), 400, "not_json"),
    ("truncated", dict(data=minimal_nb()[:-7]), 400, "not_json"),
    ("nbformat_3", dict(data=minimal_nb(nbformat=3)), 400, "wrong_nbformat"),
    (
        "binary_png",
        dict(data=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
        400,
        "not_utf8",
    ),
    ("empty", dict(data=b""), 400, "empty_file"),
    ("json_list", dict(data=b"[1, 2, 3]"), 400, "not_notebook"),
    ("json_no_cells", dict(data=b'{"nbformat": 4}'), 400, "not_notebook"),
    ("cells_not_list", dict(data=minimal_nb(cells="x")), 400, "not_notebook"),
    ("nul_bytes", dict(data=b'{"nbformat": 4, "cells": [], "x": "\x00"}'), 400, "not_utf8"),
    ("path_filename", dict(name="../../etc/passwd.ipynb"), 400, "bad_filename"),
    ("stream_filename", dict(name="hw.ipynb:evil.ipynb"), 400, "bad_filename"),
    ("hidden_filename", dict(name=".hw.ipynb"), 400, "bad_filename"),
    ("wrong_extension", dict(name="hw.py"), 400, "bad_filename"),
    ("unknown_assignment", dict(assignment="9-9_nothing"), 404, "unknown_assignment"),
    ("missing_assignment", dict(assignment=None), 422, "missing_field"),
    ("missing_file", dict(data=None), 422, "missing_field"),
    ("over_cap", dict(data=b" " * (CAP + 1)), 413, "too_large"),
    ("bad_token", dict(headers={"Authorization": "Bearer gt_not-a-token"}), 401, "bad_token"),
    ("no_token", dict(headers={}), 401, "auth_required"),
    ("basic_auth", dict(headers={"Authorization": "Basic czE6czE="}), 401, "bad_token"),
    # the engine's one validator counts nesting before parsing: "too complex", not "not JSON"
    ("deep_nesting", dict(data=b"[" * 100000 + b"]" * 100000), 400, "too_complex"),
]


@pytest.mark.parametrize("case,kwargs,status,code", BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_bad_upload_is_refused_clearly(svc, case, kwargs, status, code):
    expect(post(svc, **kwargs), status, code)
    assert svc.get("/healthz").json()["status"] == "ok"
    mine = svc.get("/api/v1/submissions", headers=H(svc, "s1")).json()
    assert mine == []  # nothing was stored


def test_100_mb_upload_refused_before_parsing(svc):
    big = b"{" + b" " * (100 * 1024 * 1024)
    expect(post(svc, data=big), 413, "too_large")
    assert svc.get("/readyz").json()["status"] == "ready"


def test_refusal_messages_say_what_to_do(svc):
    big = post(svc, data=b" " * (CAP + 1)).json()["error"]["message"]
    # the cap in MB (CAP is 256 kB), not a raw byte count; the remedy in both languages
    assert "0.25 MB" in big["ja"] and "0.25 MB" in big["en"]
    assert str(CAP) not in big["ja"] + big["en"] and "バイト" not in big["ja"]
    for text in big.values():
        assert "Kernel → Restart & Clear Output" in text
    assert "save again" in big["en"] and "保存し直して" in big["ja"]
    for data in (b"this is not json", b"[1, 2, 3]"):
        msg = post(svc, data=data).json()["error"]["message"]
        assert "Open it in Jupyter and save it again" in msg["en"]
        assert "download the assignment notebook again" in msg["en"]
        assert "Jupyter で開いて保存し直す" in msg["ja"] and "ダウンロードし直して" in msg["ja"]


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    """A web-form body (assignment + notebook) and its content type."""
    b = "grader-test-boundary"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="assignment_id"\r\n\r\n{A}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="notebook"; filename="{name}"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{b}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={b}"


@pytest.mark.parametrize("framing", ["content_length", "chunked"])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_oversized_web_upload_gets_the_html_error_page(svc, framing, lang):
    """Over the cap plus form overhead, the size limit answers before the route runs: the web
    form still gets the site's page (in the user's language), the API its JSON."""
    login = svc.post("/login", data={"token": svc.tokens["s1"]}, follow_redirects=False)
    assert login.status_code == 303
    body, ctype = _multipart("big.ipynb", b"{" + b" " * (2 * CAP))
    # a generator body goes out chunked, without Content-Length (the counted path)
    content = body if framing == "content_length" else iter([body[:1000], body[1000:]])
    r = svc.post(f"/submit?lang={lang}", content=content, headers={"content-type": ctype})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert ("content-length" in r.request.headers) == (framing == "content_length")
    page = r.text
    assert '<p class="error" id="error" role="alert">' in page and "0.25 MB" in page
    assert "Kernel → Restart &amp; Clear Output" in page
    assert ("save again" in page) == (lang == "en") and ("保存し直して" in page) == (lang == "ja")
    assert f'<html lang="{lang}"' in page and "Student s1" in page  # the site's, logged in
    assert svc.get("/api/v1/submissions", headers=H(svc, "s1")).json() == []

    api = svc.post(
        "/api/v1/submissions",
        content=content if framing == "content_length" else iter([body]),
        headers={**H(svc, "s1"), "content-type": ctype},
    )
    expect(api, 413, "too_large")
    assert "0.25 MB" in api.json()["detail"]


def test_submit_answers_202_with_an_id_and_students_see_only_their_own(svc):
    r = post(svc, "s1")
    assert r.status_code == 202
    sid = r.json()["id"]
    assert r.json()["status"] == "queued" and r.json()["student_id"] == "s1"
    assert svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).status_code == 200
    expect(svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s2")), 404, "submission_not_found")
    expect(
        svc.get(f"/api/v1/submissions/{sid}/events", headers=H(svc, "s2")),
        404,
        "submission_not_found",
    )
    assert svc.get("/api/v1/submissions", headers=H(svc, "s2")).json() == []
    expect(svc.get("/api/v1/instructor/submissions", headers=H(svc, "s1")), 403, "instructor_only")
    everyone = svc.get("/api/v1/instructor/submissions", headers=H(svc, "instructor")).json()
    assert [x["id"] for x in everyone] == [sid]
    expect(svc.get(f"/api/v1/submissions/{sid}/feedback", headers=H(svc, "s1")), 409, "not_ready")


def test_instructor_downloads_the_original_upload(svc):
    """Issue 13, finding 4: the stored executed notebook is the grader's rebuild; the upload
    itself, byte for byte, is the instructor's to download (a student's request is refused)."""
    data = minimal_nb(metadata={"note": "as uploaded \u3042"}).replace(b"{", b"{ ", 1)
    sid = post(svc, "s1", data=data, name="hw-1.ipynb").json()["id"]
    url = f"/api/v1/instructor/submissions/{sid}/original.ipynb"
    got = svc.get(url, headers=H(svc, "instructor"))
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-disposition"] == 'attachment; filename="hw-1.ipynb"'
    expect(svc.get(url, headers=H(svc, "s1")), 403, "instructor_only")
    expect(
        svc.get("/api/v1/instructor/submissions/nope/original.ipynb", headers=H(svc, "instructor")),
        404,
        "submission_not_found",
    )
    login = svc.post("/login", data={"token": svc.tokens["instructor"]}, follow_redirects=False)
    assert login.status_code == 303
    assert f'href="{url}"' in svc.get(f"/submissions/{sid}").text
    login = svc.post("/login", data={"token": svc.tokens["s1"]}, follow_redirects=False)
    assert "original.ipynb" not in svc.get(f"/submissions/{sid}").text


def test_limits_on_queued_submissions_and_attempts(svc):
    for _ in range(3):
        assert post(svc).status_code == 202
    expect(post(svc), 429, "too_many_queued")
    svc.st.config.max_queued_per_student = 100
    for _ in range(2):
        assert post(svc).status_code == 202
    expect(post(svc), 429, "too_many_attempts")
    assert post(svc, "s2").status_code == 202  # limits are per student


def test_revoked_token_is_refused(svc):
    with svc.st.sessions.begin() as s:
        assert auth.revoke(s, "s2") == 1
    expect(post(svc, "s2"), 401, "bad_token")


def test_deadline_refuse_and_penalty(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "policy.toml").write_text(
        '[defaults]\nlate_policy = "penalty"\npenalty_per_day = 0.25\n'
        f'[assignments."{A}"]\ndeadline = 2020-01-01T00:00:00+09:00\nlate_policy = "refuse"\n'
        '[assignments."3-1-1_affine_layer"]\ndeadline = 2020-01-01T00:00:00\n',
        encoding="utf-8",
    )
    app = create_app(ServiceConfig(home=home), sandbox_mode="bwrap")
    with app.state.grader.sessions.begin() as s:
        auth.ensure_user(s, "s1")
        tok = auth.create_token(s, "s1")
    c = TestClient(app)
    h = {"Authorization": f"Bearer {tok}"}
    listed = {a["id"]: a for a in c.get("/api/v1/assignments", headers=h).json()}
    assert listed[A]["open"] is False and listed[A]["late_policy"] == "refuse"
    assert listed[A]["max_score"] == 6
    expect(post(c, headers=h), 403, "deadline_passed")
    r = c.post(
        "/api/v1/submissions",
        headers=h,
        data={"assignment_id": "3-1-1_affine_layer"},
        files={"notebook": ("a.ipynb", minimal_nb())},
    )
    assert r.status_code == 202 and r.json()["late_days"] > 365
    with app.state.grader.sessions() as s:
        policy = course_settings.policy_for(s, "3-1-1_affine_layer", "s1")
    assert policy.penalty(3, score=3.0, max_score=3.0) == pytest.approx(2.25)
    assert policy.penalty(10, score=3.0, max_score=3.0) == 3.0  # never below zero


def test_roster_import_issues_working_tokens(svc):
    roster = "student_id,name,email\nb001,山田 太郎,yamada@example.ac.jp\nb002,Sato,\n"
    r = svc.post(
        "/api/v1/instructor/roster",
        headers=H(svc, "instructor"),
        files={"roster": ("roster.csv", roster.encode())},
    )
    assert r.status_code == 200 and r.json()["imported"] == 2
    tok = {t["student_id"]: t["token"] for t in r.json()["tokens"]}
    me = svc.get("/api/v1/me", headers={"Authorization": f"Bearer {tok['b001']}"}).json()
    assert me == {"user_id": "b001", "name": "山田 太郎", "role": "student"}
    bad = svc.post(
        "/api/v1/instructor/roster",
        headers=H(svc, "instructor"),
        files={"roster": ("r.csv", b"id,name\n1,x\n")},
    )
    expect(bad, 400, "bad_roster")
    expect(
        svc.post(
            "/api/v1/instructor/roster",
            headers=H(svc, "s1"),
            files={"roster": ("r.csv", roster.encode())},
        ),
        403,
        "instructor_only",
    )


def test_openapi_documents_every_api_route_with_models(svc):
    spec = svc.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/api/v1/submissions",
        "/api/v1/submissions/{submission_id}",
        "/api/v1/submissions/{submission_id}/events",
        "/api/v1/assignments",
        "/api/v1/instructor/gradebook.csv",
        "/api/v1/instructor/roster",
        "/api/v1/instructor/submissions/{submission_id}/regrade",
        "/healthz",
        "/readyz",
    ):
        assert p in paths, p
    ok = paths["/api/v1/submissions"]["post"]["responses"]["202"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("SubmissionOut")
    assert "ErrorBody" in spec["components"]["schemas"]


def test_health_reports_sandbox_mode(svc):
    assert svc.get("/healthz").json()["sandbox_mode"] == "bwrap"
    ready = svc.get("/readyz").json()
    assert ready["database"] == "sqlite" and ready["assignments"] >= 1


def _stored_feedback(client, submission_id: str) -> str | None:
    with client.st.sessions() as s:
        sub = s.get(Submission, submission_id)
        return s.get(Result, sub.current_result_id).feedback_html


@pytest.fixture
def engine_env(tmp_path, monkeypatch):
    for k, v in released_env(tmp_path / "released").items():
        monkeypatch.setenv(k, v)


@pytest.mark.sandbox
def test_graded_result_feedback_and_exports_with_the_real_engine(svc, engine_env):
    good = post(svc, "s1", data=solution_notebook(), name="3-1-2.ipynb").json()["id"]
    # s2 sends a notebook whose softmax is wrong: the engine must fail that item
    nb = json.loads(solution_notebook())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if "### BEGIN SOLUTION" in src and "def softmax" in src:
            cell["source"] = src.replace("def softmax(x):", "def softmax(x):\n    return x\n", 1)
    bad = post(svc, "s2", data=json.dumps(nb).encode()).json()["id"]
    w = Worker(svc.st.engine, engine_grade, WorkerOptions(max_jobs=2))
    assert w.run() == 2
    r = svc.get(f"/api/v1/submissions/{good}", headers=H(svc, "s1")).json()
    assert r["status"] == "graded", r
    assert r["result"]["final_score"] == 6 and r["result"]["sandbox_mode"] == "bwrap"
    assert {i["id"] for i in r["result"]["items"]} >= {"softmax", "softmax_with_loss_backward"}
    events = svc.get(f"/api/v1/submissions/{good}/events", headers=H(svc, "s1")).text
    assert '"status": "graded"' in events
    # the report is not built while grading: the first download renders and stores it
    assert _stored_feedback(svc, good) is None
    fb = svc.get(f"/api/v1/submissions/{good}/feedback", headers=H(svc, "s1"))
    assert fb.status_code == 200 and "sandbox" in fb.headers["content-security-policy"]
    assert "softmax_with_loss_backward" in fb.text and "executed notebook" in fb.text
    assert _stored_feedback(svc, good) == fb.text
    again = svc.get(f"/api/v1/submissions/{good}/feedback", headers=H(svc, "s1"))
    assert again.text == fb.text
    ex = svc.get(f"/api/v1/submissions/{good}/executed.ipynb", headers=H(svc, "s1"))
    assert ex.status_code == 200 and json.loads(ex.content)["nbformat"] == 4
    r2 = svc.get(f"/api/v1/submissions/{bad}", headers=H(svc, "s2")).json()
    soft = {i["id"]: i for i in r2["result"]["items"]}["softmax"]
    assert soft["passed"] is False and r2["result"]["score"] < 6

    ih = H(svc, "instructor")
    rows = list(
        csv.DictReader(
            io.StringIO(
                svc.get(
                    "/api/v1/instructor/gradebook.csv", headers=ih, params={"assignment_id": A}
                ).text
            )
        )
    )
    assert list(rows[0].keys()) == NBGRADER_COLUMNS
    by = {r["student_id"]: r for r in rows}
    assert float(by["s1"]["score"]) == 6 and float(by["s2"]["score"]) < 6
    assert by["s1"]["email"] == "s1@example.ac.jp" and by["s1"]["max_score"] == "6"
    gs = svc.get(f"/api/v1/instructor/gradebook/{A}/gradescope.json", headers=ih).json()
    res = {x["student_id"]: x["results"] for x in gs["submissions"]}
    assert res["s1"]["score"] == 6
    assert {t["status"] for t in res["s1"]["tests"]} == {"passed"}
    stats = svc.get(f"/api/v1/instructor/stats/{A}", headers=ih).json()
    rate = {i["id"]: i["rate"] for i in stats["items"]}
    assert stats["students"] == 2 and rate["softmax"] == 0.5
    assert sum(stats["histogram"]["counts"]) == 2

    # regrade: a new run, graded again, exactly one more result
    rg = svc.post(f"/api/v1/instructor/submissions/{good}/regrade", headers=ih)
    assert rg.status_code == 202 and rg.json()["status"] == "queued"
    assert Worker(svc.st.engine, engine_grade, WorkerOptions(max_jobs=1)).run() == 1
    assert svc.get(f"/api/v1/submissions/{good}", headers=ih).json()["status"] == "graded"


def test_gradebook_table_best_score_with_late_penalty_matches_its_csv(svc):
    """Best final score per student and assignment (a later worse submission does not lower
    it, a late one loses its penalty), the same in the JSON, the CSV and the web page."""
    unfinished = json.loads(solution_notebook())
    for cell in unfinished["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = "raise NotImplementedError()\n"
    s1_good = post(svc, "s1", data=solution_notebook()).json()["id"]
    post(svc, "s1", data=json.dumps(unfinished).encode())  # newer and worse: 0 points
    s2_late = post(svc, "s2", data=solution_notebook()).json()["id"]
    with svc.st.sessions.begin() as s:
        s.get(Submission, s2_late).late_days = 2  # default policy: 10% of the maximum per day
    w = Worker(svc.st.engine, structural.grade, WorkerOptions(max_jobs=3))
    assert w.run() == 3
    ih = H(svc, "instructor")
    expect(svc.get("/api/v1/instructor/gradebook", headers=H(svc, "s1")), 403, "instructor_only")
    book = svc.get("/api/v1/instructor/gradebook", headers=ih).json()
    rows = {r["id"]: r for r in book["students"]}
    assert set(rows) == {"s1", "s2"}
    c1, c2 = rows["s1"]["scores"][A], rows["s2"]["scores"][A]
    assert (c1["score"], c1["penalty"], c1["graded"], c1["submission_id"]) == (6, 0, 2, s1_good)
    assert c2["raw"] == 6 and c2["penalty"] == pytest.approx(1.2) and c2["score"] == 4.8
    assert all(v is None for k, v in rows["s1"]["scores"].items() if k != A)
    assert rows["s2"]["total"] == pytest.approx(4.8)
    ids = [a["id"] for a in book["assignments"]]
    assert A in ids and book["max_total"] == sum(a["max_score"] for a in book["assignments"])

    text = svc.get("/api/v1/instructor/gradebook/best.csv", headers=ih).text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["student_id", "name", "email", *ids, "total"]
    by = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert by["s1"][A] == "6" and by["s2"][A] == "4.8" and by["s2"]["total"] == "4.8"
    other = next(i for i in ids if i != A)
    assert by["s1"][other] == "" and by["s1"]["email"] == "s1@example.ac.jp"

    # every export of grades counts the same submission; the statistics take the latest
    nb_csv = svc.get(f"/api/v1/instructor/gradebook.csv?assignment_id={A}", headers=ih).text
    nb_rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(nb_csv))}
    assert nb_rows["s1"]["score"] == "6" and nb_rows["s2"]["score"] == "4.8"
    gs = svc.get(f"/api/v1/instructor/gradebook/{A}/gradescope.json", headers=ih).json()
    gs_by = {e["student_id"]: e for e in gs["submissions"]}
    assert gs_by["s1"]["submission_id"] == s1_good and gs_by["s1"]["results"]["score"] == 6
    stats = svc.get(f"/api/v1/instructor/stats/{A}", headers=ih).json()
    assert stats["students"] == 2 and stats["mean"] == pytest.approx((0 + 4.8) / 2)

    # the student's own page counts the same submission as the gradebook, and the latest
    login = svc.post("/login", data={"token": svc.tokens["s1"]}, follow_redirects=False)
    assert login.status_code == 303
    home = svc.get("/").text
    assert f'<a href="/submissions/{s1_good}" class="best">6 / 6</a>' in home
    assert re.search(r'class="latest">[^<]*<a href="/submissions/[^"]+">0 / 6</a>', home), home

    login = svc.post("/login", data={"token": svc.tokens["instructor"]}, follow_redirects=False)
    assert login.status_code == 303
    dash = svc.get("/instructor")
    assert 'href="/instructor/gradebook"' in dash.text
    page = svc.get("/instructor/gradebook")
    assert page.status_code == 200
    assert '<tr data-student="s2">' in page.text and "(−1.2)" in page.text
    assert f'href="/submissions/{s1_good}">6</a>' in page.text


@pytest.mark.sandbox
def test_notebook_of_another_assignment_ends_rejected_not_failed(svc, engine_env):
    """The engine refuses a notebook sent to the wrong assignment: the submission ends as
    ``rejected`` (with the engine's message, no score), not as a failed grading."""
    other = solution_notebook("3-1-3_other_layers")
    sid = post(svc, "s1", data=other, name="3-1-3.ipynb").json()["id"]
    assert Worker(svc.st.engine, engine_grade, WorkerOptions(max_jobs=1)).run() == 1
    r = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert r["status"] == "rejected", r
    assert (
        r["result"]["outcome"] == "rejected" and "3-1-3_other_layers" in r["result"]["error"]["en"]
    )


def test_notebook_with_a_byte_order_mark_is_accepted_as_the_engine_grades_it(svc):
    """One validator: a UTF-8 BOM (some editors write one) is accepted by the API, as by the
    engine, instead of being refused as "not JSON"."""
    from grader.engine.upload import parse_notebook

    data = "\ufeff".encode() + solution_notebook()
    assert parse_notebook(data).nbformat == 4  # the engine grades it
    r = post(svc, "s1", data=data, name="3-1-2.ipynb")
    assert r.status_code == 202, r.text


def test_one_upload_limit_with_the_engines_words():
    """The service's default cap is the engine's, and a refusal carries the engine's code and
    message, whichever side refuses."""
    from grader.engine.upload import MAX_UPLOAD_BYTES, RejectedUpload, parse_notebook
    from grader.service.uploads import check_notebook_bytes

    assert ServiceConfig(home="x").max_upload_bytes == MAX_UPLOAD_BYTES
    big = b" " * (MAX_UPLOAD_BYTES + 1)
    with pytest.raises(RejectedUpload) as engine_says:
        parse_notebook(big)
    with pytest.raises(ApiError) as service_says:
        check_notebook_bytes(big, MAX_UPLOAD_BYTES)
    assert service_says.value.code == engine_says.value.code == "too_large"
    assert service_says.value.status == 413
    assert service_says.value.message == engine_says.value.message


def test_pages_know_their_user_from_the_session(svc):
    """The pages' typed "current user": no session redirects to the login page, a student's
    session reaches the student pages and is refused on the instructor's (403, the site's
    error page), an instructor's session reaches them."""
    for page in ("/", "/instructor", "/instructor/gradebook", "/instructor/settings"):
        r = svc.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", page
    login = svc.post("/login", data={"token": svc.tokens["s1"]}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert svc.get("/").status_code == 200
    for page in ("/instructor", "/instructor/gradebook", "/instructor/settings"):
        r = svc.get(page)
        assert r.status_code == 403 and "教員専用" in r.text, page
    svc.post("/logout")
    svc.post("/login", data={"token": svc.tokens["instructor"]})
    for page in ("/instructor", "/instructor/gradebook", "/instructor/settings"):
        assert svc.get(page).status_code == 200, page
