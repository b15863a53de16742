"""The webhook review loop end to end on GitLab: Merge Request / Note Hook deliveries (GitLab's
documented payload examples) in, one MR note and one `gitops-bot/review` commit status out,
against the GitLab test server and a real git repository of a project in a nested group."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from bot.app import create_app
from bot.config import Config, Secret
from bot.services import Services
from tests.conftest import git
from tests.forgeserver import GitLabServer
from tests.web.hookclient import GL_TOKEN as HOOK_TOKEN
from tests.web.hookclient import fixture, gitlab_headers, post

ROOT = Path(__file__).resolve().parents[2]
REPO = "awesome_space/platform/awesome_project"  # the payload's project, in a subgroup
API_TOKEN = "glpat-e2eTestToken0123456789"
STATUS = "gitops-bot/review"
MARKER = "<!-- gitops-bot:review -->"


@dataclass
class Loop:
    """The bot (intake + queue, run in-process), the GitLab test server, the project's repo."""

    url: str
    services: Services
    forge: GitLabServer
    repo: Path
    project_id: int

    def deliver(self, event: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = json.dumps(payload).encode()
        return post(self.url, "/hooks/gitlab", body, gitlab_headers(event, token=HOOK_TOKEN))

    def work(self) -> list[Any]:
        """Run every queued job, as `gitops-bot worker` would."""
        huey, results = self.services.queue.huey, []
        while (task := huey.dequeue()) is not None:
            results.append(huey.execute(task))
        return results

    def states(self, sha: str) -> list[str]:
        return [
            s["state"] for s in self.forge.statuses if s["sha"] == sha and s.get("name") == STATUS
        ]

    def last_status(self, sha: str) -> dict[str, Any]:
        return [s for s in self.forge.statuses if s["sha"] == sha and s.get("name") == STATUS][-1]

    def notes(self) -> list[dict[str, Any]]:
        return self.forge.mr_notes(REPO, 1)

    def head(self, branch: str) -> str:
        return git(self.repo, "rev-parse", branch)


def mr_hook(loop: Loop, action: str, head: str, oldrev: str | None = None) -> dict[str, Any]:
    """GitLab's Merge Request Hook example, adapted: project path/ids, head SHA, action."""
    data = json.loads(fixture("gitlab/merge_request/open.json"))
    attrs = data["object_attributes"]
    data["project"]["path_with_namespace"] = REPO
    data["project"]["id"] = loop.project_id
    for side in ("source", "target"):
        attrs[side]["path_with_namespace"] = REPO
    attrs.update(
        iid=1, source_project_id=loop.project_id, target_project_id=loop.project_id, action=action
    )
    attrs["last_commit"]["id"] = head
    if oldrev:
        attrs["oldrev"] = oldrev  # present "only when there are actual code changes"
    return data


def note_hook(loop: Loop, head: str, body: str) -> dict[str, Any]:
    """GitLab's Note Hook example (comment on an MR), adapted: project, ids, SHA, text."""
    data = json.loads(fixture("gitlab/note/merge_request.json"))
    data["project_id"] = data["object_attributes"]["project_id"] = loop.project_id
    data["project"]["path_with_namespace"] = REPO
    data["object_attributes"]["note"] = body
    mr = data["merge_request"]
    mr.update(iid=1, source_project_id=loop.project_id, target_project_id=loop.project_id)
    mr["last_commit"]["id"] = head
    return data


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    with gitlab_loop(tmp_path) as running:
        yield running


@contextmanager
def gitlab_loop(tmp_path: Path, **settings: Any) -> Iterator[Loop]:
    """The bot with the GitLab test server; `settings` override Config fields."""
    forge = GitLabServer()
    forge.tokens[API_TOKEN] = "gitops-bot"
    forge.user("gitops-bot")
    forge.start()
    remotes = tmp_path / "remotes"
    repo = remotes / "awesome_space" / "platform" / "awesome_project.git"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    project = forge.add_project(REPO, group_id=41)
    config = Config(
        data_dir=tmp_path / "data",
        gitlab_url=forge.origin,
        gitlab_token=Secret(API_TOKEN),
        gitlab_webhook_secret=Secret(HOOK_TOKEN),
        repo_allowlist=("127.0.0.1/awesome_space/*",),
        clone_url_template=f"file://{remotes}/{{owner}}/{{repo}}.git",
        job_handlers="bot.pipeline.handlers:pipeline_handlers",
    ).with_(**settings)
    services = Services.build(config)
    server = make_server("127.0.0.1", 0, create_app(config, services), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield Loop(f"http://127.0.0.1:{server.server_port}", services, forge, repo, project["id"])
    server.shutdown()
    server.server_close()
    forge.stop()
    assert forge.violations == [], forge.violations
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def open_mr(loop: Loop) -> str:
    head = loop.head("change")
    loop.forge.add_mr(
        REPO,
        1,
        sha=head,
        base_sha=loop.head("main"),
        author="root",
        files=["apps/web/deployment.yaml"],
    )
    code, answer = loop.deliver("Merge Request Hook", mr_hook(loop, "open", head))
    assert code == 202, answer
    return head


def push_fix(loop: Loop) -> str:
    """The author fixes the manifest on the MR branch; GitLab moves the MR head."""
    git(loop.repo, "checkout", "-q", "change")
    deploy = loop.repo / "apps/web/deployment.yaml"
    deploy.write_text(deploy.read_text().replace('replicas: "3"', "replicas: 3"))
    git(loop.repo, "commit", "-qam", "web: replicas is a number")
    git(loop.repo, "checkout", "-q", "main")
    fixed = loop.head("change")
    mr = loop.forge.mrs.get((REPO, 1))
    if mr:
        mr["sha"] = mr["diff_refs"]["head_sha"] = fixed
    return fixed


def test_open_then_fix_edits_one_note_and_approvals_open_the_gate(loop: Loop) -> None:
    head = open_mr(loop)
    loop.work()
    [note] = loop.notes()
    assert note["body"].startswith(MARKER) and note["author"]["username"] == "gitops-bot"
    assert "spec.replicas" in note["body"]
    assert loop.states(head) == ["pending", "failed"]
    assert loop.forge.statuses[-1]["repo"] == REPO

    fixed = push_fix(loop)
    code, answer = loop.deliver("Merge Request Hook", mr_hook(loop, "update", fixed, head))
    assert code == 202, answer
    loop.work()
    [edited] = loop.notes()
    assert edited["id"] == note["id"] and "is not of type" not in edited["body"]
    assert len(loop.forge.calls("POST", "/notes$")) == 1 and loop.forge.calls("PUT", "/notes/")
    # Schemas and policies pass now; only the production approvals are missing (default
    # policy: 2 approvals from people who may push).
    assert loop.states(fixed) == ["pending", "failed"]
    final = loop.last_status(fixed)
    assert "approval" in final["description"] and "error" not in final["description"]
    assert "0 of 2" in edited["body"]

    # Two Developers approve (one through the subgroup's parent group): the gate opens.
    loop.forge.approved[(REPO, 1)] = ["alice", "bob"]
    loop.forge.access[(REPO, "alice")] = 30
    loop.forge.access[("awesome_space/platform", "bob")] = 40
    assert loop.deliver("Merge Request Hook", mr_hook(loop, "approved", fixed))[0] == 202
    loop.work()
    assert loop.last_status(fixed)["state"] == "success"
    assert len(loop.notes()) == 1


def test_approval_by_a_reporter_does_not_count(loop: Loop) -> None:
    fixed = push_fix(loop)
    loop.forge.add_mr(
        REPO, 1, sha=fixed, base_sha=loop.head("main"), files=["apps/web/deployment.yaml"]
    )
    loop.forge.approved[(REPO, 1)] = ["alice", "reporter"]
    loop.forge.access[(REPO, "alice")] = 30
    loop.forge.access[(REPO, "reporter")] = 20
    assert loop.deliver("Merge Request Hook", mr_hook(loop, "approved", fixed))[0] == 202
    loop.work()
    assert loop.last_status(fixed)["state"] == "failed"
    assert "1 of 2" in loop.notes()[0]["body"]


def test_recheck_from_a_user_without_developer_access_is_refused(loop: Loop) -> None:
    head = open_mr(loop)
    loop.work()
    loop.forge.user("root")
    loop.forge.access[(REPO, "root")] = 20  # Reporter: may comment, may not push
    code, answer = loop.deliver("Note Hook", note_hook(loop, head, "/gitops-bot recheck"))
    assert code == 202, answer
    loop.work()
    bodies = [n["body"] for n in loop.notes()]
    assert len(bodies) == 2 and any("needs write access" in b and "`root`" in b for b in bodies)
    assert loop.states(head) == ["pending", "failed"]  # no new review ran


def test_recheck_from_a_developer_reviews_again(loop: Loop) -> None:
    head = open_mr(loop)
    loop.work()
    loop.forge.user("root")
    loop.forge.access[("awesome_space", "root")] = 30  # Developer, inherited from the group
    code, _ = loop.deliver("Note Hook", note_hook(loop, head, "/gitops-bot recheck"))
    assert code == 202
    loop.work()
    assert loop.states(head) == ["pending", "failed", "pending", "failed"]
    assert len(loop.notes()) == 1


def test_unsigned_delivery_is_refused(loop: Loop) -> None:
    body = json.dumps({"object_kind": "merge_request"}).encode()
    code, _ = post(
        loop.url, "/hooks/gitlab", body, gitlab_headers("Merge Request Hook", token="wrong-token")
    )
    assert code == 401
    assert loop.forge.requests == []
