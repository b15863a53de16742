"""Issue 10 in a real review (git, helm, kubectl, regopy): only what the change introduces
blocks; renders without noise (Helm test hooks, random names, identical renders,
generateName); dangerous changes reach the change policies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.model import DiffStatus, ReviewResult, Severity, State
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.tools import Tools
from tests.conftest import GitRepo

LABELLED = "labels: {app.kubernetes.io/name: web}"


def container(image: str) -> str:
    return (
        "      containers:\n      - name: web\n        image: " + image + "\n"
        "        securityContext: {runAsNonRoot: true}\n"
        "        resources:\n          requests: {cpu: 10m, memory: 16Mi}\n"
        "          limits: {cpu: 100m, memory: 32Mi}\n"
    )


def deployment(image: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  "
        + LABELLED
        + "\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n    spec:\n" + container(image)
    )


# An untouched Service with an old problem: no app.kubernetes.io/name label.
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def review(repo: GitRepo, tools: Tools, tmp: Path, head: str = "HEAD") -> ReviewResult:
    options = ReviewOptions(
        tools=tools, cache_dir=tmp / "cache", enforce_approvals=False, parallelism=1
    )
    return review_change(repo.path, "main", head, options)


def web_repo(make_repo: Callable[..., GitRepo], config: str = "") -> GitRepo:
    files = {
        "apps/web/deployment.yaml": deployment("ghcr.io/example/web:1.0.0"),
        "apps/web/service.yaml": SERVICE,
    }
    if config:
        files[".gitops-bot.yaml"] = config
    repo = make_repo(files)
    repo.checkout("change", create=True)
    return repo


def test_an_old_problem_does_not_block_an_image_bump(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    repo = web_repo(make_repo)
    repo.commit({"apps/web/deployment.yaml": deployment("ghcr.io/example/web:1.0.1")})
    result = review(repo, tools, tmp_path)
    [target] = result.targets
    [old] = target.findings
    assert (old.severity, old.object and old.object.kind, old.new) == (
        Severity.ERROR,
        "Service",
        False,
    )
    assert "missing the label app.kubernetes.io/name" in old.message
    assert target.state is State.SUCCESS and result.state is State.SUCCESS
    # the second review of the same change reads both renders from the cache: same verdict
    again = review(repo, tools, tmp_path)
    assert [(f.message, f.new) for f in again.targets[0].findings] == [(old.message, False)]


def test_a_new_problem_blocks_and_is_marked_new(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    repo = web_repo(make_repo)
    repo.commit({"apps/web/deployment.yaml": deployment("ghcr.io/example/web:latest")})
    result = review(repo, tools, tmp_path)
    marked = {(f.message.split(":")[0], f.new) for f in result.targets[0].findings}
    assert ("Deployment/web", True) in marked and ("Service/web", False) in marked
    assert result.state is State.FAILURE


def test_block_all_makes_every_error_decide(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    repo = web_repo(make_repo, "apps:\n  web: {path: apps/web}\nfindings: {block: all}\n")
    repo.commit({"apps/web/deployment.yaml": deployment("ghcr.io/example/web:1.0.1")})
    result = review(repo, tools, tmp_path)
    assert [f.new for f in result.targets[0].findings] == [False]
    assert result.state is State.FAILURE


CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    "charts/web/values.yaml": "tag: 1.0.0\n",
    "charts/web/values-prod.yaml": "tag: 1.0.0\n",
    "charts/web/templates/deployment.yaml": deployment("ghcr.io/example/web:{{ .Values.tag }}"),
    # the test hook gets a random name on every render, as many charts do
    "charts/web/templates/tests/test-connection.yaml": """apiVersion: v1
kind: Pod
metadata:
  name: "web-test-{{ randAlphaNum 5 | lower }}"
  labels: {app.kubernetes.io/name: web}
  annotations: {"helm.sh/hook": test}
spec:
  restartPolicy: Never
  containers:
  - name: wget
    image: busybox:1.36
    securityContext: {runAsNonRoot: true}
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 32Mi}}
""",
}
CHART_CONFIG = """environments:
  staging: {}
  production: {}
apps:
  web:
    path: charts/web
    renderer: helm
    environments:
      staging: {}
      production: {values: [charts/web/values-prod.yaml]}
"""


def chart_repo(make_repo: Callable[..., GitRepo], hooks: str = "") -> GitRepo:
    repo = make_repo({**CHART, ".gitops-bot.yaml": CHART_CONFIG + hooks})
    repo.checkout("change", create=True)
    return repo


def test_helm_test_hooks_are_left_out_and_an_identical_render_is_unchanged(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    repo = chart_repo(make_repo)
    # staging's tag changes; production pins its own tag, so it renders identically
    repo.commit({"charts/web/values.yaml": "tag: 1.0.1\n"})
    result = review(repo, tools, tmp_path)
    by_env = {t.target.environment: t for t in result.targets}
    assert all(d.key.kind != "Pod" for t in result.targets for d in t.diffs)
    staging, production = by_env["staging"], by_env["production"]
    assert [(d.key.kind, d.status) for d in staging.diffs] == [("Deployment", DiffStatus.CHANGED)]
    assert [d.status for d in production.diffs] == [DiffStatus.UNCHANGED]
    assert not any("production" in a.reason for a in result.approvals)


def test_included_hooks_with_random_names_are_paired_not_created_and_deleted(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    repo = chart_repo(make_repo, "render: {helm: {hooks: include}}\n")
    repo.commit({"charts/web/values.yaml": "tag: 1.0.1\n"})
    result = review(repo, tools, tmp_path)
    production = next(t for t in result.targets if t.target.environment == "production")
    pods = [d for d in production.diffs if d.key.kind == "Pod"]
    assert [(d.status, d.renamed_from is not None) for d in pods] == [(DiffStatus.UNCHANGED, True)]
    assert all(d.status is DiffStatus.UNCHANGED for d in production.diffs)
    assert not any("production" in a.reason for a in result.approvals)


def test_generate_name_objects_are_accepted(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    repo = web_repo(make_repo)
    job = """apiVersion: batch/v1
kind: Job
metadata:
  generateName: web-migrate-
  labels: {app.kubernetes.io/name: web}
  annotations: {argocd.argoproj.io/hook: PreSync}
spec:
  template:
    spec:
      restartPolicy: Never
""" + container("ghcr.io/example/web:1.0.0")
    repo.commit({"apps/web/migrate.yaml": job})
    result = review(repo, tools, tmp_path)
    [target] = result.targets
    assert [f.message for f in target.findings if f.new] == []
    [created] = [d for d in target.diffs if d.status is DiffStatus.CREATED]
    assert created.key.kind == "Job" and created.key.name.startswith("web-migrate-~")


def test_a_deleted_volume_claim_reaches_the_change_policies(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    pvc = (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  "
        f"{LABELLED}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: "
        "{requests: {storage: 1Gi}}\n"
    )
    repo = make_repo(
        {
            "apps/web/deployment.yaml": deployment("ghcr.io/example/web:1.0.0"),
            "apps/web/pvc.yaml": pvc,
        }
    )
    repo.checkout("change", create=True)
    repo.commit({"apps/web/pvc.yaml": None})
    result = review(repo, tools, tmp_path)
    [target] = result.targets
    assert [(d.kind, d.object and d.object.name) for d in target.dangers] == [
        ("delete", "data"),
        ("prune", None),
    ]
    [denial] = [f for f in result.findings if f.rule == "gitops.change.deny_dangerous"]
    assert denial.severity is Severity.ERROR and denial.new
    assert "PersistentVolumeClaim/data is deleted" in denial.message
    assert result.state is State.FAILURE


def test_values_a_chart_makes_up_on_every_render_are_not_changes(
    make_repo: Callable[..., GitRepo], tools: Tools, tmp_path: Path
) -> None:
    # like grafana's chart: a random admin password and a checksum of it on the Deployment
    secret = """apiVersion: v1
kind: Secret
metadata:
  name: web
  labels: {app.kubernetes.io/name: web}
data:
  password: {{ randAlphaNum 20 | b64enc | quote }}
"""
    deploy = deployment("ghcr.io/example/web:{{ .Values.tag }}").replace(
        "    metadata: {labels: {app: web}}\n",
        "    metadata:\n      labels: {app: web}\n      annotations:\n"
        '        checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . '
        "| sha256sum }}\n",
    )
    repo = make_repo(
        {
            "charts/web/Chart.yaml": CHART["charts/web/Chart.yaml"],
            "charts/web/values.yaml": "tag: 1.0.0\n",
            "charts/web/templates/deployment.yaml": deploy,
            "charts/web/templates/secret.yaml": secret,
        }
    )
    repo.checkout("change", create=True)
    repo.commit({"charts/web/values.yaml": "tag: 1.0.1\n"})
    result = review(repo, tools, tmp_path)
    [target] = result.targets
    changed = [
        (d.key.kind, d.changed_fields) for d in target.diffs if d.status is not DiffStatus.UNCHANGED
    ]
    assert changed == [("Deployment", ("spec.template.spec.containers[0].image",))]
