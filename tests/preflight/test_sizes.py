"""Volume sizes: counted like du, bounded in time, honest when cut short or unreadable."""

import os
from pathlib import Path

import pytest

from sidecar.preflight.sizes import Size, human_bytes, measure


def test_counts_allocated_blocks_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "ibdata1").write_bytes(os.urandom(3_000_000))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "User.ibd").write_bytes(os.urandom(200_000))
    size = measure(str(tmp_path))
    assert size.complete and size.entries == 3
    assert 3_200_000 <= size.bytes <= 3_400_000  # type: ignore[operator]
    assert size.describe() == "3.2 MB"
    assert size.holds_data


def test_hard_links_count_once_and_symlinks_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(os.urandom(1_000_000))
    os.link(tmp_path / "data", tmp_path / "again")
    (tmp_path / "outside").symlink_to("/usr")
    assert measure(str(tmp_path)).bytes < 1_200_000  # type: ignore[operator]


def test_an_empty_volume_holds_no_data(tmp_path: Path) -> None:
    size = measure(str(tmp_path))
    assert (size.entries, size.holds_data, size.describe()) == (0, False, "empty")


def test_an_unreadable_mountpoint_may_hold_data(tmp_path: Path) -> None:
    size = measure(str(tmp_path / "missing"))
    assert size.bytes is None and size.holds_data
    assert size.describe() == "size unknown" and size.error


def test_the_walk_stops_at_its_deadline_and_says_so(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "f").write_bytes(b"x" * 5000)
    ticks = iter(range(100))
    size = measure(str(tmp_path), budget=1.5, clock=lambda: float(next(ticks)))
    assert not size.complete and size.holds_data
    assert size.describe().startswith(">= ")


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (999, "999 B"), (4096, "4.1 kB"), (182_000_000, "182 MB"),
     (1_234_000_000, "1.2 GB"), (5 * 10**15, "5000 TB")],
)  # fmt: skip
def test_human_sizes(count: int, text: str) -> None:
    assert human_bytes(count) == text


def test_size_unknown_counts_as_data() -> None:
    assert Size(None, 0, False).holds_data
