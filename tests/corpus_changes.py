"""Build a git repository from a corpus copy and apply its scripted changes as branches.

The corpus (`tests/fixtures/corpus/`, described by `corpus.yaml` there) holds trimmed copies of
public GitOps repositories. `build_repo` turns one into a real git repository on `main`;
`apply_change` commits one named change on branch `change/<name>`. Commits use a fixed
author and date, so the same corpus gives the same SHAs on every machine.

Command line (for reviewing by hand or from a benchmark):
    python -m tests.corpus_changes list
    python -m tests.corpus_changes build REPO DEST [CHANGE ...]   # no CHANGE = all of them
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
BASE_BRANCH = "main"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Corpus",
    "GIT_AUTHOR_EMAIL": "corpus@example.com",
    "GIT_COMMITTER_NAME": "Corpus",
    "GIT_COMMITTER_EMAIL": "corpus@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


class CorpusError(Exception):
    """A change that does not apply: names the repository, change, edit and file."""


def load_corpus(path: Path = CORPUS / "corpus.yaml") -> dict[str, Any]:
    """The `repositories` mapping of corpus.yaml."""
    data = yaml.safe_load(path.read_text())
    repos: dict[str, Any] = data["repositories"]
    return repos


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **_IDENTITY}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def build_repo(name: str, dest: Path, corpus: Mapping[str, Any] | None = None) -> Path:
    """Copy repository `name`'s corpus folder to `dest` and commit it on `main`."""
    spec = (corpus or load_corpus())[name]
    shutil.copytree(CORPUS / spec["root"], dest)
    _git(dest, "init", "-q", "-b", BASE_BRANCH)
    _git(dest, "config", "commit.gpgsign", "false")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", f"{name}: corpus copy of {spec['root']}")
    return dest


def _replace(path: Path, edit: Mapping[str, Any], where: str) -> None:
    text = path.read_text()
    found = text.count(edit["old"])
    count = edit.get("count", 1)
    if (count == "all" and found == 0) or (count != "all" and found != count):
        raise CorpusError(
            f"{where}: {path.name}: expected {count} occurrence(s) of "
            f"{edit['old']!r}, found {found}"
        )
    path.write_text(text.replace(edit["old"], edit["new"]))


def _apply_edit(repo: Path, edit: Mapping[str, Any], where: str) -> None:
    op = edit["op"]
    if op == "replace" and "glob" in edit:
        files = sorted(p for p in repo.glob(edit["glob"]) if p.is_file())
        if not files:
            raise CorpusError(f"{where}: glob {edit['glob']!r} matches no file")
        matching = [p for p in files if edit["old"] in p.read_text(errors="replace")]
        if not matching:
            raise CorpusError(f"{where}: no file under {edit['glob']!r} holds {edit['old']!r}")
        for path in matching:
            _replace(path, edit, where)
        return
    target = repo / edit["file"] if "file" in edit else None
    if op != "write" and target is not None and not target.exists():
        raise CorpusError(f"{where}: {edit['file']} does not exist")
    if op == "replace" and target is not None:
        _replace(target, edit, where)
    elif op == "write" and target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(edit["content"])
    elif op == "delete" and target is not None:
        _git(repo, "rm", "-r", "-q", edit["file"])
    elif op == "rename" and target is not None:
        (repo / edit["to"]).parent.mkdir(parents=True, exist_ok=True)
        _git(repo, "mv", edit["file"], edit["to"])
    elif op == "copy_tree":
        source = CORPUS / edit["from"]
        if not source.is_dir():
            raise CorpusError(f"{where}: corpus folder {edit['from']} does not exist")
        shutil.rmtree(repo / edit["to"], ignore_errors=True)
        shutil.copytree(source, repo / edit["to"])
    else:
        raise CorpusError(f"{where}: unknown edit {dict(edit)!r}")


def apply_change(
    repo: Path, name: str, change_name: str, corpus: Mapping[str, Any] | None = None
) -> str:
    """Commit change `change_name` of repository `name` on `change/<change_name>`.

    The branch starts at `main`; the working tree is back on `main` afterwards. Returns
    the branch name. A change that does not apply exactly raises CorpusError.
    """
    change = (corpus or load_corpus())[name]["changes"][change_name]
    branch = f"change/{change_name}"
    _git(repo, "checkout", "-q", "-b", branch, BASE_BRANCH)
    try:
        for index, edit in enumerate(change["edits"]):
            _apply_edit(repo, edit, f"{name}/{change_name} edit {index + 1}")
        # Re-hash every file: a copied-in file of the same size, mtime and (reused) inode
        # as the one it replaces would otherwise look unchanged to git's stat check.
        _git(repo, "read-tree", "--empty")
        _git(repo, "add", "-A")
        if not _git(repo, "status", "--porcelain"):
            raise CorpusError(f"{name}/{change_name}: the edits change nothing")
        _git(repo, "commit", "-q", "-m", f"{change_name}: {change['description']}")
    finally:
        _git(repo, "reset", "-q", "--hard")
        _git(repo, "checkout", "-q", BASE_BRANCH)
    return branch


def build_with_changes(name: str, dest: Path, changes: Iterable[str] | None = None) -> list[str]:
    """Build repository `name` at `dest` and apply `changes` (default: all); the branches."""
    corpus = load_corpus()
    build_repo(name, dest, corpus)
    wanted = list(changes) if changes else list(corpus[name]["changes"])
    return [apply_change(dest, name, change, corpus) for change in wanted]


def main(argv: list[str]) -> int:
    """`list` or `build REPO DEST [CHANGE ...]`."""
    if argv[:1] == ["list"]:
        for name, spec in load_corpus().items():
            print(f"{name}: {spec['root']} ({', '.join(spec['changes'])})")
        return 0
    if len(argv) >= 3 and argv[0] == "build":
        for branch in build_with_changes(argv[1], Path(argv[2]), argv[3:] or None):
            print(branch)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
