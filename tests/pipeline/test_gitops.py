"""Reviews of Argo CD / Flux repositories as they are: targets from their objects, the
custom resources validated from the catalogue, a typo in a Flux Kustomization found."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import ReviewResult, Severity
from bot.pipeline.review import ReviewOptions, review_revisions, review_worktree
from bot.tools import Tools
from tests.corpus_changes import apply_change, build_repo

FLUX = ["flux2-kustomize-helm-example", "flux2-multi-tenancy"]
TYPO_TARGET = {"flux2-kustomize-helm-example": ("flux-system/staging", "infra-controllers"),
               "flux2-multi-tenancy": ("flux-system/production", "tenants")}


def options(tools: Tools, tmp: Path) -> ReviewOptions:
    return ReviewOptions(tools=tools, cache_dir=tmp / "cache", validator="embedded",
                         enforce_approvals=False, server_policies=None)


def validate_findings(result: ReviewResult) -> list[str]:
    return [f"{t.target.id}: {f.object}: {f.message}" for t in result.targets
            for f in t.findings if f.check == "validate"]


@pytest.mark.parametrize("name", FLUX)
def test_flux_examples_as_they_are_validate_without_skip_kinds(name: str, tools: Tools,
                                                               tmp_path: Path) -> None:
    repo = build_repo(name, tmp_path / "repo")
    assert not (repo / ".gitops-bot.yaml").exists()
    result = review_worktree(repo, options(tools, tmp_path))
    ids = {t.target.id for t in result.targets}
    assert {"flux-system/staging", "flux-system/production"} <= ids
    assert validate_findings(result) == []  # no "no schema", no error at all
    kinds = {str(f.object).split("/")[0] for t in result.targets for f in t.findings
             if f.object}
    assert kinds == set()
    errors = [f.message for t in result.targets for f in t.findings
              if f.severity is Severity.ERROR]
    assert errors == []


@pytest.mark.parametrize("name", FLUX)
def test_typo_in_a_flux_kustomization_is_an_unknown_field(name: str, tools: Tools,
                                                          tmp_path: Path) -> None:
    repo = build_repo(name, tmp_path / "repo")
    branch = apply_change(repo, name, "schema-error")
    result = review_revisions(repo, "main", branch, options(tools, tmp_path))
    target, kustomization = TYPO_TARGET[name]
    found = {f.message for t in result.targets if t.target.id == target for f in t.findings
             if f.check == "validate"}
    obj = f"Kustomization/flux-system/{kustomization}"
    assert found == {f"{obj}: spec: additional property 'prunee' is not allowed",
                     f"{obj}: spec: missing required property 'prune'"}
