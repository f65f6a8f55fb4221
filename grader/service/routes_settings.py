"""Instructor API for the course settings (``/api/v1/instructor/settings``) and per-student
extensions (``/api/v1/instructor/extensions``). Every change is written to the database and
applies to the next request; ``policy.toml`` is the bulk import/export of the same settings.

Times are ISO 8601 strings; without an offset they are Japan time (JST).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from grader.service import course_settings
from grader.service.api import ERRORS, Instructor, app_state
from grader.service.errors import ApiError
from grader.service.models import AssignmentSetting
from grader.service.submissions import iso

router = APIRouter(prefix="/api/v1/instructor", responses=ERRORS, tags=["course settings"])


class SettingsIn(BaseModel):
    """An assignment's settings; a key left out takes its default (PUT replaces them all)."""

    model_config = ConfigDict(extra="forbid")
    deadline: str | None = Field(None, description="ISO date-time; none: no deadline")
    late_policy: Literal["none", "penalty", "refuse"] = "penalty"
    penalty_per_day: float = Field(0.1, description="fraction of the maximum score per day")
    max_late_days: int | None = Field(None, description="more started days late: refused")
    release_at: str | None = Field(None, description="before it students neither see nor submit")
    results_visible: Literal["immediately", "after_deadline"] = "immediately"


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deadline: str = Field(description="the student's own deadline, ISO date-time")
    reason: str = Field("", max_length=500)


def _known(request: Request, assignment_id: str) -> None:
    if app_state(request).catalog.get(assignment_id) is None:
        raise ApiError("unknown_assignment", assignment_id=assignment_id[:100])


def settings_view(assignment_id: str, settings: course_settings.Settings, row: Any) -> dict:
    values = settings.as_dict()
    for name in ("deadline", "release_at"):
        values[name] = iso(values[name])
    return {
        "assignment_id": assignment_id,
        **values,
        "updated_at": iso(row.updated_at) if row else None,
        "updated_by": row.updated_by if row else None,
    }


@router.get("/settings")
def list_settings(request: Request, who: Instructor) -> list[dict]:
    """Every assignment's settings, in course order (defaults where none were set)."""
    st = app_state(request)
    with st.sessions() as s:
        return [
            settings_view(
                a.id, course_settings.get_settings(s, a.id), s.get(AssignmentSetting, a.id)
            )
            for a in st.catalog
        ]


@router.get("/settings/policy.toml", responses={200: {"content": {"application/toml": {}}}})
def export_policy(request: Request, who: Instructor) -> Response:
    """The settings of every assignment as ``policy.toml``."""
    st = app_state(request)
    with st.sessions() as s:
        body = course_settings.export_policy(s, list(st.catalog.assignments))
    return Response(
        body,
        media_type="application/toml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="policy.toml"'},
    )


@router.put(
    "/settings/policy.toml",
    openapi_extra={"requestBody": {"content": {"application/toml": {}}, "required": True}},
)
async def import_policy(request: Request, who: Instructor) -> dict:
    """Replace the settings of every assignment by a ``policy.toml`` body (all or nothing)."""
    st = app_state(request)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError("bad_policy_file", detail="not UTF-8 text") from exc

    def _do() -> int:
        with st.sessions.begin() as s:
            return course_settings.import_policy(
                s,
                text,
                list(st.catalog.assignments),
                who.user_id,
                "policy.toml",
                st.catalog.reveals,
            )

    return {"imported": await run_in_threadpool(_do)}


@router.get("/settings/{assignment_id}")
def get_settings(request: Request, who: Instructor, assignment_id: str) -> dict:
    _known(request, assignment_id)
    with app_state(request).sessions() as s:
        return settings_view(
            assignment_id,
            course_settings.get_settings(s, assignment_id),
            s.get(AssignmentSetting, assignment_id),
        )


@router.put("/settings/{assignment_id}")
def put_settings(request: Request, who: Instructor, assignment_id: str, body: SettingsIn) -> dict:
    """Set an assignment's settings; effective for the next request."""
    _known(request, assignment_id)
    st = app_state(request)
    with st.sessions.begin() as s:
        settings = course_settings.apply_settings(
            s, st.catalog.reveals, assignment_id, body.model_dump(), who.user_id
        )
        return settings_view(assignment_id, settings, s.get(AssignmentSetting, assignment_id))


@router.delete("/settings/{assignment_id}")
def delete_settings(request: Request, who: Instructor, assignment_id: str) -> dict:
    """Back to the defaults (no deadline, released, results at once)."""
    _known(request, assignment_id)
    st = app_state(request)
    with st.sessions.begin() as s:
        course_settings.check_release_order(
            s, st.catalog.reveals, {assignment_id: course_settings.Settings()}
        )
        removed = course_settings.delete_settings(s, assignment_id)
    return {"assignment_id": assignment_id, "removed": removed}


@router.get("/extensions")
def list_extensions(request: Request, who: Instructor, assignment_id: str | None = None) -> list:
    with app_state(request).sessions() as s:
        return [
            course_settings.extension_view(e)
            for e in course_settings.list_extensions(s, assignment_id)
        ]


@router.put("/extensions/{assignment_id}/{student_id}")
def put_extension(
    request: Request, who: Instructor, assignment_id: str, student_id: str, body: ExtensionIn
) -> dict:
    """Give one student their own deadline for one assignment (replaces an earlier one)."""
    _known(request, assignment_id)
    deadline = course_settings.parse_deadline(body.deadline)
    st = app_state(request)
    with st.sessions.begin() as s:
        ext = course_settings.put_extension(
            s,
            student_id,
            assignment_id,
            deadline,
            body.reason,
            who.user_id,
            reveals=st.catalog.reveals,
        )
        s.flush()
        return course_settings.extension_view(ext)


@router.delete("/extensions/{assignment_id}/{student_id}")
def delete_extension(request: Request, who: Instructor, assignment_id: str, student_id: str):
    _known(request, assignment_id)
    with app_state(request).sessions.begin() as s:
        ext = course_settings.extension_for(s, student_id, assignment_id)
        if ext is not None:
            s.delete(ext)
    return {"assignment_id": assignment_id, "student_id": student_id, "removed": ext is not None}
