"""Course settings in the database (issue 9): the instructor API, effective at once (no
restart), extensions, the exact started-day late rule, release dates, result visibility, and
policy.toml as import/export. Real app, real SQLite, the structural grade function (no
notebook code runs: these tests are about the rules, not the engine)."""

from __future__ import annotations

import time
import tomllib
from datetime import UTC, datetime

import pytest
import structural_grader as structural
from fastapi.testclient import TestClient
from live_service import solution_notebook

from grader.service import auth, course_settings
from grader.service.app import create_app
from grader.service.catalog import EXAMPLE_POLICY, parse_policy_toml
from grader.service.config import ServiceConfig
from grader.service.models import Result, Submission
from grader.service.worker import Worker, WorkerOptions
from grader.specs import get_assignment

# 3-1-1: no other notebook carries its answers (the release-order check stays out of the way)
A = "3-1-1_affine_layer"
OTHER = "3-1-3_other_layers"
MAX = get_assignment(A).max_score  # what its solution notebook earns
DAY = 86400.0


@pytest.fixture
def svc(tmp_path):
    app = create_app(ServiceConfig(home=tmp_path / "home"), sandbox_mode="bwrap")
    st = app.state.grader
    with st.sessions.begin() as s:
        tokens = {"instructor": auth.create_instructor_token(s)}
        for sid in ("s1", "s2"):
            auth.ensure_user(s, sid, name=f"Student {sid}", email=f"{sid}@example.ac.jp")
            tokens[sid] = auth.create_token(s, sid)
    client = TestClient(app, headers={"Origin": "http://testserver"})  # a same-origin browser
    client.tokens, client.st = tokens, st
    return client


def H(c, who):
    return {"Authorization": f"Bearer {c.tokens[who]}"}


def at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def submit(c, who="s1", assignment=A):
    return c.post(
        "/api/v1/submissions",
        headers=H(c, who),
        data={"assignment_id": assignment},
        files={"notebook": ("hw.ipynb", solution_notebook(assignment))},
    )


def put(c, assignment=A, **values):
    return c.put(
        f"/api/v1/instructor/settings/{assignment}", headers=H(c, "instructor"), json=values
    )


def expect(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]["ja"] and body["error"]["message"]["en"]
    return body


def page(c, who, path):
    """A web page as ``who`` sees it (logged in with their token; the cookie is kept)."""
    c.cookies.clear()
    assert (
        c.post("/login", data={"token": c.tokens[who]}, follow_redirects=False).status_code == 303
    )
    text = c.get(path).text
    c.cookies.clear()
    return text


def listed(c, who="s1"):
    return {a["id"]: a for a in c.get("/api/v1/assignments", headers=H(c, who)).json()}


def grade_all(c, n):
    assert Worker(c.st.engine, structural.grade, WorkerOptions(max_jobs=n)).run() == n


# -- settings API ---------------------------------------------------------------------------------
def test_settings_create_edit_delete_effective_for_the_next_submission(svc):
    assert submit(svc).status_code == 202  # no settings: open
    r = put(svc, deadline=at(time.time() - 60), late_policy="refuse")
    assert r.status_code == 200, r.text
    assert r.json()["late_policy"] == "refuse" and r.json()["updated_by"] == "instructor"
    expect(submit(svc), 403, "deadline_passed")  # the very next request, no restart
    assert listed(svc)[A]["open"] is False
    got = svc.get(f"/api/v1/instructor/settings/{A}", headers=H(svc, "instructor")).json()
    assert got["late_policy"] == "refuse" and got["deadline"] is not None
    # edit: late submissions allowed again, with a penalty
    assert put(svc, deadline=at(time.time() - 60), penalty_per_day=0.5).status_code == 200
    r = submit(svc)
    assert r.status_code == 202 and r.json()["late_days"] == 1
    # delete: back to the defaults (no deadline)
    d = svc.delete(f"/api/v1/instructor/settings/{A}", headers=H(svc, "instructor"))
    assert d.json() == {"assignment_id": A, "removed": True}
    assert submit(svc).json()["late_days"] == 0
    everything = svc.get("/api/v1/instructor/settings", headers=H(svc, "instructor")).json()
    assert {x["assignment_id"]: x for x in everything}[A]["deadline"] is None


def test_bad_settings_are_refused_with_a_clear_message_and_change_nothing(svc):
    assert put(svc, deadline="2030-01-01T00:00:00+09:00").status_code == 200
    expect(put(svc, deadline="next friday"), 422, "bad_setting")
    expect(put(svc, penalty_per_day=1.5), 422, "bad_setting")
    expect(put(svc, max_late_days=-1), 422, "bad_setting")
    body = expect(
        put(svc, deadline="2030-01-01T00:00:00", release_at="2030-02-01T00:00:00"),
        422,
        "bad_setting",
    )
    assert "release_at" in body["detail"]
    expect(put(svc, late_policy="sometimes"), 422, "invalid_request")
    expect(put(svc, colour="red"), 422, "invalid_request")
    expect(put(svc, "no-such-assignment"), 404, "unknown_assignment")
    r = svc.put(f"/api/v1/instructor/settings/{A}", headers=H(svc, "s1"), json={})
    expect(r, 403, "instructor_only")
    got = svc.get(f"/api/v1/instructor/settings/{A}", headers=H(svc, "instructor")).json()
    assert got["deadline"] == "2029-12-31T15:00:00+00:00"  # still the first, good setting


# -- late rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offset", "days", "refused"),
    [
        (-1, 0, False),  # deadline − 1 s: on time
        (0, 0, False),  # exactly at the deadline: on time
        (1, 1, False),  # + 1 s: one started day
        (DAY, 1, False),  # + 24 h: still one day
        (DAY + 1, 2, False),  # + 24 h + 1 s: two days
        (DAY + 8 * 3600, 2, False),  # 1 day 8 h late = 2 days (what the students are told)
        (3 * DAY, 3, False),  # the last allowed day
        (3 * DAY + 1, 4, True),  # past max_late_days: refused
    ],
)
def test_late_rule_boundaries_with_and_without_extension(svc, offset, days, refused):
    deadline = 1_800_000_000.0
    with svc.st.sessions.begin() as s:
        settings = course_settings.validate(
            {
                "deadline": deadline,
                "late_policy": "penalty",
                "penalty_per_day": 0.1,
                "max_late_days": 3,
            }
        )
        course_settings.put_settings(s, A, settings, "instructor")
        course_settings.put_extension(
            s, "s2", A, deadline + 2 * DAY, "illness", "instructor", reveals=svc.st.catalog.reveals
        )
    with svc.st.sessions() as s:
        own = course_settings.policy_for(s, A, "s1")
        extended = course_settings.policy_for(s, A, "s2")
    t = deadline + offset
    assert own.late_days(t) == days and own.refuses(t) is refused
    assert own.penalty(days, score=6.0, max_score=6.0) == pytest.approx(min(6.0, 0.6 * days))
    # the same offsets from the student's own (extended) deadline give the same days
    assert extended.late_days(t + 2 * DAY) == days and extended.refuses(t + 2 * DAY) is refused
    # and at the course deadline + offset the extended student is two days better off
    assert extended.late_days(t) == max(0, days - 2)


def test_refuse_policy_refuses_one_second_late_and_none_never_penalises():
    from grader.service.catalog import LatePolicy

    refuse = LatePolicy(1000.0, "refuse", 0.1, None)
    assert not refuse.refuses(1000.0) and refuse.refuses(1001.0)
    none = LatePolicy(1000.0, "none", 0.1, 2)
    assert none.penalty(2, 6.0, 6.0) == 0.0 and not none.refuses(1000 + 2 * DAY)
    assert none.refuses(1000 + 2 * DAY + 1)


def test_extension_api_late_days_and_penalty_from_the_students_own_deadline(svc):
    now = time.time()
    # the course deadline passed 1 day and 1 hour ago: 2 started days, 0.25 of 3 points each
    assert put(svc, deadline=at(now - DAY - 3600), penalty_per_day=0.25).status_code == 200
    ext = svc.put(
        f"/api/v1/instructor/extensions/{A}/s2",
        headers=H(svc, "instructor"),
        json={"deadline": at(now + 7 * DAY), "reason": "忌引 (bereavement)"},
    )
    assert ext.status_code == 200 and ext.json()["reason"] == "忌引 (bereavement)"
    late = submit(svc, "s1").json()
    extended = submit(svc, "s2").json()
    assert late["late_days"] == 2 and extended["late_days"] == 0
    grade_all(svc, 2)
    with svc.st.sessions() as s:
        pen = {
            sid: s.get(Result, s.get(Submission, sid).current_result_id).penalty
            for sid in (late["id"], extended["id"])
        }
    assert pen[late["id"]] == pytest.approx(2 * 0.25 * MAX) and pen[extended["id"]] == 0.0
    # shown to that student only
    mine = listed(svc, "s2")[A]
    assert mine["extension"]["reason"] == "忌引 (bereavement)"
    assert mine["deadline"] != mine["course_deadline"]
    assert "延長" in mine["rule"]["ja"] and "extended" in mine["rule"]["en"]
    assert listed(svc, "s1")[A]["extension"] is None
    rows = svc.get("/api/v1/instructor/extensions", headers=H(svc, "instructor")).json()
    assert [(r["student_id"], r["granted_by"]) for r in rows] == [("s2", "instructor")]
    # bad input: unknown student, bad date; deleting takes s2 back to the course deadline
    bad = svc.put(
        f"/api/v1/instructor/extensions/{A}/nobody",
        headers=H(svc, "instructor"),
        json={"deadline": at(now)},
    )
    expect(bad, 404, "unknown_student")
    bad = svc.put(
        f"/api/v1/instructor/extensions/{A}/s2",
        headers=H(svc, "instructor"),
        json={"deadline": "x"},
    )
    expect(bad, 422, "bad_setting")
    gone = svc.delete(f"/api/v1/instructor/extensions/{A}/s2", headers=H(svc, "instructor"))
    assert gone.json()["removed"] is True
    assert submit(svc, "s2").json()["late_days"] == 2


def test_extension_granted_after_a_late_submission_counts_at_the_regrade(svc):
    now = time.time()
    put(svc, deadline=at(now - 3600), penalty_per_day=0.5)
    sid = submit(svc, "s1").json()["id"]
    grade_all(svc, 1)
    svc.put(
        f"/api/v1/instructor/extensions/{A}/s1",
        headers=H(svc, "instructor"),
        json={"deadline": at(now + DAY), "reason": "server outage"},
    )
    svc.post(f"/api/v1/instructor/submissions/{sid}/regrade", headers=H(svc, "instructor"))
    grade_all(svc, 1)
    r = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert r["late_days"] == 0 and r["result"]["penalty"] == 0 and r["result"]["final_score"] == MAX


# -- the rule the student sees --------------------------------------------------------------------
def test_student_sees_their_rule_in_both_languages(svc):
    put(
        svc,
        deadline="2030-04-17T23:59:00",
        late_policy="penalty",
        penalty_per_day=0.1,
        max_late_days=3,
    )
    put(svc, OTHER, deadline="2030-04-17T23:59:00+09:00", late_policy="refuse")
    a = listed(svc)
    rule = a[A]["rule"]
    assert "2030-04-17 23:59 JST" in rule["ja"] and "2030-04-17 23:59 JST" in rule["en"]
    assert "1 日と 8 時間の遅れで 2 日" in rule["ja"] and "started days" in rule["en"]
    assert "10%" in rule["en"] and "3 日を超えて" in rule["ja"] and "3 day(s)" in rule["en"]
    refuse = a[OTHER]["rule"]
    assert "受け付けません" in refuse["ja"] and "Late submissions are refused" in refuse["en"]
    home = page(svc, "s1", "/")
    assert "2030-04-17 23:59 JST" in home and "始まった日" in home


# -- release dates --------------------------------------------------------------------------------
def test_release_date_hides_then_shows_and_refuses_early_submits(svc):
    future = at(time.time() + 30 * DAY)
    assert put(svc, release_at=future, deadline=at(time.time() + 40 * DAY)).status_code == 200
    assert A not in listed(svc, "s1")
    assert A in listed(svc, "instructor")  # the instructor sees every assignment
    body = expect(submit(svc), 403, "not_released")
    assert A in body["error"]["message"]["en"] and "公開" in body["error"]["message"]["ja"]
    assert "JST" in body["error"]["message"]["en"]
    with svc.st.sessions() as s:
        assert course_settings.is_released(s, A, "s1") is False
        assert course_settings.is_released(s, A, "s1", now=time.time() + 31 * DAY) is True
    assert put(svc, release_at=at(time.time() - 1)).status_code == 200
    assert A in listed(svc, "s1")
    assert submit(svc).status_code == 202


# -- results visibility ---------------------------------------------------------------------------
def test_results_hidden_until_the_deadline_then_shown(svc):
    put(svc, deadline=at(time.time() + DAY), results_visible="after_deadline")
    sid = submit(svc, "s1").json()["id"]
    grade_all(svc, 1)
    r = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert r["status"] == "graded" and r["results_hidden"] is True and r["result"] is None
    listing = svc.get("/api/v1/submissions", headers=H(svc, "s1")).json()
    assert listing[0]["score"] is None and listing[0]["results_hidden"] is True
    expect(
        svc.get(f"/api/v1/submissions/{sid}/feedback", headers=H(svc, "s1")), 403, "results_hidden"
    )
    expect(
        svc.get(f"/api/v1/submissions/{sid}/executed.ipynb", headers=H(svc, "s1")),
        403,
        "results_hidden",
    )
    shown = page(svc, "s1", f"/submissions/{sid}")
    assert 'id="results-hidden"' in shown and 'id="score"' not in shown
    assert "点数は締切後" in page(svc, "s1", "/")
    # the instructor sees the score all along
    ir = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "instructor")).json()
    assert ir["result"]["final_score"] == MAX
    # the deadline passes (moved into the past): shown
    put(svc, deadline=at(time.time() - 1), results_visible="after_deadline")
    r = svc.get(f"/api/v1/submissions/{sid}", headers=H(svc, "s1")).json()
    assert r["results_hidden"] is False and r["result"]["final_score"] == MAX
    assert svc.get(f"/api/v1/submissions/{sid}/feedback", headers=H(svc, "s1")).status_code == 200


# -- policy.toml ----------------------------------------------------------------------------------
def test_policy_toml_export_import_round_trip_and_bad_file_changes_nothing(svc):
    ih = H(svc, "instructor")
    put(svc, deadline="2030-04-17T23:59:00", late_policy="refuse", results_visible="after_deadline")
    put(svc, OTHER, release_at="2030-04-10T09:00:00+09:00", max_late_days=2)
    text = svc.get("/api/v1/instructor/settings/policy.toml", headers=ih).text
    data = tomllib.loads(text)
    assert data["assignments"][A]["late_policy"] == "refuse"
    assert data["assignments"][A]["deadline"].isoformat() == "2030-04-17T23:59:00+09:00"
    before = svc.get("/api/v1/instructor/settings", headers=ih).json()
    for aid in (A, OTHER):
        svc.delete(f"/api/v1/instructor/settings/{aid}", headers=ih)
    r = svc.put(
        "/api/v1/instructor/settings/policy.toml",
        headers={**ih, "content-type": "application/toml"},
        content=text.encode(),
    )
    assert r.status_code == 200 and r.json()["imported"] == len(before)
    after = svc.get("/api/v1/instructor/settings", headers=ih).json()
    strip = lambda rows: [
        {k: v for k, v in x.items() if not k.startswith("updated_")} for x in rows
    ]
    assert strip(after) == strip(before)
    # a broken file: refused with the reason, nothing changed
    for bad, reason in [
        ("[assignments.nope]\nlate_policy = 'none'\n", "nope"),
        ("[defaults]\npenalty_per_day = 2\n", "penalty_per_day"),
        ("[defaults\n", "policy.toml"),
        ("[defaults]\ncolour = 'red'\n", "colour"),
    ]:
        r = svc.put(
            "/api/v1/instructor/settings/policy.toml",
            headers={**ih, "content-type": "application/toml"},
            content=bad.encode(),
        )
        body = expect(r, 400, "bad_policy_file")
        assert reason in body["detail"] and "nothing was changed" in body["detail"]
    assert strip(svc.get("/api/v1/instructor/settings", headers=ih).json()) == strip(before)


def test_example_policy_parses_and_policy_file_is_read_on_first_start_only(tmp_path):
    from grader.service.catalog import Catalog

    ids = list(Catalog().assignments)
    values = parse_policy_toml(EXAMPLE_POLICY, ids)
    assert values[OTHER]["late_policy"] == "refuse" and values["2-1_autodiff"]["max_late_days"] == 7
    home = tmp_path / "h"
    home.mkdir()
    (home / "policy.toml").write_text(EXAMPLE_POLICY, encoding="utf-8")
    app = create_app(ServiceConfig(home=home), sandbox_mode="bwrap")
    with app.state.grader.sessions.begin() as s:
        assert course_settings.get_settings(s, OTHER).late_policy == "refuse"
        course_settings.put_settings(
            s, A, course_settings.validate({"late_policy": "none"}), "instructor"
        )
    # a restart does not overwrite what the instructor changed since
    app = create_app(ServiceConfig(home=home), sandbox_mode="bwrap")
    with app.state.grader.sessions() as s:
        assert course_settings.get_settings(s, A).late_policy == "none"


def test_cli_writes_the_example_imports_it_and_refuses_a_bad_file(tmp_path, capsys):
    from grader.cli import main

    example, home = tmp_path / "policy.toml", tmp_path / "home"
    assert main(["settings", "example", str(example)]) == 0
    assert example.read_text(encoding="utf-8") == EXAMPLE_POLICY
    assert main(["settings", "import", str(example), "--home", str(home)]) == 0
    assert "imported the settings of 16 assignments" in capsys.readouterr().out
    assert main(["settings", "export", "--home", str(home)]) == 0
    exported = tomllib.loads(capsys.readouterr().out)
    assert exported["assignments"][OTHER]["late_policy"] == "refuse"
    assert exported["assignments"]["2-1_autodiff"]["max_late_days"] == 7
    bad = tmp_path / "bad.toml"
    bad.write_text('[assignments."3-1-2_softmax_with_loss"]\nmax_late_days = -3\n', "utf-8")
    assert main(["settings", "import", str(bad), "--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "max_late_days" in err and "nothing was changed" in err
    assert main(["settings", "export", "--home", str(home)]) == 0
    again = tomllib.loads(capsys.readouterr().out)
    assert again == exported  # the refused import changed nothing


def test_migration_0003_upgrades_downgrades_and_upgrades_again(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from grader.service.db import MIGRATIONS_DIR, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate(engine)
    new_tables = {"assignment_settings", "extensions", "adjustments"}
    assert new_tables <= set(inspect(engine).get_table_names())
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_initial")
    insp = inspect(engine)
    assert not new_tables & set(insp.get_table_names())
    assert "family_name" not in {c["name"] for c in insp.get_columns("users")}
    migrate(engine)
    assert "override_score" in {c["name"] for c in inspect(engine).get_columns("results")}
