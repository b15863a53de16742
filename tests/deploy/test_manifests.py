"""Static checks of deploy/kubernetes beyond the default policies (rendered with real kubectl)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
CREDENTIALS = "gitops-bot-credentials"


def build(tools, folder: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [tools.kubectl, "kustomize", str(folder)], check=True, capture_output=True, text=True
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=["default", "scale-out"])
def objects(request, tools) -> list[dict[str, Any]]:
    return build(tools, KUBE if request.param == "default" else KUBE / "scale-out")


def pods(objects):
    for o in objects:
        if o["kind"] == "Deployment":
            yield o, o["spec"]["template"]["spec"]


def by(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_no_secret_values_in_git(objects):
    assert not [o for o in objects if o["kind"] in ("Secret", "SealedSecret")]
    text = "\n".join(p.read_text() for p in KUBE.rglob("*.yaml"))
    assert not re.search(r"ghp_|glpat-|BEGIN [A-Z ]*PRIVATE KEY|://[^/\s:@]+:[^/\s@]+@", text)


def test_every_object_and_pod_is_labelled(objects):
    for o in objects:
        assert o["metadata"]["labels"]["app.kubernetes.io/name"] == "gitops-bot", o["kind"]
    for _, spec in pods(objects):
        assert spec["containers"]


def test_pods_are_locked_down(objects):
    for dep, spec in pods(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert re.fullmatch(r"ghcr\.io/gitops-bot/gitops-bot:\d+\.\d+\.\d+", c["image"])
            assert {"requests", "limits"} <= set(c["resources"])
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert {"/var/lib/gitops-bot", "/tmp"} <= mounts
            refs = [e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e]
            assert refs == [CREDENTIALS]


def test_commands_probes_and_service_accounts(objects):
    web = by(objects, "Deployment", "gitops-bot-web")["spec"]["template"]["spec"]
    worker = by(objects, "Deployment", "gitops-bot-worker")["spec"]["template"]["spec"]
    assert web["containers"][0]["args"][0] == "web"
    assert worker["containers"][0]["args"][0] == "worker"
    assert web["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["automountServiceAccountToken"] is False  # the intake never talks to the API
    assert by(objects, "Deployment", "gitops-bot-web")["spec"]["replicas"] >= 2


def test_rbac_is_namespaced_and_narrow(objects):
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    roles = [o for o in objects if o["kind"] == "Role"]
    assert roles
    for role in roles:
        assert role["metadata"]["namespace"] not in ("gitops-bot", "kube-system")
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            assert not {"secrets", "roles", "rolebindings"} & set(rule["resources"])
        binding = by(objects, "RoleBinding", role["metadata"]["name"])
        assert binding["metadata"]["namespace"] == role["metadata"]["namespace"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "gitops-bot-worker", "namespace": "gitops-bot"}
        ]


def test_network_policies(objects):
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = by(objects, "NetworkPolicy", "gitops-bot-default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    ingress = [p for p in policies if "ingress" in p["spec"]]
    assert len(ingress) == 1
    rule = ingress[0]["spec"]["ingress"][0]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    ports = {
        p["port"]
        for pol in policies
        for r in pol["spec"].get("egress", [])
        for p in r.get("ports", [])
    }
    assert {53, 443} <= ports


def test_default_keeps_sqlite_on_a_volume_and_scale_out_uses_the_secret(tools):
    default, scale = build(tools, KUBE), build(tools, KUBE / "scale-out")
    assert by(default, "PersistentVolumeClaim", "gitops-bot-data")
    assert not [o for o in scale if o["kind"] == "PersistentVolumeClaim"]
    for dep, spec in pods(scale):
        assert dep["spec"]["replicas"] >= 3
        assert "podAffinity" not in spec.get("affinity", {})
        env = {e["name"]: e["valueFrom"] for e in spec["containers"][0]["env"]}
        for key in ("GITOPS_BOT_DATABASE_URL", "GITOPS_BOT_QUEUE_URL"):
            assert env[key] == {"secretKeyRef": {"name": CREDENTIALS, "key": key}}
        data = next(v for v in spec["volumes"] if v["name"] == "data")
        assert set(data) == {"name", "emptyDir"}
    ports = {
        p["port"]
        for o in scale
        if o["kind"] == "NetworkPolicy"
        for r in o["spec"].get("egress", [])
        for p in r.get("ports", [])
    }
    assert {5432, 6379} <= ports
    assert by(scale, "PodDisruptionBudget", "gitops-bot-worker")


def test_the_worker_knows_the_namespace_it_runs_in(tools):
    """The reviews protect the bot's own namespace (docs/security.md#case-75): the worker
    gets it from the pod, in both modes."""
    for folder in (KUBE, KUBE / "scale-out"):
        [worker] = [
            spec
            for dep, spec in pods(build(tools, folder))
            if dep["metadata"]["name"] == "gitops-bot-worker"
        ]
        env = {e["name"]: e.get("valueFrom") for e in worker["containers"][0]["env"]}
        assert env["GITOPS_BOT_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
