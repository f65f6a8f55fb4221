"""The instructor runs the course from the service (issue 9), in a real headless Chromium
against a live ``grader serve`` with the real engine: the instructor sets a deadline and an
extension on the settings page, the student sees their own rule and submits a notebook with a
known mistake, the instructor sees the mistake count, runs a bulk regrade and watches the
dashboard update by itself."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request

import pytest
from chromium import headless_chromium, log_in
from live_service import (
    FAST_ASSIGNMENT,
    LiveService,
    cli,
    released_env,
    solution_notebook,
)

from grader.engine.hints import HINTS
from grader.service.catalog import Catalog

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

HINT_ID = "batch_size_division"  # the mistake the student's notebook makes
HINT = f"softmax_with_loss_backward/{HINT_ID}"


@pytest.fixture
def browser(tmp_path):
    drv = headless_chromium(tempfile.mkdtemp(dir=tmp_path))
    yield drv
    drv.quit()


@pytest.fixture
def live(tmp_path, monkeypatch):
    for k, v in released_env(tmp_path / "released").items():
        monkeypatch.setenv(k, v)
    home = tmp_path / "home"
    home.mkdir()
    itok = cli(home, "token", "create", "--instructor").strip()
    stok = cli(home, "token", "create", "--student", "b001", "--name", "山田").strip()
    # the student forgot to divide by the batch size in SoftmaxWithLoss.backward
    nb = json.loads(solution_notebook())
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = src.replace(
            "        dx = dx * dout\n", "        dx = dx * dout * batch_size\n"
        )
    path = tmp_path / "softmax.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    with LiveService(home, workers=1) as svc:
        yield svc, itok, stok, path


def login(drv, url, token):
    drv.delete_all_cookies()
    log_in(drv, url, token)


def set_input(drv, element, value):
    """datetime-local inputs take keys in the browser's locale format: set the value."""
    drv.execute_script("arguments[0].value = arguments[1];", element, value)


def release_carriers_late(url, token):
    """Notebooks whose locked cells carry answers of FAST_ASSIGNMENT come out after any
    deadline of it (else the extension below is refused, rightly: release_leak)."""
    carriers = [b for b, a in Catalog().reveals.items() if FAST_ASSIGNMENT in a]
    assert carriers
    for b in carriers:
        req = urllib.request.Request(
            f"{url}/api/v1/instructor/settings/{b}",
            data=json.dumps({"release_at": "2100-01-01T00:00:00+09:00"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200


def test_instructor_settings_extension_mistakes_bulk_regrade_live(browser, live):
    svc, itok, stok, nb = live
    drv = browser
    release_carriers_late(svc.url, itok)
    wait = WebDriverWait(drv, 60)
    login(drv, svc.url, itok)
    drv.get(svc.url + "/instructor/settings")
    row = drv.find_element(By.ID, f"a-{FAST_ASSIGNMENT}")
    # the deadline passed yesterday (JST); 25% per started day, at most 5 days
    set_input(drv, row.find_element(By.NAME, "deadline"), "2026-01-10T23:59")
    Select(row.find_element(By.NAME, "late_policy")).select_by_value("penalty")
    pct = row.find_element(By.NAME, "penalty_percent")
    pct.clear()
    pct.send_keys("25")
    row.find_element(By.NAME, "max_late_days").send_keys("5")
    row.find_element(By.CSS_SELECTOR, "button.save").click()
    wait.until(EC.presence_of_element_located((By.ID, "saved")))
    assert FAST_ASSIGNMENT in drv.find_element(By.ID, "saved").text
    # an extension for b001 until far ahead
    drv.find_element(By.ID, "ext-student").send_keys("b001")
    Select(drv.find_element(By.ID, "ext-assignment")).select_by_value(FAST_ASSIGNMENT)
    set_input(drv, drv.find_element(By.ID, "ext-deadline"), "2099-01-31T23:59")
    drv.find_element(By.ID, "ext-reason").send_keys("通院のため")
    drv.find_element(By.ID, "ext-submit").click()
    wait.until(EC.presence_of_element_located((By.ID, "extension-list")))
    assert "通院のため" in drv.find_element(By.ID, "extension-list").text
    # a bad extension (unknown student) is refused on the page, in Japanese
    drv.find_element(By.ID, "ext-student").send_keys("nobody")
    set_input(drv, drv.find_element(By.ID, "ext-deadline"), "2099-01-31T23:59")
    drv.find_element(By.ID, "ext-submit").click()
    wait.until(EC.presence_of_element_located((By.ID, "error")))
    assert "名簿にありません" in drv.find_element(By.ID, "error").text

    # the student sees the rule that applies to them, extension included, and submits
    login(drv, svc.url, stok)
    wait.until(EC.presence_of_element_located((By.ID, "assignments")))
    rule = drv.find_element(By.CSS_SELECTOR, f'[data-rule="{FAST_ASSIGNMENT}"]').text
    assert "2099-01-31 23:59 JST" in rule and "延長" in rule and "通院のため" in rule
    assert "25%" in rule and "5 日を超えて" in rule and "始まった日" in rule
    Select(drv.find_element(By.ID, "assignment-select")).select_by_value(FAST_ASSIGNMENT)
    drv.find_element(By.ID, "notebook-file").send_keys(str(nb))
    drv.find_element(By.ID, "submit-button").click()
    WebDriverWait(drv, 180).until(EC.presence_of_element_located((By.ID, "items")))
    assert not drv.find_elements(By.ID, "late")  # on time thanks to the extension

    # the instructor sees the mistake, with a link to the submission
    login(drv, svc.url, itok)
    wait.until(EC.presence_of_element_located((By.ID, "live-counts")))
    hint = drv.find_element(By.CSS_SELECTOR, f'[data-hint="{HINT}"]')
    assert "1 人中 1 人" in hint.text and HINTS[HINT_ID]["ja"] in hint.text
    assert hint.find_elements(By.CSS_SELECTOR, "a[href^='/submissions/']")
    # bulk regrade: the dashboard shows the job queued or running, then reloads by itself
    section = drv.find_element(By.ID, f"stats-{FAST_ASSIGNMENT}")
    section.find_element(By.CSS_SELECTOR, "button.regrade-all").click()
    wait.until(EC.presence_of_element_located((By.ID, "regraded")))
    drv.execute_script("window.__not_reloaded = true;")
    counts = drv.find_element(By.ID, "live-counts")
    seen_busy = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if not drv.execute_script("return window.__not_reloaded === true;"):
            break  # the page reloaded itself after the run ended
        try:
            busy = sum(int(counts.get_attribute(a) or 0) for a in ("data-queued", "data-running"))
        except StaleElementReferenceException:
            break  # reloaded between the two reads
        seen_busy = seen_busy or busy > 0
        time.sleep(0.2)
    assert seen_busy, "the live counts never showed the regrade queued or running"
    assert not drv.execute_script("return window.__not_reloaded === true;")
    wait.until(EC.presence_of_element_located((By.ID, "live-counts")))
    assert drv.find_element(By.CSS_SELECTOR, f'[data-hint="{HINT}"]')
