"""`gitops-bot check` end to end: real git repositories, real helm and kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, GitRepo, git

ROOT = Path(__file__).resolve().parents[2]
FLUX = FIXTURES / "gitops-repos" / "fluxcd--flux2-kustomize-helm-example"


def run_check(*args: str | Path, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    cache_args = ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    return subprocess.run(
        [sys.executable, "-m", "bot", "check", *map(str, args), *cache_args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def check_json(*args: str | Path, cache: Path | None = None) -> tuple[int, dict[str, Any]]:
    done = run_check(*args, "--format", "json", cache=cache)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def by_target(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{t['app']}/{t['environment']}": t for t in report["targets"]}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The README's example repository, built by its own generator."""
    dest = tmp_path / "shop"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(dest)],
        check=True,
        capture_output=True,
    )
    return dest


def test_example_change_is_reported_exactly(shop: Path) -> None:
    code, report = check_json(shop, "--base", "main", "--head", "change")
    assert code == 1 and report["state"] == "failure"
    targets = by_target(report)
    assert set(targets) == {"web/staging", "web/production", "shop/production"}
    for name in ("web/staging", "web/production"):
        web = targets[name]
        assert web["counts"] == {
            "created": 0,
            "changed": 1,
            "deleted": 1,
            "unchanged": 2,
            "errors": 1,
            "warnings": 0,
            "new": 1,
            "existing": 0,
        }
        [error] = web["findings"]
        assert error["check"] == "validate" and error["object"] == "Deployment/web/web"
        assert "spec.replicas" in error["message"] and error["file"] == "apps/web/deployment.yaml"
        statuses = {d["key"]: d["status"] for d in web["diffs"] if d["status"] != "unchanged"}
        assert statuses == {"Deployment/web/web": "changed", "ConfigMap/web/web-banner": "deleted"}
    shop_prod = targets["shop/production"]
    assert shop_prod["state"] == "success"
    [changed] = [d for d in shop_prod["diffs"] if d["status"] == "changed"]
    assert changed["key"] == "Deployment/shop/shop"
    assert changed["changed_fields"] == ["spec.template.spec.containers[0].image"]
    assert "ghcr.io/example/shop:2.2.0" in changed["diff"]


def test_markdown_report_and_exit_codes(shop: Path) -> None:
    done = run_check(shop, "--base", "main", "--head", "change")
    assert done.returncode == 1
    assert done.stdout.startswith("<!-- gitops-bot:review -->")
    assert "spec.replicas" in done.stdout and "web-banner" in done.stdout
    assert "targets affected" in done.stderr  # progress goes to stderr
    clean = run_check(shop)  # the working tree (main) as it stands: all created, valid
    assert clean.returncode == 0, clean.stdout[-2000:]


def test_working_tree_counts_every_object_as_created(shop: Path) -> None:
    code, report = check_json(shop)
    assert code == 0
    targets = by_target(report)
    assert len(targets) == 6
    assert targets["api/production"]["counts"]["created"] == 2
    assert targets["shop/staging"]["counts"]["created"] == 3  # deployment, service, cache cm
    assert targets["web/staging"]["counts"]["created"] == 4


def test_change_touching_no_app_passes_and_names_the_files(shop: Path) -> None:
    repo = GitRepo.__new__(GitRepo)
    repo.path = shop
    git(shop, "checkout", "-q", "-b", "docs")
    repo.commit({"README.md": "new docs\n"})
    code, report = check_json(shop, "--base", "main", "--head", "docs")
    assert code == 0 and report["targets"] == [] and report["state"] == "success"
    assert report["uncovered"] == ["README.md"]
    assert "No app reads these changed files: README.md (not part of any app)." in report["notes"]


def test_a_manifest_no_app_reads_is_named_and_warned_about(shop: Path) -> None:
    """Issue 9, wrong result 10: a new manifest outside every app was "No apps affected ✅"."""
    git(shop, "checkout", "-q", "-b", "stray")
    (shop / "apps/worker").mkdir()
    (shop / "apps/worker/deployment.yaml").write_text("kind: Deployment\n")
    (shop / "policies").mkdir()
    (shop / "policies/extra.rego").write_text("package main\n")
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "a worker nobody deploys")
    code, report = check_json(shop, "--base", "main", "--head", "stray")
    assert report["uncovered"] == ["apps/worker/deployment.yaml"]  # rules are not uncovered
    [warning] = report["findings"]
    assert warning["severity"] == "warning" and warning["check"] == "coverage"
    assert warning["message"].startswith("not part of any app: apps/worker/deployment.yaml")
    assert report["state"] == "warning" and code == 0
    done = run_check(shop, "--base", "main", "--head", "stray")
    assert "not part of any app" in done.stdout and "No apps affected" not in done.stdout


def test_an_app_path_that_does_not_exist_is_a_config_error(shop: Path) -> None:
    cfg = shop / ".gitops-bot.yaml"
    cfg.write_text(cfg.read_text().replace("web: {path: apps/web}", "web: {path: apps/wbe}"))
    git(shop, "commit", "-qam", "typo")
    done = run_check(shop)
    assert done.returncode == 2, done.stdout[-500:]
    assert ".gitops-bot.yaml:6: apps.web.path: apps/wbe does not exist" in done.stderr


def test_head_config_is_not_obeyed(shop: Path) -> None:
    """A change that drops an app from the config cannot hide that app's breakage."""
    git(shop, "checkout", "-q", "-b", "sneaky")
    config = (
        (shop / ".gitops-bot.yaml")
        .read_text()
        .replace(
            "  web: {path: apps/web}                        # plain manifests, all environments\n",
            "",
        )
    )
    (shop / ".gitops-bot.yaml").write_text(config)
    deploy = shop / "apps/web/deployment.yaml"
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: lots"))
    git(shop, "commit", "-qam", "hide web")
    code, report = check_json(shop, "--base", "main", "--head", "sneaky")
    assert code == 1
    assert "web/staging" in by_target(report)
    assert any(".gitops-bot.yaml" in n for n in report["notes"])


def test_bad_config_is_a_usage_error_naming_file_line_and_key(shop: Path) -> None:
    cfg = shop / ".gitops-bot.yaml"
    cfg.write_text(cfg.read_text().replace("renderer: kustomize", "renderer: kustomise"))
    done = run_check(shop)
    assert done.returncode == 2
    assert ".gitops-bot.yaml:8" in done.stderr and "renderer" in done.stderr
    assert "Traceback" not in done.stderr


def test_render_cache_is_used_when_inputs_are_unchanged(shop: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _, first = check_json(shop, "--base", "main", "--head", "change", cache=cache)
    git(shop, "checkout", "-q", "change")
    (shop / "README.md").write_text("docs only\n")
    git(shop, "commit", "-qam", "docs")
    _, second = check_json(shop, "--base", "main", "--head", "HEAD", cache=cache)
    assert [t["counts"] for t in second["targets"]] == [t["counts"] for t in first["targets"]]
    assert len(list(cache.glob("*.json"))) >= 6  # base and head render of each target


def test_report_cut_to_the_limit_keeps_full_report(shop: Path, tmp_path: Path) -> None:
    out, full = tmp_path / "report.md", tmp_path / "full.md"
    done = run_check(
        shop,
        "--base",
        "main",
        "--head",
        "change",
        "--max-chars",
        "3000",
        "--output",
        out,
        "--full-report",
        full,
    )
    assert done.returncode == 1
    assert len(out.read_text()) <= 3000
    assert "spec.replicas" in out.read_text()  # findings survive the cut
    assert "web-banner" in full.read_text() and len(full.read_text()) > 3000


FLUX_SKIP = [
    "helm.toolkit.fluxcd.io/v2/HelmRelease",
    "source.toolkit.fluxcd.io/v1/HelmRepository",
    "source.toolkit.fluxcd.io/v1/OCIRepository",
    "kustomize.toolkit.fluxcd.io/v1/Kustomization",
    "source.extensions.fluxcd.io/v1beta1/ArtifactGenerator",
    "cert-manager.io/v1/ClusterIssuer",
    "gateway.networking.k8s.io/v1/Gateway",
    "gateway.envoyproxy.io/v1alpha1/EnvoyProxy",
    "gateway.networking.k8s.io/v1/GatewayClass",
]


@pytest.fixture
def flux(tmp_path: Path) -> Path:
    dest = tmp_path / "flux"
    shutil.copytree(FLUX, dest, symlinks=True)
    repo = GitRepo.__new__(GitRepo)
    repo.path = dest
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.email", "t@example.com")
    git(dest, "config", "user.name", "T")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "flux example")
    return dest


def test_flux_example_custom_kinds_validate_from_the_catalogue(flux: Path) -> None:
    code, report = check_json(flux)
    # the default policies want app.kubernetes.io/name labels, but not on Flux objects
    assert code == 1
    kinds = {
        f["object"].split("/")[0] for t in report["targets"] for f in t["findings"] if f["object"]
    }
    assert {"ClusterIssuer", "Gateway"} <= kinds  # policy findings
    assert not {"HelmRelease", "HelmRepository", "Kustomization"} & kinds
    assert [f for t in report["targets"] for f in t["findings"] if f["check"] == "validate"] == []
    render_errors = [
        f
        for t in report["targets"]
        for f in t["findings"]
        if f["check"] == "render" and f["severity"] == "error"
    ]
    assert render_errors == []  # every kustomization renders offline


def test_flux_example_with_skip_list_passes_and_reports_a_change(flux: Path) -> None:
    skip = "".join(f"    - {k}\n" for k in FLUX_SKIP)
    (flux / ".gitops-bot.yaml").write_text(f"validation:\n  skip_kinds:\n{skip}")
    git(flux, "add", "-A")
    git(flux, "commit", "-qm", "config")
    code, report = check_json(flux)
    assert code == 1  # the bot's default policies want app.kubernetes.io/name labels
    policy = {
        f["message"] for t in report["targets"] for f in t["findings"] if f["check"] == "policy"
    }
    assert "ClusterIssuer/letsencrypt: missing the label app.kubernetes.io/name" in policy
    assert "Namespace/podinfo: missing the label app.kubernetes.io/name" not in policy
    code, report = check_json(flux, "--no-server-policies")
    assert code == 0, [f for t in report["targets"] for f in t["findings"]]
    created = {k: t["counts"]["created"] for k, t in by_target(report).items()}
    assert created["apps/staging"] == 3 and created["apps/production"] == 3
    assert created["infra-controllers/staging"] == 6

    git(flux, "checkout", "-q", "-b", "bump")
    release = flux / "apps/base/podinfo/release.yaml"
    release.write_text(release.read_text().replace("interval: 50m", "interval: 10m"))
    git(flux, "commit", "-qam", "podinfo: reconcile every 10m")
    code, report = check_json(flux, "--base", "main", "--head", "bump", "--no-server-policies")
    assert code == 0
    targets = by_target(report)
    # the Flux Kustomizations that deploy the release, and the HelmRelease itself (its chart
    # comes from a chart repository: listed, not rendered)
    assert set(targets) == {
        "apps/staging",
        "apps/production",
        "podinfo/staging",
        "podinfo/production",
    }
    for name in ("apps/staging", "apps/production"):
        [diff] = [d for d in targets[name]["diffs"] if d["status"] != "unchanged"]
        assert diff["key"] == "HelmRelease/podinfo/podinfo" and diff["status"] == "changed"
        assert diff["changed_fields"] == ["spec.interval"]
    for name in ("podinfo/staging", "podinfo/production"):
        [finding] = targets[name]["findings"]
        assert finding["severity"] == "warning" and finding["message"].startswith(
            "not rendered: remote source https://stefanprodan.github.io/podinfo"
        )


REPLICA_POLICY = """package main

import rego.v1

# Our cluster is small: more than five replicas needs a capacity review first.
deny contains msg if {
\tinput.kind == "Deployment"
\tinput.spec.replicas > %d
\tmsg := sprintf("%%s: at most %d replicas", [input.metadata.name])
}
"""


def test_weakening_repository_policy_does_not_weaken_the_check(shop: Path) -> None:
    policy = shop / "policies" / "replicas.rego"
    policy.parent.mkdir()
    policy.write_text(REPLICA_POLICY % (5, 5))
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "policy: at most 5 replicas")
    git(shop, "checkout", "-q", "-b", "weaken")
    policy.write_text(REPLICA_POLICY % (50, 50))  # the change relaxes the policy ...
    deploy = shop / "apps/web/deployment.yaml"
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: 10"))  # ... and uses it
    git(shop, "commit", "-qam", "web: 10 replicas")

    code, report = check_json(shop, "--base", "main", "--head", "weaken")
    assert code == 1
    web = by_target(report)["web/staging"]
    [denial] = [f for f in web["findings"] if f["check"] == "policy"]
    assert denial["rule"] == "main.deny" and "at most 5 replicas" in denial["message"]
    assert denial["severity"] == "error" and denial["object"] == "Deployment/web/web"
    assert any("edits the repository policies" in n for n in report["notes"])
    assert any("would lose" in n and "at most 5 replicas" in n for n in report["notes"])
    [attachment] = report["attachments"]
    assert "-\tinput.spec.replicas > 5" in attachment["body"]
    assert "+\tinput.spec.replicas > 50" in attachment["body"]


def test_default_policies_flag_a_privileged_change(shop: Path) -> None:
    git(shop, "checkout", "-q", "-b", "priv")
    deploy = shop / "apps/web/deployment.yaml"
    deploy.write_text(
        deploy.read_text()
        .replace(
            "      securityContext:\n        runAsNonRoot: true\n", "      hostNetwork: true\n"
        )
        .replace("nginx-unprivileged:1.27.3", "nginx-unprivileged")
    )
    git(shop, "commit", "-qam", "web: host network")
    code, report = check_json(shop, "--base", "main", "--head", "priv")
    assert code == 1
    rules = {
        (f["rule"], f["message"])
        for f in by_target(report)["web/staging"]["findings"]
        if f["check"] == "policy"
    }
    text = " ".join(m for _, m in rules)
    assert "host" in text.lower() and "tag" in text.lower() and "runAsNonRoot" in text
    assert {r for r, _ in rules} <= {"main.deny", "main.violation", "main.warn"}


def test_commits_main_gained_since_the_branch_are_not_shown_reversed(shop: Path) -> None:
    """Issue 9, wrong result 2: the diff is main's tip -> the merge result, so main's later
    image bump is not part of the change; the report says how far behind the branch is."""
    deploy = shop / "apps/web/deployment.yaml"
    git(shop, "checkout", "-q", "-b", "more", "main")
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: 3"))
    git(shop, "commit", "-qam", "web: 3 replicas")
    git(shop, "checkout", "-q", "main")
    deploy.write_text(deploy.read_text().replace("unprivileged:1.27.3", "unprivileged:1.27.4"))
    git(shop, "commit", "-qam", "web: nginx 1.27.4")
    code, report = check_json(shop, "--base", "main", "--head", "more", "--env", "staging")
    web = by_target(report)["web/staging"]
    [changed] = [d for d in web["diffs"] if d["status"] != "unchanged"]
    assert changed["key"] == "Deployment/web/web"
    assert changed["changed_fields"] == ["spec.replicas"], changed
    assert "1.27.3" not in changed["diff"]  # main's bump is not shown reversed
    assert report["base"] == git(shop, "rev-parse", "main")
    assert report["behind"] == 1 and report["base_ref"] == "main"
    assert any("1 commit behind main" in n for n in report["notes"]), report["notes"]
    assert code == 0, report["status"]


def test_a_head_that_conflicts_with_main_fails_and_says_rebase(shop: Path) -> None:
    deploy = shop / "apps/web/deployment.yaml"
    git(shop, "checkout", "-q", "-b", "clash", "main")
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: 3"))
    git(shop, "commit", "-qam", "web: 3 replicas")
    git(shop, "checkout", "-q", "main")
    deploy.write_text(deploy.read_text().replace("replicas: 2", "replicas: 1"))
    git(shop, "commit", "-qam", "web: 1 replica")
    code, report = check_json(shop, "--base", "main", "--head", "clash")
    assert code == 1 and report["state"] == "failure"
    [finding] = report["findings"]
    assert finding["check"] == "merge" and finding["severity"] == "error"
    assert finding["message"].startswith("conflicts with main: rebase")
    assert "apps/web/deployment.yaml" in finding["message"]
    done = run_check(shop, "--base", "main", "--head", "clash")
    assert done.returncode == 1 and "conflicts with main: rebase" in done.stdout
    assert "Traceback" not in done.stderr


def _with_replica_policy(shop: Path, limit: int, replicas: int, extra: dict[str, bytes]) -> None:
    (shop / "policies").mkdir()
    (shop / "policies" / "replicas.rego").write_text(REPLICA_POLICY % (limit, limit))
    for name, data in extra.items():
        (shop / name).parent.mkdir(parents=True, exist_ok=True)
        (shop / name).write_bytes(data)
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "policies")
    git(shop, "checkout", "-q", "-b", "wide")
    deploy = shop / "apps/web/deployment.yaml"
    deploy.write_text(deploy.read_text().replace("replicas: 2", f"replicas: {replicas}"))
    git(shop, "commit", "-qam", "web: more replicas")


def test_a_big_file_in_the_policy_folder_does_not_switch_the_policies_off(shop: Path) -> None:
    """Issue 9, wrong result 4: a file over 4 MB under policies/ silently stopped every
    repository policy (exit 1 became 0). Files that are not policies are not read."""
    _with_replica_policy(shop, 5, 10, {"policies/assets/diagram.png": b"\0" * (5 << 20)})
    code, report = check_json(shop, "--base", "main", "--head", "wide", "--env", "staging")
    assert code == 1
    web = by_target(report)["web/staging"]
    assert any("at most 5 replicas" in f["message"] for f in web["findings"])


def test_a_policy_folder_over_its_limit_is_an_error_naming_file_and_limit(shop: Path) -> None:
    big = b"package main\n" + b"# padding\n" * (500 << 10)  # a 5 MB policy module
    _with_replica_policy(shop, 50, 3, {"policies/aaa_big.rego": big})
    code, report = check_json(shop, "--base", "main", "--head", "wide", "--env", "staging")
    assert code == 1, report["status"]
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    [error] = [f for f in errors if "MAX_POLICY_BYTES" in f["message"]]
    assert error["check"] == "policy" and error["file"] == "policies/aaa_big.rego"
    assert (
        "the repository policies were not evaluated: policies/aaa_big.rego brings"
        in error["message"]
        and str(4 * 1024 * 1024) in error["message"]
    )


def test_a_policy_only_change_shows_what_newly_fails_in_every_app(shop: Path) -> None:
    """Issue 9, wrong result 7: "max replicas 5 -> 1" alone said "No apps affected" and
    "the new policies give the same findings"; every app is judged with both policy sets."""
    policy = shop / "policies" / "replicas.rego"
    policy.parent.mkdir()
    policy.write_text(REPLICA_POLICY % (5, 5))
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "policy: at most 5 replicas")
    git(shop, "checkout", "-q", "-b", "tighten")
    policy.write_text(REPLICA_POLICY % (1, 1))
    git(shop, "commit", "-qam", "policy: at most 1 replica")
    code, report = check_json(shop, "--base", "main", "--head", "tighten")
    assert report["targets"] == [] and code == 0  # judged by main's policies: nothing changes
    impact = {i["target"]: i for i in report["policy_impact"]}
    assert impact["web/staging"]["verdict"] == "newly fails"
    [added] = impact["web/staging"]["added"]
    assert added["message"] == "web: at most 1 replicas" and added["object"] == "Deployment/web/web"
    assert impact["web/production"]["verdict"] == "newly fails"
    assert not any("same findings" in n for n in report["notes"])
    done = run_check(shop, "--base", "main", "--head", "tighten")
    assert "With the new policies, web/staging newly fails (1 new finding(s))." in done.stdout
    assert "No apps affected by this change" not in done.stdout


NAMESPACE = """apiVersion: v1
kind: Namespace
metadata: {name: data, labels: {app.kubernetes.io/name: data}}
"""
PVC = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: db, namespace: data, labels: {app.kubernetes.io/name: data}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""


def test_check_gives_the_services_gate_for_destructive_changes(tmp_path: Path) -> None:
    """Issue 9, wrong results 8 and 5: deleting a Namespace and a PVC exited 0 with
    "1 more needed" in a table; now the default policies deny it (exit 1, the dangerous
    change named) until the platform team approves, by slug or by org/slug."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"data/ns.yaml": NAMESPACE, "data/pvc.yaml": PVC}, "data app")
    repo.checkout("drop", create=True)
    repo.commit({"data/ns.yaml": None, "data/pvc.yaml": None}, "drop the data app")
    args = (repo.path, "--base", "main", "--head", "drop")
    done = run_check(*args, "--format", "json")
    assert done.returncode == 1, done.stdout[-1000:]
    report = json.loads(done.stdout)
    assert report["verdict"] == "failed" and report["approvals_enforced"] is True
    denials = sorted(f["message"] for f in report["findings"] if f["severity"] == "error")
    assert denials == [
        "data/default: Namespace/data is deleted: every object in the namespace is deleted "
        "with it; needs an approval from the platform team",
        "data/default: PersistentVolumeClaim/data/db is deleted: the volume's data is lost "
        "(with the default Delete reclaim policy); needs an approval from the platform team",
    ]
    [needed] = report["approvals"]
    assert needed["group"] == "platform" and needed["satisfied"] is False
    assert run_check(*args, "--approved-by", "carol").returncode == 1  # not in the team
    for member in ("carol:platform", "carol:acme/platform", "carol:sre,acme/platform"):
        done = run_check(*args, "--approved-by", member, "--format", "json")
        assert done.returncode == 0, (member, done.stdout[-500:])
        assert json.loads(done.stdout)["verdict"] == "passed"
    help_text = " ".join(run_check("--help").stdout.split())
    assert "3 the checks pass but approvals the policies require are missing" in help_text


def test_environment_approvals_in_the_config_are_honoured(tmp_path: Path) -> None:
    """Issue 9, wrong result 6: `environments.<env>.approvals` passed the schema and was
    ignored."""
    repo = GitRepo(tmp_path / "repo")
    cm = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: n\n"
        "  labels: {app.kubernetes.io/name: c}\ndata: {a: %s}\n"
    )
    repo.commit(
        {
            ".gitops-bot.yaml": "environments:\n  staging:\n"
            "    approvals: {count: 1, groups: [sre]}\n"
            "apps:\n  web: {path: web}\n",
            "web/cm.yaml": cm % "b",
        },
        "web",
    )
    repo.checkout("edit", create=True)
    repo.commit({"web/cm.yaml": cm % "c"}, "edit")
    done = run_check(repo.path, "--base", "main", "--head", "edit", "--format", "json")
    assert done.returncode == 3, done.stderr[-500:]
    [needed] = json.loads(done.stdout)["approvals"]
    assert (needed["group"], needed["count"]) == ("sre", 1)
    assert "staging" in needed["reason"]
    done = run_check(repo.path, "--base", "main", "--head", "edit", "--approved-by", "dana:sre")
    assert done.returncode == 0, done.stdout[-800:]
