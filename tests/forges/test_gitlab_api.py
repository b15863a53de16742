"""GitLabForge over python-gitlab, over real HTTP, against the GitLab test server."""

from __future__ import annotations

import pytest

from bot.errors import Transient, retry_after
from bot.forges import ForgeError, GitLabForge
from bot.model import State
from tests.forges.payloads import GL_TOKEN
from tests.forgeserver import GitLabServer

REPO = "acme/platform/shop"  # a project in a nested group
HEAD, BASE = "4" * 40, "5" * 40
MARKER = "<!-- gitops-bot:review -->"


@pytest.fixture
def forge(gitlab: GitLabServer) -> GitLabForge:
    gitlab.add_project(REPO, group_id=70, shared_with={"acme/sre": 71})
    gitlab.add_mr(
        REPO,
        3,
        sha=HEAD,
        base_sha=BASE,
        files=["apps/web/deploy.yaml"],
        renamed={"apps/old.yaml": "apps/new.yaml"},
        labels=("env::prod",),
    )
    return GitLabForge(gitlab.origin, token=GL_TOKEN)


def test_get_change_reads_the_merge_request_and_its_diffs(forge: GitLabForge) -> None:
    change = forge.get_change(REPO, 3)
    assert (change.repo, change.number, change.head_sha, change.base_sha, change.base_ref) == (
        REPO,
        3,
        HEAD,
        BASE,
        "main",
    )
    assert change.changed_files == ("apps/web/deploy.yaml", "apps/new.yaml", "apps/old.yaml")
    assert change.labels == ("env::prod",) and change.state == "open"
    assert change.author == "janedoe" and not change.is_fork and not change.draft


def test_fork_and_merged_state(gitlab: GitLabServer, forge: GitLabForge) -> None:
    gitlab.add_mr(REPO, 4, sha=HEAD, base_sha=BASE, fork=True, state="merged", draft=True)
    change = forge.get_change(REPO, 4)
    assert change.is_fork and change.state == "merged" and change.draft


def test_diff_not_computed_yet_is_transient(gitlab: GitLabServer, forge: GitLabForge) -> None:
    gitlab.add_mr(REPO, 5, sha=HEAD, base_sha=None)
    with pytest.raises(Transient) as err:
        forge.get_change(REPO, 5)
    assert err.value.retry_after == 5


def test_approvals_are_bound_to_the_head_with_groups_and_access(
    gitlab: GitLabServer, forge: GitLabForge
) -> None:
    gitlab.approved[(REPO, 3)] = ["dev", "reader", "sre"]
    gitlab.access[(REPO, "dev")] = 30  # Developer on the project
    gitlab.access[(REPO, "reader")] = 20  # Reporter: approval is no authorisation (13)
    gitlab.access[("acme/sre", "sre")] = 40  # Maintainer through a shared group
    gitlab.access[("acme/platform", "dev")] = 30
    got = {a.user: a for a in forge.approvals(REPO, 3)}
    assert {a.sha for a in got.values()} == {HEAD}
    assert (got["dev"].can_write, got["reader"].can_write, got["sre"].can_write) == (
        True,
        False,
        True,
    )
    assert got["dev"].teams == ("acme/platform",) and got["sre"].teams == ("acme/sre",)
    assert got["reader"].teams == ()


def test_team_members_are_the_developers_of_the_projects_groups(
    gitlab: GitLabServer, forge: GitLabForge
) -> None:
    gitlab.access[("acme/platform", "dev")] = 30
    gitlab.access[("acme/platform", "guest")] = 10  # Guest: cannot push
    gitlab.access[("acme", "boss")] = 40  # inherited from the parent group
    gitlab.access[("acme/sre", "sre")] = 40  # a group the project is shared with
    assert forge.team_members(REPO) == {
        "acme/platform": ("boss", "dev"),
        "acme/sre": ("boss", "sre"),
    }


def test_no_approvals_no_extra_requests(gitlab: GitLabServer, forge: GitLabForge) -> None:
    assert forge.approvals(REPO, 3) == []
    assert not gitlab.calls("GET", "/members/")


def test_can_write(gitlab: GitLabServer, forge: GitLabForge) -> None:
    gitlab.user("dev")
    gitlab.user("guest")
    gitlab.access[(REPO, "dev")] = 30
    gitlab.access[(REPO, "guest")] = 10
    assert forge.can_write(REPO, "dev") is True
    assert forge.can_write(REPO, "guest") is False
    assert forge.can_write(REPO, "stranger") is False  # no such user


def test_upsert_comment_creates_then_edits_the_same_note(
    gitlab: GitLabServer, forge: GitLabForge
) -> None:
    first = forge.upsert_comment(REPO, 3, "run 1", MARKER)
    second = forge.upsert_comment(REPO, 3, "run 2", MARKER)
    assert first == second
    assert [n["body"] for n in gitlab.mr_notes(REPO, 3)] == [f"{MARKER}\nrun 2"]
    assert len(gitlab.calls("POST", "/notes$")) == 1 and len(gitlab.calls("PUT")) == 1


def test_a_marker_note_by_someone_else_is_never_edited(
    gitlab: GitLabServer, forge: GitLabForge
) -> None:
    planted = gitlab.add_note(REPO, 3, "mallory", f"{MARKER}\nlooks fine")
    system = gitlab.add_note(REPO, 3, "gitops-bot", f"{MARKER}\nsystem", system=True)
    nid = forge.upsert_comment(REPO, 3, "real", MARKER)
    assert nid not in (str(planted["id"]), str(system["id"]))
    assert gitlab.notes[planted["id"]]["body"] == f"{MARKER}\nlooks fine"
    assert gitlab.notes[int(nid)]["author"]["username"] == "gitops-bot"


@pytest.mark.parametrize(
    "state,expected",
    [
        (State.SKIPPED, "success"),
        (State.SUCCESS, "success"),
        (State.PENDING, "pending"),
        (State.WARNING, "success"),
        (State.FAILURE, "failed"),
        (State.ERROR, "failed"),
    ],
)
def test_set_status_maps_states(
    gitlab: GitLabServer, forge: GitLabForge, state: State, expected: str
) -> None:
    forge.set_status(REPO, HEAD, "gitops-bot/review", state, "d" * 300, "https://bot/runs/1")
    (status,) = gitlab.statuses
    assert (status["sha"], status["state"], status["name"]) == (HEAD, expected, "gitops-bot/review")
    assert len(status["description"]) == 140 and status["target_url"] == "https://bot/runs/1"


def test_repeating_a_status_is_harmless(gitlab: GitLabServer, forge: GitLabForge) -> None:
    """GitLab answers 400 "Cannot transition status" to a repeat; the status is already set."""
    for _ in range(2):
        forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "ok")
    assert [r.status for r in gitlab.calls("POST", "/statuses/")] == [201, 400]
    assert len(gitlab.statuses) == 1


def test_publish_check_is_a_no_op(gitlab: GitLabServer, forge: GitLabForge) -> None:
    forge.publish_check(REPO, HEAD, "gitops-bot/review", State.FAILURE, "x", [])
    assert gitlab.requests == []


def test_429_with_retry_after_is_transient_and_python_gitlab_does_not_sleep(
    gitlab: GitLabServer, forge: GitLabForge
) -> None:
    gitlab.fail(
        "POST",
        "/statuses/",
        429,
        headers={"Retry-After": "7"},
        body={"message": "429 Too Many Requests"},
    )
    with pytest.raises(Transient) as err:
        forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "ok")
    assert err.value.retry_after == 7 and retry_after(err.value) == 7
    assert len(gitlab.calls("POST", "/statuses/")) == 1  # one try: the caller decides


def test_429_with_ratelimit_reset(gitlab: GitLabServer, forge: GitLabForge) -> None:
    import time

    gitlab.fail(
        "GET",
        "/merge_requests/3$",
        429,
        headers={"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(time.time()) + 600)},
    )
    with pytest.raises(Transient) as err:
        forge.get_change(REPO, 3)
    assert err.value.retry_after is not None and 590 <= err.value.retry_after <= 600


def test_502_is_transient(gitlab: GitLabServer, forge: GitLabForge) -> None:
    gitlab.fail("GET", "/notes$", 502, times=1)
    with pytest.raises(Transient):
        forge.upsert_comment(REPO, 3, "x", MARKER)
    forge.upsert_comment(REPO, 3, "x", MARKER)
    assert len(gitlab.mr_notes(REPO, 3)) == 1


def test_unauthorised_is_final_and_never_shows_the_token(gitlab: GitLabServer) -> None:
    gitlab.add_project(REPO)
    gitlab.add_mr(REPO, 3, sha=HEAD, base_sha=BASE)
    gitlab.fail(
        "GET",
        "/merge_requests/3$",
        403,
        body={"message": f"403 Forbidden - token {GL_TOKEN} lacks api scope"},
    )
    forge = GitLabForge(gitlab.origin, token=GL_TOKEN)
    with pytest.raises(ForgeError) as err:
        forge.get_change(REPO, 3)
    assert err.value.status == 403 and retry_after(err.value) is None
    assert GL_TOKEN not in f"{err.value} {err.value!r}" and "***" in str(err.value)
    bad = GitLabForge(gitlab.origin, token="glpat-wrongwrongwrong")
    with pytest.raises(ForgeError) as err2:
        bad.get_change(REPO, 3)
    assert err2.value.status == 401 and "glpat-wrong" not in str(err2.value)
    closed = GitLabForge("http://127.0.0.1:9", token=GL_TOKEN)
    with pytest.raises(Transient) as err3:
        closed.get_change(REPO, 3)
    assert GL_TOKEN not in str(err3.value) and err3.value.__cause__ is None


def test_head_moving_while_approvals_are_read_is_transient(
    gitlab: GitLabServer, forge: GitLabForge
) -> None:
    """The approvals API names no commit: a push between the two reads must not be bound."""
    gitlab.approved[(REPO, 3)] = ["dev"]
    moved = {**gitlab.mrs[(REPO, 3)], "sha": "7" * 40}
    gitlab.fail("GET", "/merge_requests/3$", 200, body=moved)  # first read: older head
    with pytest.raises(Transient, match="moved"):
        forge.approvals(REPO, 3)
