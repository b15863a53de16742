"""Realistic store contents for the dashboard tests: reviews made by the real review pipeline
on real git repositories, plus deployments, drift reports and audit events."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.model import FindingRecord
from bot.outcomes import DeployState, ReviewState
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.report import render_markdown, status_line
from bot.store import Store
from bot.tools import Tools
from tests.conftest import git

ROOT = Path(__file__).resolve().parents[3]
HOST = "github.com"
SHOP = "acme/shop"
PAYMENTS = "acme/payments"
# Values that must never reach a page: a Secret's data, a forge token, the dashboard token.
DB_PASSWORD = "s3cr3t-db-password-value-91"
GH_TOKEN = "ghp_" + "Zx9QwE" * 6
DASH_TOKEN = "dash-token-7Hq2-readers-only"

SECRET_FILES = {
    "apps/web/db-secret.yaml": f"""apiVersion: v1
kind: Secret
metadata:
  name: web-db
  namespace: web
type: Opaque
stringData:
  password: {DB_PASSWORD}
""",
    "apps/web/deploy-token.yaml": f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: web-deploy
  namespace: web
data:
  clone_url: https://x-access-token:{GH_TOKEN}@github.com/acme/shop.git
  note: "token {GH_TOKEN}"
""",
}


@dataclass(frozen=True)
class Reviewed:
    """One review made by the real pipeline: its head SHA, state and Markdown report."""

    head: str
    state: ReviewState
    status_line: str
    report: str
    findings: list[FindingRecord]


def _review(repo: Path, base: str, head: str, tools: Tools) -> Reviewed:
    result = review_change(repo, base, head, ReviewOptions(tools=tools, enforce_approvals=False))
    findings = [f.to_dict() for t in result.targets for f in t.findings]
    return Reviewed(
        git(repo, "rev-parse", head),
        ReviewState(result.state.name.lower()),
        status_line(result),
        render_markdown(result, max_chars=10**9),
        findings,
    )


def make_reviews(workdir: Path, tools: Tools) -> tuple[Reviewed, Reviewed]:
    """The README's example change (a schema error, a deletion, an image bump) and a change
    that adds a Secret and a ConfigMap holding a forge token."""
    repo = workdir / "shop"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    example = _review(repo, "main", "change", tools)
    git(repo, "checkout", "-q", "-b", "secrets", "main")
    for rel, text in SECRET_FILES.items():
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "web: database secret and deploy token")
    secrets = _review(repo, "main", "secrets", tools)
    return example, secrets


def seed(store: Store, example: Reviewed, secrets: Reviewed) -> None:
    """Fill the store as a few days of the bot's work would."""

    def run(repo: str, number: int, r: Reviewed) -> None:
        run_id = store.start_run("github", HOST, repo, number, r.head)
        store.finish_run(run_id, r.state, r.status_line, r.findings, r.report, "101")

    run(SHOP, 7, example)
    run(SHOP, 8, secrets)
    run(PAYMENTS, 3, secrets)
    # A review still running, and one whose stored report leaked a token in an error text.
    store.start_run("github", HOST, PAYMENTS, 4, "c" * 40)
    leaked = store.start_run("github", HOST, PAYMENTS, 5, "d" * 40)
    store.finish_run(
        leaked,
        ReviewState.ERROR,
        f"clone failed: token {GH_TOKEN}",
        None,
        f"### ❌ gitops-bot review: failed\n\nfatal: could not read from "
        f"https://x-access-token:{GH_TOKEN}@github.com/acme/payments.git\n",
    )
    shop = f"{HOST}/{SHOP}"
    store.audit("alice", "review.approved", shop, 7, example.head, {"state": "APPROVED"})
    store.audit(
        "bob",
        "policy.override",
        shop,
        7,
        example.head,
        {"rule": "gitops.images.deny_latest", "reason": "hotfix"},
    )
    store.audit("gitops-bot", "deploy.succeeded", shop, 8, secrets.head, {"environment": "staging"})
    store.audit(
        "mallory",
        "deploy.refused",
        shop,
        None,
        "e" * 40,
        {
            "reason": "commit reached main without an approved review",
            "push_url": f"https://mallory:{GH_TOKEN}@github.com/acme/shop.git",
        },
    )
    store.audit("alice", "review.approved", f"{HOST}/{PAYMENTS}", 3, secrets.head, {})

    ok = store.record_deployment("github", HOST, SHOP, "staging", secrets.head, 8)
    store.mark_deployment(ok, DeployState.RUNNING)
    store.finish_deployment(
        ok,
        DeployState.SUCCEEDED,
        "applied 6 objects",
        ["ConfigMap/web/web-deploy", "Secret/web/web-db"],
        [],
    )
    bad = store.record_deployment("github", HOST, SHOP, "production", secrets.head, 8)
    store.finish_deployment(
        bad,
        DeployState.FAILED,
        f"apply failed after 1 of 2 (token {GH_TOKEN})",
        ["ConfigMap/web/web-deploy"],
        [{"key": "Secret/web/web-db", "error": "forbidden"}],
    )
    store.record_deployment(
        "github",
        HOST,
        SHOP,
        "production",
        "e" * 40,
        None,
        state=DeployState.REFUSED,
        summary="not reviewed: refused",
    )
    store.record_drift(
        HOST,
        SHOP,
        "production",
        "web/production",
        [
            {"key": "Deployment/web/web", "status": "changed", "changed_fields": ["spec.replicas"]},
            {"key": "Secret/web/web-db", "status": "changed", "changed_fields": ["data.password"]},
        ],
    )
    store.record_drift(
        HOST,
        SHOP,
        "staging",
        "web/staging",
        [
            {"key": "ConfigMap/web/web-site", "status": "changed", "changed_fields": ["data"]},
        ],
        healed=True,
    )
