"""Headless Chromium for the UI tests (Debian's chromium and chromedriver, driven by selenium)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PHONE = 390  # px: a phone's CSS width


def headless_chromium(profile_dir: Path):
    """A selenium driver on /usr/bin/chromium with its own profile; skips without a driver."""
    if not shutil.which("chromedriver"):
        pytest.skip("chromedriver not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
    ):
        opts.add_argument(flag)
    service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
    drv = webdriver.Chrome(options=opts, service=service)
    drv.set_page_load_timeout(60)
    return drv


def phone_width(drv, width: int = PHONE) -> None:
    """Emulate a phone viewport (mobile: the page's meta viewport applies)."""
    drv.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True},
    )


def log_in(drv, url: str, token: str) -> None:
    """Log in with ``token`` and wait until the next page has loaded (a click does not wait
    for the navigation). The old page is marked and the wait is for a document without the
    mark: waiting for the button to go stale raced with Chromium, which answered "node does
    not belong to the document" (not a stale-element error) while the page was replaced."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get(url + "/login")
    drv.find_element(By.ID, "token").send_keys(token)
    drv.execute_script("window.__login_page = true")
    drv.find_element(By.ID, "login-button").click()

    def next_page_loaded(d) -> bool:
        return bool(
            d.execute_script(
                "return window.__login_page === undefined && document.readyState === 'complete'"
            )
        )

    WebDriverWait(drv, 30, ignored_exceptions=(WebDriverException,)).until(next_page_loaded)
