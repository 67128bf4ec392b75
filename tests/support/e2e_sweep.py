"""Remove what finished end-to-end runs left behind: `python -m tests.support.e2e_sweep`.

A run is finished once its lock can be taken (see e2e_runs). For each finished run this
removes its podman containers, pods, networks and volumes, the aardvark-dns entries of its
networks, whatever its private dockerd left running (see dockerd.sweep) and its directory.
Runs in progress keep their lock and are left alone; nothing without the run prefix is touched,
except the DNS files of the two networks the e2e used before its names became unique and the
objects tests/preflight/test_real_engine.py named with a bare random suffix before that.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from tests.support import dockerd, e2e_runs, podman
from tests.support.engines import Engine


def sweep_run(run_id: str, podman_engine: Engine | None) -> list[str]:
    """Remove everything run `run_id` made; what went. The caller holds the run's lock."""

    def ours(name: str) -> bool:
        return e2e_runs.run_id_of(name) == run_id

    removed: list[str] = []
    if podman_engine is not None:
        removed += podman_engine.remove_where(ours)
        removed += podman.clear_stale_dns(podman_engine, ours)
    root = e2e_runs.root_of(run_id)
    if (root / "docker").is_dir():
        removed += dockerd.sweep(root / "docker", dockerd.cgroup_of(run_id))
    if root.exists():
        e2e_runs.remove_tree(root)
        removed.append(f"directory {root}")
    return removed


@contextlib.contextmanager
def private_dockerd() -> Iterator[tuple[dockerd.Dockerd, e2e_runs.Run]]:
    """A run of its own with a private dockerd started in it; however the block ends, the
    daemon is stopped, whatever the run made is swept and the run's lock is given up."""
    run = e2e_runs.Run.start()
    daemon = dockerd.Dockerd(run.root, dockerd.cgroup_of(run.id))
    try:
        daemon.start()
        yield daemon, run
    finally:
        daemon.stop()
        sweep_run(run.id, None)
        run.close()


def sweep_finished_runs() -> list[str]:
    """Sweep every finished run that left something behind; what went."""
    podman_engine = podman.engine() if podman.available() else None
    names: list[str] = []
    if podman_engine is not None:
        for kind in ("containers", "pods", "networks", "volumes"):
            names += podman_engine.names(kind)
        if podman.AARDVARK_DIR.is_dir():
            names += [p.name for p in podman.AARDVARK_DIR.iterdir()]
    removed: list[str] = []
    for run_id in sorted(e2e_runs.ids_on_disk() | e2e_runs.ids_in(names)):
        with e2e_runs.claim(run_id) as finished:
            if finished:
                removed += sweep_run(run_id, podman_engine)
    if podman_engine is not None:
        removed += podman.clear_stale_dns(podman_engine, podman.LEGACY_NETWORKS.__contains__)
        removed += podman_engine.remove_where(podman.legacy_suffixed)
    return removed


def main() -> int:
    """Sweep, and say in one line what went."""
    removed = sweep_finished_runs()
    if removed:
        print(
            f"e2e sweep: removed {len(removed)} leftovers of finished runs: " + ", ".join(removed)
        )
    else:
        print("e2e sweep: nothing left by earlier runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
