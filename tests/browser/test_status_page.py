"""The status page in a real browser (Debian's Chromium, headless): what a person sees.

Screenshots land in the test's tmp directory, or in `SIDECAR_TEST_ARTIFACTS` when set (the
README's screenshots in docs/ come from there).
"""

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from sidecar.statuspage import charts
from tests.browser.conftest import Watched, cycles
from tests.support import browser
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import (
    MONITOR_PASSWORD,
    MONITOR_USER,
    monitor_env,
    running_sidecar,
    wait_for,
)

TOKEN = "Page-Token-5e2a9"


def text_of(driver: WebDriver, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def polyline_points(driver: WebDriver, chart: str, line: str) -> list[tuple[float, float]]:
    """Every point of one line of a chart, in drawing order."""
    points: list[tuple[float, float]] = []
    for polyline in driver.find_elements(By.CSS_SELECTOR, f"{chart} polyline.line-{line}"):
        for pair in (polyline.get_attribute("points") or "").split():
            x, y = pair.split(",")
            points.append((float(x), float(y)))
    return points


def assert_no_secrets(html: str, watched: Watched) -> None:
    for secret in (MONITOR_PASSWORD, f"{MONITOR_USER}@", "127.0.0.1", str(watched.server.port)):
        assert secret not in html


def test_the_page_of_a_passing_sidecar(passing: Watched, tmp_path: Path) -> None:
    """The verdict, a card per check, the charts and the identity first seen; nothing blocked."""
    sidecar = passing.sidecar
    with browser.chromium(tmp_path / "profile") as driver:
        driver.get(f"{sidecar.base_url}/")
        assert text_of(driver, "#verdict") == "PASS"
        assert "this is our database" in text_of(driver, ".headline")
        assert driver.find_elements(By.ID, "runbook") == []
        checks = set(sidecar.health()["checks"])
        cards = driver.find_elements(By.CSS_SELECTOR, ".card")
        assert {card.get_attribute("data-check") for card in cards} == checks
        rows = text_of(driver, '.card[data-check="User:rowCount"]')
        assert "14 rows" in rows and "pass since" in rows
        chart = driver.find_element(By.CSS_SELECTOR, 'svg[data-kind="rows"][data-table="User"]')
        assert chart.get_attribute("data-last") == "14"
        assert polyline_points(driver, 'svg[data-kind="rows"]', "high-water")
        first = text_of(driver, '#identity-timeline li[data-kind="first-seen"]')
        assert "trusted on first use" in first and "inode=" in first
        assert browser.console_errors(driver) == []  # the CSP let the inline style and script in
        assert_no_secrets(driver.page_source, passing)
        shots = browser.artifacts(tmp_path)
        browser.full_page(driver, shots / "statuspage-pass.png")
        browser.color_scheme(driver, "dark")
        background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 20, 24)"  # the dark palette
        browser.full_page(driver, shots / "statuspage-pass-dark.png")


def test_the_page_refreshes_itself_without_reloading(passing: Watched, tmp_path: Path) -> None:
    """A new cycle shows up in place: the page's own state survives, so it was not reloaded."""
    with browser.chromium(tmp_path / "profile") as driver:
        driver.get(f"{passing.sidecar.base_url}/status")
        before = text_of(driver, ".meta")
        driver.execute_script("window.sidecarTestMarker = 'still here';")
        WebDriverWait(driver, 15).until(lambda d: text_of(d, ".meta") != before)
        assert driver.execute_script("return window.sidecarTestMarker") == "still here"
        assert browser.console_errors(driver) == []


def test_with_javascript_off_the_verdict_still_shows(passing: Watched, tmp_path: Path) -> None:
    """Server-rendered: no script needed to read it; the page reloads itself instead."""
    with browser.chromium(tmp_path / "profile", javascript=False) as driver:
        driver.get(f"{passing.sidecar.base_url}/status")
        assert text_of(driver, "#verdict") == "PASS"
        assert driver.find_elements(By.CSS_SELECTOR, ".card")
        assert 'http-equiv="refresh"' in driver.page_source
        browser.full_page(driver, browser.artifacts(tmp_path) / "statuspage-no-js.png")


def test_the_page_after_the_incident_shows_why_and_the_drop(
    after_incident: Watched, tmp_path: Path
) -> None:
    """FAIL, the reasons in words, the runbook, the identity change with old and new values,
    and a row-count line that falls from 14 to the floor of the chart."""
    sidecar = after_incident.sidecar
    with browser.chromium(tmp_path / "profile") as driver:
        driver.get(f"{sidecar.base_url}/")
        assert text_of(driver, "#verdict") == "FAIL"
        reasons = text_of(driver, "#reasons")
        assert "Rows in User: 1 row, down 93% from the remembered 14" in reasons
        assert "Storage identity:" in reasons and "newly initialised" in reasons
        runbook = text_of(driver, "#runbook")
        for step in ("Stop the app", "sidecar volumes", "sidecar adopt"):
            assert step in runbook
        # While MariaDB restarts only the mounted datadir can be read: its inode may change a
        # cycle before the server's own sources do, as an event of its own.
        changes = [
            item.text
            for item in driver.find_elements(
                By.CSS_SELECTOR, '#identity-timeline li[data-kind="identity"]'
            )
        ]
        old, new = after_incident.inode_before, after_incident.inode_after
        assert any(f"inode changed from {old} to {new}" in text for text in changes), changes
        assert any("datadir changed from" in text for text in changes), changes
        assert all(text.startswith("FAIL") for text in changes), changes
        chart = 'svg[data-kind="rows"][data-table="User"]'
        svg = driver.find_element(By.CSS_SELECTOR, chart)
        assert svg.get_attribute("data-max") == "14" and svg.get_attribute("data-last") == "1"
        rows = polyline_points(driver, chart, "rows")
        top, bottom = rows[0][1], max(y for _, y in rows)
        plot = charts.HEIGHT - charts.TOP - charts.BOTTOM
        assert bottom - top > 0.5 * plot  # the drop covers most of the plot's height
        assert rows[-1][1] == pytest.approx(bottom, abs=10)  # and it is where the line ends
        assert driver.find_elements(By.CSS_SELECTOR, f"{chart} rect.failing")
        assert driver.find_elements(By.CSS_SELECTOR, f"{chart} line.marker")
        assert browser.console_errors(driver) == []
        assert_no_secrets(driver.page_source, after_incident)
        browser.full_page(driver, browser.artifacts(tmp_path) / "statuspage-incident.png")


def test_the_page_reads_at_360px(after_incident: Watched, tmp_path: Path) -> None:
    """On a phone the page fits: nothing wider than the screen, the verdict on top."""
    with browser.chromium(tmp_path / "profile", width=360) as driver:
        browser.viewport(driver, 360, 780, mobile=True)
        driver.get(f"{after_incident.sidecar.base_url}/status")
        assert text_of(driver, "#verdict") == "FAIL"
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 360
        verdict = driver.find_element(By.ID, "verdict")
        assert verdict.location["y"] < 120 and verdict.size["width"] < 360
        shots = browser.artifacts(tmp_path)
        driver.save_screenshot(str(shots / "statuspage-incident-360-first-screen.png"))
        browser.full_page(driver, shots / "statuspage-incident-360.png", width=360)


def test_the_token_flow(seeded: MariaDBTestServer, tmp_path: Path) -> None:
    """Anonymous: the verdict only. The token goes in a form (never the URL), buys an HttpOnly,
    SameSite=Strict cookie that is not the token, and logging out takes the details away."""
    env = monitor_env(seeded, state_dir=tmp_path / "state", details_token=TOKEN)
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.client.headers["Authorization"] = f"Bearer {TOKEN}"
        sidecar.wait_status("pass")
        with browser.chromium(tmp_path / "profile") as driver:
            driver.get(f"{sidecar.base_url}/status")
            assert text_of(driver, "#verdict") == "PASS"
            assert driver.find_elements(By.CSS_SELECTOR, ".card") == []
            assert "User" not in text_of(driver, "main")

            def log_in(token: str) -> None:
                field = driver.find_element(By.ID, "token")
                field.clear()
                field.send_keys(token)
                field.submit()

            log_in("not-the-token")
            assert "That is not the token" in text_of(driver, ".access")
            assert driver.find_elements(By.CSS_SELECTOR, ".card") == []
            log_in(TOKEN)
            WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".card"))
            assert TOKEN not in driver.current_url
            cookie = driver.get_cookie("sidecar_details")
            assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert TOKEN not in cookie["value"] and re.fullmatch(r"[0-9a-f]{64}", cookie["value"])
            assert driver.execute_script("return document.cookie") == ""
            assert browser.console_errors(driver) == []
            driver.get(f"{sidecar.base_url}/events")  # the cookie opens the details endpoints
            assert '"events"' in text_of(driver, "body")
            browser.console_errors(driver)  # a JSON page: the browser asks for /favicon.ico
            driver.get(f"{sidecar.base_url}/status")
            driver.find_element(By.CSS_SELECTOR, ".access button").click()
            WebDriverWait(driver, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".card"))
            assert driver.get_cookie("sidecar_details") is None
            assert browser.console_errors(driver) == []
        wait_for(lambda: cycles(sidecar) >= 2, 10, "two cycles")
        assert TOKEN not in sidecar.log()
