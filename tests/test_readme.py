"""README.md and every page it leads to are true: what they show runs, what they name exists.

The pages are README.md, CONTRIBUTING.md, compose/README.md and docs/*.md.
- Every ```console block is run: each `$ command` line in bash with `.venv/bin` first on PATH,
  its output compared with the lines under it (`...` stands for any text on that line).
- Every `sidecar COMMAND --flag` in a code block or inline code names a command and flags that
  exist; every command there is appears in the README.
- Every SIDECAR_* variable the README names is a setting, and every setting is in it; the other
  pages name no variable that is not a setting.
- Every relative link points at a file of the repository, and every anchor at a heading of the
  page it names.
- The README stays a front door: at most 250 lines.
- The demo's sample output is what the demo prints (numbers, paths and times aside).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.cli import COMMANDS
from sidecar.config import SETTINGS
from sidecar.demo.throwaway import free_port
from sidecar.history.recorder import gist
from tests.support.servers import run_cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
BLOCKS = [(kind, body) for kind, body in BLOCK.findall(README)]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "compose" / "README.md"],
) + sorted((ROOT / "docs").glob("*.md"))
TEXTS = {page: page.read_text() for page in PAGES}


def _transcripts() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every `$ ` line in the console blocks."""
    found = []
    for kind, body in [block for text in TEXTS.values() for block in BLOCK.findall(text)]:
        if kind != "console":
            continue
        command: str | None = None
        expected: list[str] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, expected))
                command, expected = line[2:], []
            else:
                expected.append(line)
        if command is not None:
            found.append((command, expected))
    return found


def _matches(expected: list[str], actual: list[str]) -> bool:
    if len(expected) != len(actual):
        return False
    for want, got in zip(expected, actual, strict=True):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        if not re.fullmatch(pattern, got):
            return False
    return True


@pytest.mark.parametrize(("command", "expected"), _transcripts(), ids=lambda v: str(v)[:40])
def test_every_console_transcript_prints_what_it_shows(command: str, expected: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["SIDECAR_DB_URL"] = f"mysql://monitor@127.0.0.1:{free_port()}/app"
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    actual = (done.stdout + done.stderr).rstrip("\n").splitlines()
    assert _matches(expected, actual), f"$ {command}\nREADME:\n{expected}\nprinted:\n{actual}"


def _invocations(text: str) -> list[tuple[str, list[str]]]:
    """(command, flags) of every `sidecar COMMAND ...` in code blocks and inline code."""
    spans = [line for _, body in BLOCK.findall(text) for line in body.splitlines()]
    spans += re.findall(r"`([^`\n]+)`", BLOCK.sub("", text))
    found = []
    for span in spans:
        for part in re.split(r"&&|\|\||;|\|(?= )", span):
            # At the start of a command: after `$ `, a step number, VAR=value, a directory.
            match = re.match(
                r"\s*(?:\$\s+)?(?:\d+\.\s+)?(?:[A-Z_]+=\S+\s+)*(?:/\S*/|\.venv/bin/)?sidecar\s+([a-z]+)(.*)",
                part,
            )
            if match:
                found.append((match.group(1), re.findall(r"--[a-z][a-z-]*", match.group(2))))
    return found


def test_every_sidecar_command_and_flag_on_every_page_exists() -> None:
    # every command there is appears in the README ...
    assert {command for command, _ in _invocations(README)} == set(COMMANDS)
    # ... and every one named anywhere exists, with the flags it is shown with
    invocations = [found for text in TEXTS.values() for found in _invocations(text)]
    assert {command for command, _ in invocations} <= set(COMMANDS)
    helps: dict[str, str] = {}
    for command, flags in invocations:
        if command not in helps:
            result = run_cli(command, "--help")
            assert result.returncode == 0, f"sidecar {command}: {result.stderr}"
            helps[command] = result.stdout
        for flag in flags:
            assert re.search(rf"(^|[\s\[,]){re.escape(flag)}\b", helps[command]), (
                f"{flag} is not a flag of sidecar {command}"
            )


def test_the_settings_in_the_readme_are_the_settings_there_are() -> None:
    named = set(re.findall(r"\bSIDECAR_[A-Z_]+[A-Z]\b", README))
    settings = {setting.variable for setting in SETTINGS.values()}
    # Variables of the compose stack and the test set-up, not of the sidecar.
    # ... and SIDECAR_URL, where the compose backup job asks the sidecar.
    others = {
        "SIDECAR_IMAGE",
        "SIDECAR_SKIP_E2E",
        "SIDECAR_BOOTSTRAP_E2E",
        "SIDECAR_PUBLISH",
        "SIDECAR_URL",
    }
    assert named - settings - others == set(), "named in the README but not settings"
    assert settings - named == set(), "settings the README does not document"
    # The other pages name no setting that does not exist either (compose's own variables aside).
    for page, text in TEXTS.items():
        for name in set(re.findall(r"\bSIDECAR_[A-Z_]+[A-Z]\b", text)) - settings - others:
            assert page.parent.name == "compose", (
                f"{page.relative_to(ROOT)} names {name}, which is not a setting"
            )


def _headings(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a page (code blocks are not headings)."""
    return {
        re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", BLOCK.sub("", text), re.M)
    }


def test_every_relative_link_points_at_a_file_and_a_heading() -> None:
    for page, text in TEXTS.items():
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
            if "://" in target:
                continue
            where = (page.parent / target).resolve() if target else page
            assert where.exists(), f"{page.relative_to(ROOT)}: {target}"
            if anchor and where.suffix == ".md":
                linked = TEXTS.get(where) or where.read_text()
                assert anchor in _headings(linked), f"{page.relative_to(ROOT)}: {target}#{anchor}"


def test_the_readme_is_a_front_door() -> None:
    # the two commands come first; the manual lives in docs/
    assert README.split("```sh\n", 1)[1].startswith("./scripts/demo")
    assert len(README.splitlines()) <= 250
    # deploy/prometheus/rules.yml's runbook_url points here
    assert "when-it-fires" in _headings(README)


def _gist(line: str) -> str:
    line = re.sub(r"^\^C", "", line)
    line = re.sub(r"^\[demo [\d:]+\] ", "", line)
    line = re.sub(r"/tmp/sidecar-demo-\w+", "TMP", line)
    # Numbers aside, as the demo's narrator sets them aside (2s ago, 800ms ago).
    return gist(line)


def test_the_demo_prints_what_the_readme_shows() -> None:
    shown = next(body for kind, body in BLOCKS if kind == "" and "[demo " in body)
    result = run_cli(
        "demo", "--incident", "--incident-after", "3", "--duration", "10",
        "--port", str(free_port()), timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    printed = [_gist(line) for line in result.stdout.splitlines()]
    expected = [_gist(line) for line in shown.splitlines()]
    # The README's run was stopped with Ctrl-C, this one by --duration: the same ending.
    assert printed == [e for e in expected if "stopping (again" not in e], (printed, expected)
