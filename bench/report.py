"""docs/benchmarks.md is written by more than one benchmark command.

`python -m bench` writes the whole file; other commands (`python -m bench.http_impl`) each own
one section, marked with a comment line, which they replace in place and which a full
`python -m bench` run carries over unchanged.
"""

import os
import time
from pathlib import Path

MARKER = "<!-- section written by python -m {command}; python -m bench keeps it -->"
_PREFIX = MARKER.split("{", 1)[0]


def _sections(text: str) -> list[tuple[str, int, int]]:
    """The marked sections of `text` as (marker line, first line, end line), in order.

    A section ends at the next marker or at the next `## ` heading after its own: a section
    written by hand after a marked one is not the marked one's to replace."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(_PREFIX)]
    sections = []
    limits = [*starts[1:], len(lines)][: len(starts)]
    for start, limit in zip(starts, limits, strict=True):
        headings = [i for i in range(start + 1, limit) if lines[i].startswith("## ")]
        end = headings[1] if len(headings) > 1 else limit
        sections.append((lines[start], start, end))
    return sections


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def write_main(path: Path, text: str) -> None:
    """Write the full report, keeping the sections other commands wrote into `path`."""
    old = _read(path).splitlines()
    # Everything from the first marked section on: the marked ones and those written by hand.
    sections = _sections("\n".join(old))
    kept = ["\n".join(old[sections[0][1] :]).rstrip()] if sections else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join([text.rstrip(), *kept]) + "\n")


def write_section(path: Path, command: str, text: str) -> None:
    """Replace (or append) the section `command` owns in `path`, leaving the rest as it is."""
    marker = MARKER.format(command=command)
    old = _read(path)
    lines = old.splitlines()
    section = f"{marker}\n{text.rstrip()}"
    mine = [(start, end) for line, start, end in _sections(old) if line == marker]
    if mine:
        start, end = mine[0]
        before = "\n".join(lines[:start]).rstrip()
        after = "\n".join(lines[end:]).strip()
        parts = [before, section, after]
    else:
        parts = [old.rstrip(), section]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(p for p in parts if p) + "\n")


def publish(path: Path, command: str, run: str, lines: list[str]) -> None:
    """Write `lines` (a heading, a blank line, the body) as `command`'s section, stamped under
    the heading with the command `run` as given, the time and the machine's load; print it."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    stamp = [
        f"Written by `{run.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Machine: {os.cpu_count()} CPUs, load average {load} at the end of the run.",
        "",
    ]
    lines = [*lines[:2], *stamp, *lines[2:]]
    write_section(path, command, "\n".join(lines))
    print("\n".join(lines))
