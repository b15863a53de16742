"""The tests are type-checked too: mypy, non-strict (`mypy-tests.ini`), over `tests/`.

`bot/` is checked strictly with the settings in pyproject.toml (the second test). The
first keeps the tests honest about the types they pass to the bot (outcome enums, finding
records, the optional rows the store returns). Each takes seconds with a cold cache (about
13 s for tests/, a minute for bot/), under a second warm.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_tests_type_check() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy-tests.ini", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    checked = re.search(r"no issues found in (\d+) source files", done.stdout)
    assert checked is not None, done.stdout
    # every module of tests/ was checked (not an empty or misdirected run)
    assert int(checked.group(1)) == len(list((ROOT / "tests").rglob("*.py")))


def test_bot_type_checks_strictly() -> None:
    """`bot/` under the strict settings of pyproject.toml (what `.venv/bin/mypy` runs)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    checked = re.search(r"no issues found in (\d+) source files", done.stdout)
    assert checked is not None, done.stdout
    assert int(checked.group(1)) >= len(list((ROOT / "bot").rglob("*.py")))
