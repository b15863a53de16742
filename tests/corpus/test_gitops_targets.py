"""The targets the bot finds in the Argo CD and Flux repositories of the corpus are the ones
corpus.yaml says a human expects (no config file: the repositories as they are).

An expected target is identified by its path and environment; one marked `rendered: false`
whose reason is a source outside the repository (another repository or branch, a chart or
OCI repository, a generator that needs a cluster or forge) must be listed as a `remote`
target, found by the file that declares it or the path it would deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.model import Target
from bot.pipeline.listing import list_targets
from bot.repo import options
from bot.tools import Tools
from tests.corpus_changes import build_repo, load_corpus

REPOS = load_corpus()
GITOPS = [
    "flux2-kustomize-helm-example",
    "flux2-multi-tenancy",
    "argo-cd-applicationsets",
    "eks-blueprints-workloads",
]
RENDERER = {"flux-kustomization": "kustomize", "flux-helmrelease": "helm"}
ELSEWHERE = (
    "another repository",
    "Repository",
    "fork",
    "sources in",
    "generator",
    "not the reviewed branch",
    "branch dev-team",
)


def _remote(entry: dict[str, Any]) -> bool:
    return entry.get("rendered") is False and any(w in entry.get("why", "") for w in ELSEWHERE)


def _places(target: Target) -> set[str]:
    remote = options.of(target).get("remote") or {}
    return {p for p in (target.path, remote.get("path"), options.of(target).get("parent")) if p}


def _matches(entry: dict[str, Any], target: Target) -> bool:
    env_ok = entry["environment"] in ("all", "-", target.environment)
    return env_ok and (
        entry["path"] in _places(target)
        or (_remote(entry) and target.path.startswith(entry["path"].rstrip("/") + "/"))
    )


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, list[Target]]:
    out = {}
    for name in GITOPS:
        repo = build_repo(name, tmp_path_factory.mktemp(name) / "repo")
        out[name] = list_targets(Path(repo), tools).targets
    return out


@pytest.mark.parametrize("name", GITOPS)
def test_targets_found_are_the_expected_ones(name: str, found: dict[str, list[Target]]) -> None:
    expected = REPOS[name]["targets"]
    targets = found[name]
    rendered = {(e["path"], e["environment"]) for e in expected if not _remote(e)}
    ours = {(t.path, t.environment) for t in targets if t.renderer != "remote"}
    assert sorted(ours - rendered) == [], "found but not expected"
    assert sorted(rendered - ours) == [], "expected but not found"
    for entry in expected:
        if not _remote(entry):
            same = [
                t
                for t in targets
                if (t.path, t.environment) == (entry["path"], entry["environment"])
                and t.renderer != "remote"
            ]
            assert {t.renderer for t in same} == {
                RENDERER.get(entry["renderer"], entry["renderer"])
            }, entry
            continue
        matching = [t for t in targets if t.renderer == "remote" and _matches(entry, t)]
        assert matching, f"not listed as not rendered: {entry}"
    for target in targets:
        if target.renderer == "remote":
            assert any(_matches(e, target) for e in expected if _remote(e)), target


@pytest.mark.parametrize("name", GITOPS)
def test_every_target_says_where_it_came_from(name: str, found: dict[str, list[Target]]) -> None:
    for entry in REPOS[name]["targets"]:
        source = entry.get("from", "")
        if _remote(entry) or not source or source == "folder discovery":
            continue
        file = source.split(" ")[0]
        origins = [
            t.origin
            for t in found[name]
            if (t.path, t.environment) == (entry["path"], entry["environment"])
            and t.renderer != "remote"
        ]
        assert any(f"({file}" in o for o in origins), (entry, origins)
