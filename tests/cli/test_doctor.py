"""`gitops-bot doctor`: rows, exit codes and secrecy, against a loopback GitHub API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.loopback import free_port

from bot.cli import doctor as d

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_doctorTestToken0123456789"
HOOK_SECRET = "hook-secret-never-print-me"
GITLAB_TOKEN = "glpat-doctor-secret-xyz"
REDIS_PASSWORD = "redis-pass-never-print"


class FakeGitHub(BaseHTTPRequestHandler):
    """Answers GET /user like GitHub when the bearer token is the expected one."""

    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        auth = self.headers.get("Authorization", "")
        FakeGitHub.seen.append((self.path, auth))
        ok = self.path == "/user" and auth == f"Bearer {TOKEN}"
        body = json.dumps(
            {"login": "gitops-bot-test"} if ok else {"message": "Bad credentials"}
        ).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def github_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeGitHub.seen.clear()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def base_env(tmp_path: Path, api: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_BOT_")}
    env.update(
        {
            "GITOPS_BOT_TOOLS_DIR": os.environ.get(
                "GITOPS_BOT_TOOLS_DIR", str(ROOT / ".tools/bin")
            ),
            "GITOPS_BOT_DATA_DIR": str(tmp_path / "data"),
            "GITOPS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'bot.db'}",
            "GITOPS_BOT_GITHUB_API_URL": api,
            "GITOPS_BOT_GITHUB_TOKEN": TOKEN,
            "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": HOOK_SECRET,
            "GITOPS_BOT_REPO_ALLOWLIST": "github.com/acme/*",
            "GITOPS_BOT_PUBLIC_URL": "https://bot.example.com",
        }
    )
    env.update(extra)
    return env


def run_doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "doctor", "--timeout", "2", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    data = json.loads(proc.stdout)
    return {
        f"{r['check']}#{i}" if r["check"] == "github credentials" else r["check"]: r
        for i, r in enumerate(data)
    }


def test_healthy_setup_exits_0(tmp_path, github_api):
    proc = run_doctor(base_env(tmp_path, github_api), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = rows(proc)
    assert got["github API"]["status"] == "ok"
    assert "gitops-bot-test" in got["github API"]["message"]
    assert FakeGitHub.seen == [("/user", f"Bearer {TOKEN}")]
    assert got["database"]["status"] == "ok" and got["queue"]["status"] == "ok"
    assert got["gitlab"]["status"] == "skip"
    assert got["github webhook"]["message"].startswith(
        "point the webhook at https://bot.example.com/hooks/github"
    )
    for tool in ("helm", "kubectl", "git"):
        assert got[tool]["status"] == "ok"
    assert got["kubeconform"]["status"] in ("ok", "warn")  # optional
    assert not (tmp_path / "data").exists()  # probing creates no files


def test_unreachable_redis_fails_with_a_fix_and_secrets_stay_hidden(tmp_path, github_api):
    env = base_env(
        tmp_path,
        github_api,
        GITOPS_BOT_GITLAB_TOKEN=GITLAB_TOKEN,
        GITOPS_BOT_GITLAB_URL=f"http://127.0.0.1:{free_port()}",
        GITOPS_BOT_QUEUE_URL=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0",
    )
    table = run_doctor(env)
    assert table.returncode == 1
    queue = next(line for line in table.stdout.splitlines() if " queue " in line)
    assert queue.startswith("✗") and "redis://:***@127.0.0.1" in queue
    assert "fix: start Redis" in table.stdout
    assert "✗ gitlab webhook secret" in table.stdout  # GitLab half-configured
    assert "GITOPS_BOT_GITLAB_WEBHOOK_SECRET missing" in table.stdout
    assert "✗ gitlab API" in table.stdout and "unreachable" in table.stdout
    assert "GITOPS_BOT_GITHUB_TOKEN set" in table.stdout
    out = table.stdout + table.stderr + run_doctor(env, "--format", "json").stdout
    for secret in (TOKEN, HOOK_SECRET, GITLAB_TOKEN, REDIS_PASSWORD):
        assert secret not in out


def test_rejected_token_and_missing_settings(tmp_path, github_api):
    env = base_env(tmp_path, github_api, GITOPS_BOT_GITHUB_TOKEN="ghp_wrong_token_value")
    del env["GITOPS_BOT_REPO_ALLOWLIST"]
    proc = run_doctor(env)
    assert proc.returncode == 1
    assert "credentials rejected" in proc.stdout and "ghp_wrong_token_value" not in proc.stdout
    assert "✗ repo allowlist" in proc.stdout


# -- pure rules ------------------------------------------------------------------------------
def test_no_forge_configured_is_a_failure():
    got = d.forge_rows({}, None)
    assert [r.check for r in got if r.status is d.Status.FAIL] == ["forges", "repo allowlist"]


def test_github_app_needs_both_settings():
    got = d.forge_rows(
        {
            "GITOPS_BOT_GITHUB_APP_ID": "12",
            "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "x" * 8,
            "GITOPS_BOT_REPO_ALLOWLIST": "*",
        },
        None,
    )
    creds = [r for r in got if r.check == "github credentials"]
    assert [r.status for r in creds] == [d.Status.OK, d.Status.FAIL]
    assert "GITOPS_BOT_GITHUB_PRIVATE_KEY_FILE missing" == creds[1].message


def test_tools_missing_and_odd_versions():
    got = {r.check: r for r in d.tool_rows({"helm": ("/x/helm", "v3.14.0"), "git": ("/g", "2.4")})}
    assert got["helm"].status is d.Status.WARN and "v4." in got["helm"].fix
    assert got["kubectl"].status is d.Status.FAIL and got["kubeconform"].status is d.Status.WARN
    assert got["git"].status is d.Status.OK


def test_probe_rows_and_isolation():
    assert (
        d.store_row("db", "postgresql://u:pw@h/db", "refused", "fix it").message
        == "postgresql://u:***@h/db: refused"
    )
    assert d.forge_probe_row("github", 401, None, None, "https://api").status is d.Status.FAIL
    assert d.forge_probe_row("gitlab", 200, "me", None, "https://gl").message.startswith(
        "authenticated as me"
    )
    assert d.isolation_row(False).status is d.Status.WARN
    assert (
        d.webhook_rows({"GITOPS_BOT_PUBLIC_URL": "http://x"}, ["gitlab"])[0].status is d.Status.WARN
    )


def test_settings_from_yaml_file_under_the_environment(tmp_path):
    cfg = tmp_path / "bot.yaml"
    cfg.write_text("github_token: from-file\nGITOPS_BOT_REPO_ALLOWLIST: 'a/*'\n")
    s = d.read_settings(
        {"GITOPS_BOT_CONFIG": str(cfg), "GITOPS_BOT_GITHUB_TOKEN": "from-env", "HOME": "/x"}
    )
    assert s["GITOPS_BOT_GITHUB_TOKEN"] == "from-env" and s["GITOPS_BOT_REPO_ALLOWLIST"] == "a/*"
    assert "HOME" not in s
    assert d.masker(s)("token from-env here") == "token *** here"


def test_table_has_fix_lines_and_a_summary():
    text = d.render_table(
        [d.Row("a", d.Status.OK, "fine"), d.Row("b", d.Status.FAIL, "bad", "do x")]
    )
    assert text.splitlines() == [
        "✓ a  fine",
        "✗ b  bad",
        "     fix: do x",
        "2 checks: 1 ok, 0 warnings, 1 failed",
    ]
