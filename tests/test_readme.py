"""CI runs exactly the test command that README.md gives."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_readme_test_command():
    lines = (REPO / "README.md").read_text().splitlines()
    marker = lines.index("<!-- test-command -->")
    assert lines[marker + 1] == "```bash"
    command = lines[marker + 2]
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in ci_lines, f".ci/run must run {command!r} verbatim"
