"""The service's web-security findings of issue 13 against the real app (temp SQLite): forged
form posts (CSRF, finding 12), security headers and cookies (13), login backoff (14), event
stream limits (9) and slow clients (10, against a live ``grader serve``).

Each test replays the attack and asserts that it is refused and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import re
import socket
import time

import httpx
import pytest
import sqlalchemy
import structural_grader as structural
from fastapi.testclient import TestClient
from live_service import FAST_ASSIGNMENT, LiveService, cli

from grader.service import auth
from grader.service.app import create_app
from grader.service.config import ServiceConfig
from grader.service.events import StatusMarks
from grader.service.models import Job, Submission, User
from grader.service.worker import Worker, WorkerOptions

A = FAST_ASSIGNMENT
SITE = "http://testserver"
NB = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode()


def make_app(tmp_path, **cfg):
    app = create_app(ServiceConfig(home=tmp_path / "home", **cfg), sandbox_mode="bwrap")
    st = app.state.grader
    with st.sessions.begin() as s:
        tokens = {"instructor": auth.create_instructor_token(s)}
        for sid in ("s1", "s2"):
            auth.ensure_user(s, sid, name=f"Student {sid}")
            tokens[sid] = auth.create_token(s, sid)
    return app, tokens


@pytest.fixture
def site(tmp_path):
    app, tokens = make_app(tmp_path)
    return app, tokens


def browser(app, base_url: str = SITE, address: str = "10.0.0.1") -> TestClient:
    return TestClient(app, base_url=base_url, client=(address, 50000), follow_redirects=False)


def log_in(client: TestClient, token: str) -> None:
    r = client.post("/login", data={"token": token}, headers={"Origin": str(client.base_url)})
    assert r.status_code == 303, r.text


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def counts(app) -> dict:
    with app.state.grader.sessions() as s:
        return {
            "submissions": s.query(Submission).count(),
            "jobs": s.query(Job).count(),
            "users": s.query(User).count(),
        }


def api_submit(client: TestClient, **headers):
    return client.post(
        "/api/v1/submissions",
        data={"assignment_id": A},
        files={"notebook": ("hw.ipynb", NB, "application/json")},
        headers=headers,
    )


def refused_page(r, code: str = "cross_site") -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "別のサイトから" in r.text or "another site" in r.text


# -- finding 12: CSRF --------------------------------------------------------------------------
# What a forging page can make a browser send: no Origin (old clients, some redirects),
# "null" (a sandboxed iframe, a data: page), a foreign site, a same-site page on another port
# (cookies do not separate ports), and a foreign Referer alone.
FORGED = [
    ("no_origin", {}),
    ("null_origin", {"Origin": "null"}),
    ("foreign_origin", {"Origin": "http://evil.example"}),
    ("same_site_other_port", {"Origin": "http://testserver:8001"}),
    ("foreign_referer_only", {"Referer": "http://evil.example/page"}),
]


@pytest.mark.parametrize("case,headers", FORGED, ids=[f[0] for f in FORGED])
def test_forged_login_does_not_switch_the_browser_to_the_attackers_account(site, case, headers):
    app, tokens = site
    victim = browser(app)
    log_in(victim, tokens["s1"])
    r = victim.post("/login", data={"token": tokens["s2"]}, headers=headers)
    refused_page(r)
    assert "grader_session" not in r.headers.get("set-cookie", "")
    assert victim.get("/api/v1/me").json()["user_id"] == "s1"  # still the victim's own session


@pytest.mark.parametrize("case,headers", FORGED, ids=[f[0] for f in FORGED])
def test_forged_upload_regrade_and_logout_are_refused(site, case, headers):
    app, tokens = site
    student = browser(app)
    log_in(student, tokens["s1"])
    files = {"notebook": ("hw.ipynb", NB, "application/json")}
    refused_page(student.post("/submit", data={"assignment_id": A}, files=files, headers=headers))
    refused_page(student.post("/logout", headers=headers))
    assert student.get("/api/v1/me").status_code == 200  # the session survived
    sub = api_submit(browser(app), **bearer(tokens["s1"])).json()["id"]
    before = counts(app)
    teacher = browser(app)
    log_in(teacher, tokens["instructor"])
    refused_page(teacher.post(f"/instructor/regrade/{sub}", headers=headers))
    assert counts(app) == before  # no submission, no regrade job


def test_same_origin_forms_still_work(site):
    app, tokens = site
    teacher = browser(app)
    log_in(teacher, tokens["instructor"])
    sub = api_submit(browser(app), **bearer(tokens["s1"])).json()["id"]
    r = teacher.post(f"/instructor/regrade/{sub}", headers={"Origin": SITE})
    assert r.status_code == 303 and r.headers["location"] == f"/submissions/{sub}"
    assert teacher.post("/logout", headers={"Origin": SITE}).status_code == 303
    assert teacher.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("origin", [None, "http://evil.example", SITE])
def test_api_writes_need_a_bearer_token_not_the_session_cookie(site, origin):
    """Cookie-authenticated API writes (submission, regrade, roster import) are refused
    whatever the Origin; the cookie still reads, the bearer token still writes."""
    app, tokens = site
    teacher = browser(app)
    log_in(teacher, tokens["instructor"])
    headers = {"Origin": origin} if origin else {}
    before = counts(app)
    roster = b"student_id,name\ncsrf_planted,Planted\n"
    r = teacher.post(
        "/api/v1/instructor/roster", files={"roster": ("r.csv", roster)}, headers=headers
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "cookie_write"
    assert "Bearer" in r.json()["error"]["message"]["ja"]
    assert api_submit(teacher, **headers).json()["error"]["code"] == "cookie_write"
    sub = api_submit(browser(app), **bearer(tokens["s1"])).json()["id"]
    regrade = teacher.post(f"/api/v1/instructor/submissions/{sub}/regrade", headers=headers)
    assert regrade.json()["error"]["code"] == "cookie_write"
    with app.state.grader.sessions() as s:
        assert s.get(User, "csrf_planted") is None
    assert counts(app)["jobs"] == before["jobs"] + 1  # only the bearer submission's job
    assert teacher.get("/api/v1/instructor/submissions").status_code == 200  # reads work
    ok = teacher.post(
        "/api/v1/instructor/roster",
        files={"roster": ("r.csv", roster)},
        headers=bearer(tokens["instructor"]),
    )
    assert ok.status_code == 200


# -- finding 13: headers, cookies, third-party scripts -----------------------------------------
def test_every_page_has_the_security_headers_and_results_are_not_stored(site):
    app, tokens = site
    sub = api_submit(browser(app), **bearer(tokens["s1"])).json()["id"]
    student = browser(app)
    log_in(student, tokens["s1"])
    pages = [
        "/login",
        "/",
        f"/submissions/{sub}",
        "/no-such-page",
        "/api/v1/me",
        f"/api/v1/submissions/{sub}",
        "/healthz",
        "/docs",
        "/openapi.json",
    ]
    for path in pages:
        r = student.get(path)
        h = r.headers
        assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), path
        assert h.get("x-frame-options") == "DENY", path
        assert h.get("x-content-type-options") == "nosniff", path
        assert h.get("referrer-policy") == "same-origin", path
        assert "no-store" in h.get("cache-control", ""), path
    refused = student.post("/logout", headers={"Origin": "null"})
    assert refused.headers["x-frame-options"] == "DENY"
    static = student.get("/static/style.css")
    assert static.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in static.headers.get("cache-control", "")


def test_feedback_report_may_be_framed_only_by_the_site_itself(site):
    """The report is shown in the submission page's sandboxed iframe (same origin) and
    nowhere else."""
    app, tokens = site
    st = app.state.grader
    sub = api_submit(browser(app), **bearer(tokens["s1"])).json()["id"]
    assert Worker(st.engine, structural.grade, WorkerOptions(max_jobs=1)).run() == 1
    r = browser(app).get(f"/api/v1/submissions/{sub}/feedback", headers=bearer(tokens["s1"]))
    assert r.status_code == 200, r.text
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "frame-ancestors 'self'" in csp
    assert "'none'" not in csp.split("frame-ancestors")[1]
    assert r.headers["x-frame-options"] == "SAMEORIGIN" and "no-store" in r.headers["cache-control"]


def test_docs_load_no_third_party_script(site):
    app, _ = site
    c = browser(app)
    for page in ("/docs", "/redoc"):
        html = c.get(page).text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
        urls += re.findall(r"""(?:url|Url)\s*:\s*["']([^"']+)""", html)
        assert urls, page
        for url in urls:
            assert url.startswith("/"), (page, url)  # this server only
            assert c.get(url).status_code == 200, url
        assert "cdn" not in html.lower() and "https://" not in html


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_session_cookie_is_secure_over_https(site, scheme):
    app, tokens = site
    c = browser(app, base_url=f"{scheme}://testserver")
    r = c.post(
        "/login?lang=en",
        data={"token": tokens["s1"]},
        headers={"Origin": f"{scheme}://testserver"},
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "grader_session=" in cookie and "HttpOnly" in cookie
    assert ("Secure" in cookie) == (scheme == "https")
    page = c.get("/?lang=en")
    assert ("Secure" in page.headers["set-cookie"]) == (scheme == "https")  # the language cookie


# -- finding 14: login brute force -------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_tokens_back_off_exponentially_per_address(site):
    app, tokens = site
    backoff = app.state.grader.login_backoff
    clock = backoff.clock = FakeClock()
    attacker = browser(app, address="10.6.6.6")
    login = lambda tok, c=attacker: c.post("/login", data={"token": tok}, headers={"Origin": SITE})
    for _ in range(backoff.free - 1):
        assert login("gt_guess").status_code == 401  # a few typos cost nothing
    assert login("gt_guess").status_code == 401  # the failure that starts the backoff
    waits = []
    for _ in range(4):
        r = login(tokens["s1"])  # while waiting even the right token gets no answer
        assert r.status_code == 429, r.text
        assert "grader_session" not in r.headers.get("set-cookie", "")
        assert "秒待って" in r.text
        wait = int(r.headers["retry-after"])
        waits.append(wait)
        api = attacker.get("/api/v1/me", headers=bearer("gt_guess"))
        assert api.status_code == 429 and api.json()["error"]["code"] == "too_many_logins"
        assert api.json()["error"]["message"]["en"].startswith("Too many wrong tokens")
        clock.now += wait
        assert login("gt_guess").status_code == 401  # allowed again, and wrong again
    assert waits == [1, 2, 4, 8]  # doubles with each further failure
    for _ in range(10):
        clock.now += 60
        login("gt_guess")
    assert int(login("gt_guess").headers["retry-after"]) == backoff.cap  # capped
    # another address is not slowed down; the attacker's waits end, then the token works
    assert (
        browser(app, address="10.0.0.2")
        .post("/login", data={"token": tokens["s2"]}, headers={"Origin": SITE})
        .status_code
        == 303
    )
    clock.now += backoff.cap
    assert login(tokens["s1"]).status_code == 303


def test_wrong_bearer_tokens_count_as_failed_logins(site):
    app, tokens = site
    backoff = app.state.grader.login_backoff
    backoff.clock = FakeClock()
    c = browser(app, address="10.6.6.7")
    for _ in range(backoff.free):
        assert c.get("/api/v1/me", headers=bearer("gt_guess")).status_code == 401
    r = c.get("/api/v1/me", headers=bearer(tokens["s1"]))
    assert r.status_code == 429 and r.headers["retry-after"] == "1"


# -- finding 9: event streams ------------------------------------------------------------------
def test_streams_of_one_submission_share_one_status_read(site):
    """50 streams following one pending submission cost one status read per period, not 50."""
    app, tokens = site
    st = app.state.grader
    sub = api_submit(browser(app), **bearer(tokens["s1"])).json()["id"]
    reads = []
    listener = lambda _c, _cur, statement, *_a: reads.append(statement)
    sqlalchemy.event.listen(st.engine, "before_cursor_execute", listener)
    marks = StatusMarks(st.engine, period=3600.0)

    async def fifty_streams():
        return await asyncio.gather(*(marks.get(sub) for _ in range(50)))

    seen = asyncio.run(fifty_streams())
    sqlalchemy.event.remove(st.engine, "before_cursor_execute", listener)
    assert {m[0] for m in seen} == {"queued"}
    assert len([r for r in reads if "FROM submissions" in r]) == 1


@pytest.fixture(scope="module")
def live_idle(tmp_path_factory):
    """A real ``grader serve`` (uvicorn) without workers: submissions stay queued, their
    streams stay open. Small limits so that the test reaches them quickly."""
    home = tmp_path_factory.mktemp("live")
    roster = home / "roster.csv"
    roster.write_text("student_id,name\ns1,One\ns2,Two\n")
    cli(home, "roster", "import", str(roster), "--out", str(home / "tokens.csv"))
    with open(home / "tokens.csv", newline="") as f:
        tokens = {row["student_id"]: row["token"] for row in csv.DictReader(f)}
    extra = ["--allow-unsandboxed", "--max-streams", "3"]
    extra += ["--header-timeout", "2", "--body-timeout", "2"]
    with LiveService(home, workers=0, extra=extra) as svc:
        yield svc, tokens


def _open_stream(stack: contextlib.ExitStack, client: httpx.Client, url: str, token: str):
    return stack.enter_context(client.stream("GET", url, headers=bearer(token)))


def test_event_streams_are_capped_per_user_and_others_are_still_served(live_idle):
    svc, tokens = live_idle
    files = {"notebook": ("hw.ipynb", NB, "application/json")}
    sub = httpx.post(
        svc.url + "/api/v1/submissions",
        headers=bearer(tokens["s1"]),
        data={"assignment_id": A},
        files=files,
    ).json()["id"]
    url = f"{svc.url}/api/v1/submissions/{sub}/events"
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=60))
        held = [_open_stream(stack, client, url, tokens["s1"]) for _ in range(3)]
        # kept: a line iterator that is garbage-collected closes its connection
        lines = [r.iter_lines() for r in held]
        for r, it in zip(held, lines):
            assert r.status_code == 200
            assert next(it).startswith("id: ")  # the first status event
        over = _open_stream(stack, client, url, tokens["s1"])
        assert over.status_code == 429
        body = json.loads(over.read())
        assert body["error"]["code"] == "too_many_streams" and "3" in body["detail"]
        # the cap is per user, and the service answers everyone else meanwhile
        assert httpx.get(svc.url + "/healthz", timeout=60).status_code == 200
        s2_sub = httpx.post(
            svc.url + "/api/v1/submissions",
            headers=bearer(tokens["s2"]),
            data={"assignment_id": A},
            files=files,
        ).json()["id"]
        s2_url = f"{svc.url}/api/v1/submissions/{s2_sub}/events"
        assert _open_stream(stack, client, s2_url, tokens["s2"]).status_code == 200
        held[0].close()  # a closed stream gives its slot back (once the server sees it go)
        for _ in range(300):
            again = client.send(
                client.build_request("GET", url, headers=bearer(tokens["s1"])), stream=True
            )
            stack.callback(again.close)
            if again.status_code == 200:
                break
            time.sleep(0.1)
        assert again.status_code == 200


# -- finding 10: slow clients ------------------------------------------------------------------
def _read_until_closed(sock: socket.socket) -> bytes:
    sock.settimeout(60)  # only a bound on a broken test: the service closes long before
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_slow_clients_are_cut_off_and_others_still_served(live_idle):
    svc, _tokens = live_idle
    host = f"127.0.0.1:{svc.port}"
    half_headers = []
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", svc.port))
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
        half_headers.append(sock)
    slow_body = socket.create_connection(("127.0.0.1", svc.port))
    slow_body.sendall(
        (
            f"POST /login HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            "token=gt_"
        ).encode()
    )
    silent = socket.create_connection(("127.0.0.1", svc.port))  # opened, nothing sent
    idle_after_answer = socket.create_connection(("127.0.0.1", svc.port))
    idle_after_answer.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\nGET /he".encode())
    try:
        assert httpx.get(svc.url + "/healthz", timeout=60).status_code == 200
        for sock in half_headers:
            answer = _read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert b"did not arrive in time" in answer
            assert "時間内に届きませんでした".encode() in answer
        assert b"HTTP/1.1 " not in _read_until_closed(slow_body)  # cut off, no answer
        assert _read_until_closed(silent) == b""  # closed without an answer to nothing
        answered = _read_until_closed(idle_after_answer)  # the second, half request is cut
        assert answered.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in answered
        assert httpx.get(svc.url + "/healthz", timeout=60).status_code == 200
    finally:
        for sock in [*half_headers, slow_body, silent, idle_after_answer]:
            sock.close()


def test_behind_a_proxy_cookies_are_secure_and_backoff_is_per_forwarded_address(live_idle):
    """Through a TLS proxy on the same machine (trusted by default): the session cookie is
    Secure, and wrong tokens slow down the forwarded client address, not the proxy's."""
    svc, tokens = live_idle
    host = f"127.0.0.1:{svc.port}"

    def login(token: str, client_address: str) -> httpx.Response:
        return httpx.post(
            svc.url + "/login",
            data={"token": token},
            headers={
                "Origin": f"https://{host}",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": client_address,
            },
            timeout=60,
        )

    ok = login(tokens["s1"], "198.51.100.1")
    assert ok.status_code == 303 and "Secure" in ok.headers["set-cookie"]
    # wrong tokens until the wait outlasts a request (it doubles: a few tries at most)
    codes = [login("gt_guess", "203.0.113.9").status_code for _ in range(10)]
    for _ in range(10):
        codes.append(login("gt_guess", "203.0.113.9").status_code)
        if codes[-1] == 429:
            break
    assert codes[:10] == [401] * 10 and codes[-1] == 429
    assert login("gt_guess", "198.51.100.2").status_code == 401  # another client: no wait
    assert login(tokens["s2"], "198.51.100.3").status_code == 303
