"""The review comment (golden files, escaping, size limit), the JSON report, the status line."""
from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.diff import diff_manifests
from bot.model import (
    ApprovalRequirement,
    DiffStatus,
    Finding,
    Manifest,
    ObjectDiff,
    ObjKey,
    ReviewResult,
    Severity,
    State,
    Target,
    TargetResult,
)
from bot.report import GITHUB_COMMENT_LIMIT, MARKER, render_json, render_markdown, status_line

GOLDEN = Path(__file__).parent / "fixtures" / "report-golden"
BASE = "0123456789abcdef0123456789abcdef01234567"
HEAD = "fedcba9876543210fedcba9876543210fedcba98"
SHOP = Target("shop", "prod", "kustomize", "apps/shop/overlays/prod")
WEB = Target("web", "staging", "helm", "charts/web")
DEPLOY = ObjKey("apps", "Deployment", "shop", "web")


def check_golden(name: str, text: str) -> None:
    """Compare with tests/fixtures/report-golden/<name>; GOLDEN_UPDATE=1 rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("GOLDEN_UPDATE") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing {path}: run GOLDEN_UPDATE=1 ./scripts/test {__file__}"
    assert text == path.read_text(), f"{name} changed; if intended, regenerate with GOLDEN_UPDATE=1"


def check_structure(md: str) -> None:
    """The marker first, every fence closed, every <details> closed and properly nested."""
    assert md.startswith(MARKER + "\n")
    fence: str | None = None
    depth = 0
    for line in md.splitlines():
        if fence is not None:
            if re.fullmatch(r" {0,3}`{3,}\s*", line) and len(line.strip()) >= len(fence):
                fence = None
            continue
        opening = re.match(r" {0,3}(`{3,})", line)
        if opening:
            fence = opening.group(1)
            continue
        # Outside code spans (where HTML is literal) only our own whole-line tags may appear.
        bare = re.sub(r"(?<![\\`])(`+)(?!`).+?(?<!`)\1(?!`)", "", line)
        if "<details" in bare or "</details>" in bare:
            assert line in ("<details>", "<details open>", "</details>"), line
            depth += 1 if line.startswith("<details") else -1
            assert depth >= 0
    assert fence is None, "unclosed fence"
    assert depth == 0, "unclosed <details>"
    fences = [line for line in md.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0


def deployment(i: int, image: str) -> Manifest:
    return Manifest({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": f"web-{i:04d}", "namespace": "shop"},
                     "spec": {"replicas": 2, "template": {"spec": {"containers": [
                         {"name": "web", "image": image}]}}}}, f"apps/shop/web-{i:04d}.yaml", 1)


def small_diffs() -> tuple[ObjectDiff, ...]:
    base = [deployment(1, "shop/web:1.0"), deployment(2, "shop/web:1.0"),
            Manifest({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "old", "namespace": "shop"}, "data": {"a": "1"}},
                     "apps/shop/old.yaml", 1)]
    head = [deployment(1, "shop/web:1.1"), deployment(2, "shop/web:1.0"),
            Manifest({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "web", "namespace": "shop"},
                      "spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
                     "apps/shop/service.yaml", 1)]
    return tuple(diff_manifests(base, head))


def passing() -> ReviewResult:
    return ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.SUCCESS, small_diffs()),))


def failing() -> ReviewResult:
    shop_findings = (
        Finding(Severity.ERROR, "policy", "image tag `latest` is not allowed", "apps/shop/web.yaml",
                7, DEPLOY, "gitops.images.deny_latest"),
        Finding(Severity.ERROR, "validate", "spec.replicas: expected integer, got string",
                "apps/shop/web.yaml", 9, DEPLOY),
        Finding(Severity.WARNING, "policy", "no resource limits on container web",
                "apps/shop/web.yaml", 7, DEPLOY, "gitops.resources.warn_limits"),
    )
    web = TargetResult(WEB, State.WARNING, small_diffs()[:1], (
        Finding(Severity.WARNING, "validate", "unknown field: spec.template.spec.foo"),),
        cached=True)
    return ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.FAILURE, small_diffs(),
                                                  shop_findings), web),
                        (Finding(Severity.ERROR, "config", "policies/ changed in this PR",
                                 ".gitops-bot.yaml", 3),),
                        ("policies are read from the base branch",),
                        (ApprovalRequirement("platform-team", 2, "changes production",
                                             ("alice",)),
                         ApprovalRequirement("sre", 1, "touches shop", ("bob",))))


@pytest.mark.parametrize(("name", "result", "url"), [
    ("passing.md", passing, None),
    ("failing.md", failing, "https://gitops-bot.example/runs/42"),
    ("no_apps.md", lambda: ReviewResult(BASE, HEAD), None),
])
def test_golden(name: str, result: Any, url: str | None) -> None:
    md = render_markdown(result(), full_report_url=url)
    check_structure(md)
    check_golden(name, md)


def test_failing_comment_content() -> None:
    md = render_markdown(failing())
    assert md.count(MARKER) == 1
    assert "### ❌ gitops-bot review: failed · `0123456`..`fedcba9`" in md
    assert "<details open>\n<summary>❌ <code>shop/prod</code>" in md
    assert "<details>\n<summary>⚠️ <code>web/staging</code>" in md
    assert "| `platform-team` | 1 of 2 | changes production | ⏳ 1 more needed; approved by" \
        " `alice` |" in md
    assert "✅ approved by `bob`" in md
    assert "fix the findings above and push again" in md and "/gitops-bot recheck" in md
    assert "`apps/shop/web.yaml:7`" in md and "(rule `gitops.images.deny_latest`)" in md
    assert "Deployment/shop/web-0002" not in md, "unchanged objects are only counted"
    assert "1 deleted, 1 unchanged" in md


def test_no_targets_is_success() -> None:
    result = ReviewResult(BASE, HEAD)
    md = render_markdown(result)
    assert result.state is State.SUCCESS and "✅" in md
    assert "No apps affected by this change" in md
    assert status_line(result) == "No apps affected"


def test_input_text_cannot_break_the_layout() -> None:
    evil = ("</details></summary><!-- x --> ```\n\n# Heading\n| a | b |\n[x](javascript:1) "
            "@octocat <img src=x>")
    diff = ObjectDiff(DEPLOY, DiffStatus.CHANGED, "--- a\n+++ b\n+```\n+</details>\n+<!--",
                      ("spec.`x`",), "weird`name.yaml", 1)
    result = ReviewResult(BASE, HEAD, (TargetResult(
        Target("a`b</details>", "e|f", "plain", "p"), State.FAILURE, (diff,),
        (Finding(Severity.ERROR, evil, evil, evil, 1, DEPLOY, evil),)),),
        (Finding(Severity.ERROR, "config", evil),), (evil,),
        (ApprovalRequirement("g|</details>", 1, evil, ("@mallory",)),))
    md = render_markdown(result)
    check_structure(md)
    # Outside fences and code spans (where HTML is shown literally) no input HTML survives.
    prose = re.sub(r"(?<![\\`])(`+)(?!`).+?(?<!`)\1(?!`)", "",
                   re.sub(r"\n```diff\n.*?\n```\n", "", md, flags=re.DOTALL))
    assert prose.count("<!--") == 1 and "<img" not in prose
    assert prose.count("</details>") == md.count("\n</details>\n")
    assert "\n# Heading" not in md and "@octocat" not in prose and "`@mallory`" in md
    assert "```\n+```" not in md, "a fence longer than the content's backticks is used"
    table = [line for line in md.splitlines() if line.startswith("| `g")]
    assert len(table) == 1 and table[0].count(" | ") == 3


def test_everything_printed_is_redacted() -> None:
    token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
    url = f"https://x-access-token:{token}@github.com/o/r"
    diff = ObjectDiff(DEPLOY, DiffStatus.CHANGED, f"+  repo: {url}", (), None, None)
    result = ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.ERROR, (diff,), (
        Finding(Severity.ERROR, "render", f"helm failed: {url}", rule=token),)),),
        notes=(f"Authorization: Bearer {token}",))
    assert token not in render_markdown(result)
    assert token not in json.dumps(render_json(result))
    assert token not in status_line(result)


# --- size limits -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def huge() -> ReviewResult:
    diffs = tuple(diff_manifests([deployment(i, "shop/web:1.0") for i in range(5000)],
                                 [deployment(i, "shop/web:2.0") for i in range(5000)]))
    findings = tuple(Finding(Severity.ERROR, "policy", f"finding number {i}", f"f{i}.yaml", i,
                             DEPLOY, "r") for i in range(20))
    return ReviewResult(BASE, HEAD, (
        TargetResult(WEB, State.SUCCESS, diffs[:2500]),
        TargetResult(SHOP, State.FAILURE, diffs[2500:], findings)),
        approvals=(ApprovalRequirement("platform-team", 1, "prod", ()),))


def test_huge_review_fits_github(huge: ReviewResult) -> None:
    md = render_markdown(huge, full_report_url="https://gitops-bot.example/runs/7")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    check_structure(md)
    for i in range(20):
        assert f"finding number {i}" in md
    assert "| `platform-team` |" in md and "| `shop/prod` |" in md
    assert "more objects not shown (see the [full report](https://gitops-bot.example/runs/7))" \
        in md
    assert "Shortened to fit the comment size limit" in md
    shown = md.count("\n<summary>changed ")
    assert 100 < shown < 5000
    # The failing target's diffs are kept first: the passing one gets none.
    passing_block = md.split("<summary>✅ <code>web/staging</code>")[1].split("</details>\n\n<det")[0]
    assert "<summary>changed" not in passing_block
    assert "… 2500 more objects not shown" in passing_block
    assert len(md) > GITHUB_COMMENT_LIMIT - 2_000, "the budget is used, not wasted"


def test_huge_review_keeps_more_on_gitlab(huge: ReviewResult) -> None:
    github = render_markdown(huge)
    gitlab = render_markdown(huge, max_chars=1_000_000)
    assert len(gitlab) <= 1_000_000
    check_structure(gitlab)
    assert gitlab.count("<summary>changed ") > 3 * github.count("<summary>changed ")
    full = render_markdown(huge, max_chars=10**9)
    assert full.count("<summary>changed ") == 5000 and "not shown" not in full


def test_too_many_findings_are_cut_with_a_count() -> None:
    findings = tuple(Finding(Severity.ERROR, "validate", "x" * 200, f"f{i}.yaml", i, DEPLOY)
                     for i in range(1000))
    result = ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.FAILURE, small_diffs(),
                                                    findings),))
    md = render_markdown(result, full_report_url="https://gitops-bot.example/runs/8")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    check_structure(md)
    assert "more findings not shown" in md and "3 more objects not shown" in md
    assert "\n\n… " in md and "\n\n\n" not in md
    assert "| `shop/prod` | ❌ failed |" in md and "fix the findings above" in md


@pytest.mark.parametrize("limit", [1_000, 1_500, 2_000, 2_500, 3_000])
def test_any_limit_is_respected_and_well_formed(limit: int) -> None:
    md = render_markdown(failing(), max_chars=limit, full_report_url="https://x.example/r/1")
    assert len(md) <= limit
    check_structure(md)
    assert "Shortened to fit" in md and "/gitops-bot recheck" in md


def test_single_huge_diff_does_not_hide_small_ones() -> None:
    big = ObjectDiff(ObjKey("", "ConfigMap", "shop", "big"), DiffStatus.CHANGED,
                     "+" + "x" * 100_000)
    small = ObjectDiff(ObjKey("", "ConfigMap", "shop", "small"), DiffStatus.CHANGED, "+y")
    md = render_markdown(ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.SUCCESS,
                                                                (big, small)),)))
    check_structure(md)
    assert "ConfigMap/shop/small" in md and "1 more object not shown" in md


# --- JSON and status line ------------------------------------------------------------------

def test_render_json_round_trips() -> None:
    data = render_json(failing())
    assert json.loads(json.dumps(data)) == data
    assert data["state"] == "failure" and data["base"] == BASE
    shop = data["targets"][0]
    assert shop["id"] == "shop/prod" and shop["state"] == "failure"
    assert shop["counts"] == {"created": 1, "changed": 1, "deleted": 1, "unchanged": 1,
                              "errors": 2, "warnings": 1}
    changed = next(d for d in shop["diffs"] if d["status"] == "changed")
    assert changed["changed_fields"] == ["spec.template.spec.containers[0].image"]
    assert changed["diff"].startswith("--- base/Deployment/shop/web-0001")
    assert shop["findings"][0]["rule"] == "gitops.images.deny_latest"
    assert data["approvals"][0] == {"group": "platform-team", "count": 2,
                                    "reason": "changes production", "satisfied_by": ["alice"],
                                    "satisfied": False, "can_approve": []}
    assert data["findings"][0]["check"] == "config" and data["notes"]
    assert data["status"] == status_line(failing())


def test_status_line() -> None:
    assert status_line(failing()) == ("2 targets: 1 passed, 1 failed — 1 config error, "
                                      "1 policy denial, 1 schema error, 2 warnings, "
                                      "1 approval missing")
    assert status_line(passing()) == "1 target: 1 passed — 1 created, 1 changed, 1 deleted"
    many = ReviewResult(BASE, HEAD, tuple(
        TargetResult(Target(f"app{i}", "e", "plain", "p"), State.ERROR, (),
                     (Finding(Severity.ERROR, f"check-with-a-long-name-{i}", "m"),))
        for i in range(30)))
    line = status_line(many)
    assert len(line) <= 140 and line.startswith("30 targets: 30 errored — ")
    assert line.endswith("…")


def test_pure_modules_import_no_io() -> None:
    banned = {"flask", "requests", "subprocess", "github", "gitlab", "socket", "sqlalchemy",
              "huey", "bot.proc"}
    root = Path(__file__).parents[1] / "bot"
    for module in ("diff", "report", "markdown", "redact"):
        tree = ast.parse((root / f"{module}.py").read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in banned or n in banned}, module
