"""Release order that cannot leak answers (issue 9): which notebooks carry answers of other
assignments is derived from the notebooks' locked cells; a setting that would release such a
notebook before the other assignment's deadline is refused, naming the blocking assignment."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import nbformat
import pytest
from fastapi.testclient import TestClient
from live_service import REPO

from grader.notebooks.leaks import leak_map
from grader.notebooks.metadata import setup_meta, solution_meta
from grader.service import auth
from grader.service.app import create_app
from grader.service.config import ServiceConfig

SWL = "3-1-2_softmax_with_loss"
MLP = "2-4_multilayer_mnist"
DAY = 86400.0


def _nb(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, path)


def _code(source, meta):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = meta
    return cell


SOLUTION = (
    "def softmax(x):\n    ### BEGIN SOLUTION\n    x = x - x.max(axis=-1, keepdims=True)\n"
    "    e = np.exp(x)\n    return e / e.sum(axis=-1, keepdims=True)\n    ### END SOLUTION\n"
)


def test_leak_map_finds_answers_in_locked_cells_only(tmp_path):
    sol, rel = tmp_path / "solutions", tmp_path / "assignments"
    sol.mkdir(), rel.mkdir()
    _nb(sol / "a.ipynb", [_code(SOLUTION, solution_meta("softmax_impl"))])
    answer = SOLUTION.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION\n", "")
    _nb(rel / "a.ipynb", [])
    _nb(rel / "leaky.ipynb", [_code("import numpy as np\n" + answer, setup_meta("s_setup"))])
    # the same code in an ordinary (editable) cell, and a different softmax in a locked one
    _nb(rel / "plain.ipynb", [nbformat.v4.new_code_cell(answer)])
    other = "def softmax(x):\n    return np.exp(x) / np.exp(x).sum()\n"
    _nb(rel / "other.ipynb", [_code(other, setup_meta("s_setup"))])
    assert leak_map(sol, rel) == {"a": set(), "leaky": {"a"}, "plain": set(), "other": set()}


def test_the_course_notebooks_leak_where_their_locked_cells_say():
    reveals = leak_map(REPO / "solutions", REPO / "assignments")
    assert SWL in reveals[MLP]  # the multi-layer network's set-up carries SoftmaxWithLoss
    assert reveals[SWL] == set() and reveals["3-1-1_affine_layer"] == set()


def at(ts):
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.fixture
def svc(tmp_path):
    app = create_app(ServiceConfig(home=tmp_path / "home"), sandbox_mode="bwrap")
    with app.state.grader.sessions.begin() as s:
        tok = auth.create_instructor_token(s)
    c = TestClient(app, headers={"Origin": "http://testserver"})  # a same-origin browser
    c.ih = {"Authorization": f"Bearer {tok}"}
    c.reveals = app.state.grader.catalog.reveals
    return c


def svc_state(c):
    return c.app.state.grader


def put(c, aid, **values):
    return c.put(f"/api/v1/instructor/settings/{aid}", headers=c.ih, json=values)


def test_a_release_setting_that_would_leak_is_refused_naming_the_blocker(svc):
    now = time.time()
    carriers = sorted(b for b, a in svc.reveals.items() if SWL in a)
    assert MLP in carriers
    for b in carriers:  # every other carrier of SWL's answers comes out late enough
        if b != MLP:
            assert put(svc, b, release_at=at(now + 60 * DAY)).status_code == 200
    assert put(svc, MLP, release_at=at(now + 10 * DAY)).status_code == 200  # SWL: no deadline
    r = put(svc, SWL, deadline=at(now + 20 * DAY))
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "release_leak"
    assert MLP in err["message"]["en"] and SWL in err["message"]["en"]
    assert " JST)" in err["message"]["en"]  # the deadline as the course reads times
    assert MLP in err["message"]["ja"] and "公開できません" in err["message"]["ja"]
    got = svc.get(f"/api/v1/instructor/settings/{SWL}", headers=svc.ih).json()
    assert got["deadline"] is None  # nothing changed
    # release MLP after the deadline: now the deadline is accepted
    assert put(svc, MLP, release_at=at(now + 25 * DAY)).status_code == 200
    assert put(svc, SWL, deadline=at(now + 20 * DAY)).status_code == 200
    # and moving MLP's release before it, or releasing MLP at once, is refused
    assert put(svc, MLP, release_at=at(now + 15 * DAY)).json()["error"]["code"] == "release_leak"
    r = svc.delete(f"/api/v1/instructor/settings/{MLP}", headers=svc.ih)
    assert r.status_code == 409 and r.json()["error"]["code"] == "release_leak"
    # a deadline in the past protects nothing: no refusal
    assert put(svc, SWL, deadline=at(now - DAY)).status_code == 200
    assert put(svc, MLP).status_code == 200


def test_policy_import_checks_the_release_order_too(svc):
    future = datetime.fromtimestamp(time.time() + 20 * DAY, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    text = f'[assignments."{SWL}"]\ndeadline = {future}\n'
    r = svc.put(
        "/api/v1/instructor/settings/policy.toml",
        headers={**svc.ih, "content-type": "application/toml"},
        content=text.encode(),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "release_leak"
    assert svc.get(f"/api/v1/instructor/settings/{SWL}", headers=svc.ih).json()["deadline"] is None


def test_an_extension_past_the_release_of_a_carrier_is_refused(svc):
    """A student with an extension on SWL must not get MLP (which carries SWL's answers)
    before their own deadline either."""
    now = time.time()
    with svc_state(svc).sessions.begin() as s:
        auth.ensure_user(s, "s1")
    for b in sorted(b for b, a in svc.reveals.items() if SWL in a):
        assert put(svc, b, release_at=at(now + 25 * DAY)).status_code == 200
    assert put(svc, SWL, deadline=at(now + 20 * DAY)).status_code == 200
    url = f"/api/v1/instructor/extensions/{SWL}/s1"
    ok = svc.put(url, headers=svc.ih, json={"deadline": at(now + 24 * DAY), "reason": "ill"})
    assert ok.status_code == 200
    late = svc.put(url, headers=svc.ih, json={"deadline": at(now + 30 * DAY), "reason": "ill"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "release_leak"
    assert SWL in late.json()["error"]["message"]["en"]
    kept = svc.get("/api/v1/instructor/extensions", headers=svc.ih).json()
    assert [e["deadline"] for e in kept] == [
        ok.json()["deadline"]
    ]  # the refused one changed nothing
    # with the extension in place, moving a carrier's release before it is refused as well
    assert put(svc, MLP, release_at=at(now + 22 * DAY)).json()["error"]["code"] == "release_leak"
