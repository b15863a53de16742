"""Discovery on the real-world corpus: the targets found are the targets a person expects.

Only for repositories whose apps no Argo CD or Flux object decides (those are discovered
from the objects, not from folders). A target is (renderer, path, environment, values);
the chart's own values.yaml counts as implied (helm always reads it).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.render import render_target
from bot.repo.discovery import discover_config
from bot.repo.targets import expand_targets
from bot.tools import Tools
from bot.validate.duplicates import duplicate_findings
from tests.corpus_changes import CORPUS, load_corpus
from tests.repo.config_trees import load_dir, reader

REPOS = load_corpus()
FOLDER_DECIDED = ["podinfo", "argo-cd-manifests", "kustomize-examples", "kube-prometheus-stack"]
Key = tuple[str, str, str, tuple[str, ...]]


def _key(renderer: str, path: str, environment: str, values: list[str] | tuple[str, ...]) -> Key:
    implied = f"{path}/values.yaml"
    return renderer, path, environment, tuple(v for v in values if v != implied)


def expected(spec: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    return {
        _key(t["renderer"], t["path"], t["environment"], t.get("values", [])): t
        for t in spec["targets"]
    }


@pytest.mark.parametrize("name", FOLDER_DECIDED)
def test_targets_found_are_the_targets_expected(name: str) -> None:
    spec = REPOS[name]
    tree = load_dir(CORPUS / spec["root"])
    config = discover_config(tree, reader(tree))
    found = {
        _key(t.renderer, t.path, t.environment, t.values): t
        for t in expand_targets(config, tree, reader(tree))
    }
    want = expected(spec)
    assert sorted(found) == sorted(want)
    for key, target in want.items():
        if "release" in target:
            assert found[key].release == target["release"], key
    not_targets = {t["path"] for t in spec.get("not_targets", [])}
    assert not {t.path for t in found.values()} & not_targets


@pytest.mark.parametrize(
    "name,path,objects",
    [
        ("argo-cd-manifests", "manifests/install.yaml", 59),  # its 59 `kind:` documents
        ("podinfo", "deploy/webapp", 11),
        ("podinfo", "deploy/secure", 13),
        ("kustomize-examples", "examples/mySql", 3),
    ],
)
def test_plain_targets_of_the_corpus_render_whole_and_once(
    name: str, path: str, objects: int, tools: Tools
) -> None:
    """Argo CD's install.yaml was never diffed: its folder was one app with the kustomize
    variants' JSON-patch files in it, and one such file dropped every object."""
    spec = REPOS[name]
    root = CORPUS / spec["root"]
    tree = load_dir(root)
    config = discover_config(tree, reader(tree))
    (target,) = [t for t in expand_targets(config, tree, reader(tree)) if t.path == path]
    result = render_target(root, target, tools)
    assert result.ok and result.findings == ()
    assert len(result.manifests) == objects
    assert duplicate_findings(result.manifests, "default") == []
