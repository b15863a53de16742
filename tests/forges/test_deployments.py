"""Deployment reporting on both forges: deployments + statuses, and the merged change of a
commit, over real HTTP against the forge test servers (every request checked there)."""

from __future__ import annotations

import pytest

from bot.errors import Transient
from bot.forges import DEPLOY_CONTEXT, Forge, ForgeError, GitHubForge, GitLabForge
from bot.model import State
from tests.forges.payloads import GH_TOKEN, GL_TOKEN
from tests.forgeserver import GitHubServer, GitLabServer

GH_REPO, GL_REPO = "octo-org/shop", "acme/platform/shop"
BASE, HEAD, MERGE, OTHER = "1" * 40, "2" * 40, "3" * 40, "4" * 40
OTHER_TOKEN = "ghp_" + "0therUser9" * 4


@pytest.fixture
def gh(github: GitHubServer) -> GitHubForge:
    github.add_pull(GH_REPO, 7, head_sha=HEAD, base_sha=BASE, labels=("env/prod",))
    return GitHubForge(github.url, token=GH_TOKEN, seconds_between_writes=None)


@pytest.fixture
def gl(gitlab: GitLabServer) -> GitLabForge:
    gitlab.add_project(GL_REPO, group_id=70)
    gitlab.add_mr(GL_REPO, 3, sha=HEAD, base_sha=BASE, labels=("env::prod",))
    return GitLabForge(gitlab.origin, token=GL_TOKEN)


def test_both_adapters_still_implement_the_port(gh: GitHubForge, gl: GitLabForge) -> None:
    assert isinstance(gh, Forge) and isinstance(gl, Forge)


# -- GitHub -----------------------------------------------------------------------------------
def test_github_start_creates_a_deployment_of_the_sha_in_progress(
    github: GitHubServer, gh: GitHubForge
) -> None:
    # The bot's own deploy status is pending: GitHub's default context check would refuse.
    gh.set_status(GH_REPO, MERGE, DEPLOY_CONTEXT, State.PENDING, "deploying")
    did = gh.start_deployment(GH_REPO, MERGE, "production", "deploying shop " + "x" * 200)
    deployment = github.deployments[int(did)]
    assert deployment["_request"] == {
        "ref": MERGE,
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],
        "environment": "production",
        "description": "deploying shop " + "x" * 124 + "…",
    }
    assert github.deployment_states(did) == ["in_progress"]
    assert deployment["creator"]["login"] == "gitops-bot-user"


def test_github_without_empty_required_contexts_github_would_refuse(
    github: GitHubServer, gh: GitHubForge
) -> None:
    """The server models GitHub's 409: proof that `required_contexts=[]` is what lets us in."""
    import requests

    gh.set_status(GH_REPO, MERGE, DEPLOY_CONTEXT, State.PENDING, "deploying")
    answer = requests.post(
        f"{github.url}/repos/{GH_REPO}/deployments",
        timeout=10,
        headers={"Authorization": f"token {GH_TOKEN}"},
        json={"ref": MERGE, "environment": "production"},
    )
    assert answer.status_code == 409


@pytest.mark.parametrize(
    "state,expected",
    [
        (State.SUCCESS, "success"),
        (State.WARNING, "success"),
        (State.FAILURE, "failure"),
        (State.ERROR, "error"),
        (State.SKIPPED, "inactive"),
        (State.PENDING, "in_progress"),
    ],
)
def test_github_finish_uses_deployment_status_vocabulary(
    github: GitHubServer, gh: GitHubForge, state: State, expected: str
) -> None:
    did = gh.start_deployment(GH_REPO, MERGE, "staging", "deploying")
    gh.finish_deployment(
        GH_REPO,
        did,
        state,
        "done",
        environment_url="https://shop.example",
        log_url="https://bot.example/deploys/1",
    )
    assert github.deployment_states(did) == ["in_progress", expected]
    latest = github.deployment_statuses[int(did)][0]
    assert (latest["environment_url"], latest["log_url"], latest["target_url"]) == (
        "https://shop.example",
        "https://bot.example/deploys/1",
        "https://bot.example/deploys/1",
    )


def test_github_start_is_an_upsert_while_running(github: GitHubServer, gh: GitHubForge) -> None:
    github.tokens[OTHER_TOKEN] = "octocat"
    someone = GitHubForge(github.url, token=OTHER_TOKEN, seconds_between_writes=None)
    theirs = someone.start_deployment(GH_REPO, MERGE, "production", "by hand")
    github.fail("POST", r"/deployments/\d+/statuses$", 502)  # status write fails once
    with pytest.raises(Transient):
        gh.start_deployment(GH_REPO, MERGE, "production", "deploying")
    first = gh.start_deployment(GH_REPO, MERGE, "production", "deploying")  # the retry
    assert first != theirs and len(github.deployments) == 2
    assert github.deployment_states(first) == ["in_progress"]
    assert gh.start_deployment(GH_REPO, MERGE, "staging", "deploying") != first  # other env
    gh.finish_deployment(GH_REPO, first, State.FAILURE, "apply failed")
    again = gh.start_deployment(GH_REPO, MERGE, "production", "redeploy")
    assert again != first and github.deployment_states(again) == ["in_progress"]


def test_github_merged_change_by_merge_commit(github: GitHubServer, gh: GitHubForge) -> None:
    github.merge_pull(GH_REPO, 7, MERGE)
    change = gh.merged_change_for(GH_REPO, MERGE)
    assert change is not None
    assert (change.number, change.state, change.merge_sha, change.head_sha, change.base_sha) == (
        7,
        "merged",
        MERGE,
        HEAD,
        BASE,
    )
    assert change.labels == ("env/prod",) and change.author == "octocat"
    assert gh.get_change(GH_REPO, 7).merge_sha == MERGE


def test_github_merged_change_by_head_for_fast_forward(
    github: GitHubServer, gh: GitHubForge
) -> None:
    github.merge_pull(GH_REPO, 7, OTHER)  # GitHub's merge_commit_sha is not on the branch
    change = gh.merged_change_for(GH_REPO, HEAD)
    assert change is not None and change.number == 7 and change.merge_sha == HEAD


def test_github_direct_push_and_open_pull_have_no_merged_change(
    github: GitHubServer, gh: GitHubForge
) -> None:
    assert gh.merged_change_for(GH_REPO, OTHER) is None  # a direct push: no PR at all
    assert gh.merged_change_for(GH_REPO, HEAD) is None  # PR 7 is open, not merged
    assert github.calls("GET", "/commits/.*/pulls$")


def test_github_502_is_transient_and_the_token_never_shows(
    github: GitHubServer, gh: GitHubForge
) -> None:
    github.fail("GET", "/pulls$", 502)
    with pytest.raises(Transient):
        gh.merged_change_for(GH_REPO, MERGE)
    github.fail("POST", "/deployments$", 403, body={"message": f"token {GH_TOKEN} is bad"})
    with pytest.raises(ForgeError) as err:
        gh.start_deployment(GH_REPO, MERGE, "production", "x")
    assert err.value.status == 403 and GH_TOKEN not in f"{err.value} {err.value!r}"
    with pytest.raises(ValueError):
        gh.finish_deployment(GH_REPO, "../1", State.SUCCESS, "x")


# -- GitLab -----------------------------------------------------------------------------------
def test_gitlab_start_creates_a_running_deployment_on_the_default_branch(
    gitlab: GitLabServer, gl: GitLabForge
) -> None:
    did = gl.start_deployment(GL_REPO, MERGE, "production", "deploying")
    [post] = gitlab.calls("POST", "/deployments$")
    assert post.body == {
        "environment": "production",
        "sha": MERGE,
        "ref": "main",
        "tag": False,
        "status": "running",
    }
    assert post.path == "/projects/acme%2Fplatform%2Fshop/deployments"
    assert gitlab.deployments[int(did)]["status"] == "running"
    other = gl.start_deployment(GL_REPO, MERGE, "staging", "deploying", ref="release")
    assert gitlab.deployments[int(other)]["ref"] == "release"


@pytest.mark.parametrize(
    "state,expected",
    [
        (State.SUCCESS, "success"),
        (State.WARNING, "success"),
        (State.FAILURE, "failed"),
        (State.ERROR, "failed"),
        (State.SKIPPED, "canceled"),
    ],
)
def test_gitlab_finish_uses_deployment_status_vocabulary(
    gitlab: GitLabServer, gl: GitLabForge, state: State, expected: str
) -> None:
    did = gl.start_deployment(GL_REPO, MERGE, "production", "deploying")
    gl.finish_deployment(GL_REPO, did, state, "done", environment_url="https://shop.example")
    assert gitlab.deployments[int(did)]["status"] == expected
    [put] = gitlab.calls("PUT", "/deployments/")
    assert put.body == {"status": expected}  # GitLab deployments take no description/URLs


def test_gitlab_finishing_twice_is_harmless_but_a_contradiction_is_not(
    gitlab: GitLabServer, gl: GitLabForge
) -> None:
    did = gl.start_deployment(GL_REPO, MERGE, "production", "deploying")
    gl.finish_deployment(GL_REPO, did, State.SUCCESS, "done")
    gl.finish_deployment(GL_REPO, did, State.SUCCESS, "done")  # a retried job
    assert [r.status for r in gitlab.calls("PUT", "/deployments/")] == [200, 400]
    with pytest.raises(ForgeError) as err:
        gl.finish_deployment(GL_REPO, did, State.FAILURE, "late")
    assert err.value.status == 400


def test_gitlab_start_is_an_upsert_while_running(gitlab: GitLabServer, gl: GitLabForge) -> None:
    gitlab.tokens["glpat-" + "0therUser9" * 2] = "janedoe"
    theirs = GitLabForge(gitlab.origin, token="glpat-" + "0therUser9" * 2).start_deployment(
        GL_REPO, MERGE, "production", "by hand"
    )
    first = gl.start_deployment(GL_REPO, MERGE, "production", "deploying")
    assert first != theirs
    assert gl.start_deployment(GL_REPO, MERGE, "production", "retry") == first
    assert len(gitlab.calls("POST", "/deployments$")) == 2
    gl.finish_deployment(GL_REPO, first, State.SUCCESS, "done")
    assert gl.start_deployment(GL_REPO, MERGE, "production", "redeploy") not in (first, theirs)


@pytest.mark.parametrize(
    "merge_sha,squash_sha,asked",
    [
        (MERGE, None, MERGE),  # merge commit
        (MERGE, OTHER, OTHER),  # squash commit (with a merge commit on top)
        (None, OTHER, OTHER),  # squash, fast-forward
        (None, None, HEAD),
    ],
)  # fast-forward merge method: the head itself
def test_gitlab_merged_change(
    gitlab: GitLabServer, gl: GitLabForge, merge_sha: str | None, squash_sha: str | None, asked: str
) -> None:
    gitlab.merge_mr(GL_REPO, 3, merge_commit_sha=merge_sha, squash_commit_sha=squash_sha)
    change = gl.merged_change_for(GL_REPO, asked)
    assert change is not None
    assert (change.number, change.state, change.merge_sha, change.head_sha, change.base_sha) == (
        3,
        "merged",
        asked,
        HEAD,
        BASE,
    )
    assert change.labels == ("env::prod",) and change.base_ref == "main"
    assert gl.get_change(GL_REPO, 3).merge_sha == (merge_sha or squash_sha)


def test_gitlab_direct_push_and_open_mr_have_no_merged_change(gl: GitLabForge) -> None:
    assert gl.merged_change_for(GL_REPO, OTHER) is None
    assert gl.merged_change_for(GL_REPO, HEAD) is None  # MR 3 is open


def test_gitlab_502_is_transient_and_the_token_never_shows(
    gitlab: GitLabServer, gl: GitLabForge
) -> None:
    gitlab.fail("GET", "/merge_requests$", 502)
    with pytest.raises(Transient):
        gl.merged_change_for(GL_REPO, MERGE)
    gitlab.fail("POST", "/deployments$", 403, body={"message": f"403 token {GL_TOKEN}"})
    with pytest.raises(ForgeError) as err:
        gl.start_deployment(GL_REPO, MERGE, "production", "x")
    assert err.value.status == 403 and GL_TOKEN not in f"{err.value} {err.value!r}"
    gitlab.fail("PUT", "/deployments/", 503, headers={"Retry-After": "9"})
    with pytest.raises(Transient) as transient:
        gl.finish_deployment(GL_REPO, "5", State.SUCCESS, "x")
    assert transient.value.retry_after == 9
