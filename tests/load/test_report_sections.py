"""docs/benchmarks.md is written by many commands: a section written by hand after a marked one
is neither replaced by that command nor dropped by a full `python -m bench` run."""

from pathlib import Path

from bench import report

MARK = "<!-- section written by python -m {}; python -m bench keeps it -->"
DOC = f"""# Benchmarks

main report

{MARK.format("a")}
## A
old a

## By hand
kept as written

{MARK.format("b")}
## B
b
"""


def test_a_command_replaces_its_section_only(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text(DOC)
    report.write_section(path, "a", "## A\nnew a")
    assert path.read_text() == DOC.replace("old a", "new a")
    report.write_section(path, "c", "## C\nc")  # a new command's section goes at the end
    assert path.read_text().endswith(f"## B\nb\n\n{MARK.format('c')}\n## C\nc\n")


def test_the_full_report_keeps_every_section_after_its_own(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text(DOC)
    report.write_main(path, "# Benchmarks\n\nnew main report")
    assert path.read_text() == DOC.replace("main report", "new main report")
