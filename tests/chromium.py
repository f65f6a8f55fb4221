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
