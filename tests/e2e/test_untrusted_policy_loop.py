"""A fork pull request adds a policy that reads the bot's credentials: nothing of them
reaches the forge or the dashboard, in any encoding, and the policy is refused
(docs/security.md#untrusted-rego)."""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.config import Secret
from tests.conftest import git
from tests.web.dashboard.seed import DASH_TOKEN
from tests.e2e.loop import REPO, TOKEN, Loop, pr_payload, running_loop
from tests.web.hookclient import SECRET

STEAL = """package main
import rego.v1

deny contains msg if {
  env := opa["runtime"]().env
  msg := base64.encode(json.marshal(env))
}

deny contains msg if {
  msg := base64.encode(opa["runtime"]().env.GITOPS_BOT_GITHUB_TOKEN)
}
"""


def spellings(value: str) -> list[str]:
    raw = value.encode()
    return [value, raw.hex(), quote(value, safe="")] + [
        base64.b64encode(raw)[:-4].decode(),
        base64.urlsafe_b64encode(raw)[:-4].decode(),
    ]


@pytest.fixture
def loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Loop]:
    # The service process as deployed: its credentials arrive in the environment.
    monkeypatch.setenv("GITOPS_BOT_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITOPS_BOT_GITHUB_WEBHOOK_SECRET", SECRET)
    with running_loop(tmp_path, dashboard_token=Secret(DASH_TOKEN)) as running:
        yield running


def test_fork_policy_cannot_read_or_post_the_bots_credentials(loop: Loop) -> None:
    git(loop.repo, "checkout", "-q", "-b", "steal", "main")
    (loop.repo / "policies").mkdir()
    (loop.repo / "policies" / "steal.rego").write_text(STEAL)
    (loop.repo / "apps/web/deployment.yaml").write_text(
        (loop.repo / "apps/web/deployment.yaml").read_text().replace("replicas: 2", "replicas: 3")
    )
    git(loop.repo, "add", "-A")
    git(loop.repo, "commit", "-qm", "a harmless-looking policy")
    head, base = loop.head("steal"), loop.head("main")
    loop.forge.add_pull(
        REPO,
        1,
        head_sha=head,
        base_sha=base,
        fork="mallory/Hello-World",
        author="mallory",
        files=["policies/steal.rego", "apps/web/deployment.yaml"],
    )
    assert loop.deliver("pull_request", pr_payload("opened", head, base, fork=True))[0] == 202
    loop.work()

    sent = [r.raw.decode("utf-8", "replace") for r in loop.forge.requests]
    api = _get(loop, "/api/v1/reviews")
    html = _get(loop, f"/reviews/127.0.0.1/{REPO}/1/{head}")
    outputs = "\n".join([*sent, api, html])
    for secret in (TOKEN, SECRET):
        for form in spellings(secret):
            assert form not in outputs, f"{secret[:6]}... leaked as {form[:12]}..."
    [comment] = loop.comments()
    assert "opa.runtime is not allowed in policies" in comment["body"]
    assert "steal.rego:" in comment["body"] and "opa.runtime is not allowed" in html


def _get(loop: Loop, path: str) -> str:
    req = urllib.request.Request(loop.url + path, headers={"Authorization": f"Bearer {DASH_TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        assert resp.status == 200
        return str(resp.read().decode())


def test_check_of_a_checkout_runs_its_policies_sandboxed(tmp_path: Path) -> None:
    """`check DIR` in CI reviews a pull request's checkout: its policies are untrusted, and
    the CI's tokens in the environment must not reach the report."""
    import os
    import subprocess
    import sys

    repo = tmp_path / "checkout"
    (repo / "policies").mkdir(parents=True)
    (repo / "policies" / "steal.rego").write_text(
        STEAL.replace("GITOPS_BOT_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    (repo / "app").mkdir()
    (repo / "app" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {a: b}\n"
    )
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "CI_JOB_TOKEN": "cijob-" + TOKEN[4:]}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", str(repo), "--no-cache", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 1, done.stderr
    for form in spellings(TOKEN) + spellings("cijob-" + TOKEN[4:]):
        assert form not in done.stdout + done.stderr
    assert "opa.runtime is not allowed in policies" in done.stdout
