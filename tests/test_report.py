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
from tests.report_html import to_html
from tests.report_samples import many_rules, quiet_review

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
    return Manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"web-{i:04d}", "namespace": "shop"},
            "spec": {
                "replicas": 2,
                "template": {"spec": {"containers": [{"name": "web", "image": image}]}},
            },
        },
        f"apps/shop/web-{i:04d}.yaml",
        1,
    )


def small_diffs() -> tuple[ObjectDiff, ...]:
    base = [
        deployment(1, "shop/web:1.0"),
        deployment(2, "shop/web:1.0"),
        Manifest(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "old", "namespace": "shop"},
                "data": {"a": "1"},
            },
            "apps/shop/old.yaml",
            1,
        ),
    ]
    head = [
        deployment(1, "shop/web:1.1"),
        deployment(2, "shop/web:1.0"),
        Manifest(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
            },
            "apps/shop/service.yaml",
            1,
        ),
    ]
    return tuple(diff_manifests(base, head))


def passing() -> ReviewResult:
    return ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.SUCCESS, small_diffs()),))


def failing() -> ReviewResult:
    shop_findings = (
        Finding(
            Severity.ERROR,
            "policy",
            "image tag `latest` is not allowed",
            "apps/shop/web.yaml",
            7,
            DEPLOY,
            "gitops.images.deny_latest",
        ),
        Finding(
            Severity.ERROR,
            "validate",
            "spec.replicas: expected integer, got string",
            "apps/shop/web.yaml",
            9,
            DEPLOY,
        ),
        Finding(
            Severity.WARNING,
            "policy",
            "no resource limits on container web",
            "apps/shop/web.yaml",
            7,
            DEPLOY,
            "gitops.resources.warn_limits",
        ),
    )
    web = TargetResult(
        WEB,
        State.WARNING,
        small_diffs()[:1],
        (Finding(Severity.WARNING, "validate", "unknown field: spec.template.spec.foo"),),
        cached=True,
    )
    return ReviewResult(
        BASE,
        HEAD,
        (TargetResult(SHOP, State.FAILURE, small_diffs(), shop_findings), web),
        (Finding(Severity.ERROR, "config", "policies/ changed in this PR", ".gitops-bot.yaml", 3),),
        ("policies are read from the base branch",),
        (
            ApprovalRequirement("platform-team", 2, "changes production", ("alice",)),
            ApprovalRequirement("sre", 1, "touches shop", ("bob",)),
        ),
    )


@pytest.mark.parametrize(
    ("name", "result", "url"),
    [
        ("passing.md", passing, None),
        ("failing.md", failing, "https://gitops-bot.example/runs/42"),
        ("no_apps.md", lambda: ReviewResult(BASE, HEAD), None),
    ],
)
def test_golden(name: str, result: Any, url: str | None) -> None:
    md = render_markdown(result(), full_report_url=url)
    check_structure(md)
    check_golden(name, md)


DASHBOARD = "https://gitops-bot.example/reviews/github.com/acme/shop/7/fedcba9"
QUIET = [
    ("quiet.md", lambda: quiet_review(extra=4), GITHUB_COMMENT_LIMIT, DASHBOARD),
    ("quiet-cut.md", lambda: quiet_review(extra=40), 7_000, DASHBOARD),
    ("many-findings-cut.md", lambda: many_rules(60), 9_000, None),
]


@pytest.mark.parametrize(("name", "result", "limit", "url"), QUIET, ids=[q[0] for q in QUIET])
def test_golden_quiet_reviews_in_markdown_and_html(
    name: str, result: Any, limit: int, url: str | None
) -> None:
    md = render_markdown(result(), max_chars=limit, full_report_url=url)
    assert len(md) <= limit
    check_structure(md)
    check_golden(name, md)
    check_golden(name.replace(".md", ".html"), to_html(md))


def test_existing_findings_are_listed_apart_folded_and_counted() -> None:
    result = quiet_review(extra=4)
    md = render_markdown(result)
    assert "**3 targets** · **3 new problems** · 12 already on main · 4 changed, 1 deleted\n" in md
    staging = md.split("<summary>❌ <code>web/staging</code>")[1].split("<details open>")[0]
    assert "· 1 new problem · 6 already on main · 2 changed</summary>" in staging
    new, old = staging.split(
        "<summary>6 findings already on main (not caused by this change)</summary>"
    )
    assert "uses the mutable tag :latest" in new and "missing the label" not in new
    assert old.count("missing the label") == 2 and old.count("has no CPU limit") == 4
    data = render_json(result)
    assert data["counts"] == {
        "targets": 3,
        "new": 3,
        "existing": 12,
        "created": 0,
        "changed": 4,
        "deleted": 1,
    }
    flags = {(f["message"][:30], f["new"]) for f in data["targets"][0]["findings"]}
    assert ("Deployment/web: container web ", True) in flags
    assert ("Service/web: missing the label", False) in flags


def test_dangerous_changes_and_changed_files_come_first() -> None:
    md = render_markdown(quiet_review())
    order = [
        md.index(x)
        for x in (
            "**3 targets**",
            "**Changed files → targets:**",
            "#### Dangerous changes",
            "| Target |",
            "<details",
        )
    ]
    assert order == sorted(order)
    assert (
        "`apps/web/base/deployment.yaml` → `web/staging`, `web/production`; "
        "`apps/web/overlays/production/kustomization.yaml` → `web/production`"
    ) in md
    assert (
        "- 🛑 `web/production` · PersistentVolumeClaim/web-production/uploads is deleted: "
        "the volume's data is lost"
    ) in md


def test_a_change_rule_on_a_targets_object_fails_that_targets_row() -> None:
    """Change rules are listed once for the whole change; the row of the target whose object
    one names counts it and reads failed, not "passed" under a failed headline. An object
    several targets change goes to the target the message names; a warning is counted and
    fails nothing."""
    pvc = ObjKey("", "PersistentVolumeClaim", "shop", "data")
    gone = (ObjectDiff(pvc, DiffStatus.DELETED),)
    rows = [
        TargetResult(SHOP, State.SUCCESS, diffs=gone),
        TargetResult(WEB, State.SUCCESS, diffs=gone),
        TargetResult(Target("api", "prod", "plain", "apps/api"), State.SUCCESS, diffs=gone),
    ]
    rule = "gitops.change.deny_dangerous"
    result = ReviewResult(
        base=BASE,
        head=HEAD,
        targets=tuple(rows),
        findings=(
            Finding(
                Severity.ERROR, "policy", f"{SHOP.id}: the PVC is deleted", object=pvc, rule=rule
            ),
            Finding(Severity.WARNING, "policy", f"{WEB.id}: the PVC is deleted", object=pvc),
            Finding(Severity.ERROR, "policy", "not about an object", rule=rule),
        ),
    )
    md = render_markdown(result)
    assert f"| `{SHOP.id}` | ❌ failed (change rule) | 0 | 0 | 1 | 1 | 0 |" in md
    assert f"| `{WEB.id}` | ✅ passed | 0 | 0 | 1 | 1 | 0 |" in md
    assert "| `api/prod` | ✅ passed | 0 | 0 | 1 | 0 | 0 |" in md
    assert (
        f"<details open>\n<summary>❌ <code>{SHOP.id}</code> · failed (change rule) · "
        "1 change-rule problem (listed for the whole change) · 1 deleted</summary>"
    ) in md


def test_files_reaching_the_same_targets_share_one_entry() -> None:
    targets = [
        TargetResult(
            Target(f"app{i}", "prod", "plain", f"apps/app{i}"),
            State.SUCCESS,
            changed_inputs=(
                "base/deploy.yaml",
                "base/svc.yaml",
                *((f"apps/app{i}/cm.yaml",) if i == 0 else ()),
            ),
        )
        for i in range(8)
    ]
    md = render_markdown(ReviewResult(base="a", head="b", targets=tuple(targets)))
    [line] = [x for x in md.splitlines() if x.startswith("**Changed files")]
    assert line == (
        "**Changed files → targets:** `apps/app0/cm.yaml` → `app0/prod`; "
        "`base/deploy.yaml`, `base/svc.yaml` → all 8 targets"
    )
    fewer = ReviewResult(
        base="a",
        head="b",
        targets=tuple(targets[:7])
        + (TargetResult(Target("other", "prod", "plain", "apps/other"), State.SUCCESS),),
    )
    [line] = [x for x in render_markdown(fewer).splitlines() if x.startswith("**Changed")]
    assert line.endswith(
        "`base/deploy.yaml`, `base/svc.yaml` → `app0/prod`, `app1/prod`, "
        "`app2/prod`, `app3/prod`, `app4/prod`, `app5/prod` and 1 more target"
    )


def test_identical_diffs_are_shown_once_and_renames_are_one_entry() -> None:
    md = render_markdown(quiet_review())
    assert md.count("+        image: ghcr.io/example/web:latest") == 1
    assert (
        "<summary>changed <code>Deployment/web-staging/web</code> · "
        "<code>apps/web/base/deployment.yaml:1</code> · same change in "
        "<code>web/production</code></summary>"
    ) in md
    assert "- changed `Deployment/web-production/web` · same change as in `web/staging`" in md
    assert (
        "<summary>renamed <code>ConfigMap/web-staging/web-config-5g7h8k9m2t</code> → "
        "<code>ConfigMap/web-staging/web-config-9b8c7d6f5g</code>"
    ) in md
    assert "created <code>ConfigMap" not in md and "deleted <code>ConfigMap" not in md
    # multi-line strings are block scalars, and the file named is the one the change edited
    assert "   app.properties: |\n     server.port=8080\n" in md
    assert (
        "· <code>apps/web/base/app.properties</code> (defined in "
        "<code>apps/web/base/kustomization.yaml</code>)"
    ) in md
    assert "✅ <code>shop/production</code> · unchanged — renders the same at base and head" in md


def test_full_report_link_only_for_a_public_dashboard() -> None:
    local = render_markdown(
        quiet_review(extra=40),
        max_chars=5_000,
        full_report_url="/home/me/.cache/gitops-bot/last-full-report.md",
    )
    assert "/home/me" not in local and "](" not in local
    assert "full report in the check run / dashboard" in local
    public = render_markdown(quiet_review(extra=40), max_chars=5_000, full_report_url=DASHBOARD)
    assert f"[full report]({DASHBOARD})" in public


def test_cutting_keeps_a_diff_per_kind_per_target_before_more_findings() -> None:
    md = render_markdown(quiet_review(extra=40), max_chars=7_000)
    for env in ("staging", "production"):
        block = md.split(f"<code>web/{env}</code> · failed")[1].split("<details open>")[0]
        assert f"Deployment/web-{env}/web" in block.split("already on main (not caused")[-1]
        assert f"ConfigMap/web-{env}/web-config-9b8c7d6f5g" in block
    assert "PersistentVolumeClaim/web-production/uploads</code> · <code>" in md
    assert "has no CPU limit" in md and "more finding" in md  # old ones are cut first
    many = render_markdown(many_rules(60), max_chars=9_000)
    shown = many.count("is not of type 'integer'")
    assert shown >= 5 and f"- … and {60 - shown} more like this\n" in many
    assert "<summary>changed <code>Deployment/web-staging/web</code>" in many


def test_failing_comment_content() -> None:
    md = render_markdown(failing())
    assert md.count(MARKER) == 1
    assert "### ❌ gitops-bot review: failed · `0123456`..`fedcba9`" in md
    assert "<details open>\n<summary>❌ <code>shop/prod</code>" in md
    assert "<details>\n<summary>⚠️ <code>web/staging</code>" in md
    assert (
        "| `platform-team` | 1 of 2 | changes production | ⏳ 1 more needed; approved by"
        " `alice` |" in md
    )
    assert "✅ approved by `bob`" in md
    assert "fix the new problems above and push again" in md and "/gitops-bot recheck" in md
    assert "`apps/shop/web.yaml:7`" in md and "(rule `gitops.images.deny_latest`)" in md
    assert "Deployment/shop/web-0002" not in md, "unchanged objects are only counted"
    assert "1 created, 1 changed, 1 deleted</summary>" in md
    assert "Cached" not in md and "`?`" not in md, "no internal columns or unknown SHAs"


@pytest.mark.parametrize(
    ("enforced", "given", "title"),
    [
        (True, (), "### ⏳ gitops-bot review: needs approval"),
        (True, ("alice", "bob"), "### ✅ gitops-bot review: passed"),
        (False, (), "### ✅ gitops-bot review: passed"),  # `check DIR` lists, never enforces
    ],
)
def test_missing_approvals_alone_read_needs_approval(
    enforced: bool, given: tuple[str, ...], title: str
) -> None:
    result = ReviewResult(
        base="a",
        head="b",
        targets=(TargetResult(SHOP, State.SUCCESS),),
        approvals=(ApprovalRequirement("*", 2, "changes production", given),),
        approvals_enforced=enforced,
    )
    text = render_markdown(result)
    assert text.splitlines()[1].startswith(title)
    assert ("**Waiting for approvals:**" in text) is title.endswith("needs approval")
    assert "fix the new problems" not in text


def test_no_targets_is_success() -> None:
    result = ReviewResult(BASE, HEAD)
    md = render_markdown(result)
    assert result.state is State.SUCCESS and "✅" in md
    assert "No apps affected by this change" in md
    assert status_line(result) == "No apps affected"


def test_input_text_cannot_break_the_layout() -> None:
    evil = (
        "</details></summary><!-- x --> ```\n\n# Heading\n| a | b |\n[x](javascript:1) "
        "@octocat <img src=x>"
    )
    diff = ObjectDiff(
        DEPLOY,
        DiffStatus.CHANGED,
        "--- a\n+++ b\n+```\n+</details>\n+<!--",
        ("spec.`x`",),
        "weird`name.yaml",
        1,
    )
    result = ReviewResult(
        BASE,
        HEAD,
        (
            TargetResult(
                Target("a`b</details>", "e|f", "plain", "p"),
                State.FAILURE,
                (diff,),
                (Finding(Severity.ERROR, evil, evil, evil, 1, DEPLOY, evil),),
            ),
        ),
        (Finding(Severity.ERROR, "config", evil),),
        (evil,),
        (ApprovalRequirement("g|</details>", 1, evil, ("@mallory",)),),
    )
    md = render_markdown(result)
    check_structure(md)
    # Outside fences and code spans (where HTML is shown literally) no input HTML survives.
    prose = re.sub(
        r"(?<![\\`])(`+)(?!`).+?(?<!`)\1(?!`)",
        "",
        re.sub(r"\n```diff\n.*?\n```\n", "", md, flags=re.DOTALL),
    )
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
    result = ReviewResult(
        BASE,
        HEAD,
        (
            TargetResult(
                SHOP,
                State.ERROR,
                (diff,),
                (Finding(Severity.ERROR, "render", f"helm failed: {url}", rule=token),),
            ),
        ),
        notes=(f"Authorization: Bearer {token}",),
    )
    assert token not in render_markdown(result)
    assert token not in json.dumps(render_json(result))
    assert token not in status_line(result)


# --- size limits -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge() -> ReviewResult:
    diffs = tuple(
        diff_manifests(
            [deployment(i, "shop/web:1.0") for i in range(5000)],
            [deployment(i, "shop/web:2.0") for i in range(5000)],
        )
    )
    findings = tuple(
        Finding(Severity.ERROR, "policy", f"finding number {i}", f"f{i}.yaml", i, DEPLOY, "r")
        for i in range(20)
    )
    return ReviewResult(
        BASE,
        HEAD,
        (
            TargetResult(WEB, State.SUCCESS, diffs[:2500]),
            TargetResult(SHOP, State.FAILURE, diffs[2500:], findings),
        ),
        approvals=(ApprovalRequirement("platform-team", 1, "prod", ()),),
    )


def test_huge_review_fits_github(huge: ReviewResult) -> None:
    md = render_markdown(huge, full_report_url="https://gitops-bot.example/runs/7")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    check_structure(md)
    # the first findings of the rule stay; the rest yield to diffs, counted
    shown = re.findall(r"finding number (\d+)`?", md)
    assert shown[:5] == ["0", "1", "2", "3", "4"] and len(shown) < 20
    assert f"- … and {20 - len(shown)} more like this\n" in md
    assert "| `platform-team` |" in md and "| `shop/prod` |" in md
    assert "more objects not shown (see the [full report](https://gitops-bot.example/runs/7))" in md
    assert "Shortened to fit the comment size limit" in md
    summaries = md.count("\n<summary>changed ")
    assert 100 < summaries < 5000
    # The failing target's diffs are kept first; the passing one keeps one per changed kind.
    passing_block = md.split("<summary>✅ <code>web/staging</code>")[1].split("</details>\n\n<det")[
        0
    ]
    assert passing_block.count("<summary>changed") == 1
    assert "… 2499 more objects not shown" in passing_block
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
    findings = tuple(
        Finding(Severity.ERROR, "validate", "x" * 200, f"f{i}.yaml", i, DEPLOY) for i in range(1000)
    )
    result = ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.FAILURE, small_diffs(), findings),))
    md = render_markdown(result, full_report_url="https://gitops-bot.example/runs/8")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    check_structure(md)
    # Findings beyond the first of their rule go before any diff does (issue 10: today
    # every diff was dropped before any finding).
    shown = md.count("- ❌ **error** · `validate`")
    assert 5 <= shown < 1000 and f"- … and {1000 - shown} more like this\n" in md
    for key in ("Service/shop/web", "Deployment/shop/web-0001", "ConfigMap/shop/old"):
        assert f"<code>{key}</code>" in md, key
    assert "not shown" not in md.split("<details open>")[1].split("- ❌")[0]
    assert "\n\n\n" not in md
    assert "| `shop/prod` | ❌ failed |" in md and "fix the new problems above" in md


@pytest.mark.parametrize("limit", [1_000, 1_500, 2_000, 2_500, 3_000, 4_000, 6_000])
def test_any_limit_is_respected_and_well_formed(limit: int) -> None:
    for result in (failing(), quiet_review(extra=30)):
        whole = len(render_markdown(result, max_chars=10**9))
        md = render_markdown(result, max_chars=limit, full_report_url="https://x.example/r/1")
        assert len(md) <= limit
        check_structure(md)
        assert ("Shortened to fit" in md) is (whole > limit) and "/gitops-bot recheck" in md


def test_single_huge_diff_does_not_hide_small_ones() -> None:
    big = ObjectDiff(
        ObjKey("", "ConfigMap", "shop", "big"), DiffStatus.CHANGED, "+" + "x" * 100_000
    )
    small = ObjectDiff(ObjKey("", "ConfigMap", "shop", "small"), DiffStatus.CHANGED, "+y")
    md = render_markdown(
        ReviewResult(BASE, HEAD, (TargetResult(SHOP, State.SUCCESS, (big, small)),))
    )
    check_structure(md)
    assert "ConfigMap/shop/small" in md and "1 more object not shown" in md


# --- JSON and status line ------------------------------------------------------------------


def test_render_json_round_trips() -> None:
    data = render_json(failing())
    assert json.loads(json.dumps(data)) == data
    assert data["state"] == "failure" and data["base"] == BASE
    shop = data["targets"][0]
    assert shop["id"] == "shop/prod" and shop["state"] == "failure"
    assert shop["counts"] == {
        "created": 1,
        "changed": 1,
        "deleted": 1,
        "unchanged": 1,
        "errors": 2,
        "warnings": 1,
        "new": 3,
        "existing": 0,
    }
    changed = next(d for d in shop["diffs"] if d["status"] == "changed")
    assert changed["changed_fields"] == ["spec.template.spec.containers[0].image"]
    assert changed["diff"].startswith("--- base/Deployment/shop/web-0001")
    assert shop["findings"][0]["rule"] == "gitops.images.deny_latest"
    assert data["approvals"][0] == {
        "group": "platform-team",
        "count": 2,
        "reason": "changes production",
        "satisfied_by": ["alice"],
        "satisfied": False,
        "can_approve": [],
    }
    assert data["findings"][0]["check"] == "config" and data["notes"]
    assert data["status"] == status_line(failing())


def test_status_line() -> None:
    assert status_line(failing()) == (
        "2 targets: 1 passed, 1 failed — 1 config error, "
        "1 policy denial, 1 schema error, 2 warnings, "
        "1 approval missing"
    )
    assert status_line(quiet_review()) == (
        "3 targets: 1 passed, 2 failed — 3 policy denials, 2 approvals missing, 4 already on main"
    )
    assert status_line(passing()) == "1 target: 1 passed — 1 created, 1 changed, 1 deleted"
    many = ReviewResult(
        BASE,
        HEAD,
        tuple(
            TargetResult(
                Target(f"app{i}", "e", "plain", "p"),
                State.ERROR,
                (),
                (Finding(Severity.ERROR, f"check-with-a-long-name-{i}", "m"),),
            )
            for i in range(30)
        ),
    )
    line = status_line(many)
    assert len(line) <= 140 and line.startswith("30 targets: 30 errored — ")
    assert line.endswith("…")


def test_pure_modules_import_no_io() -> None:
    banned = {
        "flask",
        "requests",
        "subprocess",
        "github",
        "gitlab",
        "socket",
        "sqlalchemy",
        "huey",
        "bot.proc",
    }
    root = Path(__file__).parents[1] / "bot"
    for module in (
        "diff",
        "report",
        "report_sections",
        "markdown",
        "redact",
        "novelty",
        "pairing",
        "dangerous",
    ):
        tree = ast.parse((root / f"{module}.py").read_text())
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in banned or n in banned}, module
