"""Reading a control file: the system identifier, or a clear reason; never a crash."""

import os
from pathlib import Path

import pytest

from sidecar.identity.controlfile import ControlFileSource, read_control
from sidecar.identity.reading import Absence, Reading


def _cluster(root: Path, identifier: int, version: int = 1300, size: int = 8192) -> Path:
    (root / "global").mkdir(parents=True)
    (root / "PG_VERSION").write_text("15\n")
    body = identifier.to_bytes(8, "little") + version.to_bytes(4, "little")
    (root / "global" / "pg_control").write_bytes(body.ljust(size, b"\0"))
    return root


def test_the_identifier_is_read_and_garbage_refused(tmp_path: Path) -> None:
    assert read_control(_cluster(tmp_path / "a", 7715559427488177423)) == "7715559427488177423"
    with pytest.raises(ValueError, match="wrong size"):
        read_control(_cluster(tmp_path / "b", 1, size=100))
    with pytest.raises(ValueError, match="knows"):
        read_control(_cluster(tmp_path / "c", 1, version=7))


def test_readings_and_contradictions(tmp_path: Path) -> None:
    source = ControlFileSource(tmp_path)
    status = os.stat(tmp_path)
    assert source.read_mounted(tmp_path, status).absence is Absence.GONE
    _cluster(tmp_path / "17" / "main", 42)
    found = source.read_mounted(tmp_path, status)
    assert found.value == "42"
    server = {"cluster": Reading("cluster", "42"), "controlfile": found}
    assert source.contradicts(server) is None
    server["cluster"] = Reading("cluster", "43")
    assert "its data is not on this volume" in str(source.contradicts(server))
    broken = tmp_path / "bad"
    _cluster(broken, 1, size=10)
    assert ControlFileSource(broken).read_mounted(broken, status).absence is Absence.ERROR
