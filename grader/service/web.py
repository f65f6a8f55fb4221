"""Server-rendered web UI (Jinja2, a few lines of vanilla JS for live status via SSE).

Login exchanges a token for a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS);
every form post must carry this server's Origin (``security.SameOriginForms``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from grader.service import auth, exports, stats
from grader.service.api import SESSION_COOKIE, app_state
from grader.service.auth import Principal
from grader.service.errors import ApiError
from grader.service.i18n import LANG_COOKIE, lang_of, translator
from grader.service.ratelimit import client_address
from grader.service.security import is_api
from grader.service.student_rule import visible_assignments
from grader.service.submissions import (
    best_graded,
    create_submission,
    final_score,
    get_visible,
    latest_graded,
    list_submissions,
    regrade,
    submission_view,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

# The course runs in Japan and policy.toml deadlines without an offset are JST (catalog.py), so
# every time stamp on the pages is shown in JST with the zone named.
DISPLAY_TZ = ZoneInfo("Asia/Tokyo")
DISPLAY_TZ_NAME = "JST"


def local_time(iso: str | None) -> str:
    """``2026-11-23T17:14:48.1+00:00`` -> ``2026-11-24 02:14:48 JST`` ('' for None)."""
    if not iso:
        return ""
    dt = datetime.fromisoformat(iso).astimezone(DISPLAY_TZ)
    return f"{dt:%Y-%m-%d %H:%M:%S} {DISPLAY_TZ_NAME}"


def score_text(x: float | None) -> str:
    """Scores as in the gradebook: ``6``, ``4.8``, ``3.33`` (never ``3.3333333``)."""
    return "" if x is None else f"{round(x, 2):g}"


templates.env.filters["localtime"] = local_time
templates.env.filters["score"] = score_text


def wants_html(request: Request) -> bool:
    return not is_api(request.url.path)


def over_https(request: Request) -> bool:
    """Cookies get ``Secure`` when the browser talks HTTPS (directly, or to a reverse proxy
    whose X-Forwarded-Proto uvicorn trusts: ``--forwarded-allow-ips``)."""
    return request.url.scheme == "https"


def web_principal(request: Request) -> Principal | None:
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    with app_state(request).sessions() as s:
        return auth.session_principal(s, sid)


def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    lang = lang_of(request)
    st = app_state(request)
    ctx.update(
        request=request,
        lang=lang,
        other_lang="en" if lang == "ja" else "ja",
        # the language switch keeps the page's other query parameters
        lang_url="?" + urlencode({**request.query_params, "lang": "en" if lang == "ja" else "ja"}),
        t=translator(lang),
        sandbox_mode=st.sandbox_mode,
        who=ctx.get("who"),
    )
    resp = templates.TemplateResponse(request, name, ctx, status_code=status)
    if request.query_params.get("lang") == lang:
        resp.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=over_https(request)
        )
    return resp


def error_page(request: Request, err: ApiError) -> HTMLResponse:
    return render(request, "error.html", status=err.status, err=err, who=web_principal(request))


def _score_links(rows) -> dict[str, dict]:
    """Per assignment: the submission id and final score of the row chosen for it."""
    return {
        sub.assignment_id: {"id": sub.id, "score": final_score(res), "max_score": res.max_score}
        for _user, sub, res, *_ in rows
    }


def _listing_view(view: dict) -> dict:
    """A submission row for the tables: ``score``/``max_score`` are None until graded (the
    view omits them when there is no result yet)."""
    view.setdefault("score", None)
    view.setdefault("max_score", None)
    return view


def _require(request: Request) -> Principal | RedirectResponse:
    who = web_principal(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    return who


def _require_instructor(request: Request) -> Principal | RedirectResponse:
    """``_require``, and a 403 for a logged-in student."""
    who = _require(request)
    if isinstance(who, Principal) and not who.is_instructor:
        raise ApiError("instructor_only")
    return who


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request):
        return render(request, "login.html")

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: str = Form("")):
        st = app_state(request)
        address = client_address(request)
        try:
            st.login_backoff.check(address)
        except ApiError as err:
            page = render(request, "login.html", status=err.status, err=err)
            page.headers.update(err.headers)
            return page
        with st.sessions.begin() as s:
            who = auth.authenticate(s, token.strip())
            if who is None:
                st.login_backoff.failed(address)
                return render(request, "login.html", status=401, err=ApiError("bad_token"))
            sid = auth.open_session(s, who, st.config.session_days)
        target = "/instructor" if who.is_instructor else "/"
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(
            SESSION_COOKIE,
            sid,
            httponly=True,
            samesite="lax",
            secure=over_https(request),
            max_age=int(st.config.session_days * 86400),
        )
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request):
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            with app_state(request).sessions.begin() as s:
                auth.close_session(s, sid)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(
            SESSION_COOKIE, httponly=True, samesite="lax", secure=over_https(request)
        )
        return resp

    @app.get("/", include_in_schema=False)
    def home(request: Request):
        return home_page(request)

    def home_page(
        request: Request,
        err: ApiError | None = None,
        status: int = 200,
        selected: str | None = None,
    ):
        who = _require(request)
        if isinstance(who, Response):
            return who
        st = app_state(request)
        now = time.time()
        with st.sessions() as s:
            subs = [
                _listing_view(submission_view(s, x, with_result=False))
                for x in list_submissions(s, who, limit=200)
            ]
            # the same rules as the gradebook (best) and the statistics (latest)
            best = _score_links(best_graded(s, user_id=who.user_id))
            latest = _score_links(latest_graded(s, user_id=who.user_id))
            assignments = visible_assignments(s, st.catalog, who, now)
        return render(
            request,
            "home.html",
            status=status,
            who=who,
            err=err,
            assignments=assignments,
            latest=latest,
            best=best,
            submissions=subs,
            titles={a.id: a.title for a in st.catalog},
            selected=selected or request.query_params.get("assignment"),
            max_upload_bytes=st.config.max_upload_bytes,
            now_iso=datetime.fromtimestamp(now, UTC).isoformat(),
        )

    @app.post("/submit", include_in_schema=False)
    async def submit(
        request: Request,
        assignment_id: Annotated[str, Form()] = "",
        notebook: Annotated[UploadFile | None, File()] = None,
    ):
        who = _require(request)
        if isinstance(who, Response):
            return who
        st = app_state(request)
        try:
            if not assignment_id:
                raise ApiError("missing_field", field="assignment_id")
            if notebook is None or isinstance(notebook, str) or not notebook.filename:
                raise ApiError("missing_field", field="notebook")
            data = await notebook.read(st.config.max_upload_bytes + 1)
            sub = await run_in_threadpool(
                create_submission, st, who, assignment_id, notebook.filename, data
            )
        except ApiError as err:
            return await run_in_threadpool(home_page, request, err, err.status, assignment_id)
        return RedirectResponse(f"/submissions/{sub.id}", status_code=303)

    @app.get("/submissions/{submission_id}", include_in_schema=False)
    def submission_page(request: Request, submission_id: str):
        who = _require(request)
        if isinstance(who, Response):
            return who
        st = app_state(request)
        with st.sessions() as s:
            view = submission_view(
                s, get_visible(s, who, submission_id), instructor=who.is_instructor
            )
        info = st.catalog.get(view["assignment_id"])
        return render(request, "submission.html", who=who, sub=view, info=info)

    @app.get("/instructor", include_in_schema=False)
    def instructor_page(request: Request, assignment_id: str | None = None):
        who = _require_instructor(request)
        if isinstance(who, Response):
            return who
        st = app_state(request)
        with st.sessions() as s:
            subs = [
                _listing_view(submission_view(s, x, with_result=False, instructor=True))
                for x in list_submissions(
                    s, who, everyone=True, assignment_id=assignment_id, limit=500
                )
            ]
            per_assignment = [stats.assignment_stats(s, st.catalog, a.id) for a in st.catalog]
        titles = {a.id: a.title for a in st.catalog}
        return render(
            request,
            "instructor.html",
            who=who,
            submissions=subs,
            stats=per_assignment,
            titles=titles,
            items={a.id: {i.id: i for i in a.items} for a in st.catalog},
        )

    @app.get("/instructor/gradebook", include_in_schema=False)
    def gradebook_page(request: Request):
        who = _require_instructor(request)
        if isinstance(who, Response):
            return who
        st = app_state(request)
        with st.sessions() as s:
            book = exports.gradebook(s, st.catalog)
        return render(request, "gradebook.html", who=who, book=book)

    @app.post("/instructor/regrade/{submission_id}", include_in_schema=False)
    def regrade_form(request: Request, submission_id: str):
        who = _require_instructor(request)
        if isinstance(who, Response):
            return who
        regrade(app_state(request), submission_id)
        return RedirectResponse(f"/submissions/{submission_id}", status_code=303)
