"""GitHubForge over PyGithub, over real HTTP, against the OpenAPI-checking GitHub test server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import Transient, retry_after
from bot.forges import Annotation, ForgeError, GitHubForge
from bot.model import State
from tests.forges.payloads import GH_TOKEN
from tests.forgeserver import GitHubServer

REPO = "octo-org/shop"
OLD, HEAD, BASE = "1" * 40, "2" * 40, "3" * 40
MARKER = "<!-- gitops-bot:review -->"
NOW = 1_700_000_000.0


@pytest.fixture
def forge(github: GitHubServer) -> GitHubForge:
    """Token mode, no write spacing (PyGithub's 1 s default would slow the tests only)."""
    github.add_pull(
        REPO,
        7,
        head_sha=HEAD,
        base_sha=BASE,
        files=["apps/web/deploy.yaml"],
        renamed={"apps/old.yaml": "apps/new.yaml"},
        labels=("env/prod",),
    )
    return GitHubForge(github.url, token=GH_TOKEN, seconds_between_writes=None, now=lambda: NOW)


@pytest.fixture
def app_forge(github: GitHubServer, app_key: tuple[str, str]) -> GitHubForge:
    github.add_pull(REPO, 7, head_sha=HEAD, base_sha=BASE)
    return GitHubForge(
        github.url,
        app_id=github.app_id,
        private_key=app_key[0],
        installation_id=42,
        seconds_between_writes=None,
    )


def test_get_change_reads_the_pull_request_and_every_changed_path(forge: GitHubForge) -> None:
    change = forge.get_change(REPO, 7)
    assert (change.repo, change.number, change.head_sha, change.base_sha, change.base_ref) == (
        REPO,
        7,
        HEAD,
        BASE,
        "main",
    )
    assert change.changed_files == ("apps/web/deploy.yaml", "apps/new.yaml", "apps/old.yaml")
    assert change.labels == ("env/prod",) and change.state == "open" and not change.is_fork
    assert change.author == "octocat" and change.draft is False


def test_get_change_reports_forks_drafts_and_merges(
    github: GitHubServer, forge: GitHubForge
) -> None:
    github.add_pull(REPO, 8, head_sha=HEAD, base_sha=BASE, fork="mallory/shop", draft=True)
    github.add_pull(REPO, 9, head_sha=HEAD, base_sha=BASE, fork="", state="closed", merged=True)
    eight, nine = forge.get_change(REPO, 8), forge.get_change(REPO, 9)
    assert eight.is_fork and eight.draft
    assert nine.is_fork and nine.state == "merged"


def test_incomplete_file_list_fails_closed(github: GitHubServer, forge: GitHubForge) -> None:
    github.pulls[(REPO, 7)]["changed_files"] = 3001  # more than list-files returns
    with pytest.raises(ForgeError, match="3000"):
        forge.get_change(REPO, 7)


def test_approvals_are_bound_to_the_sha_each_reviewer_approved(
    github: GitHubServer, forge: GitHubForge
) -> None:
    github.add_review(REPO, 7, "stale", "APPROVED", OLD)
    github.add_review(REPO, 7, "fresh", "APPROVED", OLD)
    github.add_review(REPO, 7, "fresh", "APPROVED", HEAD)
    github.add_review(REPO, 7, "fresh", "COMMENTED", HEAD)  # a comment keeps it
    github.add_review(REPO, 7, "changed", "APPROVED", HEAD)
    github.add_review(REPO, 7, "changed", "CHANGES_REQUESTED", HEAD)
    github.add_review(REPO, 7, "dismissed", "DISMISSED", HEAD)
    github.permissions[(REPO, "fresh")] = "write"
    github.permissions[(REPO, "stale")] = "read"
    github.add_team(REPO, "platform", ["fresh", "someone"])
    github.add_team(REPO, "sre", ["fresh"])
    got = {a.user: a for a in forge.approvals(REPO, 7)}
    assert set(got) == {"stale", "fresh"}
    assert got["stale"].sha == OLD and got["stale"].can_write is False
    assert got["stale"].teams == ()
    assert got["fresh"].sha == HEAD and got["fresh"].can_write is True
    assert got["fresh"].teams == ("octo-org/platform", "octo-org/sre")


def test_team_members_of_the_teams_that_may_push(github: GitHubServer, forge: GitHubForge) -> None:
    github.add_team(REPO, "platform", ["zoe", "amy"])
    github.add_team(REPO, "admins", ["root"], permission="admin")
    github.add_team(REPO, "readers", ["guest"], permission="pull")
    assert forge.team_members(REPO) == {
        "octo-org/platform": ("amy", "zoe"),
        "octo-org/admins": ("root",),
    }


def test_no_reviews_no_extra_requests(github: GitHubServer, forge: GitHubForge) -> None:
    assert forge.approvals(REPO, 7) == []
    assert [r.path for r in github.requests] == [f"/repos/{REPO}/pulls/7/reviews"]


@pytest.mark.parametrize(
    "permission,expected", [("admin", True), ("write", True), ("read", False), ("none", False)]
)
def test_can_write(
    github: GitHubServer, forge: GitHubForge, permission: str, expected: bool
) -> None:
    github.permissions[(REPO, "carol")] = permission
    assert forge.can_write(REPO, "carol") is expected


def test_upsert_comment_creates_then_edits_the_same_comment(
    github: GitHubServer, forge: GitHubForge
) -> None:
    first = forge.upsert_comment(REPO, 7, f"{MARKER}\nrun 1", MARKER)
    second = forge.upsert_comment(REPO, 7, f"{MARKER}\nrun 2", MARKER)
    assert first == second
    comments = github.issue_comments(REPO, 7)
    assert [c["body"] for c in comments] == [f"{MARKER}\nrun 2"]
    assert comments[0]["user"]["login"] == "gitops-bot-user"
    assert len(github.calls("POST", "/comments$")) == 1
    assert len(github.calls("PATCH", "/issues/comments/")) == 1


def test_identical_body_is_not_rewritten(github: GitHubServer, forge: GitHubForge) -> None:
    forge.upsert_comment(REPO, 7, "same", MARKER)
    forge.upsert_comment(REPO, 7, "same", MARKER)
    assert github.calls("PATCH") == []


def test_a_marker_comment_by_someone_else_is_never_edited(
    github: GitHubServer, forge: GitHubForge
) -> None:
    """The marker is public, so the author must be the bot itself
    (docs/security.md#the-bot-writes-as-itself)."""
    planted = github.add_comment(REPO, 7, "mallory", f"{MARKER}\nall green, merge away")
    cid = forge.upsert_comment(REPO, 7, "real result", MARKER)
    assert cid != str(planted["id"])
    assert github.comments[planted["id"]]["body"] == f"{MARKER}\nall green, merge away"
    assert github.comments[int(cid)]["body"] == f"{MARKER}\nreal result"


def test_oversized_comment_is_cut_and_keeps_its_marker(
    github: GitHubServer, forge: GitHubForge
) -> None:
    cid = forge.upsert_comment(REPO, 7, "x" * 70_000, MARKER)
    body = github.comments[int(cid)]["body"]
    assert len(body) <= forge.comment_limit and body.startswith(MARKER)
    assert "truncated" in body


@pytest.mark.parametrize(
    "state,expected",
    [
        (State.SKIPPED, "success"),
        (State.SUCCESS, "success"),
        (State.PENDING, "pending"),
        (State.WARNING, "success"),
        (State.FAILURE, "failure"),
        (State.ERROR, "error"),
    ],
)
def test_set_status_maps_states(
    github: GitHubServer, forge: GitHubForge, state: State, expected: str
) -> None:
    forge.set_status(REPO, HEAD, "gitops-bot/review", state, "d" * 300, "https://bot/runs/1")
    (status,) = github.statuses
    assert (status["sha"], status["state"], status["context"]) == (
        HEAD,
        expected,
        "gitops-bot/review",
    )
    assert len(status["description"]) == 140 and status["target_url"] == "https://bot/runs/1"


def test_writes_are_one_at_a_time_a_second_apart_by_default(github: GitHubServer) -> None:
    """docs/security.md#case-91: GitHub asks for mutations one at a time, at least a second
    apart; the adapter's default spacing does it (tests elsewhere turn it off for speed)."""
    github.add_pull(REPO, 7, head_sha=HEAD, base_sha=BASE)
    forge = GitHubForge(github.url, token=GH_TOKEN)
    forge.set_status(REPO, HEAD, "gitops-bot/review", State.PENDING, "reviewing")
    forge.upsert_comment(REPO, 7, f"{MARKER}\nrun 1", MARKER)
    forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "passed")
    writes = [r.at for r in github.requests if r.method in ("POST", "PATCH")]
    assert len(writes) == 3
    assert all(later - earlier >= 0.95 for earlier, later in zip(writes, writes[1:]))


def test_set_status_refuses_a_short_sha(forge: GitHubForge) -> None:
    with pytest.raises(ValueError):
        forge.set_status(REPO, "abc123", "gitops-bot/review", State.SUCCESS, "ok")


def _annotations(n: int) -> list[Annotation]:
    return [
        Annotation(f"apps/web/deploy{i}.yaml", i + 1, f"finding {i}", "warning") for i in range(n)
    ]


def test_check_run_with_120_annotations_takes_three_requests(
    github: GitHubServer, app_forge: GitHubForge
) -> None:
    app_forge.publish_check(
        REPO, HEAD, "gitops-bot/review", State.FAILURE, "2 errors", _annotations(120)
    )
    writes = [r for r in github.requests if "/check-runs" in r.path]
    assert [r.method for r in writes] == ["POST", "PATCH", "PATCH"]
    assert [len(r.body["output"]["annotations"]) for r in writes] == [50, 50, 20]
    (run_id,) = github.check_runs
    run = github.check_runs[run_id]
    assert (run["head_sha"], run["status"], run["conclusion"]) == (HEAD, "completed", "failure")
    assert len(github.annotations[run_id]) == 120


def test_pending_check_run_has_no_conclusion(github: GitHubServer, app_forge: GitHubForge) -> None:
    app_forge.publish_check(REPO, HEAD, "gitops-bot/review", State.PENDING, "running", [])
    (run,) = github.check_runs.values()
    assert run["status"] == "in_progress" and run["conclusion"] is None


def test_token_mode_publishes_no_check_run(github: GitHubServer, forge: GitHubForge) -> None:
    forge.publish_check(REPO, HEAD, "gitops-bot/review", State.FAILURE, "x", _annotations(3))
    assert github.requests == []


def test_app_mode_mints_one_installation_token_and_writes_as_the_app(
    github: GitHubServer, app_forge: GitHubForge
) -> None:
    app_forge.upsert_comment(REPO, 7, "hello", MARKER)
    app_forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "ok")
    assert len(github.minted) == 1
    assert github.issue_comments(REPO, 7)[0]["user"]["login"] == "gitops-bot[bot]"
    assert app_forge.bot_login() == "gitops-bot[bot]"


def test_expired_installation_token_is_replaced_once(
    github: GitHubServer, app_forge: GitHubForge
) -> None:
    """docs/security.md#case-94: 401 Bad credentials -> mint a new token once, retry, no loop."""
    app_forge.set_status(REPO, HEAD, "gitops-bot/review", State.PENDING, "start")
    github.tokens.pop(github.minted[0])
    app_forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "done")
    assert len(github.minted) == 2
    assert [s["state"] for s in github.statuses] == ["pending", "success"]
    github.fail("POST", "/statuses/", 401, times=5, body={"message": "Bad credentials"})
    with pytest.raises(ForgeError) as err:
        app_forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "again")
    assert err.value.status == 401 and len(github.minted) == 3


def test_502_is_transient_and_the_retry_edits_the_same_comment(
    github: GitHubServer, forge: GitHubForge
) -> None:
    """docs/security.md#case-92: a failed update is retried by the caller; still one comment."""
    cid = forge.upsert_comment(REPO, 7, "v1", MARKER)
    github.fail("PATCH", "/issues/comments/", 502)
    with pytest.raises(Transient) as err:
        forge.upsert_comment(REPO, 7, "v2", MARKER)
    assert err.value.retry_after is None and retry_after(err.value) == 10.0
    assert forge.upsert_comment(REPO, 7, "v2", MARKER) == cid
    assert len(github.issue_comments(REPO, 7)) == 1


def test_403_with_retry_after_is_transient_for_that_long(
    github: GitHubServer, forge: GitHubForge
) -> None:
    """docs/security.md#case-88: wait what the server says."""
    github.fail(
        "POST",
        "/statuses/",
        403,
        headers={"Retry-After": "30"},
        body={
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again."
        },
    )
    with pytest.raises(Transient) as err:
        forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "ok")
    assert err.value.retry_after == 30 and retry_after(err.value) == 30


def test_429_waits_until_the_rate_limit_resets(github: GitHubServer, forge: GitHubForge) -> None:
    """docs/security.md#case-89: x-ratelimit-remaining 0 and x-ratelimit-reset T -> wait T - now."""
    github.fail(
        "GET",
        "/pulls/7$",
        429,
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 90),
        },
        body={"message": "API rate limit exceeded"},
    )
    with pytest.raises(Transient) as err:
        forge.get_change(REPO, 7)
    assert err.value.retry_after == 90


def test_secondary_limit_without_headers_waits_a_minute(
    github: GitHubServer, forge: GitHubForge
) -> None:
    """docs/security.md#case-90: 'wait at least one minute' when GitHub gives no header."""
    github.fail(
        "POST",
        "/statuses/",
        403,
        body={
            "message": "You have exceeded a secondary rate limit and have been temporarily "
            "blocked from content creation. Please retry your request again later."
        },
    )
    with pytest.raises(Transient) as err:
        forge.set_status(REPO, HEAD, "gitops-bot/review", State.SUCCESS, "ok")
    assert err.value.retry_after == 60


@pytest.mark.parametrize("status", [404, 422])
def test_client_errors_are_final(github: GitHubServer, forge: GitHubForge, status: int) -> None:
    github.fail("GET", "/pulls/7$", status)
    with pytest.raises(ForgeError) as err:
        forge.get_change(REPO, 7)
    assert err.value.status == status and retry_after(err.value) is None


def test_slow_forge_hits_the_client_timeout(github: GitHubServer) -> None:
    """docs/security.md#case-93: the client gives up (timeout) and the caller may retry."""
    github.add_pull(REPO, 7, head_sha=HEAD, base_sha=BASE)
    github.fail("GET", "/pulls/7$", 200, delay=2.5)
    forge = GitHubForge(github.url, token=GH_TOKEN, timeout=1)
    with pytest.raises(Transient, match="Timeout"):
        forge.get_change(REPO, 7)


def _raise(fn: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as err:
        fn()
    return err.value


def test_the_token_never_appears_in_errors(github: GitHubServer, forge: GitHubForge) -> None:
    """docs/security.md#case-66: even when the forge echoes the credential back, or is
    unreachable."""
    github.fail(
        "GET",
        "/pulls/7$",
        422,
        body={"message": f"bad request from https://x-access-token:{GH_TOKEN}@github.com/{REPO}"},
    )
    github.fail("GET", "/pulls/7$", 503, body={"message": f"token {GH_TOKEN} overloaded"})
    errors = [_raise(lambda: forge.get_change(REPO, 7)) for _ in range(2)]
    closed = GitHubForge("http://127.0.0.1:9/api/v3", token=GH_TOKEN)  # nothing listens
    errors.append(_raise(lambda: closed.get_change(REPO, 7)))
    assert [type(e).__name__ for e in errors] == ["ForgeError", "Transient", "Transient"]
    for exc in errors:
        assert GH_TOKEN not in f"{exc} {exc!r} {exc.args!r}"
        assert exc.__cause__ is None and exc.__suppress_context__
    assert "***" in str(errors[0])


def test_requests_carry_the_token_only_in_the_authorization_header(
    github: GitHubServer, forge: GitHubForge
) -> None:
    forge.upsert_comment(REPO, 7, "hi", MARKER)
    for r in github.requests:
        assert GH_TOKEN not in r.path + str(r.query) + r.raw.decode()
        assert r.headers["Authorization"] == f"token {GH_TOKEN}"
