"""What a change is, in the service and in `check` alike: the rules of the protected
branch's tip, the proposal = the head merged into that tip (issue 9, wrong results 1 and 2),
and both give the same verdict on the same repositories."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.conftest import git
from tests.e2e.loop import REPO, Loop, pr_payload

ROOT = Path(__file__).resolve().parents[2]

AT_MOST_3 = """package main

import rego.v1

deny contains msg if {
\tinput.kind == "Deployment"
\tinput.spec.replicas > 3
\tmsg := sprintf("%s: at most 3 replicas", [input.metadata.name])
}
"""


def check_json(repo: Path, base: str, head: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            str(repo),
            "--base",
            base,
            "--head",
            head,
            "--no-cache",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def check_markdown(repo: Path, base: str, head: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            str(repo),
            "--base",
            base,
            "--head",
            head,
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode in (0, 1, 3), done.stderr
    return done.stdout


def open_change(loop: Loop, branch: str, files: list[str], number: int = 1) -> str:
    head, base = loop.head(branch), loop.head("main")
    loop.forge.add_pull(REPO, number, head_sha=head, base_sha=base, author="octocat", files=files)
    code, answer = loop.deliver("pull_request", pr_payload("opened", head, base, number))
    assert code == 202, answer
    loop.work()
    return head


def test_a_policy_tightened_on_main_after_the_branch_was_cut_judges_it(loop: Loop) -> None:
    """Wrong result 1: the service judged by the merge-base's policies and posted success."""
    deploy = loop.repo / "apps/web/deployment.yaml"
    git(loop.repo, "checkout", "-q", "-b", "wide", "main")
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: 4"))
    git(loop.repo, "commit", "-qam", "web: 4 replicas")
    git(loop.repo, "checkout", "-q", "main")
    (loop.repo / "policies").mkdir()
    (loop.repo / "policies" / "replicas.rego").write_text(AT_MOST_3)
    git(loop.repo, "add", "-A")
    git(loop.repo, "commit", "-qm", "policy: at most 3 replicas")

    head = open_change(loop, "wide", ["apps/web/deployment.yaml"])
    [comment] = loop.comments()
    assert "web: at most 3 replicas" in comment["body"]
    final = loop.statuses(head)[-1]
    assert final["state"] == "failure" and "policy denial" in final["description"], final
    code, report = check_json(loop.repo, "main", "wide")
    assert code == 1
    assert any(
        "at most 3 replicas" in f["message"] for t in report["targets"] for f in t["findings"]
    )


def _rows(markdown: str) -> list[str]:
    """The summary table rows and the per-object summaries of a review comment."""
    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    objects = re.findall(r"<summary>((?:created|changed|deleted) <code>.*?)</summary>", markdown)
    return rows + objects


def _findings(found: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (f["severity"], f["check"], f["message"], f["file"], f["line"], f["object"], f["rule"])
        for f in found
    )


def test_check_and_the_service_give_the_same_review(loop: Loop) -> None:
    """Same repositories, same refs: the same findings, object diffs and state, also when
    main moved on after the branch was cut."""
    git(loop.repo, "checkout", "-q", "main")
    values = loop.repo / "charts/shop/values.yaml"
    values.write_text(values.read_text() + "\n# main moved on\n")
    git(loop.repo, "commit", "-qam", "shop: a comment")
    head = open_change(
        loop,
        "change",
        [
            "apps/web/deployment.yaml",
            "apps/web/configmap.yaml",
            "charts/shop/values-production.yaml",
        ],
    )
    [comment] = loop.comments()
    status = loop.statuses(head)[-1]
    code, report = check_json(loop.repo, "main", "change")
    markdown = check_markdown(loop.repo, "main", "change")

    assert _rows(comment["body"]) == _rows(markdown) and _rows(markdown)
    [run] = loop.services.store.latest_runs(repo=REPO)
    service_findings = run.findings
    assert service_findings is not None
    check_findings = [f for t in report["targets"] for f in t["findings"]] + report["findings"]
    assert _findings(service_findings) == _findings(check_findings)
    assert status["state"] == "failure" and report["state"] == "failure" and code == 1
    assert report["behind"] == 1 and "1 commit behind main" in comment["body"]
