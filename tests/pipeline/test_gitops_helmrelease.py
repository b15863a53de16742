"""A Flux HelmRelease whose chart is in the repository is rendered as helm-controller would:
the chart with `valuesFrom` ConfigMaps and `spec.values` (after the kustomize patches of the
cluster's overlay), and a change to its values shows the rendered Deployment diff.

The repository is fluxcd/flux2-kustomize-helm-example with stefanprodan/podinfo's chart
copied in (both from the corpus) and the HelmRelease pointed at it through the bootstrap
GitRepository; the files this test adds are written here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import yaml

from bot.model import DiffStatus
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.repo.options import deep_merge
from bot.tools import Tools
from tests.conftest import git
from tests.corpus_changes import CORPUS, build_repo

RELEASE = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 50m
  releaseName: podinfo
  chart:
    spec:
      chart: ./charts/podinfo
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
  valuesFrom:
    - kind: ConfigMap
      name: podinfo-defaults
  values:
    redis:
      enabled: true
      repository: public.ecr.aws/docker/library/redis
      tag: 8.6.2
"""
DEFAULTS = """apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-defaults
  namespace: podinfo
data:
  values.yaml: |
    ui:
      message: from the ConfigMap
    replicaCount: 1
"""


def flux_repo_with_chart(dest: Path) -> Path:
    repo = build_repo("flux2-kustomize-helm-example", dest)
    shutil.copytree(
        CORPUS / "stefanprodan--podinfo" / "charts" / "podinfo", repo / "charts" / "podinfo"
    )
    (repo / "apps/base/podinfo/release.yaml").write_text(RELEASE)
    (repo / "apps/base/podinfo/defaults.yaml").write_text(DEFAULTS)
    kust = repo / "apps/base/podinfo/kustomization.yaml"
    kust.write_text(
        kust.read_text().replace("  - release.yaml\n", "  - release.yaml\n  - defaults.yaml\n")
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "podinfo chart from this repository")
    return repo


def helm_template(tools: Tools, repo: Path, values: dict[str, object], tmp: Path) -> list[dict]:
    """What helm-controller renders: the chart with the merged values, by the real helm."""
    path = tmp / "merged-values.yaml"
    path.write_text(yaml.safe_dump(values))
    assert tools.helm
    out = subprocess.run(
        [
            tools.helm,
            "template",
            "podinfo",
            str(repo / "charts/podinfo"),
            "--namespace",
            "podinfo",
            "--kube-version",
            "1.35",
            "--include-crds",
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def is_test(body: Mapping[str, Any]) -> bool:
    """Helm test hooks (random names each render; `helm test` runs them, not installs)."""
    notes = (body.get("metadata") or {}).get("annotations") or {}
    return "test" in str(notes.get("helm.sh/hook", ""))


def test_helmrelease_values_change_shows_the_rendered_deployment_diff(
    tools: Tools, tmp_path: Path
) -> None:
    repo = flux_repo_with_chart(tmp_path / "repo")
    git(repo, "checkout", "-q", "-b", "more-replicas")
    patch = repo / "apps/production/podinfo-values.yaml"
    patch.write_text(patch.read_text().replace("  values:\n", "  values:\n    replicaCount: 3\n"))
    git(repo, "commit", "-qam", "production podinfo runs 3 replicas")
    options = ReviewOptions(
        tools=tools,
        cache_dir=tmp_path / "cache",
        validator="embedded",
        enforce_approvals=False,
        server_policies=None,
    )
    result = review_change(repo, "main", "more-replicas", options)
    by_id = {t.target.id: t for t in result.targets}
    release = by_id["podinfo/production"]
    assert release.target.renderer == "helm" and release.target.path == "charts/podinfo"
    changed = [d for d in release.diffs if d.status is DiffStatus.CHANGED]
    assert [(str(d.key), d.changed_fields) for d in changed] == [
        ("Deployment/podinfo/podinfo", ("spec.replicas",))
    ]
    assert "-  replicas: 1" in changed[0].diff and "+  replicas: 3" in changed[0].diff
    # the overlay that holds the HelmRelease shows the values text change as well
    assert [
        str(d.key) for d in by_id["apps/production"].diffs if d.status is DiffStatus.CHANGED
    ] == ["HelmRelease/podinfo/podinfo"]
    assert "podinfo/staging" not in by_id  # staging's values did not change


def test_helmrelease_renders_what_helm_renders_with_the_merged_values(
    tools: Tools, tmp_path: Path
) -> None:
    from bot.pipeline.listing import list_targets
    from bot.render import render_target

    repo = flux_repo_with_chart(tmp_path / "repo")
    [target] = [t for t in list_targets(repo, tools).targets if t.id == "podinfo/staging"]
    assert "valuesFrom" not in target.options  # merged when planned
    rendered = render_target(repo, target, tools)
    assert rendered.ok, rendered.findings
    release = yaml.safe_load(RELEASE)["spec"]["values"]
    staging = yaml.safe_load((repo / "apps/staging/podinfo-values.yaml").read_text())
    values = deep_merge(
        deep_merge(yaml.safe_load(yaml.safe_load(DEFAULTS)["data"]["values.yaml"]), release),
        staging["spec"]["values"],
    )
    expected = [d for d in helm_template(tools, repo, values, tmp_path) if not is_test(d)]
    ours = [m.body for m in rendered.manifests if not is_test(m.body)]
    assert len(ours) == len(expected) == 5  # Deployment + Service of each, redis ConfigMap
    assert ours == expected
    deployment = next(m.body for m in rendered.manifests if m.kind == "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "PODINFO_UI_MESSAGE", "value": "from the ConfigMap"} in env
