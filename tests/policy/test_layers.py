"""Where policies come from: base revision only, both layers, policy diff and blast radius."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.model import Manifest, Severity
from bot.policy import (
    CHANGE_SCOPE,
    ChangeInfo,
    EmbeddedEngine,
    PolicyLoadError,
    blast_radius,
    build_change_input,
    diff_policy_sets,
    load_policy_set,
    load_policy_set_from_git,
)
from tests.conftest import GitRepo
from tests.policy.samples import DEFAULT_POLICIES, deployment

NO_HOST_NETWORK = """package main
import rego.v1

deny contains msg if {
\tinput.spec.template.spec.hostNetwork == true
\tmsg := sprintf("%v: hostNetwork is not allowed", [input.metadata.name])
}
"""
WEAKENED = """package main
import rego.v1

# nothing to see here
"""
HOST_APP = yaml.safe_dump(deployment("sniffer", hostNetwork=True))


def test_a_change_cannot_weaken_the_policy_that_judges_it(
    make_repo: Callable[..., GitRepo], embedded: EmbeddedEngine
) -> None:
    """docs/security.md#case-19: the PR deletes the deny rule and adds what it denied."""
    repo = make_repo({"policies/network.rego": NO_HOST_NETWORK, "apps/shop/web.yaml": "{}\n"})
    base = repo.commit({}, "base")
    repo.checkout("weaken", create=True)
    head = repo.commit(
        {"policies/network.rego": WEAKENED, "apps/shop/sniffer.yaml": HOST_APP},
        "weaken the policy and add a hostNetwork pod",
    )
    # the working tree now holds the head: the judge still comes from the base commit
    judge = load_policy_set_from_git(repo.path, base, "policies", "repository")
    manifests = [Manifest(yaml.safe_load(HOST_APP), "apps/shop/sniffer.yaml", 1)]
    findings = embedded.resource_findings(judge, manifests)
    assert [(f.severity, f.message) for f in findings] == [
        (Severity.ERROR, "sniffer: hostNetwork is not allowed")
    ]

    proposed = load_policy_set_from_git(repo.path, head, "policies", "repository")
    assert proposed.revision != judge.revision
    assert embedded.resource_findings(proposed, manifests) == []
    diff = diff_policy_sets(judge, proposed)
    assert "--- a/network.rego" in diff and "-deny contains msg if {" in diff
    change_input = build_change_input([], ChangeInfo("mallory", base, head))
    impact = blast_radius(
        embedded,
        judge,
        proposed,
        {"shop/prod": manifests},
        change_input,
        untrusted=EmbeddedEngine(isolated=True),
    )
    assert list(impact) == ["shop/prod"]
    assert impact["shop/prod"].removed == tuple(findings)
    assert impact["shop/prod"].added == ()


def test_git_and_disk_loaders_agree(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    files = {
        "p/main.rego": 'package main\ndeny["x"] { false }\n',
        "p/main_test.rego": "package main\ntest_x { true }\n",
        "p/team/data.yaml": "max: 3\n",
        "p/README.md": "not policy\n",
    }
    repo = make_repo(files)
    sha = repo.commit({}, "again")
    from_git = load_policy_set_from_git(repo.path, sha, "p", "repository")
    from_disk = load_policy_set(repo.path / "p", "repository")
    assert from_git == from_disk
    assert [p for p, _ in from_git.modules] == ["main.rego"]
    assert dict(from_git.data) == {"team": {"max": 3}}
    assert load_policy_set_from_git(repo.path, sha, "missing", "repository").empty
    assert load_policy_set(tmp_path / "nothing", "server").empty


def test_git_loader_refuses_escapes_and_skips_symlinks(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"p/a.rego": "package main\n"})
    (repo.path / "p" / "link.rego").symlink_to("/etc/hostname")
    sha = repo.commit({}, "symlink")
    assert [p for p, _ in load_policy_set_from_git(repo.path, sha, "p", "r").modules] == ["a.rego"]
    for folder, rev in (("../x", sha), ("p/../../x", sha), ("p", "--output=/tmp/x")):
        with pytest.raises(PolicyLoadError):
            load_policy_set_from_git(repo.path, rev, folder, "r")
    with pytest.raises(PolicyLoadError):
        load_policy_set_from_git(repo.path, "0" * 40, "p", "r")


def test_both_layers_are_evaluated(embedded: EmbeddedEngine, tmp_path: Path) -> None:
    (tmp_path / "team.rego").write_text('package main\ndeny["team rule"] { input.kind }\n')
    server = load_policy_set(DEFAULT_POLICIES, "server")
    repository = load_policy_set(tmp_path, "repository")
    manifests = [Manifest(deployment(), "apps/shop/web.yaml", 1)]
    assert embedded.resource_findings(server, manifests) == []
    assert [f.message for f in embedded.resource_findings(repository, manifests)] == ["team rule"]


def test_blast_radius_covers_change_rules(embedded: EmbeddedEngine, tmp_path: Path) -> None:
    old = load_policy_set(tmp_path / "empty", "repository")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "c.rego").write_text(
        "package gitops.change\nimport rego.v1\n"
        'approvals contains {"group": "sec", "count": 1, "reason": "new rule"} if true\n'
    )
    new = load_policy_set(tmp_path / "new", "repository")
    impact = blast_radius(
        embedded,
        old,
        new,
        {},
        build_change_input([], ChangeInfo("a", "b", "h")),
        untrusted=EmbeddedEngine(isolated=True),
    )
    assert list(impact) == [CHANGE_SCOPE]
    assert [(r.group, r.reason) for r in impact[CHANGE_SCOPE].approvals_added] == [
        ("sec", "new rule")
    ]
