"""The student's pages in headless Chromium against a live ``grader serve`` (real engine):
the notebook downloads from the home page with the service URL in it; a late submission's
page shows one score, with the penalty once; a refused upload shows its message and no score
table; at phone width (390 px) a hint is visible without sideways scrolling."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from chromium import PHONE, headless_chromium, log_in, phone_width
from live_service import (
    FAST_ASSIGNMENT,
    LiveService,
    cli,
    fast_spec,
    released_env,
    solution_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402

from grader.engine.hints import HINTS  # noqa: E402

A = FAST_ASSIGNMENT  # late: its deadline was an hour ago, 10 % off per started day
FULL = fast_spec().max_score  # what the solution notebook earns
PENALTY = 0.1 * FULL  # one started day late


def shown(points: float) -> str:
    """Points as the pages print them: ``6``, ``5.4``, at most 2 decimals."""
    return f"{round(points, 2):g}"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("svc")
    assert not released_env(tmp / "released"), "the checkout's assignments/ is built"
    home = tmp / "home"
    home.mkdir()
    deadline = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    (home / "policy.toml").write_text(
        f'[assignments."{A}"]\ndeadline = "{deadline}"\nlate_policy = "penalty"\n'
        "penalty_per_day = 0.1\n"
    )
    token = cli(home, "token", "create", "--student", "w001", "--name", "佐藤").strip()
    with LiveService(home, workers=1) as svc:
        yield svc, token


@pytest.fixture
def browser(tmp_path):
    drv = headless_chromium(tempfile.mkdtemp(dir=tmp_path))
    yield drv
    drv.quit()


def submit(svc, token, assignment: str, notebook: bytes) -> str:
    """Submit through the API and wait until grading ends; the submission id."""
    headers = {"Authorization": f"Bearer {token}"}
    sub = httpx.post(
        f"{svc.url}/api/v1/submissions",
        headers=headers,
        data={"assignment_id": assignment},
        files={"notebook": ("hw.ipynb", notebook, "application/x-ipynb+json")},
    )
    assert sub.status_code == 202, sub.text
    sid = sub.json()["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        view = httpx.get(f"{svc.url}/api/v1/submissions/{sid}", headers=headers).json()
        if view["status"] in ("graded", "rejected", "failed"):
            return sid
        time.sleep(0.3)
    raise AssertionError(f"not graded: {view}")


def test_notebook_downloads_from_the_home_page(live, browser, tmp_path):
    svc, token = live
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    log_in(browser, svc.url, token)
    link = browser.find_element(By.CSS_SELECTOR, f'tr[data-assignment="{A}"] a.download-notebook')
    link.click()
    target = downloads / f"{A}.ipynb"
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    nb = json.loads(target.read_text(encoding="utf-8"))
    assert nb["metadata"]["dl_course"]["service_url"] == svc.url
    assert any(f'SERVICE_URL = "{svc.url}"' in "".join(c["source"]) for c in nb["cells"])
    wheel = browser.find_element(By.CSS_SELECTOR, "#helper-wheel a").get_attribute("href")
    assert httpx.get(wheel, follow_redirects=True).content[:2] == b"PK"  # a zip: the wheel


def test_late_submission_page_shows_one_score(live, browser):
    svc, token = live
    sid = submit(svc, token, A, solution_notebook())
    log_in(browser, svc.url, token)
    browser.get(f"{svc.url}/submissions/{sid}")
    score = browser.find_element(By.ID, "score").text
    late = shown(FULL - PENALTY)
    assert late in score and shown(PENALTY) in score, score  # full less 10 %, said once
    body = browser.find_element(By.TAG_NAME, "body").text
    assert body.count(late) == 1 and f"{shown(FULL)} / {shown(FULL)}" not in body, body
    browser.switch_to.frame(browser.find_element(By.ID, "feedback"))
    embedded = browser.find_element(By.TAG_NAME, "body").text
    assert "実行結果" in embedded  # the executed notebook is there ...
    assert "得点 / score" not in embedded and f"/ {shown(FULL)}" not in embedded  # no 2nd score
    browser.switch_to.default_content()


def test_refused_upload_page_shows_the_message_and_no_score(live, browser):
    svc, token = live
    sid = submit(svc, token, "3-1-3_other_layers", solution_notebook())
    log_in(browser, svc.url, token)
    browser.get(f"{svc.url}/submissions/{sid}")
    error = browser.find_element(By.ID, "error").text
    assert "3-1-3_other_layers" in error and "ではありません" in error, error
    assert not browser.find_elements(By.ID, "score")
    assert not browser.find_elements(By.ID, "items")
    assert "rejected" not in browser.find_element(By.TAG_NAME, "body").text.lower()


def test_phone_shows_the_hint_without_sideways_scrolling(live, browser):
    svc, token = live
    nb = json.loads(solution_notebook())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if "dx = (self.y - self.t) / batch_size" in src:  # forgets to divide by the batch size
            cell["source"] = src.replace(
                "dx = (self.y - self.t) / batch_size", "dx = self.y - self.t"
            )
    sid = submit(svc, token, A, json.dumps(nb).encode())
    phone_width(browser, PHONE)
    log_in(browser, svc.url, token)
    browser.get(f"{svc.url}/submissions/{sid}")
    hint = browser.find_element(By.CSS_SELECTOR, 'tr[data-item="softmax_with_loss_backward"] .hint')
    assert hint.is_displayed() and HINTS["batch_size_division"]["ja"] in hint.text
    rect = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", hint)
    assert rect["left"] >= 0 and rect["right"] <= PHONE, rect
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE, width
