"""Server-rendered web UI (Jinja2, a few lines of vanilla JS for live status via SSE): the page
helpers and the typed "current user" of a page; the pages are routers of their own
(``web_session``: login and logout; ``web_student``: home, upload, a submission;
``web_instructor``: dashboard, gradebook, regrade; ``web_course``: course settings).

Login exchanges a token for a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS);
every form post must carry this server's Origin (``security.SameOriginForms``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from grader.service import auth
from grader.service.api import SESSION_COOKIE, app_state
from grader.service.auth import Principal
from grader.service.errors import ApiError
from grader.service.i18n import LANG_COOKIE, lang_of, translator
from grader.service.security import is_api

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


class LoginRequired(Exception):
    """No session: the page answers with a redirect to the login page (``app.py``)."""


def web_user(request: Request) -> Principal:
    """The signed-in user of a page (``LoginRequired`` without a session)."""
    who = web_principal(request)
    if who is None:
        raise LoginRequired
    return who


def web_instructor(who: Annotated[Principal, Depends(web_user)]) -> Principal:
    """The signed-in instructor of a page (403 ``instructor_only`` for a student)."""
    if not who.is_instructor:
        raise ApiError("instructor_only")
    return who


WebUser = Annotated[Principal, Depends(web_user)]
WebInstructor = Annotated[Principal, Depends(web_instructor)]


def login_redirect(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def mount(app: FastAPI) -> None:
    """The static files and every page router."""
    from grader.service import web_course, web_instructor, web_session, web_student

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_exception_handler(LoginRequired, login_redirect)
    for module in (web_session, web_student, web_instructor, web_course):
        app.include_router(module.router)
