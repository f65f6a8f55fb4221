"""A notebook downloaded from the live service, opened where the helper package is not
installed (a fresh venv like Colab's: numpy, matplotlib, tqdm, ipykernel, nbclient, no
grader): its first cell installs the helper wheel from the service over loopback, and the
first exercise is checked; with the service unreachable the first cell stops with one
bilingual message and no traceback, and nothing after it runs."""

from __future__ import annotations

import json

import httpx
import nbformat
import pytest
from live_service import REPO, LiveService, cli, free_port, released_env
from student_env import bare_venv, cells_until, kernel_dirs, outputs, run_cells

from grader.notebooks.course_cells import INSTALL, WHEEL_NAME, role

pytestmark = pytest.mark.slow
A = "3-1-2_softmax_with_loss"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("svc")
    env = released_env(tmp / "released")
    assert not env, "the checkout's assignments/ is built"
    home = tmp / "home"
    home.mkdir()
    token = cli(home, "token", "create", "--student", "c001", "--name", "Colab").strip()
    with LiveService(home, workers=0) as svc:
        yield svc, token


def _download(svc, token) -> str:
    resp = httpx.get(
        f"{svc.url}/api/v1/assignments/{A}/notebook",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ipynb+json")
    assert f'filename="{A}.ipynb"' in resp.headers["content-disposition"]
    return resp.text


def test_download_needs_a_token_and_a_known_assignment(live):
    svc, token = live
    assert httpx.get(f"{svc.url}/api/v1/assignments/{A}/notebook").status_code == 401
    resp = httpx.get(
        f"{svc.url}/api/v1/assignments/no-such/notebook",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "unknown_assignment"
    assert httpx.get(f"{svc.url}/downloads/other-1.0-py3-none-any.whl").status_code == 404


def test_downloaded_notebook_carries_the_service_url(live):
    svc, token = live
    nb = nbformat.reads(_download(svc, token), as_version=4)
    install = [c for c in nb.cells if role(c) == INSTALL]
    assert len(install) == 1 and nb.cells.index(install[0]) == 1  # the first code cell
    assert f'SERVICE_URL = "{svc.url}"' in install[0].source
    assert nb.metadata["dl_course"]["service_url"] == svc.url
    released = nbformat.read(REPO / "assignments" / f"{A}.ipynb", as_version=4)
    assert len(nb.cells) == len(released.cells)  # nothing else changed
    assert [c.source for c in nb.cells if role(c) != INSTALL] == [
        c.source for c in released.cells if role(c) != INSTALL
    ]


def _impl_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _with_first_exercise_solved(text: str):
    """The downloaded notebook up to the first check, with the first exercise solved (the
    solution's markers are comments, so its source runs as it is)."""
    nb = nbformat.reads(text, as_version=4)
    solution = nbformat.read(REPO / "solutions" / f"{A}.ipynb", as_version=4)
    impl = next(c for c in solution.cells if _impl_id(c) == "softmax_impl")
    next(c for c in nb.cells if _impl_id(c) == "softmax_impl").source = impl.source
    return cells_until(nb, "softmax")


def test_bare_environment_installs_from_the_service_and_checks_the_first_exercise(live, tmp_path):
    svc, token = live
    py = bare_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    nb = run_cells(
        _with_first_exercise_solved(_download(svc, token)),
        work,
        kernels=kernel_dirs(py, tmp_path),
        env={"HOME": str(tmp_path)},
    )
    assert "stopped_by" not in nb.metadata, [outputs(c) for c in nb.cells if c.cell_type == "code"]
    install = next(c for c in nb.cells if role(c) == INSTALL)
    assert "インストールしました / installed" in outputs(install)
    last = nb.cells[-1]
    assert last.source.startswith('check("softmax")')
    assert "合格" in outputs(last) or "passed" in outputs(last), outputs(last)
    # installed into the fresh venv, from the service's wheel
    site = list((tmp_path / "venv" / "lib").glob("python*/site-packages/grader/student"))
    assert site, "grader.student was not installed into the venv"
    assert svc.url and WHEEL_NAME.startswith("dl_course_student-")


def test_unreachable_service_stops_in_the_first_cell_with_one_message(live, tmp_path):
    svc, token = live
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    text = _download(svc, token).replace(
        f'SERVICE_URL = \\"{svc.url}\\"', f'SERVICE_URL = \\"{dead}\\"'
    )
    assert dead in text
    py = bare_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    nb = run_cells(
        nbformat.reads(text, as_version=4),
        work,
        kernels=kernel_dirs(py, tmp_path),
        env={"HOME": str(tmp_path)},
    )
    assert nb.metadata["stopped_by"] == "CellExecutionError"
    install = next(c for c in nb.cells if role(c) == INSTALL)
    errors = [o for o in install.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "HelperSetupError"
    shown = "\n".join(errors[0].traceback)
    what = f"%pip install {dead}/downloads/{WHEEL_NAME}"
    assert shown.count(what) == 2, shown  # once in each language
    assert "インストールできませんでした" in shown and "Could not install" in shown
    assert (
        "Traceback" not in shown and "File " not in shown and ".py" not in shown.replace(".whl", "")
    )
    assert len(shown.splitlines()) == 2, shown
    # nothing after the first cell ran: no NameError cascade
    later = nb.cells[nb.cells.index(install) + 1 :]
    assert all(not c.get("outputs") for c in later if c.cell_type == "code")
    assert json.dumps(nb.cells[nb.cells.index(install) + 1 :]).count("NameError") == 0
