"""The real-world corpus is usable: paths exist, licences are kept, every change applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, git
from tests.corpus_changes import (
    CORPUS,
    CorpusError,
    apply_change,
    build_repo,
    build_with_changes,
    load_corpus,
)

REPOS = load_corpus()
KINDS = {"harmless", "problem"}


def _listed_paths(spec: dict[str, Any]) -> list[str]:
    """Repository paths corpus.yaml claims exist: targets, values, `from` files, non-targets."""
    paths: list[str] = []
    for entry in spec["targets"] + spec.get("not_targets", []):
        paths.append(entry["path"])
        paths.extend(entry.get("values", []))
        paths.extend(entry.get("bases", []))
        source = entry.get("from", "")
        if source and " " not in source:
            paths.append(source)
    return paths


@pytest.mark.parametrize("name", sorted(REPOS))
def test_every_listed_path_exists_and_the_licence_is_kept(name: str) -> None:
    spec = REPOS[name]
    root = CORPUS / spec["root"]
    assert (root / "LICENSE").is_file(), f"{spec['root']} has no LICENSE"
    missing = [p for p in _listed_paths(spec) if not (root / p).exists()]
    assert missing == [], f"{name}: listed but missing: {missing}"
    assert f"`{spec['root'].split('/')[0]}/" in (FIXTURES / "PROVENANCE.md").read_text()


@pytest.mark.parametrize("name", sorted(REPOS))
def test_every_change_applies_as_one_commit_on_its_branch(name: str, tmp_path: Path) -> None:
    spec = REPOS[name]
    repo = tmp_path / name
    branches = build_with_changes(name, repo)
    assert branches == [f"change/{c}" for c in spec["changes"]]
    main = git(repo, "rev-parse", "main")
    assert git(repo, "status", "--porcelain") == ""
    for change_name, change in spec["changes"].items():
        branch = f"change/{change_name}"
        assert change["kind"] in KINDS, f"{name}/{change_name}: kind {change['kind']!r}"
        expect = change["expect"]
        assert expect["blocking"] is (change["kind"] == "problem"), f"{name}/{change_name}"
        if change["kind"] == "problem":
            assert expect["new"], f"{name}/{change_name}: a problem names its new findings"
        assert git(repo, "rev-parse", f"{branch}~1") == main
        touched = set(git(repo, "diff", "--name-only", main, branch).splitlines())
        assert touched, f"{name}/{change_name} changes nothing"
        for edit in change["edits"]:
            if "file" in edit:
                assert edit["file"] in touched, f"{name}/{change_name}: {edit['file']} untouched"


def test_the_argo_cd_upgrade_replaces_the_whole_manifests_folder(tmp_path: Path) -> None:
    repo = build_repo("argo-cd-manifests", tmp_path / "argo")
    apply_change(repo, "argo-cd-manifests", "upgrade")
    versions = CORPUS / "argoproj--argo-cd"
    old, new = versions / "v3.4.7", versions / "v3.5.1"
    differing = sorted(
        str(p.relative_to(new))
        for p in new.rglob("*")
        if p.is_file() and p.read_bytes() != (old / p.relative_to(new)).read_bytes()
    )
    # Every differing file, also those of equal size (v3.4.7 -> v3.5.1 newTag lines).
    assert len(differing) == 25
    assert git(repo, "diff", "--name-only", "main", "change/upgrade").splitlines() == differing
    after = (versions / "v3.5.1/manifests/install.yaml").read_text()
    assert git(repo, "show", "change/upgrade:manifests/install.yaml") == after.strip()
    assert git(repo, "diff", "--name-only", "main", "change/upgrade", "--", ":!manifests") == ""
    before = (versions / "v3.4.7/manifests/install.yaml").read_text()
    assert (repo / "manifests/install.yaml").read_text() == before  # main is untouched


def test_builds_are_reproducible(tmp_path: Path) -> None:
    first = tmp_path / "one"
    second = tmp_path / "two"
    build_with_changes("kustomize-examples", first, ["schema-error"])
    build_with_changes("kustomize-examples", second, ["schema-error"])
    assert git(first, "rev-parse", "change/schema-error") == git(
        second, "rev-parse", "change/schema-error"
    )


def test_a_change_that_no_longer_matches_fails_naming_the_file(tmp_path: Path) -> None:
    corpus = load_corpus()
    change = corpus["podinfo"]["changes"]["image-bump"]
    change["edits"] = [{**change["edits"][0], "old": "ghcr.io/stefanprodan/podinfo:0.0.0"}]
    repo = build_repo("podinfo", tmp_path / "podinfo", corpus)
    with pytest.raises(
        CorpusError,
        match=r"podinfo/image-bump edit 1: deployment\.yaml: "
        r"expected 1 occurrence",
    ):
        apply_change(repo, "podinfo", "image-bump", corpus)
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "status", "--porcelain") == ""
