"""Debian's Chromium, headless, driven by Selenium through Debian's chromedriver.

No browser or driver is downloaded: both are the OS packages (`scripts/bootstrap` installs
`chromium` and `chromium-driver`), named by path so Selenium Manager never runs. Each browser
gets a fresh profile directory of its own and is quit on the way out.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WIDTH = 1200


def available() -> bool:
    """Whether the OS packages are installed."""
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: `SIDECAR_TEST_ARTIFACTS` if set, else the test's tmp directory."""
    chosen = os.environ.get("SIDECAR_TEST_ARTIFACTS")
    directory = Path(chosen) if chosen else tmp_path / "artifacts"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextlib.contextmanager
def chromium(profile: Path, javascript: bool = True, width: int = WIDTH) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile in `profile`."""
    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},900")
    # The browser's console, to catch what the page's Content-Security-Policy blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def viewport(driver: WebDriver, width: int, height: int = 800, mobile: bool = False) -> None:
    """Make the page see a viewport of `width` CSS pixels (a phone at 360)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def console_errors(driver: WebDriver) -> list[str]:
    """Errors the page logged (a blocked style or script, a failed fetch) since last asked.

    The page answers a failing verdict with 503, as /readyz does, which Chromium logs too."""
    return [
        e["message"]
        for e in driver.get_log("browser")  # type: ignore[no-untyped-call]  # selenium leaves it untyped
        if e["level"] == "SEVERE" and "status of 503" not in e["message"]
    ]


def color_scheme(driver: WebDriver, scheme: str) -> None:
    """Make `prefers-color-scheme` match `scheme` (light or dark)."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


def full_page(driver: WebDriver, path: Path, width: int = WIDTH) -> Path:
    """A screenshot of the whole page (the viewport stretched to the page's height)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    viewport(driver, width, height)
    driver.save_screenshot(str(path))
    return path
