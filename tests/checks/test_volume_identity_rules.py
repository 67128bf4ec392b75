"""`volume:identity` verdict rules, as a table: readings + pin + baseline + rows -> verdict.

No server. Strong sources (volume, inode, sentinel, lineage) fail when they change; metadata
sources (datadir, schema: file times) let the watched tables' rows decide.
"""

from collections.abc import Mapping
from pathlib import Path

from sidecar.checks.base import JudgeContext, Judgement
from sidecar.checks.continuity import RowCount
from sidecar.checks.volume_identity import MATCH, IdentityObservation, VolumeIdentityCheck
from sidecar.engines.mariadb.dialect import MARIADB
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.registry import build_sources
from sidecar.identity.settings import IdentitySettings
from sidecar.results import Status
from sidecar.state import IdentityValue, Memory, SetIdentity, TableMemory

NOW = 1_800_000_000.0
OLD = NOW - 30 * 86400  # a month ago
NEW = NOW - 60  # a minute ago
SETTINGS = IdentitySettings(data_dir=Path("/var/lib/mysql"), query="SELECT 1")
BASE: dict[str, IdentityValue] = {
    "volume": "shop_data",
    "inode": "42",
    "datadir": "20261216T080000Z",  # = OLD
    "schema": {"User": OLD, "Order": OLD},
}


def readings(**values: IdentityValue | Absence) -> IdentityObservation:
    """Readings of every source: the values given, the rest not configured."""
    found = []
    for source in build_sources(SETTINGS, MARIADB):
        value = values.get(source.name, Absence.NOT_CONFIGURED)
        if isinstance(value, Absence):
            found.append(absent(source.name, value, f"{source.name} {value}"))
        else:
            found.append(Reading(source.name, value))
    return IdentityObservation(tuple(found))


def judge(
    seen: IdentityObservation,
    baseline: Mapping[str, IdentityValue] | None = None,
    rows: RowCount | None = None,
    **pin: str,
) -> Judgement:
    """Judge with `baseline` remembered, 14 User rows remembered, `rows` counted this cycle."""
    check = VolumeIdentityCheck(build_sources(SETTINGS, MARIADB), IdentitySettings(pin=pin))
    memory = Memory(
        identity=dict(baseline or {}),
        identity_recorded_at=OLD if baseline else None,
        tables={"User": TableMemory(14, None, 14, OLD)},
    )
    return check.judge(seen, JudgeContext(memory, NOW, [rows] if rows else []))


def users(count: int, created: float) -> RowCount:
    return RowCount("User", count, "exact", created=created)


def test_first_sight_records_the_baseline() -> None:
    judgement = judge(readings(**BASE))
    assert (judgement.status, judgement.output) == (
        Status.PASS,
        "baseline recorded now (trust on first use)",
    )
    assert judgement.lessons == (SetIdentity(BASE, NOW),)
    assert judgement.value == "volume=shop_data,inode=42,datadir=20261216T080000Z"
    assert judgement.details["match"] == 1


def test_the_same_storage_passes_and_teaches_nothing() -> None:
    judgement = judge(readings(**BASE), BASE, users(14, OLD))
    assert (judgement.status, judgement.output, judgement.lessons) == (Status.PASS, "", ())


def test_a_strong_change_fails_and_is_said_once_against_pin_and_baseline() -> None:
    now = {**BASE, "volume": "other_data"}
    judgement = judge(readings(**now), BASE, users(14, OLD), volume="shop_data")
    assert judgement.status is Status.FAIL and judgement.details["match"] == 0
    assert judgement.output == "volume changed from shop_data to other_data (pin, baseline)"
    assert judgement.lessons == ()
    assert judgement.details["expectedVolume"] == "shop_data"  # the status page's runbook


def test_the_expected_volume_is_the_pinned_one_else_the_remembered_one() -> None:
    moved = readings(**{**BASE, "volume": "other_data"})
    assert judge(moved, BASE, users(14, OLD)).details["expectedVolume"] == "shop_data"
    pinned = judge(moved, BASE, users(14, OLD), volume="pinned_data")
    assert pinned.details["expectedVolume"] == "pinned_data"
    # A pin without a volume says nothing of one; nothing remembered or pinned, neither.
    assert "expectedVolume" not in judge(moved, BASE, users(14, OLD), inode="42").details
    assert "expectedVolume" not in judge(moved).details


def test_the_incident_names_the_fresh_datadir() -> None:
    fresh: dict[str, IdentityValue] = {
        "volume": "new_data",
        "inode": "43",
        "datadir": "20270115T075900Z",
    }
    fresh["schema"] = {"User": NEW}
    judgement = judge(readings(**fresh), BASE, users(1, NEW))
    assert judgement.status is Status.FAIL
    assert judgement.output.endswith(
        "the database looks newly initialised (datadir initialised 1m ago)"
    )
    assert "volume changed from shop_data to new_data (baseline)" in judgement.output


def test_with_select_only_a_new_database_is_named_by_its_tables_and_lost_rows() -> None:
    schema_only = {"schema": {"User": OLD}}
    judgement = judge(readings(schema={"User": NEW}), schema_only, users(1, NEW))
    assert judgement.status is Status.FAIL
    assert judgement.output == (
        "every remembered table was created anew (User) (baseline); the database looks "
        "newly initialised (every table created 1m ago)"
    )
    # With no watched table configured the reading is a bounded sample, and says so.
    assert str(judgement.value).startswith("schema: 1 tables, digest ")
    assert str(judgement.value).endswith(", a sample: the first 16 by name, listed every 10m")


# fmt: off
MAINTENANCE: list[tuple[str, dict[str, IdentityValue], dict[str, IdentityValue]]] = [
    # an instant ALTER of the only table, an OPTIMIZE, a migration rebuilding every table
    ("ALTER the only table", {"schema": {"User": OLD}}, {"schema": {"User": NEW}}),
    ("migration of every table", BASE,
     {**BASE, "schema": {"User": NEW, "Order": NEW}}),
    # stop, chown -R to the owner it already has, start: every ctime moves, volume and inode stay
    ("chown of the datadir", BASE,
     {**BASE, "datadir": "20270115T075900Z", "schema": {"User": NEW, "Order": NEW}}),
]
# fmt: on


def test_metadata_changes_with_the_rows_carried_over_are_maintenance() -> None:
    for case, before, after in MAINTENANCE:
        judgement = judge(readings(**after), before, users(14, NEW))
        assert judgement.status is Status.PASS, case
        assert judgement.output.endswith(
            "with the rows carried over: maintenance, remembered the new value"
        ), case
        assert judgement.lessons == (SetIdentity(after, OLD),), case  # rolled forward
        assert judgement.details["match"] == 1, case


def test_metadata_changes_with_rows_gone_fail_as_a_new_or_restored_database() -> None:
    after = {**BASE, "datadir": "20270115T075900Z", "schema": {"User": NEW, "Order": NEW}}
    judgement = judge(readings(**after), BASE, users(10, NEW))  # 14 -> 10, created anew
    assert judgement.status is Status.FAIL and judgement.details["match"] == 0
    assert "newly initialised" in judgement.output


def test_metadata_changes_with_no_watched_table_warn_and_are_not_learned() -> None:
    after = {**BASE, "schema": {"User": NEW, "Order": NEW}}
    judgement = judge(readings(**after), BASE)
    assert judgement.status is Status.WARN and judgement.lessons == ()
    assert "no watched table's rows to tell" in judgement.output
    assert "match" not in judgement.details
    by_source = {s.labels[0]: s.value for s in judgement.samples}
    assert MATCH not in {s.family for s in judgement.samples}
    assert by_source == {"volume": 1, "inode": 1, "datadir": 1, "schema": 0}


def test_a_pinned_metadata_source_that_moved_with_the_rows_kept_warns_to_re_pin() -> None:
    after = {**BASE, "datadir": "20270115T075900Z", "schema": {"User": NEW, "Order": NEW}}
    judgement = judge(readings(**after), BASE, users(14, NEW), datadir="20261216T080000Z")
    assert judgement.status is Status.WARN
    assert "sidecar adopt prints it" in judgement.output


def test_a_sentinel_that_is_gone_fails_one_that_cannot_be_read_warns() -> None:
    gone = judge(readings(sentinel=Absence.GONE), {"sentinel": "abc"})
    assert gone.status is Status.FAIL and gone.output == "sentinel abc is gone (baseline)"
    denied = judge(readings(sentinel=Absence.NOT_GRANTED, volume="v"), {"sentinel": "abc"})
    assert denied.status is Status.WARN
    assert denied.output == "cannot verify sentinel (sentinel not granted)"


def test_nothing_readable_warns_and_claims_no_match() -> None:
    nothing = judge(readings())
    assert nothing.status is Status.WARN
    assert nothing.output.startswith("no identity source available yet")
    down = judge(readings(schema=Absence.ERROR, datadir=Absence.ERROR), BASE)
    assert down.status is Status.WARN
    assert "match" not in down.details and MATCH not in {s.family for s in down.samples}


def test_table_creation_times_roll_forward_while_one_table_keeps_its_own() -> None:
    before = {"schema": {"User": OLD, "Order": OLD}}
    altered = {"User": NEW, "Order": OLD}  # ALTER TABLE User
    judgement = judge(readings(schema=altered), before, users(14, NEW))
    assert (judgement.status, judgement.output) == (Status.PASS, "")
    assert judgement.lessons == (SetIdentity({"schema": altered}, OLD),)


def test_a_configured_source_that_cannot_be_read_warns_on_the_first_run() -> None:
    """`--data-dir /var/lib/mysq` used to pass on `schema` alone, first run and later ones."""
    typo = "SIDECAR_DATA_DIR /var/lib/mysq: No such file or directory"
    seen = IdentityObservation(
        (
            absent("volume", Absence.ERROR, typo),
            absent("inode", Absence.ERROR, typo),
            absent("lineage", Absence.GONE, "the lineage query's table does not exist"),
            Reading("schema", BASE["schema"]),
        )
    )
    judgement = judge(seen)
    assert (judgement.status, judgement.output) == (
        Status.WARN,
        f"cannot read volume, inode ({typo}); lineage (the lineage query's table does not exist)",
    )
    assert judgement.lessons == (SetIdentity({"schema": BASE["schema"]}, NOW),)  # still learns
    later = judge(seen, {"schema": BASE["schema"]}, users(14, OLD))
    assert later.status is Status.WARN and later.output.startswith("cannot read volume, inode")


def test_a_source_nobody_configured_stays_silent() -> None:
    """Not granted the datadir's table, no sentinel planted: the least setup passes."""
    check = VolumeIdentityCheck(build_sources(IdentitySettings(), MARIADB), IdentitySettings())
    seen = IdentityObservation(
        (
            absent("sentinel", Absence.GONE, "sentinel table _sidecar_identity does not exist"),
            absent("datadir", Absence.NOT_GRANTED, "SELECT on mysql.gtid_slave_pos not granted"),
            Reading("schema", BASE["schema"]),
        )
    )
    judgement = check.judge(seen, JudgeContext(Memory(), NOW, []))
    assert judgement.status is Status.PASS, judgement.output
