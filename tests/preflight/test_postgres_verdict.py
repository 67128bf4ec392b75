"""Preflight on PostgreSQL stacks: the rename refused as MariaDB's, the postgres:18 trap named."""

from pathlib import Path

from sidecar.preflight import render
from sidecar.preflight.verdict import Finding, judge
from sidecar.results import Status, worst
from tests.preflight.stacks import POSTGRES_INCIDENT, postgres_stack
from tests.preflight.test_verdict import (
    DATA,
    EMPTY,
    NEW,
    OLD,
    observe,
    podman_labels,
    stack_in,
    volume,
)

KEY = "postgres_data"
TRAP = "data-dir-misses-volume"
FIXES_18 = (
    'mount it at /var/lib/postgresql: "- postgres_data:/var/lib/postgresql" or add'
    ' "PGDATA: /var/lib/postgresql/data" to postgres\'s environment'
)


def by_code(findings: list[Finding], code: str) -> Finding:
    (found,) = [f for f in findings if f.code == code]
    return found


def test_the_rename_of_a_postgres_stack_fails_like_mariadbs(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, POSTGRES_INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    findings = judge(stack, observe((old, DATA)))
    assert worst([f.status for f in findings]) is Status.FAIL
    fail = by_code(findings, "new-empty-volume")
    assert fail.status is Status.FAIL
    assert fail.message == (
        f"this start would create a NEW, EMPTY volume {NEW}_{KEY} and PostgreSQL would"
        f" initialise a fresh cluster on it; {OLD}_{KEY} (created 2025-11-24, 182 MB, project"
        f' {OLD}) holds your data: add "name: {OLD}" to the compose file'
    )
    assert not [f for f in findings if f.code == TRAP]  # 16 at .../data: the right place
    no_name = by_code(findings, "no-name")
    assert no_name.message.endswith(f'add "name: {OLD}" to the compose file')
    assert (
        "a new, empty cluster would pass every health check"
        in by_code(findings, "no-sidecar").message
    )


def test_the_bitnami_and_unknown_images_are_database_volumes_too(tmp_path: Path) -> None:
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    for image, target in [
        ("docker.io/bitnami/postgresql:16", "/bitnami/postgresql"),
        ("ghcr.io/acme/postgres-fork:2", "/var/lib/postgresql/data"),
    ]:
        stack = stack_in(tmp_path / image.replace("/", "_"), NEW, postgres_stack(image, target))
        fail = by_code(judge(stack, observe((old, DATA))), "new-empty-volume")
        assert fail.status is Status.FAIL, image
        assert "PostgreSQL would initialise a fresh cluster" in fail.message


def test_postgres_18_at_the_old_path_fails_before_the_first_start(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "p", postgres_stack("postgres:18", "/var/lib/postgresql/data"))
    trap = by_code(judge(stack, observe()), TRAP)
    assert trap.status is Status.FAIL
    assert trap.volume == f"p_{KEY}"
    assert trap.message == (
        "postgres (postgres:18) keeps its PostgreSQL data in /var/lib/postgresql/18/docker"
        " (PGDATA of postgres:18), on the image's own VOLUME /var/lib/postgresql, not on"
        f" {KEY} mounted at /var/lib/postgresql/data; p_{KEY} would be created and stay empty;"
        ' the 18 entrypoint refuses to start ("unused mount/volume") where it sees that mount;'
        " where it misses it (Alpine images before docker-library/postgres#1409, April 2026),"
        " the cluster lands on an anonymous volume that the next `down`/`up` or image update"
        f" replaces by an empty one while every health check stays green: {FIXES_18}"
    )


def test_postgres_18_after_the_start_an_empty_volume_fails_and_one_with_data_warns(
    tmp_path: Path,
) -> None:
    stack = stack_in(
        tmp_path, "p", postgres_stack("postgres:18.1-bookworm", "/var/lib/postgresql/data")
    )
    mine = volume(f"p_{KEY}", podman_labels("p"))
    empty = by_code(judge(stack, observe((mine, EMPTY))), TRAP)
    assert empty.status is Status.FAIL
    assert f"p_{KEY} is empty: the cluster is on an anonymous volume already" in empty.message
    assert "`sidecar volumes` finds it" in empty.message
    held = by_code(judge(stack, observe((mine, DATA))), TRAP)
    assert held.status is Status.WARN
    assert (
        f"p_{KEY} exists and holds data: PostgreSQL 18's entrypoint refuses to start with a mount"
        " there; a cluster of an older major version in it needs pg_upgrade (or its old tag)"
        f" first; otherwise {FIXES_18}"
    ) in held.message


def test_the_fixed_files_pass(tmp_path: Path) -> None:
    for n, text in enumerate(
        [
            postgres_stack("postgres:18-alpine", "/var/lib/postgresql"),
            postgres_stack("postgres:18", "/var/lib/postgresql/data", "/var/lib/postgresql/data"),
            postgres_stack("postgres:17", "/var/lib/postgresql/data"),
        ]
    ):
        stack = stack_in(tmp_path, f"p{n}", text)
        assert [f for f in judge(stack, observe()) if f.code.startswith("data-dir")] == []


def test_the_mirror_postgres_16_at_the_parent_fails(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "p", postgres_stack("postgres:16", "/var/lib/postgresql"))
    trap = by_code(judge(stack, observe()), TRAP)
    assert trap.status is Status.FAIL
    assert "on the image's own VOLUME /var/lib/postgresql/data, not on" in trap.message
    assert trap.message.endswith(
        ': mount it at /var/lib/postgresql/data: "- postgres_data:/var/lib/postgresql/data"'
    )
    assert "entrypoint refuses" not in trap.message  # the old entrypoint has no such check


def test_an_unknown_major_version_warns_and_says_so(tmp_path: Path) -> None:
    digest = "postgres@sha256:" + "ab" * 32
    cases = [
        ("postgres:latest", "its tag 'latest' names no version"),
        ("postgres", "it has no tag (latest)"),
        (digest, "it is pinned by digest only"),
    ]
    for n, (image, why) in enumerate(cases):
        stack = stack_in(tmp_path, f"p{n}", postgres_stack(image, "/var/lib/postgresql/data"))
        findings = judge(stack, observe())
        unknown = by_code(findings, "data-dir-unknown")
        assert unknown.status is Status.WARN
        assert worst([f.status for f in findings]) is Status.WARN
        assert unknown.message == (
            f"postgres runs {image}, whose major version preflight cannot tell ({why}): if it is"
            " PostgreSQL 18 or later, the cluster goes to /var/lib/postgresql/MAJOR/docker on the"
            " image's VOLUME /var/lib/postgresql, an anonymous volume, not postgres_data; pin the"
            ' major version in the tag ("postgres:MAJOR"), or add "PGDATA:'
            " /var/lib/postgresql/data\" to postgres's environment"
        )


def test_an_unknown_major_at_the_parent_offers_no_line_that_fixes_both(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "p", postgres_stack("postgres:latest", "/var/lib/postgresql"))
    unknown = by_code(judge(stack, observe()), "data-dir-unknown")
    assert "if it is PostgreSQL 17 or earlier, the cluster goes to /var/lib/postgresql/data" in (
        unknown.message
    )
    assert unknown.message.endswith(
        'pin the major version in the tag ("postgres:MAJOR"): preflight then names the line'
        " that fixes it"
    )


def test_the_json_names_each_volumes_engine(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, POSTGRES_INCIDENT)
    observed = observe()
    document = render.preflight_json(stack, observed, judge(stack, observed), {})
    (entry,) = document["volumes"]
    assert (entry["key"], entry["database"], entry["engine"]) == (KEY, True, "PostgreSQL")
