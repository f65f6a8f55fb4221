"""Issue 13, finding 12 in a real headless Chromium: a page on the same site (the same host,
another port: cookies do not separate ports, so the session cookie goes along) tries to log the
victim's browser into the attacker's account from a sandboxed iframe (``Origin: null``), to
write through the API with the victim's cookie (a submission, a roster import), and to log the
victim out. Every attempt must leave the victim's session and data as they were."""

from __future__ import annotations

import csv
import functools
import http.server
import json
import sqlite3
import tempfile
import threading

import httpx
import pytest
from chromium import headless_chromium, log_in
from live_service import FAST_ASSIGNMENT, LiveService, cli, free_port

pytestmark = [pytest.mark.browser]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

NB = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []})


def fetch_page(url: str, fill: str) -> str:
    """A page that POSTs a form (``fill`` appends its fields) with the browser's cookies,
    as any page may (a no-cors request needs no permission), then sets its title."""
    return (
        "<script>const fd = new FormData();"
        + fill
        + f"fetch('{url}', {{method: 'POST', body: fd, credentials: 'include', mode: 'no-cors'}})"
        + ".finally(() => { document.title = 'sent'; });</script>"
    )


def attack_pages(service: str, attacker_token: str) -> dict[str, str]:
    login_form = (
        f"<form method='post' action='{service}/login'>"
        f"<input name='token' value='{attacker_token}'></form>"
        "<script>document.forms[0].submit()</script>"
    )
    return {
        # served sandboxed (AttackerSite): an opaque origin, whose posts carry Origin: null
        "sandboxed-login.html": login_form,
        "submit.html": fetch_page(
            f"{service}/api/v1/submissions",
            f"fd.append('assignment_id', '{FAST_ASSIGNMENT}');"
            f"fd.append('notebook', new Blob([{json.dumps(NB)}]), 'hw.ipynb');",
        ),
        "roster.html": fetch_page(
            f"{service}/api/v1/instructor/roster",
            "fd.append('roster', new Blob(['student_id,name\\ncsrf_planted,P\\n']), 'r.csv');",
        ),
        "logout.html": f"<form method='post' action='{service}/logout'></form>"
        "<script>document.forms[0].submit()</script>",
    }


class AttackerSite(http.server.SimpleHTTPRequestHandler):
    """Static pages; those named ``sandboxed-*`` come with a CSP sandbox (as a sandboxed
    iframe would be, but shown top-level, so the service's answer is visible)."""

    def end_headers(self) -> None:
        if self.path.startswith("/sandboxed-"):
            self.send_header("Content-Security-Policy", "sandbox allow-forms allow-scripts")
        super().end_headers()


@pytest.fixture
def attack(tmp_path):
    """The service (no workers) and an attacker's site on another port of the same host."""
    home = tmp_path / "home"
    home.mkdir()
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\nvictim,Victim\nattacker,Attacker\n")
    cli(home, "roster", "import", str(roster), "--out", str(tmp_path / "tokens.csv"))
    with open(tmp_path / "tokens.csv", newline="") as f:
        tokens = {row["student_id"]: row["token"] for row in csv.DictReader(f)}
    tokens["instructor"] = cli(home, "token", "create", "--instructor").strip()
    site = tmp_path / "site"
    site.mkdir()
    with LiveService(home, workers=0, extra=["--allow-unsandboxed"]) as svc:
        for name, html in attack_pages(svc.url, tokens["attacker"]).items():
            (site / name).write_text(f"<!doctype html><html><body>{html}</body></html>")
        handler = functools.partial(AttackerSite, directory=str(site))
        evil = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            yield svc, tokens, f"http://127.0.0.1:{evil.server_address[1]}"
        finally:
            evil.shutdown()


def me(drv, url: str) -> dict:
    drv.get(url + "/api/v1/me")
    return json.loads(drv.find_element(By.TAG_NAME, "body").text)


def run_attack(drv, page: str) -> None:
    """Open an attacker's page and wait until its request has been answered."""
    drv.get(page)
    WebDriverWait(drv, 30).until(lambda d: d.title == "sent")


def submissions(svc, token: str) -> list:
    r = httpx.get(
        svc.url + "/api/v1/submissions", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return r.json()


def test_same_site_page_cannot_forge_logins_writes_or_logouts(attack, tmp_path):
    svc, tokens, evil = attack
    drv = headless_chromium(tempfile.mkdtemp(dir=tmp_path))
    try:
        log_in(drv, svc.url, tokens["victim"])
        assert me(drv, svc.url)["user_id"] == "victim"

        # login CSRF from a sandboxed document: refused, the browser stays the victim's
        # (otherwise the victim's next upload would land in the attacker's account)
        drv.get(evil + "/sandboxed-login.html")
        WebDriverWait(drv, 30).until(lambda d: d.current_url.startswith(svc.url))
        assert drv.find_element(By.ID, "error").is_displayed()
        assert me(drv, svc.url)["user_id"] == "victim"

        # an API write with the victim's cookie stores nothing
        run_attack(drv, evil + "/submit.html")
        assert submissions(svc, tokens["victim"]) == []

        # the instructor's cookie cannot import a roster; a forged logout logs nobody out
        log_in(drv, svc.url, tokens["instructor"])
        run_attack(drv, evil + "/roster.html")
        with sqlite3.connect(svc.home / "grader.sqlite3") as db:
            users = {row[0] for row in db.execute("SELECT id FROM users")}
        assert "victim" in users and "csrf_planted" not in users
        drv.get(evil + "/logout.html")
        WebDriverWait(drv, 30).until(lambda d: d.current_url.startswith(svc.url))
        assert drv.find_element(By.ID, "error").is_displayed()
        assert me(drv, svc.url)["user_id"] == "instructor"
    finally:
        drv.quit()
