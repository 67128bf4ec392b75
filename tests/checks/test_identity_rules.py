"""`volume:identity` verdict rules, as a table: readings + pin + baseline -> verdict (no server)."""

from pathlib import Path

from sidecar.checks.volume_identity import IdentityObservation, VolumeIdentityCheck
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.registry import build_sources
from sidecar.identity.settings import IdentitySettings
from sidecar.results import Status
from sidecar.state import IdentityValue, Memory, SetIdentity

NOW = 1_800_000_000.0
OLD = NOW - 30 * 86400  # a datadir initialised a month ago
SETTINGS = IdentitySettings(data_dir=Path("/var/lib/mysql"), query="SELECT 1")


def readings(**values: IdentityValue | Absence) -> IdentityObservation:
    """Readings of every source: the values given, the rest not configured."""
    found = []
    for source in build_sources(SETTINGS):
        value = values.get(source.name, Absence.NOT_CONFIGURED)
        if isinstance(value, Absence):
            found.append(absent(source.name, value, f"{source.name} {value}"))
        else:
            found.append(Reading(source.name, value))
    return IdentityObservation(tuple(found))


def judge(seen: IdentityObservation, baseline: dict[str, IdentityValue] | None = None, **pin: str):
    check = VolumeIdentityCheck(build_sources(SETTINGS), IdentitySettings(pin=pin))
    memory = Memory(identity=dict(baseline or {}), identity_recorded_at=OLD if baseline else None)
    return check.judge(seen, memory, NOW)


BASE = {"volume": "shop_data", "inode": "42", "datadir": "20261215T080000Z"}


def test_first_sight_records_the_baseline() -> None:
    judgement = judge(readings(**BASE))
    assert (judgement.status, judgement.output) == (
        Status.PASS,
        "baseline recorded now (trust on first use)",
    )
    assert judgement.lessons == (SetIdentity(BASE, NOW),)
    assert judgement.value == "volume=shop_data,inode=42,datadir=20261215T080000Z"
    assert judgement.details["match"] == 1


def test_the_same_storage_passes_and_teaches_nothing() -> None:
    judgement = judge(readings(**BASE), BASE)
    assert (judgement.status, judgement.output, judgement.lessons) == (Status.PASS, "", ())


def test_a_change_seen_against_pin_and_baseline_is_said_once() -> None:
    now = {**BASE, "volume": "other_data"}
    judgement = judge(readings(**now), BASE, volume="shop_data")
    assert judgement.status is Status.FAIL and judgement.details["match"] == 0
    assert judgement.output == "volume changed from shop_data to other_data (pin, baseline)"
    assert judgement.lessons == ()


def test_a_fresh_datadir_is_named_as_such() -> None:
    fresh = {**BASE, "inode": "43", "datadir": "20270115T075900Z"}  # a minute before NOW
    judgement = judge(readings(**fresh), BASE)
    assert judgement.output == (
        "inode changed from 42 to 43 (baseline); datadir changed from 20261215T080000Z to "
        "20270115T075900Z (baseline); the database looks newly initialised "
        "(datadir initialised 1m ago)"
    )


def test_a_sentinel_that_is_gone_fails_one_that_cannot_be_read_warns() -> None:
    gone = judge(readings(sentinel=Absence.GONE), {"sentinel": "abc"})
    assert gone.status is Status.FAIL and gone.output == "sentinel abc is gone (baseline)"
    denied = judge(readings(sentinel=Absence.NOT_GRANTED, volume="v"), {"sentinel": "abc"})
    assert denied.status is Status.WARN
    assert denied.output == "cannot verify sentinel (sentinel not granted)"


def test_no_source_at_all_warns_with_what_to_do() -> None:
    judgement = judge(readings())
    assert judgement.status is Status.WARN
    assert judgement.output.startswith("no identity source available yet")
    errors = judge(readings(schema=Absence.ERROR))
    assert errors.output == "cannot read the identity sources: schema error"


def test_table_creation_times_roll_forward_while_one_table_keeps_its_own() -> None:
    before = {"schema": {"User": OLD, "Order": OLD}}
    altered = {"User": NOW - 5, "Order": OLD}  # ALTER TABLE User
    judgement = judge(readings(schema=altered), before)
    assert judgement.status is Status.PASS
    assert judgement.lessons == (SetIdentity({"schema": altered}, OLD),)
    anew = judge(readings(schema={"User": NOW - 5, "Order": NOW - 5}), before)
    assert anew.status is Status.FAIL
    assert anew.output.startswith("every remembered table was created anew (Order, User)")
