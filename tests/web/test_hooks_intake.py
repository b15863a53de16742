"""From verified delivery to queued job: handled vs ignored, allowlist, idempotency
(docs/security.md#allowlisted-scope, docs/security.md#idempotent-effects)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store import delivery_key
from tests.web.appserver import Bot, make_config
from tests.web.hookclient import SHA_A, fixture, gitlab_headers, post, with_head

PR_OPENED = fixture("github/pull_request/opened.payload.json")


@pytest.mark.parametrize(
    "event,path",
    [
        ("pull_request", "github/pull_request/opened.payload.json"),
        ("pull_request", "github/pull_request/synchronize.payload.json"),
        ("pull_request", "github/pull_request/closed.payload.json"),
        ("push", "github/push/with-new-branch.payload.json"),
    ],
)
def test_handled_github_events_are_stored_then_queued(bot: Bot, event: str, path: str) -> None:
    status, answer = bot.github(event, fixture(path), delivery="gh-1")
    assert (status, answer["status"], answer["delivery"]) == (202, "queued", "gh-1")
    row = bot.store.delivery(delivery_key("github", "gh-1"))
    assert row is not None and row["outcome"] == "queued"
    assert row["repo"] == "Codertocat/Hello-World" and row["event"] == event
    assert bot.queue.size() == 1


@pytest.mark.parametrize(
    "event,path",
    [
        ("Merge Request Hook", "gitlab/merge_request/open.json"),
        ("Push Hook", "gitlab/push/push.json"),
    ],
)
def test_handled_gitlab_events_are_stored_then_queued(bot: Bot, event: str, path: str) -> None:
    status, answer = bot.gitlab(event, fixture(path), delivery="gl-1")
    assert (status, answer["status"]) == (202, "queued")
    assert bot.store.delivery(delivery_key("gitlab", "gl-1")) is not None
    assert bot.queue.size() == 1


def test_gitlab_recheck_command_note_is_queued(bot: Bot) -> None:
    data = json.loads(fixture("gitlab/note/merge_request.json"))
    data["object_attributes"]["note"] = "/gitops-bot recheck"
    status, answer = bot.gitlab("Note Hook", json.dumps(data).encode())
    assert (status, answer["status"]) == (202, "queued")


def test_gitlab_event_uuid_is_the_fallback_delivery_id(bot: Bot) -> None:
    body = fixture("gitlab/merge_request/open.json")
    headers = [h for h in gitlab_headers("Merge Request Hook") if h[0] != "Idempotency-Key"]
    headers.append(("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"))
    assert post(bot.url, "/hooks/gitlab", body, headers)[0] == 202
    assert post(bot.url, "/hooks/gitlab", body, headers)[1]["status"] == "duplicate"
    assert bot.store.delivery("gitlab:13792a34-cac6-4fda-95a8-c58e00a3954e") is not None


@pytest.mark.parametrize(
    "event,path,reason",
    [
        ("pull_request", "github/pull_request/labeled.payload.json", "labeled"),
        ("ping", "github/ping/payload.json", "ping"),
        ("issue_comment", "github/issue_comment/created.payload.json", "not a pull request"),
        ("push", "github/push/payload.json", "tag push"),
        ("issues", "github/issue_comment/created.payload.json", "issues"),
    ],
)
def test_ignored_events_answer_200_with_reason_and_store_nothing(
    bot: Bot, event: str, path: str, reason: str
) -> None:
    status, answer = bot.github(event, fixture(path))
    assert (status, answer["status"]) == (200, "ignored")
    assert reason in answer["reason"]
    assert bot.store.count("deliveries") == 0 and bot.queue.size() == 0


def test_gitlab_plain_note_is_ignored(bot: Bot) -> None:
    status, answer = bot.gitlab("Note Hook", fixture("gitlab/note/merge_request.json"))
    assert (status, answer["status"]) == (200, "ignored")
    assert bot.store.count("deliveries") == 0


def test_repository_outside_the_allowlist_is_ignored_and_audited(tmp_path: Path, serve) -> None:
    bot = serve(make_config(tmp_path, repo_allowlist=("github.com/acme/*",)), None)
    status, answer = bot.github("pull_request", PR_OPENED, delivery="foreign-1")
    assert (status, answer["status"]) == (200, "ignored")
    assert "allowlist" in answer["reason"]
    assert bot.store.count("deliveries") == 0 and bot.queue.size() == 0
    [entry] = bot.store.audit_log()
    assert entry["action"] == "delivery.not_allowlisted"
    assert entry["repo"] == "github.com/Codertocat/Hello-World"
    assert entry["detail"]["delivery"] == "foreign-1"


def test_fork_mode_skip_ignores_fork_pull_requests(tmp_path: Path, serve) -> None:
    bot = serve(make_config(tmp_path, fork_mode="skip"), None)
    data = json.loads(PR_OPENED)
    data["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
    data["pull_request"]["head"]["repo"]["fork"] = True
    status, answer = bot.github("pull_request", json.dumps(data).encode())
    assert (status, answer["status"]) == (200, "ignored")
    assert "fork" in answer["reason"]
    # The same PR from the repository itself is still reviewed.
    assert bot.github("pull_request", PR_OPENED)[0] == 202


def test_nothing_in_the_payload_admits_a_fork(tmp_path: Path, serve) -> None:
    """docs/security.md#case-16: labels, the author's association and the head repository's
    own `fork` flag are all set by people; only the server's fork switch opens the gate."""
    bot = serve(make_config(tmp_path, fork_mode="skip"), None)
    data = json.loads(PR_OPENED)
    pull = data["pull_request"]
    pull["head"]["repo"]["full_name"] = "mallory/Hello-World"
    pull["head"]["repo"]["fork"] = False
    pull["labels"] = [{"id": 1, "name": "deploy", "color": "ededed", "default": False}]
    pull["author_association"] = "OWNER"
    status, answer = bot.github("pull_request", json.dumps(data).encode(), delivery="fork-1")
    assert (status, answer["status"]) == (200, "ignored")
    assert "fork" in answer["reason"]
    assert bot.store.count("deliveries") == 0 and bot.queue.size() == 0


def test_redelivery_of_the_same_id_makes_no_second_job(bot: Bot) -> None:
    assert bot.github("pull_request", PR_OPENED, delivery="same-1")[0] == 202
    status, answer = bot.github("pull_request", PR_OPENED, delivery="same-1")
    assert (status, answer["status"]) == (200, "duplicate")
    assert bot.store.count("deliveries") == 1 and bot.queue.size() == 1


def test_ten_concurrent_identical_deliveries_make_one_row_and_one_job(bot: Bot) -> None:
    with ThreadPoolExecutor(10) as pool:
        results = list(
            pool.map(lambda _: bot.github("pull_request", PR_OPENED, delivery="race-1"), range(10))
        )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 9 + [202]
    assert bot.store.count("deliveries") == 1
    assert bot.queue.size() == 1


def test_gitlab_retry_with_the_same_idempotency_key_is_deduplicated(bot: Bot) -> None:
    body = fixture("gitlab/merge_request/open.json")
    assert bot.gitlab("Merge Request Hook", body, delivery="idem-1")[0] == 202
    assert bot.gitlab("Merge Request Hook", body, delivery="idem-1")[1]["status"] == "duplicate"
    assert bot.store.count("deliveries") == 1 and bot.queue.size() == 1


def test_delivery_is_durable_before_the_202(bot: Bot) -> None:
    status, _ = bot.github("pull_request", with_head(PR_OPENED, SHA_A), delivery="durable-1")
    assert status == 202
    # A second, independent connection sees the committed row.
    from bot.store import Store

    other = Store.from_url(bot.services.config.database)
    row = other.delivery("github:durable-1")
    assert row is not None and row["head_sha"] == SHA_A
    assert row["event_data"]["kind"] == "review"


@pytest.mark.parametrize(
    "event,path,mr",
    [
        ("Merge Request Hook", "gitlab/merge_request/open.json", ("object_attributes",)),
        ("Note Hook", "gitlab/note/merge_request.json", ("merge_request",)),
    ],
)
def test_gitlab_hook_for_a_deleted_source_project_is_200_ignored(
    bot: Bot, event: str, path: str, mr: tuple[str, ...]
) -> None:
    """GitLab sends `source_project_id: null` once the fork behind a merge request is
    deleted; a 400 would count toward GitLab disabling the hook (it did before)."""
    data = json.loads(fixture(path))
    data["object_attributes"]["note"] = "/gitops-bot recheck"
    node = data
    for key in mr:
        node = node[key]
    node["source_project_id"] = None
    node["source"] = None
    status, answer = bot.gitlab(event, json.dumps(data).encode())
    assert (status, answer["status"]) == (200, "ignored")
    assert "source project was deleted" in answer["reason"]
    assert bot.store.count("deliveries") == 0
