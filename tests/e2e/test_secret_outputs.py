"""Secret values never leave through any output: seeded in every shape a Secret can take
(and a few it should not), they appear in no report, JSON or message, in any spelling
(docs/security.md#secrets-in-outputs)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from tests.conftest import GitRepo

ROOT = Path(__file__).resolve().parents[2]
SEEDS = {
    "scalar": "TOPSECRETBLOBVALUE",
    "list": "SuperSecretTok3n",
    "number": "98765432",
    "misspelled": "MisspelledSecret77",
    "listed": "ListNestedSecret9",
    "duplicate": "DuplicateDocSecret5",
    "applied": "LastAppliedSecret3",
    "literal": "KustomizeLiteral42",
    "policy": "PolicyQuotedSecret6",
    "meta": "MetadataSecretField8",
}


def forms(value: str) -> list[str]:
    raw = value.encode()
    return [value, base64.b64encode(raw).decode().rstrip("="), raw.hex(), quote(value, safe="")]


SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: app}}\n"

HEAD_FILES = {
    "app/scalar.yaml": SECRET.format(name="scalar") + f"data: '{SEEDS['scalar']}'\n",
    "app/list.yaml": SECRET.format(name="list") + f"stringData:\n  token: ['{SEEDS['list']}']\n",
    "app/number.yaml": SECRET.format(name="number") + f"stringData:\n  pin: {SEEDS['number']}\n",
    "app/misspelled.yaml": SECRET.format(name="misspelled")
    + f"stringdata:\n  api: {SEEDS['misspelled']}\n",
    "app/meta.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: meta\n  namespace: app\n"
    f"  clusterName: {SEEDS['meta']}\nstringData: {{a: b}}\n",
    "app/listed.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n"
    "  metadata: {name: listed, namespace: app}\n"
    f"  data: {{k: {base64.b64encode(SEEDS['listed'].encode()).decode()}}}\n"
    "  bogus: 1\n",
    "app/dup.yaml": "\n---\n".join(
        [SECRET.format(name="dup") + f"stringData: {{pw: {SEEDS['duplicate']}}}\n"] * 2
    ),
    "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: app\n"
    "  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: "
    f'\'{{"data": "{SEEDS["applied"]}"}}\'\ndata: {{a: changed}}\n',
    "app/policy.yaml": SECRET.format(name="policy") + f"stringData: {{pw: {SEEDS['policy']}}}\n",
    "kust/kustomization.yaml": "secretGenerator:\n- name: gen\n  namespace: app\n  literals:\n"
    f"  - password:{SEEDS['literal']}\n",
}

# A policy the pull request adds: its findings are shown (what the new policies would do),
# and they quote every Secret's values.
LEAK = """package main
import rego.v1
deny contains msg if {
  input.kind == "Secret"
  values := [object.get(input, "data", {}), object.get(input, "stringData", {})]
  msg := concat(" ", ["new rule sees", json.marshal(values)])
}
"""

POLICY = """package main
import rego.v1
deny contains sprintf("Secret %v holds %v", [input.metadata.name, input.stringData]) if {
  input.kind == "Secret"
  input.metadata.name == "policy"
}
"""


def test_no_seeded_secret_value_in_any_check_output(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    base = repo.commit(
        {
            "policies/quote.rego": POLICY,
            "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: app}\n"
            "data: {a: b}\n",
            "kust/kustomization.yaml": "resources: []\n",
        },
        "base",
    )
    head = repo.commit({**HEAD_FILES, "policies/leak.rego": LEAK}, "secrets in every shape")
    outputs = []
    for fmt in ("markdown", "json"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "check",
                str(repo.path),
                "--base",
                base,
                "--head",
                head,
                "--no-cache",
                "--format",
                fmt,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert done.returncode == 1, done.stderr
        outputs += [done.stdout, done.stderr]
    report = json.loads(outputs[2])
    text = "\n".join(outputs)
    for name, value in SEEDS.items():
        for form in forms(value):
            assert form not in text, f"{name} leaked as {form}"
    messages = [f["message"] for t in report["targets"] for f in t["findings"]]
    # the problems are still reported, by path and expected type
    assert any("data: a value of type string is not of type 'object'" in m for m in messages)
    assert any("stringData.token" in m for m in messages)
    assert any("additional property 'stringdata'" in m for m in messages)
    assert any("Secret policy holds" in m for m in messages)
    assert any("invalid literal source ***" in m for m in messages), messages


def test_no_seeded_secret_value_in_any_service_output(tmp_path: Path) -> None:
    """The same seeds through the service: the comment, the commit statuses, the check run
    and its annotations, the dashboard page, the JSON API, the stored report and the logs
    (issue 9, wrong result 3)."""
    import logging
    import urllib.request

    from bot.config import Secret
    from bot.logs import JsonFormatter
    from tests.conftest import git
    from tests.e2e.loop import REPO, pr_payload, running_loop
    from tests.web.dashboard.seed import DASH_TOKEN

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep(logging.DEBUG)
    keep.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        with running_loop(tmp_path, app=True, dashboard_token=Secret(DASH_TOKEN)) as loop:
            config = loop.repo / ".gitops-bot.yaml"
            git(loop.repo, "checkout", "-q", "main")
            config.write_text(
                config.read_text() + "  app: {path: app}\n"
                "  kust: {path: kust, renderer: kustomize}\n"
            )
            for rel, text in {
                "policies/quote.rego": POLICY,
                "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: "
                "{name: cm, namespace: app}\ndata: {a: b}\n",
                "kust/kustomization.yaml": "resources: []\n",
            }.items():
                (loop.repo / rel).parent.mkdir(parents=True, exist_ok=True)
                (loop.repo / rel).write_text(text)
            git(loop.repo, "add", "-A")
            git(loop.repo, "commit", "-qm", "secret-shaped apps")
            git(loop.repo, "checkout", "-q", "-b", "secrets")
            for rel, text in {**HEAD_FILES, "policies/leak.rego": LEAK}.items():
                (loop.repo / rel).write_text(text)
            git(loop.repo, "add", "-A")
            git(loop.repo, "commit", "-qm", "secrets in every shape")
            head, base = loop.head("secrets"), loop.head("main")
            loop.forge.add_pull(REPO, 1, head_sha=head, base_sha=base, files=list(HEAD_FILES))
            assert loop.deliver("pull_request", pr_payload("opened", head, base))[0] == 202
            loop.work()

            def get(path: str) -> str:
                req = urllib.request.Request(
                    loop.url + path, headers={"Authorization": f"Bearer {DASH_TOKEN}"}
                )
                with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                    return str(resp.read().decode())

            sent = [r.raw.decode("utf-8", "replace") for r in loop.forge.requests]
            pages = [
                get("/api/v1/reviews"),
                get(f"/api/v1/reviews/127.0.0.1/{REPO}/1/{head}"),
                get(f"/reviews/127.0.0.1/{REPO}/1/{head}"),
            ]
            [comment] = loop.comments()
            [annotations] = loop.forge.annotations.values()
    finally:
        root.removeHandler(keep)
        root.setLevel(old_level)
    text = "\n".join([*sent, *pages, *lines, comment["body"]])
    for name, value in SEEDS.items():
        for form in forms(value):
            assert form not in text, f"{name} leaked as {form}"
    # the problems are still reported, with their place
    messages = [a["message"] for a in annotations]
    assert any("stringData.token" in m for m in messages), messages
    assert any("data: a value of type string is not of type 'object'" in m for m in messages)
    assert "Secret policy holds" in comment["body"]
    assert (
        "With the new policies, app/staging would get: error main.deny: new rule sees"
        in comment["body"]
    )
