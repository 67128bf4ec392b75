"""/metrics a Prometheus user can build on: stable, and there while the data is not."""

import re
import time
from pathlib import Path

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import monitor_env, running_sidecar, seed, wait_for


def _value(text: str, series: str) -> float | None:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_labels_name_the_check_and_the_table_once_and_sidecar_up_is_gone(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        text = sidecar.get("/metrics").text
    assert 'sidecar_check_status{check="rowCount",table="User"} 0.0' in text
    assert 'sidecar_check_status{check="connection",table=""} 0.0' in text
    assert 'sidecar_check_duration_seconds{check="latestRecord",table="User"}' in text
    assert "User:rowCount" not in text and "sidecar_up" not in text
    assert _value(text, 'sidecar_table_rows_floor{table="User"}') == 0
    assert _value(text, 'sidecar_table_rows_min_allowed{table="User"}') == 7


def test_the_newest_record_timestamp_is_exact_and_stable_between_scrapes(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        series = 'sidecar_table_latest_record_timestamp_seconds{table="User"}'
        seen = set()
        for _ in range(8):  # across several cycles (1 s apart)
            seen.add(_value(sidecar.get("/metrics").text, series))
            time.sleep(0.4)
    newest = seeded.execute("SELECT UNIX_TIMESTAMP(MAX(createdAt)) FROM User", database="app")
    assert seen == {float(newest[0][0])}


def test_a_lost_table_exports_zero_rows_beside_its_remembered_mark(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """A fresh datadir without the User table: RowsDropped must be able to fire."""
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        seeded.swap_datadir()
        seed(seeded, users=0)
        seeded.execute("DROP TABLE User", database="app")
        sidecar.wait_status("fail")
        wait_for(
            lambda: _value(sidecar.get("/metrics").text, 'sidecar_table_rows{table="User"}') == 0,
            5,
            "0 rows exported for the lost table",
        )
        text = sidecar.get("/metrics").text
    assert _value(text, 'sidecar_table_rows_high_water{table="User"}') == 14


def test_nothing_verifiable_means_no_identity_match_and_no_row_count(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """The database down and no volume mounted: match is absent, not 1; the mark stays."""
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        assert "sidecar_identity_match 1.0" in sidecar.get("/metrics").text
        seeded.stop()
        sidecar.wait_status("fail")
        wait_for(
            lambda: "sidecar_identity_match" not in sidecar.get("/metrics").text,
            5,
            "identity match to be withdrawn",
        )
        text = sidecar.get("/metrics").text
        assert 'sidecar_table_rows{table="User"}' not in text
        assert _value(text, 'sidecar_table_rows_high_water{table="User"}') == 14
        body = sidecar.health()
        assert "match" not in body["checks"]["volume:identity"][0]
