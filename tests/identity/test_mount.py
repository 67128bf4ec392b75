"""The mount table: which volume holds the data directory, from mountinfo lines as they come.

A table of lines as podman, Docker, bind mounts and overlay roots write them (escapes, foreign
encodings, overmounts), with malformed lines that must be skipped, not trusted or crashed on;
then the real /proc/self/mountinfo with a real bind mount whose path is not UTF-8.
"""

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from sidecar.engines.base import Database
from sidecar.identity.mount import MAX_BYTES, volume_name
from sidecar.identity.reading import Absence
from sidecar.identity.volume import VolumeSource

ROOT = b"1 0 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w"
PROC = b"22 1 0:21 / /proc rw,relatime - proc proc rw"


def line(root: bytes, point: bytes, optional: bytes = b"master:1") -> bytes:
    """One mountinfo line mounting `root` of a filesystem at `point`."""
    return b"612 1 253:0 " + root + b" " + point + b" ro,relatime " + optional + b" - xfs /dev/x rw"


MYSQL = b"/var/lib/mysql"
CASES = [
    pytest.param(
        [line(b"/var/lib/containers/storage/volumes/shop_db/_data", MYSQL)],
        MYSQL,
        "shop_db",
        id="podman-named-volume",
    ),
    pytest.param(
        [line(b"/home/u/.local/share/containers/storage/volumes/shop_db/_data", MYSQL, b"")],
        MYSQL,
        "shop_db",
        id="rootless-podman-no-optional-fields",
    ),
    pytest.param(
        [line(b"/var/lib/docker/volumes/mailcow-dockerized_mysql-vol-1/_data", MYSQL)],
        MYSQL,
        "mailcow-dockerized_mysql-vol-1",
        id="docker-named-volume",
    ),
    pytest.param(
        [line(b"/docker/volumes/shop_db/_data", MYSQL)],
        MYSQL,
        "shop_db",
        id="docker-root-on-its-own-partition",
    ),
    pytest.param([line(b"/srv/mysql", MYSQL)], MYSQL, "/srv/mysql", id="bind-mount"),
    pytest.param(
        [line(b"/srv/my\\040data\\011x\\134y", MYSQL)],
        MYSQL,
        "/srv/my data\tx\\y",
        id="bind-escapes-space-tab-backslash",
    ),
    pytest.param(
        [line(b"/srv/db", b"/var/lib/my\\040sql")],
        b"/var/lib/my sql",
        "/srv/db",
        id="escaped-point",
    ),
    pytest.param([], MYSQL, "/var/lib/mysql", id="overlay-root-only"),
    pytest.param(
        [line(b"/var/lib/docker/volumes/shop_db/_data", MYSQL)],
        MYSQL + b"/data",
        "/var/lib/docker/volumes/shop_db/_data/data",
        id="below-a-volume",
    ),
    pytest.param(
        [line(b"/var/lib/docker/volumes/old_db/_data", MYSQL), line(b"/srv/new", MYSQL)],
        MYSQL,
        "/srv/new",
        id="overmount-the-later-wins",
    ),
    pytest.param(
        [line(b"/srv/caf\xe9", b"/mnt/latin1"), line(b"/var/lib/docker/volumes/db/_data", MYSQL)],
        MYSQL,
        "db",
        id="unrelated-non-utf8-mount",
    ),
    pytest.param(
        [line(b"/var/lib/docker/volumes/caf\xe9_db/_data", MYSQL)],
        MYSQL,
        "caf\\xe9_db",
        id="non-utf8-volume-shown-escaped",
    ),
    pytest.param(
        [line(b"/srv/db", b"/data/\xff")], b"/data/\xff", "/srv/db", id="non-utf8-data-dir"
    ),
    pytest.param(
        [
            b"",
            b"612 1 253:0",  # torn
            b"x 1 253:0 /srv/bad /var/lib/mysql rw - xfs /dev/x rw",  # not an id
            b"612 1 253:0 /srv/bad /var/lib/mysql rw xfs /dev/x rw",  # no separator
            b"612 1 253 /srv/bad /var/lib/mysql rw - xfs /dev/x rw",  # no major:minor
            b"612 1 253:0 srv/bad /var/lib/mysql rw - xfs /dev/x rw",  # root not absolute
            b"\x00\xff\xfe garbage \x01",
            line(b"/var/lib/docker/volumes/shop_db/_data", MYSQL),
            b"612 1 253:0 /srv/bad /var/lib/mysql",  # truncated after ours
        ],
        MYSQL,
        "shop_db",
        id="malformed-lines-skipped",
    ),
]


@pytest.mark.parametrize(("lines", "data_dir", "expected"), CASES)
def test_volume_name_from_mountinfo_lines(
    lines: list[bytes], data_dir: bytes, expected: str
) -> None:
    mountinfo = b"\n".join([ROOT, PROC, *lines]) + b"\n"
    name = volume_name(Path(os.fsdecode(data_dir)), mountinfo)
    assert name == expected
    json.dumps(name, ensure_ascii=False).encode("utf-8")  # no lone surrogate: strict JSON holds


def test_no_mount_holding_the_data_dir_is_none() -> None:
    assert volume_name(Path("/var/lib/mysql"), PROC + b"\n") is None


def test_a_mount_table_past_the_bound_is_a_reason_not_a_read_of_everything(
    tmp_path: Path,
) -> None:
    huge = tmp_path / "mountinfo"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    source = VolumeSource(tmp_path, mountinfo=huge)
    reading = asyncio.run(source.read(cast(Database, None)))  # a mount source asks no database
    assert reading.absence is Absence.ERROR and "larger than 8 MiB" in reading.note


@pytest.fixture
def non_utf8_bind(tmp_path: Path) -> Iterator[Path]:
    """A real bind mount of a directory named with a byte that is not UTF-8, undone after."""
    source = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9 db"))
    target = tmp_path / "mysql"
    source.mkdir()
    target.mkdir()
    try:
        subprocess.run(["mount", "--bind", source, target], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot bind-mount here ({exc}); this scenario needs CAP_SYS_ADMIN")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", target], check=False)


def test_a_real_non_utf8_bind_mount_is_named_escaped_and_breaks_nothing(
    non_utf8_bind: Path, tmp_path: Path
) -> None:
    """Row 5 of issue 20: this used to be `check crashed (UnicodeDecodeError)`."""
    reading = asyncio.run(VolumeSource(non_utf8_bind).read(cast(Database, None)))
    assert reading.present, reading.note
    assert isinstance(reading.value, str) and reading.value.endswith("/caf\\xe9 db")
    # Another directory is unaffected by the foreign line in the table.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert asyncio.run(VolumeSource(elsewhere).read(cast(Database, None))).present
