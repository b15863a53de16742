"""The forge calls of governance, over real HTTP against the forge test servers: open
pull / merge requests (the sweep), team / group membership (command authority), and the
review id each approval carries (the audit)."""

from __future__ import annotations

import pytest

from bot.forges import ForgeError, GitHubForge, GitLabForge
from tests.forges.payloads import GH_TOKEN, GL_TOKEN
from tests.forgeserver import GitHubServer, GitLabServer

GH_REPO, GL_REPO = "octo-org/shop", "acme/platform/shop"
HEAD, BASE, OTHER = "2" * 40, "3" * 40, "4" * 40


@pytest.fixture
def github_forge(github: GitHubServer) -> GitHubForge:
    return GitHubForge(github.url, token=GH_TOKEN, seconds_between_writes=None)


@pytest.fixture
def gitlab_forge(gitlab: GitLabServer) -> GitLabForge:
    gitlab.add_project(GL_REPO, group_id=70)
    return GitLabForge(gitlab.origin, token=GL_TOKEN)


def test_github_lists_open_pull_requests_only(
    github: GitHubServer, github_forge: GitHubForge
) -> None:
    github.add_pull(GH_REPO, 7, head_sha=HEAD, base_sha=BASE, author="alice")
    github.add_pull(
        GH_REPO, 8, head_sha=OTHER, base_sha=BASE, base_ref="release", fork="mallory/shop"
    )
    github.add_pull(GH_REPO, 9, head_sha=OTHER, base_sha=BASE, state="closed", merged=True)
    github.add_pull("octo-org/other", 1, head_sha=OTHER, base_sha=BASE)
    listed = {c.number: c for c in github_forge.open_changes(GH_REPO)}
    assert set(listed) == {7, 8}
    assert (listed[7].head_sha, listed[7].base_sha, listed[7].base_ref, listed[7].author) == (
        HEAD,
        BASE,
        "main",
        "alice",
    )
    assert listed[8].is_fork and listed[8].base_ref == "release"
    assert all(c.state == "open" for c in listed.values())
    assert github.calls("GET", r"/pulls$")[0].query["state"] == ["open"]


def test_github_team_membership_is_read_from_the_team(
    github: GitHubServer, github_forge: GitHubForge
) -> None:
    github.add_org_team("octo-org", "sre", ["carol"], pending=("dave",))
    github.add_team(GH_REPO, "platform", ["erin"])  # a team with access to the repository
    assert github_forge.is_member(GH_REPO, "carol", "sre")
    assert github_forge.is_member(GH_REPO, "carol", "octo-org/sre")
    assert not github_forge.is_member(GH_REPO, "dave", "sre")  # invited, not a member yet
    assert not github_forge.is_member(GH_REPO, "mallory", "sre")  # 404
    assert not github_forge.is_member(GH_REPO, "carol", "other-org/sre")
    assert github_forge.is_member(GH_REPO, "erin", "platform")
    with pytest.raises(ForgeError, match="not a GitHub team"):
        github_forge.is_member(GH_REPO, "carol", "sre team")


def test_github_approvals_carry_their_review_id(
    github: GitHubServer, github_forge: GitHubForge
) -> None:
    github.add_pull(GH_REPO, 7, head_sha=HEAD, base_sha=BASE)
    github.add_review(GH_REPO, 7, "alice", "APPROVED", HEAD)
    review_id = github.reviews[(GH_REPO, 7)][-1]["id"]
    [approval] = github_forge.approvals(GH_REPO, 7)
    assert (approval.user, approval.sha, approval.review_id) == ("alice", HEAD, str(review_id))


def test_gitlab_lists_opened_merge_requests(
    gitlab: GitLabServer, gitlab_forge: GitLabForge
) -> None:
    gitlab.add_mr(GL_REPO, 3, sha=HEAD, base_sha=BASE, author="alice")
    gitlab.add_mr(GL_REPO, 4, sha=OTHER, base_sha=BASE, state="merged")
    gitlab.add_mr(GL_REPO, 5, sha=OTHER, base_sha=None, fork=True)  # diff not computed yet
    listed = {c.number: c for c in gitlab_forge.open_changes(GL_REPO)}
    assert set(listed) == {3, 5}
    assert (listed[3].head_sha, listed[3].base_ref, listed[3].author, listed[3].base_sha) == (
        HEAD,
        "main",
        "alice",
        "",
    )
    assert listed[5].is_fork
    assert gitlab.calls("GET", r"/merge_requests$")[0].query["state"] == ["opened"]


def test_gitlab_group_membership_by_full_path(
    gitlab: GitLabServer, gitlab_forge: GitLabForge
) -> None:
    for user in ("carol", "erin", "frank", "gus"):
        gitlab.user(user)
    gitlab.access[("acme/sre", "carol")] = 30
    gitlab.access[("acme", "erin")] = 50  # inherited from the parent group
    gitlab.access[("acme/sre", "frank")] = 5  # minimal access is no membership
    assert gitlab_forge.is_member(GL_REPO, "carol", "acme/sre")
    assert gitlab_forge.is_member(GL_REPO, "erin", "acme/sre")
    assert not gitlab_forge.is_member(GL_REPO, "frank", "acme/sre")
    assert not gitlab_forge.is_member(GL_REPO, "gus", "acme/sre")
    assert not gitlab_forge.is_member(GL_REPO, "nobody-known", "acme/sre")
    assert gitlab.calls("GET", r"/groups/acme%2Fsre/members/all/\d+")
