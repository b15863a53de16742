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
    return subprocess.run([sys.executable, "-m", "bot", "check", *map(str, args), *cache_args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


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
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_repo.py"), str(dest)],
                   check=True, capture_output=True)
    return dest


def test_example_change_is_reported_exactly(shop: Path) -> None:
    code, report = check_json(shop, "--base", "main", "--head", "change")
    assert code == 1 and report["state"] == "failure"
    targets = by_target(report)
    assert set(targets) == {"web/staging", "web/production", "shop/production"}
    for name in ("web/staging", "web/production"):
        web = targets[name]
        assert web["counts"] == {"created": 0, "changed": 1, "deleted": 1, "unchanged": 2,
                                 "errors": 1, "warnings": 0}
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


def test_change_touching_no_app_passes(shop: Path) -> None:
    repo = GitRepo.__new__(GitRepo)
    repo.path = shop
    git(shop, "checkout", "-q", "-b", "docs")
    repo.commit({"README.md": "new docs\n"})
    code, report = check_json(shop, "--base", "main", "--head", "docs")
    assert code == 0 and report["targets"] == []
    assert "No apps affected by this change." in report["notes"]


def test_head_config_is_not_obeyed(shop: Path) -> None:
    """A change that drops an app from the config cannot hide that app's breakage."""
    git(shop, "checkout", "-q", "-b", "sneaky")
    config = (shop / ".gitops-bot.yaml").read_text().replace(
        "  web: {path: apps/web}                        # plain manifests, all environments\n",
        "")
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
    done = run_check(shop, "--base", "main", "--head", "change", "--max-chars", "3000",
                     "--output", out, "--full-report", full)
    assert done.returncode == 1
    assert len(out.read_text()) <= 3000
    assert "spec.replicas" in out.read_text()  # findings survive the cut
    assert "web-banner" in full.read_text() and len(full.read_text()) > 3000


FLUX_SKIP = ["helm.toolkit.fluxcd.io/v2/HelmRelease",
             "source.toolkit.fluxcd.io/v1/HelmRepository",
             "source.toolkit.fluxcd.io/v1/OCIRepository",
             "kustomize.toolkit.fluxcd.io/v1/Kustomization",
             "source.extensions.fluxcd.io/v1beta1/ArtifactGenerator",
             "cert-manager.io/v1/ClusterIssuer", "gateway.networking.k8s.io/v1/Gateway",
             "gateway.envoyproxy.io/v1alpha1/EnvoyProxy",
             "gateway.networking.k8s.io/v1/GatewayClass"]


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
    assert code == 1  # the bot's default policies want app.kubernetes.io/name labels
    kinds = {f["object"].split("/")[0] for t in report["targets"] for f in t["findings"]
             if f["object"]}
    assert {"HelmRelease", "HelmRepository", "Kustomization"} <= kinds  # policy findings
    assert [f for t in report["targets"] for f in t["findings"] if f["check"] == "validate"] \
        == []
    render_errors = [f for t in report["targets"] for f in t["findings"]
                     if f["check"] == "render" and f["severity"] == "error"]
    assert render_errors == []  # every kustomization renders offline


def test_flux_example_with_skip_list_passes_and_reports_a_change(flux: Path) -> None:
    skip = "".join(f"    - {k}\n" for k in FLUX_SKIP)
    (flux / ".gitops-bot.yaml").write_text(f"validation:\n  skip_kinds:\n{skip}")
    git(flux, "add", "-A")
    git(flux, "commit", "-qm", "config")
    code, report = check_json(flux)
    assert code == 1  # the bot's default policies want app.kubernetes.io/name labels
    policy = {f["message"] for t in report["targets"] for f in t["findings"]
              if f["check"] == "policy"}
    assert "Namespace/podinfo: missing the label app.kubernetes.io/name" in policy
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
    assert set(targets) == {"apps/staging", "apps/production", "podinfo/staging",
                            "podinfo/production"}
    for name in ("apps/staging", "apps/production"):
        [diff] = [d for d in targets[name]["diffs"] if d["status"] != "unchanged"]
        assert diff["key"] == "HelmRelease/podinfo/podinfo" and diff["status"] == "changed"
        assert diff["changed_fields"] == ["spec.interval"]
    for name in ("podinfo/staging", "podinfo/production"):
        [finding] = targets[name]["findings"]
        assert finding["severity"] == "warning" and finding["message"].startswith(
            "not rendered: remote source https://stefanprodan.github.io/podinfo")


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
    deploy.write_text(deploy.read_text().replace(
        "      securityContext:\n        runAsNonRoot: true\n",
        "      hostNetwork: true\n").replace("nginx-unprivileged:1.27.3", "nginx-unprivileged"))
    git(shop, "commit", "-qam", "web: host network")
    code, report = check_json(shop, "--base", "main", "--head", "priv")
    assert code == 1
    rules = {(f["rule"], f["message"]) for f in by_target(report)["web/staging"]["findings"]
             if f["check"] == "policy"}
    text = " ".join(m for _, m in rules)
    assert "host" in text.lower() and "tag" in text.lower() and "runAsNonRoot" in text
    assert {r for r, _ in rules} <= {"main.deny", "main.violation", "main.warn"}
