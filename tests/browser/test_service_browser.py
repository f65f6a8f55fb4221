"""The web UI in a real headless Chromium (selenium + /usr/bin/chromedriver) against a live
``grader serve`` with the real engine: login, upload, live status to the graded result,
per-item feedback, language toggle, instructor dashboard; and, against a service without
workers (submissions stay queued): empty states, refused uploads, phone-width layout."""

from __future__ import annotations

import tempfile
import time

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
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def browser(tmp_path):
    drv = headless_chromium(tempfile.mkdtemp(dir=tmp_path))
    yield drv
    drv.quit()


def _service(tmp_path, monkeypatch, student: tuple[str, str], workers: int):
    """A live service on released notebooks; yields it with an instructor and a student
    token."""
    for k, v in released_env(tmp_path / "released").items():
        monkeypatch.setenv(k, v)
    home = tmp_path / "home"
    home.mkdir()
    itok = cli(home, "token", "create", "--instructor").strip()
    sid, name = student
    stok = cli(home, "token", "create", "--student", sid, "--name", name).strip()
    with LiveService(home, workers=workers) as svc:
        yield svc, itok, stok


@pytest.fixture
def live(tmp_path, monkeypatch):
    nb = tmp_path / "softmax.ipynb"
    nb.write_bytes(solution_notebook())
    for svc, itok, stok in _service(tmp_path, monkeypatch, ("b001", "山田"), workers=1):
        yield svc, itok, stok, nb


@pytest.fixture
def idle(tmp_path, monkeypatch):
    """A service with no grading workers: every submission stays queued."""
    yield from _service(tmp_path, monkeypatch, ("b002", "Alice"), workers=0)


def page_width(drv) -> int:
    return drv.execute_script("return document.documentElement.scrollWidth")


def status_now(drv) -> str | None:
    """The status shown right now (None while the page reloads itself)."""
    try:
        els = drv.find_elements(By.ID, "status")
        return els[0].get_attribute("data-status") if els else None
    except StaleElementReferenceException:  # the element went away with a reload
        return None


def test_student_uploads_and_watches_the_result_then_instructor_dashboard(browser, live):
    svc, itok, stok, nb = live
    drv = browser
    log_in(drv, svc.url, "gt_wrong")
    assert "無効" in drv.find_element(By.ID, "error").text
    log_in(drv, svc.url, stok)
    WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "assignments")))
    assert "山田" in drv.find_element(By.ID, "whoami").text
    Select(drv.find_element(By.ID, "assignment-select")).select_by_value(FAST_ASSIGNMENT)
    drv.find_element(By.ID, "notebook-file").send_keys(str(nb))
    drv.find_element(By.ID, "submit-button").click()
    WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "status")))
    seen = {status_now(drv)}
    # the page follows the grading through SSE and reloads itself with the result
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen.add(status_now(drv))
        if drv.find_elements(By.ID, "items"):
            break
        time.sleep(0.2)
    assert drv.find_element(By.ID, "status").get_attribute("data-status") == "graded"
    assert seen & {"queued", "running"}  # the page was open before grading finished
    spec = fast_spec()
    assert f"{spec.max_score:g} / {spec.max_score:g}" in drv.find_element(By.ID, "score").text
    rows = drv.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert len(rows) == len(spec.items) and all("pass" in r.get_attribute("class") for r in rows)
    assert drv.find_element(By.ID, "feedback").get_attribute("sandbox") is not None
    assert drv.find_elements(By.ID, "download-executed")
    assert drv.find_element(By.ID, "submitted-at").text.endswith("JST")
    phone_width(drv)
    drv.refresh()
    # on a phone the item table is one card per item: nothing runs off the right edge
    assert page_width(drv) <= PHONE
    assert not drv.find_element(By.CSS_SELECTOR, "#items thead").is_displayed()
    drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    drv.find_element(By.ID, "lang-toggle").click()
    WebDriverWait(drv, 30).until(EC.text_to_be_present_in_element((By.ID, "score"), "Score"))

    drv.find_element(By.ID, "logout").click()
    log_in(drv, svc.url, itok)
    WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "all-submissions")))
    section = drv.find_element(By.CSS_SELECTOR, f'section[data-assignment="{FAST_ASSIGNMENT}"]')
    assert section.find_elements(By.CSS_SELECTOR, "svg.histogram rect")
    rates = section.find_elements(By.CSS_SELECTOR, "td.rate")
    assert rates and all(r.text.startswith("100%") for r in rates)
    assert len(drv.find_elements(By.CSS_SELECTOR, "#all-submissions tbody tr")) == 1
    assert drv.find_elements(By.ID, "export-csv")


def test_empty_states_refused_uploads_queued_rows_and_phone_layout(browser, idle, tmp_path):
    svc, itok, stok = idle
    drv = browser
    phone_width(drv)
    log_in(drv, svc.url, stok)
    WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "assignments")))
    assert drv.find_element(By.ID, "no-submissions").is_displayed()
    assert page_width(drv) <= PHONE

    # the wrong file type is caught before sending, with its name and what to choose instead
    txt = tmp_path / "notes.txt"
    txt.write_text("not a notebook")
    drv.find_element(By.ID, "notebook-file").send_keys(str(txt))
    drv.find_element(By.ID, "submit-button").click()
    msg = drv.find_element(By.ID, "client-error")
    assert msg.is_displayed() and "notes.txt" in msg.text and ".ipynb" in msg.text
    assert drv.find_elements(By.ID, "no-submissions")  # nothing was sent

    # no assignment is chosen for the student; a file with a released name chooses its own
    drv.get(svc.url + "/")
    select = Select(drv.find_element(By.ID, "assignment-select"))
    assert select.first_selected_option.get_attribute("value") == ""
    named = tmp_path / f"{FAST_ASSIGNMENT}.ipynb"
    named.write_bytes(solution_notebook())
    drv.find_element(By.ID, "notebook-file").send_keys(str(named))
    assert select.first_selected_option.get_attribute("value") == FAST_ASSIGNMENT

    # a refusal by the server keeps the chosen assignment and shows the error at the form
    other = next(
        o.get_attribute("value")
        for o in drv.find_elements(By.CSS_SELECTOR, "#assignment-select option")
        if o.get_attribute("value") not in ("", FAST_ASSIGNMENT)
    )
    Select(drv.find_element(By.ID, "assignment-select")).select_by_value(other)
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    drv.find_element(By.ID, "notebook-file").send_keys(str(broken))
    drv.find_element(By.ID, "submit-button").click()
    err = WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "error")))
    assert "JSON" in err.text
    assert err.find_element(By.XPATH, "ancestor::section").get_attribute("id") == "upload"
    assert (
        Select(drv.find_element(By.ID, "assignment-select")).first_selected_option.get_attribute(
            "value"
        )
        == other
    )

    # a queued submission (no workers) is listed on the home page without a score
    nb = tmp_path / "softmax.ipynb"
    nb.write_bytes(solution_notebook())
    Select(drv.find_element(By.ID, "assignment-select")).select_by_value(FAST_ASSIGNMENT)
    drv.find_element(By.ID, "notebook-file").send_keys(str(nb))
    drv.find_element(By.ID, "submit-button").click()
    status = WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "status")))
    assert status.get_attribute("data-status") == "queued"
    assert drv.find_element(By.ID, "submitted-at").text.endswith("JST")
    assert page_width(drv) <= PHONE
    drv.get(svc.url + "/")
    rows = drv.find_elements(By.CSS_SELECTOR, "#submissions tbody tr")
    assert len(rows) == 1 and "採点待ち" in rows[0].text
    assert not drv.find_elements(By.ID, "no-submissions")

    drv.find_element(By.ID, "logout").click()
    drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    log_in(drv, svc.url, itok)
    WebDriverWait(drv, 30).until(EC.presence_of_element_located((By.ID, "overview")))
    # nothing graded yet: no per-assignment statistics, the queued row is listed
    assert not drv.find_elements(By.CSS_SELECTOR, "section.assignment-stats")
    row = drv.find_element(By.CSS_SELECTOR, "#all-submissions tbody tr")
    assert "b002" in row.text and "採点待ち" in row.text
