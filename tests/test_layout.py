"""The layout: README's development section matches the tree, and `tests/` mirrors `bot/`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

# Folders of tests/ that are not the tests of one bot/ package or module (see the README).
NOT_MIRRORED = {
    "e2e",
    "scale",
    "faults",
    "deploy",
    "fixtures",
    "forgeserver",
    "kubeapi",
    "argocdapi",
    "corpus",
}
# Top-level tests of the whole package rather than of one module.
WHOLE_PACKAGE = {
    "test_imports.py",
    "test_layout.py",
    "test_docs.py",
    "test_typecheck.py",
    "test_style.py",
}


def development_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Development\n", 1)[1].split("\n## ", 1)[0]


def listed_paths() -> list[str]:
    return sorted(
        set(re.findall(r"\b(?:bot|tests)/[\w/.-]*[\w/](?![<\w/.-])", development_section()))
    )


def test_readme_lists_only_paths_that_exist() -> None:
    paths = listed_paths()
    assert "bot/decide.py" in paths and "tests/test_imports.py" in paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []


def test_readme_lists_every_package_of_bot() -> None:
    packages = {
        f"bot/{d.name}/" for d in (ROOT / "bot").iterdir() if d.is_dir() and any(d.glob("*.py"))
    }
    assert packages - set(listed_paths()) == set()


def mirrored(path: Path) -> bool:
    """Whether tests/<rel>/ has a bot/<rel>/ package or a bot/<rel>.py module."""
    rel = path.relative_to(TESTS)
    return (ROOT / "bot" / rel).is_dir() or (ROOT / "bot" / rel).with_suffix(".py").is_file()


def test_test_folders_mirror_bot() -> None:
    folders = [
        d
        for d in TESTS.rglob("*")
        if d.is_dir()
        and "__pycache__" not in d.parts
        and d.relative_to(TESTS).parts[0] not in NOT_MIRRORED
    ]
    assert folders, "no test folders found"
    assert [str(d.relative_to(ROOT)) for d in folders if not mirrored(d)] == []


def test_top_level_tests_name_a_top_level_module() -> None:
    modules = {p.stem for p in (ROOT / "bot").glob("*.py")}
    stray = []
    for test in sorted(TESTS.glob("test_*.py")):
        name = test.stem.removeprefix("test_")
        if test.name not in WHOLE_PACKAGE and not any(
            name == m or name.startswith(m + "_") for m in modules
        ):
            stray.append(test.name)
    assert stray == []
