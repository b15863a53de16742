"""Every target of a repository folder as it stands, with where each came from (for
`gitops-bot apps` and tests): the review's own planning, run on a private copy."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.gitrepo import EmptySnapshot, WorktreeSnapshot
from bot.pipeline.gitops import ReviewTargets, Side, review_targets
from bot.pipeline.review import load_config
from bot.render import Budgets
from bot.render.sandbox import scan_checkout
from bot.repo.kustomize_refs import RepoIndex
from bot.repo.targets import expand_targets
from bot.tools import Tools


def list_targets(
    root: Path, tools: Tools, budgets: Budgets | None = None, remote_urls: Sequence[str] = ()
) -> ReviewTargets:
    """Every target of a folder as it stands (`gitops-bot apps`, tests): config from its
    `.gitops-bot.yaml`, Argo CD / Flux objects read and rendered from a private copy."""
    snapshot = WorktreeSnapshot(root)
    with tempfile.TemporaryDirectory(prefix="gitops-bot-apps-") as tmp:
        copy = snapshot.materialize(Path(tmp) / "repo")
        scan = scan_checkout(copy)
        config, _ = load_config(EmptySnapshot(), snapshot)
        files = RepoIndex(snapshot.files)
        side = Side("head", files, snapshot.read, lambda: (copy, scan))
        return review_targets(
            config,
            expand_targets(config, files, snapshot.read),
            side,
            None,
            tools,
            budgets or Budgets(),
            remote_urls=remote_urls,
        )
