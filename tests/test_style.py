"""The code's style is checked where CI runs the tests: `ruff check` (the lint rules in
pyproject.toml) and `ruff format --check` (one formatting, applied by `ruff format`), over
the same folders as mypy and the developers' commands in README.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ["bot", "tests", "bench"]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *FOLDERS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ruff_lint_is_clean() -> None:
    done = ruff("check", "--no-cache")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_the_code_is_formatted_by_ruff_format() -> None:
    done = ruff("format", "--check", "--no-cache")
    assert done.returncode == 0, (
        "run `.venv/bin/ruff format bot tests bench`:\n" + done.stdout[-3000:] + done.stderr[-1000:]
    )
