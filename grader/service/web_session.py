"""Signing in and out of the web UI: a token for a session cookie, and back."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from grader.service import auth
from grader.service.api import SESSION_COOKIE, app_state
from grader.service.errors import ApiError
from grader.service.ratelimit import client_address
from grader.service.web import over_https, render

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request):
    return render(request, "login.html")


@router.post("/login")
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


@router.post("/logout")
def logout(request: Request):
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        with app_state(request).sessions.begin() as s:
            auth.close_session(s, sid)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=over_https(request))
    return resp
