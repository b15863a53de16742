"""Shared test helpers: the real tools and real git repositories made on the fly."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.tools import Tools

if TYPE_CHECKING:
    from bot.store import Store

FIXTURES = Path(__file__).parent / "fixtures"

# A running intake (`config`, `serve`, `bot`) for the web, queue and CLI tests.
pytest_plugins = ("tests.web.appserver",)


@pytest.fixture(scope="session")
def tools() -> Tools:
    """The real helm and kubectl; a missing one fails the test (never skips)."""
    found = Tools.discover()
    assert found.helm and found.kubectl, "helm/kubectl missing: run ./scripts/setup"
    return found


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return stdout (tests only)."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def delivery_row(store: Store, key: str) -> dict[str, Any]:
    """The stored row of delivery `key` (the test fails when there is none)."""
    row = store.delivery(key)
    assert row is not None, f"no delivery {key}"
    return row


def write_tree(root: Path, files: Mapping[str, str | bytes | None]) -> None:
    """Write files under root; a None value deletes the file."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


class GitRepo:
    """A real git repository for a test: write files, commit, branch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "config", "user.email", "test@example.com")
        git(path, "config", "user.name", "Test")
        git(path, "config", "commit.gpgsign", "false")

    def commit(self, files: Mapping[str, str | bytes | None], message: str = "change") -> str:
        write_tree(self.path, files)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def checkout(self, ref: str, create: bool = False) -> None:
        git(self.path, "checkout", "-q", *(["-b"] if create else []), ref)


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """Factory for real git repositories under the test's tmp_path."""
    counter = iter(range(1000))

    def factory(files: Mapping[str, str | bytes | None] | None = None) -> GitRepo:
        repo = GitRepo(tmp_path / f"repo{next(counter)}")
        if files:
            repo.commit(files, "initial")
        return repo

    return factory


# Test lanes (README "Development"): folders mark their tests, so the fast lane is
# `./scripts/test -n 2 -m "not e2e and not browser and not scale and not faults"`.
# tests/corpus reviews the vendored real-world repositories with real helm and kubectl.
_LANES = {"e2e": "e2e", "scale": "scale", "corpus": "e2e"}
# Files outside tests/e2e that start the service, kill workers or drive kubectl and
# helm end to end against the test servers: slow, so not in the fast lane.
_E2E_FILES = {
    ("cli", "test_service.py"),
    ("test_queue_recovery.py",),
    ("live", "test_kubernetes.py"),
    ("deploy", "test_self_check.py"),
    ("web", "dashboard", "test_review_link.py"),
    ("deploy", "test_ci.py"),
    ("deploy", "test_helm_chart.py"),
    ("web", "dashboard", "test_chain.py"),
    ("pipeline", "test_gitops.py"),
    ("pipeline", "test_gitops_helmrelease.py"),
    ("validate", "test_flux_example_repo.py"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by where they live: tests/e2e -> e2e, tests/scale -> scale, browser
    tests -> browser."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts
        if parts and parts[0] in _LANES:
            item.add_marker(_LANES[parts[0]])
        if tuple(parts) in _E2E_FILES:
            item.add_marker("e2e")
        if parts[-1] == "test_browser.py":
            item.add_marker("browser")
