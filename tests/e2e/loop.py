"""The review-loop harness: the bot (intake + queue in-process), the GitHub test server
and the example repository it clones; shared by the review and deploy e2e tests."""

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
from tests.forgeserver import GitHubServer
from tests.web.hookclient import SECRET, fixture, github_headers, post

ROOT = Path(__file__).resolve().parents[2]
REPO = "Codertocat/Hello-World"  # the repository of GitHub's payload examples
TOKEN = "ghp_e2eTestToken0123456789abcdefABCDEF01"
STATUS = "gitops-bot/review"


# A Helm template that spins `.Values.spin` times: a render that takes seconds, so a
# test can kill a worker in the middle of a review.
SLOW_TEMPLATE = """{{- $n := 0 }}
{{- range $i := until (int .Values.spin) }}{{- $n = add $n 1 }}{{- end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: slow
  namespace: slow
  labels:
    app.kubernetes.io/name: slow
data:
  n: "{{ $n }}"
"""


@dataclass
class Loop:
    """The bot (intake + queue, run in-process), the forge, and the repository it clones."""

    url: str
    services: Services
    forge: GitHubServer
    repo: Path

    def deliver(
        self, event: str, payload: dict[str, Any], delivery: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        body = json.dumps(payload).encode()
        return post(self.url, "/hooks/github", body, github_headers(event, body, delivery))

    def work(self) -> list[Any]:
        """Run every queued job, as `gitops-bot worker` would."""
        huey, results = self.services.queue.huey, []
        while (task := huey.dequeue()) is not None:
            results.append(huey.execute(task))
        return results

    def statuses(self, sha: str) -> list[dict[str, Any]]:
        return [s for s in self.forge.statuses if s["sha"] == sha and s["context"] == STATUS]

    def comments(self, number: int = 1) -> list[dict[str, Any]]:
        return self.forge.issue_comments(REPO, number)

    def head(self, branch: str) -> str:
        return git(self.repo, "rev-parse", branch)


def pr_payload(
    action: str, head: str, base: str, number: int = 1, fork: bool = False
) -> dict[str, Any]:
    data = json.loads(
        fixture(f"github/pull_request/{'opened' if action == 'opened' else action}.payload.json")
    )
    pr = data["pull_request"]
    pr["number"] = data["number"] = number
    pr["head"]["sha"], pr["base"]["sha"] = head, base
    if fork:
        pr["head"]["repo"]["full_name"] = "mallory/Hello-World"
    return data


def app_key_pair() -> tuple[str, str]:
    """A throwaway RSA key pair (private PEM, public PEM) for a GitHub App."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@contextmanager
def running_loop(tmp_path: Path, *, app: bool = False, **settings: Any) -> Iterator[Loop]:
    """The bot on loopback with the GitHub test server and the example repository;
    `settings` override Config fields (e.g. a dashboard token). `app=True` runs the bot as a
    GitHub App (check runs with annotations are published only then)."""
    private, public = app_key_pair() if app else ("", None)
    forge = GitHubServer(app_public_key=public)
    forge.tokens[TOKEN] = "gitops-bot"
    forge.start()
    if app:
        key_file = tmp_path / "app-key.pem"
        key_file.write_text(private)
        settings = {
            "github_app_id": forge.app_id,
            "github_private_key_file": key_file,
            "github_token": None,
            **settings,
        }
    remotes = tmp_path / "remotes"
    repo = remotes / "Codertocat" / "Hello-World.git"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    config = Config(
        data_dir=tmp_path / "data",
        github_api_url=forge.url,
        github_token=Secret(TOKEN),
        github_webhook_secret=Secret(SECRET),
        github_write_spacing=0,
        repo_allowlist=("127.0.0.1/Codertocat/*",),
        clone_url_template=f"file://{remotes}/{{owner}}/{{repo}}.git",
        job_handlers="bot.pipeline.handlers:pipeline_handlers",
    ).with_(**settings)
    services = Services.build(config)
    server = make_server("127.0.0.1", 0, create_app(config, services), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield Loop(f"http://127.0.0.1:{server.server_port}", services, forge, repo)
    finally:
        server.shutdown()
        server.server_close()
        forge.stop()
    assert forge.violations == [], forge.violations
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    with running_loop(tmp_path) as running:
        yield running


def open_pr(loop: Loop, branch: str, number: int = 1, **kw: Any) -> str:
    head, base = loop.head(branch), loop.head("main")
    loop.forge.add_pull(
        REPO,
        number,
        head_sha=head,
        base_sha=base,
        author="octocat",
        files=["apps/web/deployment.yaml"],
        **kw,
    )
    code, answer = loop.deliver("pull_request", pr_payload("opened", head, base, number))
    assert code == 202, answer
    return head
