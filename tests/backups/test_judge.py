"""The verdicts on the backups: table-driven, no server, no clock."""

from pathlib import Path

import pytest

from sidecar.backups.catalog import BackupFile, size_text
from sidecar.backups.dump import DumpCount, DumpProblem, ProblemKind, TableRows
from sidecar.backups.judge import Backup, BackupVerdicts, age_text, judge
from sidecar.results import Status

NOW = 1_800_000_000.0
HOUR = 3600.0


def backup(
    name: str,
    age_hours: float,
    rows: dict[str, int] | None = None,
    size: int = 1000,
    writing: bool = False,
    problem: ProblemKind | None = None,
) -> Backup:
    """A dump `age_hours` old holding `rows` (None: not counted yet)."""
    file = BackupFile(name, Path("/backups") / name, size, int((NOW - age_hours * HOUR) * 1e9))
    if rows is None and problem is None:
        return Backup(file, writing)
    count = DumpCount(
        database="app",
        tables=("User", "Note"),
        counts=tuple(TableRows("app", t, n) for t, n in (rows or {}).items()),
        problem=DumpProblem(problem, f"{problem} explained") if problem else None,
    )
    return Backup(file, writing, count)


def run(*backups: Backup, high_water: int | None = 14, **kwargs: object) -> BackupVerdicts:
    return judge(backups, {"User": high_water}, {"User": 0.5}, NOW, **kwargs)  # type: ignore[arg-type]


def summary(verdict: object) -> tuple[Status, object, str]:
    return verdict.status, verdict.observed, verdict.output  # type: ignore[attr-defined]


# -- freshness ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("backups", "expected"),
    [
        ((), (Status.FAIL, None, "no backup found")),
        (
            (backup("b.sql", 0.1, writing=True),),
            (Status.FAIL, None, "no finished backup yet (b.sql is being written)"),
        ),
        ((backup("a.sql", 1),), (Status.PASS, 3600, "")),
        ((backup("a.sql", 26),), (Status.PASS, 93600, "")),
        (
            (backup("a.sql", 27),),
            (Status.WARN, 97200, "the newest backup (a.sql) is 27h old (max_age 26h)"),
        ),
        (
            (backup("a.sql", 53),),
            (Status.FAIL, 190800, "the newest backup (a.sql) is 2.2d old (max_age 26h)"),
        ),
        (
            (backup("b.sql", 0, writing=True), backup("a.sql", 30)),
            (
                Status.WARN,
                108000,
                "the newest backup (a.sql) is 30h old (max_age 26h) (b.sql is being written)",
            ),
        ),
        ((backup("clock-skew.sql", -2),), (Status.PASS, 0, "")),
        (
            (backup("new\nline.sql", 27),),
            (Status.WARN, 97200, "the newest backup (new\\nline.sql) is 27h old (max_age 26h)"),
        ),
    ],
    ids=[
        "none",
        "only one being written",
        "fresh",
        "at max_age",
        "past max_age",
        "past twice",
        "being written is no backup yet",
        "mtime in the future",
        "name shown on one line",
    ],
)
def test_freshness(backups: tuple[Backup, ...], expected: tuple[Status, object, str]) -> None:
    assert summary(run(*backups).freshness) == expected


def test_max_age_is_configurable() -> None:
    assert run(backup("a.sql", 2.5), max_age=HOUR).freshness.status is Status.FAIL


# -- size ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([1000], (Status.PASS, 1000, "")),
        ([500, 1000, 1000], (Status.PASS, 500, "")),  # down exactly max_drop
        (
            [100, 1000, 2000, 900],
            (
                Status.FAIL,
                100,
                "the newest backup (0.sql) is 100 B, down 90% from the median 1000 B"
                " of the 3 before it (max_drop 50%)",
            ),
        ),
        (
            [1 << 20, 50 << 20],
            (
                Status.FAIL,
                1 << 20,
                "the newest backup (0.sql) is 1.0 MiB, down 98% from the median 50.0 MiB"
                " of the one before it (max_drop 50%)",
            ),
        ),
        ([3000, 1000], (Status.PASS, 3000, "")),  # growth is fine
    ],
    ids=["alone", "at the line", "shrank", "one before", "grew"],
)
def test_size_against_the_median_of_the_earlier_dumps(
    sizes: list[int], expected: tuple[Status, object, str]
) -> None:
    backups = [backup(f"{i}.sql", i * 24, {"User": 14}, size) for i, size in enumerate(sizes)]
    assert summary(run(*backups).size) == expected


def test_the_size_drop_defaults_to_the_most_lenient_table_and_can_be_set() -> None:
    backups = [backup("b.sql", 0, size=300), backup("a.sql", 24, size=1000)]
    lenient = judge(backups, {}, {"User": 0.5, "Note": 0.8}, NOW)
    assert lenient.size.status is Status.PASS
    assert judge(backups, {}, {"User": 0.5}, NOW, size_max_drop=0.5).size.status is Status.FAIL


# -- rows ---------------------------------------------------------------------------------
INCIDENT = (
    "the newest backup (new.sql) holds 1 User row; the database held 14:"
    " rotation will drop the good ones"
)


@pytest.mark.parametrize(
    ("backups", "high_water", "expected", "candidate", "to_count"),
    [
        ((backup("a.sql", 1),), 14, (Status.WARN, None, "no backup counted yet"), None, ["a.sql"]),
        ((), 14, (Status.WARN, None, "no backup found"), None, []),
        ((backup("a.sql", 1, {"User": 14}),), 14, (Status.PASS, 14, ""), None, []),
        ((backup("a.sql", 1, {"User": 7}),), 14, (Status.PASS, 7, ""), None, []),
        ((backup("a.sql", 1, {"User": 1}),), None, (Status.PASS, 1, ""), None, []),
        (
            (backup("new.sql", 1, {"User": 1}), backup("old.sql", 25, {"User": 14})),
            14,
            (Status.FAIL, 1, INCIDENT + "; restore candidate: old.sql (14 User rows, 25h old)"),
            "old.sql",
            [],
        ),
        (
            (backup("new.sql", 1, {"User": 6}), backup("old.sql", 25)),
            14,
            (
                Status.FAIL,
                6,
                INCIDENT.replace("1 User row;", "6 User rows;")
                + "; counting the older old.sql for a restore candidate",
            ),
            None,
            ["old.sql"],
        ),
        (
            (backup("new.sql", 1, {"User": 1}), backup("old.sql", 25, {"User": 2})),
            14,
            (Status.FAIL, 1, INCIDENT + "; no older backup holds them"),
            None,
            [],
        ),
        (
            (
                backup("new.sql", 1, {"User": 1}),
                backup("cut.sql", 25, problem=ProblemKind.TRUNCATED),
                backup("small.sql", 49, {"User": 3}),
                backup("good.sql", 73, {"User": 14}),
                backup("older.sql", 97, {"User": 14}),
            ),
            14,
            (Status.FAIL, 1, INCIDENT + "; restore candidate: good.sql (14 User rows, 3d old)"),
            "good.sql",
            [],
        ),
        (
            (backup("newer.sql", 1), backup("a.sql", 25, {"User": 14})),
            14,
            (Status.PASS, 14, ""),
            None,
            ["newer.sql"],
        ),
        (
            (
                backup("newer.sql", 1),
                backup("a.sql", 25, {"User": 1}),
                backup("b.sql", 49, {"User": 14}),
            ),
            14,
            (
                Status.FAIL,
                1,
                "the newest counted backup (a.sql) holds 1 User row; the database held 14:"
                " rotation will drop the good ones;"
                " restore candidate: b.sql (14 User rows, 2d old)",
            ),
            "b.sql",
            ["newer.sql"],
        ),
        (
            (backup("a.sql", 1, {"Note": 3}),),
            14,
            (
                Status.FAIL,
                None,
                "the newest backup (a.sql) does not hold table User; no older backup holds them",
            ),
            None,
            [],
        ),
    ],
    ids=[
        "not counted yet",
        "no backup",
        "holds them",
        "at the line",
        "nothing remembered",
        "the incident",
        "the older one still to count",
        "none holds them",
        "skips bad and small dumps",
        "a newer one is being counted",
        "judged on the newest counted",
        "table missing",
    ],
)
def test_rows_against_the_high_water_mark(
    backups: tuple[Backup, ...],
    high_water: int | None,
    expected: tuple[Status, object, str],
    candidate: str | None,
    to_count: list[str],
) -> None:
    judgement = run(*backups, high_water=high_water)
    assert [t.table for t in judgement.rows] == ["User"]
    assert summary(judgement.rows[0].verdict) == expected
    named = judgement.restore_candidate.file.name if judgement.restore_candidate else None
    assert named == candidate
    assert [f.name for f in judgement.to_count] == to_count


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (ProblemKind.TRUNCATED, Status.FAIL),
        (ProblemKind.NOT_A_DUMP, Status.FAIL),
        (ProblemKind.OTHER_DATABASE, Status.FAIL),
        (ProblemKind.UNREADABLE, Status.WARN),
        (ProblemKind.BUDGET, Status.WARN),
        (ProblemKind.UNCOUNTABLE, Status.WARN),
    ],
)
def test_a_dump_with_a_problem_fails_or_warns_by_its_kind(
    kind: ProblemKind, status: Status
) -> None:
    judgement = run(backup("x.sql.gz", 1, problem=kind), backup("old.sql", 25, {"User": 14}))
    verdict = judgement.rows[0].verdict
    assert verdict.status is status
    assert verdict.output.startswith(f"the newest backup (x.sql.gz): {kind} explained")
    if status is Status.FAIL:
        assert verdict.output.endswith("; restore candidate: old.sql (14 User rows, 25h old)")


def test_a_restore_candidate_must_hold_every_watched_table() -> None:
    backups = [
        backup("new.sql", 1, {"User": 1, "Note": 1}),
        backup("half.sql", 25, {"User": 14, "Note": 1}),
        backup("whole.sql", 49, {"User": 14, "Note": 30}),
    ]
    judgement = judge(backups, {"User": 14, "Note": 30}, {"User": 0.5, "Note": 0.5}, NOW)
    assert [t.verdict.status for t in judgement.rows] == [Status.FAIL, Status.FAIL]
    assert judgement.restore_candidate is not None
    assert judgement.restore_candidate.file.name == "whole.sql"
    assert judgement.rows[1].verdict.details["restoreCandidate"] == "whole.sql"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (7199, "120m"),
        (7200, "2h"),
        (97200, "27h"),
        (99000, "27.5h"),
        (172800, "2d"),
        (190800, "2.2d"),
    ],
)
def test_ages_read_as_people_say_them(seconds: float, text: str) -> None:
    assert age_text(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (5 << 20, "5.0 MiB"), (3 << 30, "3.0 GiB")],
)
def test_sizes_read_as_people_say_them(size: int, text: str) -> None:
    assert size_text(size) == text
