"""What the service hands out: each released notebook (stamped with this service's URL, so it
installs its helpers from here and ``submit()`` sends it back here) and the helper wheel.

* ``GET /api/v1/assignments/{id}/notebook``: a signed-in student's copy (token or session);
* ``GET /downloads/<wheel>``: the helper package, public (it holds no course answers, and
  ``pip install <URL>`` cannot send a token), built once per process from the installed
  ``grader.student``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from grader.notebooks.course_cells import WHEEL_NAME, WHEEL_ROUTE, stamp_service_url
from grader.notebooks.wheel import build_student_wheel
from grader.service.api import ERRORS, Who, app_state
from grader.service.course_settings import is_released
from grader.service.errors import ApiError

log = logging.getLogger("grader.service")
router = APIRouter(responses=ERRORS)
_wheel_lock = threading.Lock()
_built: dict[Path, Path] = {}  # downloads folder -> wheel built by this process


def service_url(request: Request) -> str:
    """The URL students reach this service at, as their request names it."""
    return str(request.base_url).rstrip("/")


def student_wheel(home: Path) -> Path:
    folder = home / "downloads"
    with _wheel_lock:
        if folder not in _built or not _built[folder].is_file():
            _built[folder] = build_student_wheel(folder)
        return _built[folder]


def prepare_student_wheel(home: Path) -> threading.Thread:
    """Build the wheel in the background at start-up (a few seconds), so that the first
    student's download does not wait for it; a request during the build waits on the lock."""

    def build() -> None:
        try:
            student_wheel(home)
        except Exception:  # the download route builds it again and reports the error there
            log.exception("building the helper wheel at start-up failed")

    thread = threading.Thread(target=build, name="student-wheel", daemon=True)
    thread.start()
    return thread


@router.get(
    "/api/v1/assignments/{assignment_id}/notebook",
    tags=["students"],
    response_class=Response,
    responses={200: {"content": {"application/x-ipynb+json": {}}, "description": "notebook"}},
)
def assignment_notebook(request: Request, who: Who, assignment_id: str) -> Response:
    """The assignment's notebook to work on, with this service's URL written into it."""
    from grader.engine.pipeline import assignments_dir

    st = app_state(request)
    info = st.catalog.get(assignment_id)
    with st.sessions() as s:  # the one release rule (course settings), asked at every download
        released = info is not None and is_released(s, assignment_id, who.user_id)
    if not released:
        raise ApiError("unknown_assignment", assignment_id=assignment_id)
    path = assignments_dir() / f"{assignment_id}.ipynb"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ApiError("unknown_assignment", assignment_id=assignment_id) from None
    body = stamp_service_url(text, service_url(request)).encode("utf-8")
    return Response(
        body,
        media_type="application/x-ipynb+json",
        headers={"content-disposition": f'attachment; filename="{assignment_id}.ipynb"'},
    )


@router.get(f"{WHEEL_ROUTE}/student-helpers", tags=["students"], include_in_schema=False)
def latest_wheel() -> RedirectResponse:
    """A stable link for the web page; pip needs the wheel's own file name."""
    return RedirectResponse(f"{WHEEL_ROUTE}/{WHEEL_NAME}", status_code=307)


@router.get(
    f"{WHEEL_ROUTE}/{{filename}}",
    tags=["students"],
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "the helper wheel"}},
)
async def download_wheel(request: Request, filename: str) -> FileResponse:
    """The student helper package (``pip install <this URL>``)."""
    if filename != WHEEL_NAME:
        raise ApiError("not_found")
    wheel = await run_in_threadpool(student_wheel, app_state(request).config.home)
    return FileResponse(wheel, media_type="application/zip", filename=WHEEL_NAME)
