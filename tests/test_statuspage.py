"""The status page, /events, /history and `sidecar events` over real HTTP against real MariaDB:
who gets what, what never leaks, and what survives a restart or a damaged file."""

import gzip
from pathlib import Path

import httpx

from sidecar.access import COOKIE
from sidecar.history.files import SNAPSHOT
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import (
    MONITOR_PASSWORD,
    MONITOR_USER,
    SidecarProcess,
    incident,
    monitor_env,
    run_cli,
    running_sidecar,
    wait_for,
)

TOKEN = "Page-Tok-31c7d"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def secrets_of(server: MariaDBTestServer) -> tuple[str, ...]:
    return (MONITOR_PASSWORD, TOKEN, f"{MONITOR_USER}@", "127.0.0.1", f":{server.port}")


def events(sidecar: SidecarProcess, **params: str) -> list[dict[str, object]]:
    response = sidecar.get("/events", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, object]] = response.json()["events"]
    return found


def replay_incident(sidecar: SidecarProcess, server: MariaDBTestServer) -> None:
    """Pass, then the incident, until the sidecar fails and has told the identity change."""
    sidecar.wait_status("pass")
    incident(server)
    sidecar.wait_status("fail")
    wait_for(lambda: any(e["kind"] == "identity" for e in events(sidecar)), 10, "identity event")


def test_every_client_of_root_but_a_browser_keeps_the_plain_verdict(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        for accept in (None, "*/*", "application/json", "text/plain"):
            headers = {"Accept": accept} if accept else {}
            response = sidecar.get("/", headers=headers)
            assert (response.status_code, response.text) == (200, "pass\n"), accept
            assert response.headers["content-type"].startswith("text/plain")
            assert response.headers["vary"] == "Accept"
        options = sidecar.client.request("OPTIONS", "/", headers={"Accept": BROWSER})
        assert (options.status_code, options.text) == (200, "pass\n")
        assert sidecar.client.head("/").status_code == 200
        page = sidecar.get("/", headers={"Accept": BROWSER})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'id="verdict">PASS<' in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
        status = sidecar.get("/status", headers={"Accept": "*/*"})  # its own path: always HTML
        assert 'id="verdict">PASS<' in status.text and "vary" not in status.headers


def test_nothing_on_the_page_or_in_the_history_names_a_password_host_or_user(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=state)
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        replay_incident(sidecar, seeded)
        seeded.stop()  # the database's own errors now reach the reasons, too
        wait_for(lambda: "connect" in sidecar.get("/status").text, 10, "a connection error")
        bodies = [
            sidecar.get("/status").text,
            sidecar.get("/events").text,
            sidecar.get("/history", params={"table": "User"}).text,
            sidecar.get("/history").text,
        ]
    printed = run_cli("events", "--state-dir", str(state))
    assert printed.returncode == 0, printed.stderr
    for text in [*bodies, printed.stdout, printed.stderr]:
        for secret in secrets_of(seeded):
            assert secret not in text


def test_with_a_token_only_the_verdict_is_public_and_the_form_buys_a_cookie(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, details_token=TOKEN, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        wait_for(lambda: sidecar.get("/readyz").status_code == 200, 10, "ready")
        page = sidecar.get("/status").text
        assert 'id="verdict">PASS<' in page and "User" not in page and "data-check" not in page
        for path in ("/events", "/history", "/metrics"):
            assert sidecar.get(path).status_code == 401
        base = sidecar.base_url
        with httpx.Client(base_url=base, timeout=5) as browser:
            cross = browser.post(
                "/status/login",
                data={"token": TOKEN},
                headers={"Origin": "http://elsewhere.example", "Sec-Fetch-Site": "cross-site"},
            )
            assert cross.status_code == 403 and COOKIE not in browser.cookies
            wrong = browser.post("/status/login", data={"token": "guess"})
            assert (wrong.status_code, wrong.headers["location"]) == (303, "/status?login=failed")
            assert COOKIE not in browser.cookies
            assert "That is not the token" in browser.get("/status?login=failed").text
            right = browser.post(
                "/status/login",
                data={"token": TOKEN, "back": "/"},
                headers={"Origin": base, "Sec-Fetch-Site": "same-origin"},
            )
            assert (right.status_code, right.headers["location"]) == (303, "/")
            cookie = right.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
            assert TOKEN not in cookie
            assert "data-check" in browser.get("/status").text
            assert browser.get("/health").json()["checks"]  # the cookie is the token's peer
            assert browser.get("/events").status_code == 200
            browser.post("/status/logout")
            assert COOKIE not in browser.cookies
            assert "data-check" not in browser.get("/status").text
        sidecar.client.headers["Authorization"] = f"Bearer {TOKEN}"
        assert sidecar.get("/events").status_code == 200
        assert TOKEN not in sidecar.log()


def test_bad_parameters_are_one_line_and_unknown_tables_404(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        cases = {
            "/events?since=yesterday": (400, "since:"),
            "/events?limit=0": (400, "limit: must be from 1 to 1000"),
            "/history?window=1y": (400, "window: '1y' is not one of 24h, 7d, 365d"),
            "/history?points=lots": (400, "points: 'lots' is not a whole number"),
            "/history?table=Order": (404, "table: 'Order' is not a watched table"),
        }
        for path, (status, message) in cases.items():
            response = sidecar.get(path)
            assert response.status_code == status, path
            assert response.json()["error"].startswith(message), response.text
        history = sidecar.get("/history", params={"table": "User", "points": "3"}).json()
        assert history["table"] == "User" and 1 <= len(history["points"]) <= 3
        assert history["points"][-1]["rows"] == 14
        since = events(sidecar)[0]["timestamp"]
        assert events(sidecar, since=str(since)) == []


def test_the_history_survives_a_restart_and_sidecar_events_prints_it(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=state)
    with running_sidecar(env, tmp_path / "first.log") as sidecar:
        replay_incident(sidecar, seeded)
        before = events(sidecar)
    printed = run_cli("events", env={"SIDECAR_STATE_DIR": str(state)})
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert any(" FAIL inode changed from " in line for line in lines), lines
    assert any("identity first seen, trusted on first use" in line for line in lines), lines
    assert all(line[:4].isdigit() and line[10] == " " and line[19] == " " for line in lines)
    with running_sidecar(env, tmp_path / "second.log") as again:
        again.wait_status("fail")
        after = events(again)
        assert after[-len(before) :] == before  # the first run's events, unchanged
        assert after[0]["kind"] == "start"
        rows = again.get("/history", params={"table": "User"}).json()["points"]
        assert rows[0]["rows"] == 14 and rows[-1]["rowsMin"] <= 1
    assert run_cli("events", "--state-dir", str(state), "--json").stdout.startswith("[")


def test_a_corrupt_history_is_set_aside_and_the_verdict_is_unaffected(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / SNAPSHOT).write_bytes(gzip.compress(b"not a history at all"))
    with running_sidecar(monitor_env(seeded, state_dir=state), tmp_path / "s.log") as sidecar:
        sidecar.wait_status("pass")
        warning = next(e for e in events(sidecar) if e["kind"] == "state")
        assert warning["status"] == "warn" and "is corrupt" in str(warning["message"])
        assert (state / f"{SNAPSHOT}.corrupt").exists()
        assert "history:" in sidecar.log()


def test_sidecar_events_refuses_what_it_cannot_read_in_one_line(tmp_path: Path) -> None:
    for args, setting in (
        ((), "SIDECAR_STATE_DIR: is needed"),
        (("--state-dir", str(tmp_path / "none")), "is not a directory"),
        (("--state-dir", str(tmp_path), "--since", "soon"), "--since: 'soon' is not"),
    ):
        result = run_cli("events", *args)
        assert result.returncode == 3, result
        assert setting in result.stderr and len(result.stderr.splitlines()) == 1
    assert run_cli("events", "--state-dir", str(tmp_path)).stdout == "no events recorded\n"


def test_the_runbook_and_the_chart_say_what_is_true_after_the_demos_incident(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """The demo's case: the datadir replaced at the same path. The runbook must not send the
    user to the path the database is already on, and the line the count fails below is the
    allowed drop from the high-water mark (no floor is set), so it is named that."""
    env = monitor_env(seeded, data_dir=seeded.datadir)
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        replay_incident(sidecar, seeded)
        page = sidecar.get("/", headers={"Accept": BROWSER}).text
    runbook = page.split('id="runbook"', 1)[1].split("</section>", 1)[0]
    path = f"<code>{seeded.datadir}</code>"
    assert f"The data should be on volume {path}" not in runbook, runbook
    assert f"The database runs on {path}, where the data should be" in runbook, runbook
    assert "allowed drop (fails below)" in page
    assert "floor (fails below)" not in page
