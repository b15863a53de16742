"""One target's failure is that target's ERROR finding, named by its stage; the other
targets finish (issue 9, wrong result 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import GitRepo, git
from tests.e2e.loop import REPO, Loop, pr_payload

ROOT = Path(__file__).resolve().parents[2]

# A Secret whose `data` is a string while `stringData` is a mapping: wrong, and the API
# server would refuse it, but a pull request may hold anything. Comparing it with what is
# live once raised deep in the live stage and the whole review ended in "internal error".
ODD_SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: odd
  namespace: web
  labels: {app.kubernetes.io/name: web}
data: not-a-mapping
stringData: {token: abc}
"""


def test_a_target_that_breaks_a_stage_does_not_sink_the_review(loop: Loop) -> None:
    git(loop.repo, "checkout", "-q", "-b", "odd", "main")
    (loop.repo / "apps/web/secret.yaml").write_text(ODD_SECRET)
    values = loop.repo / "charts/shop/values-staging.yaml"
    values.write_text(values.read_text() + "\n# touched\n")
    git(loop.repo, "add", "-A")
    git(loop.repo, "commit", "-qm", "web: a secret; shop: a comment")
    head, base = loop.head("odd"), loop.head("main")
    loop.forge.add_pull(
        REPO,
        1,
        head_sha=head,
        base_sha=base,
        files=["apps/web/secret.yaml", "charts/shop/values-staging.yaml"],
    )
    assert loop.deliver("pull_request", pr_payload("opened", head, base))[0] == 202
    loop.work()
    [comment] = loop.comments()
    body = comment["body"]
    assert "internal error while reviewing" not in body
    # every target was reviewed; shop/staging (a comment in its values) renders the same
    assert "| `shop/staging` | ✅ unchanged" in body, body[:3000]
    assert "| `web/staging` | ❌ failed" in body
    final = loop.statuses(head)[-1]
    assert final["state"] == "failure"


KUBECONFORM_BROKEN = """#!/bin/sh
# STAND-IN for a kubeconform that fails (test double, not the real binary)
echo "kubeconform: cannot load schemas" >&2
exit 3
"""


def test_a_tool_error_during_validation_is_labelled_validate(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit(
        {
            "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
            "  namespace: n\n  labels: {app.kubernetes.io/name: c}\n"
            "data: {a: b}\n"
        }
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubeconform").write_text(KUBECONFORM_BROKEN)
    (bin_dir / "kubeconform").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            str(repo.path),
            "--no-cache",
            "--validator",
            "kubeconform",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    [target] = json.loads(done.stdout)["targets"]
    [finding] = target["findings"]
    assert finding["check"] == "validate" and finding["severity"] == "error"
    assert "kubeconform exited with code 3" in finding["message"]
    assert "cannot load schemas" in finding["message"]
