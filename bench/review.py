#!/usr/bin/env python3
"""Benchmark: review a change in generated repositories of 20, 200 and 1,000 objects.

Prints, per size: the bot's review time (render + validate + diff + report, cold render
cache) and in the same run the same work done the naive way (a renderer process per template file,
a validator built per object via kubernetes_validate.validate(), the pure-Python YAML
loader), their ratio, and the time to review a new push whose app inputs did not change
(every render comes from the cache); then both again with the bot's default Rego policies
(compiled once per process, as in the service). Figures, not assertions: not a test.

    .venv/bin/python bench/review.py [--sizes 20,200,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.diff import diff_manifests  # noqa: E402
from bot.model import Manifest  # noqa: E402
from bot.pipeline.change import review_change  # noqa: E402
from bot.pipeline.review import ReviewOptions  # noqa: E402
from bot.policy import EmbeddedEngine  # noqa: E402
from bot.report import render_markdown  # noqa: E402
from bot.tools import Tools  # noqa: E402

KINDS = ("Deployment", "Service", "ConfigMap")


def _obj(kind: str, name: str, ns: str, tag: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    meta = {"name": name, "namespace": ns, "labels": labels}
    if kind == "Service":
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    if kind == "ConfigMap":
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"setting": f"value-{tag}", "name": name},
        }
    container = {
        "name": "app",
        "image": f"ghcr.io/example/{name}:{tag}",
        "securityContext": {"runAsNonRoot": True},
        "ports": [{"containerPort": 8080}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "100m", "memory": "128Mi"},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def _plan(total: int) -> list[tuple[str, int]]:
    """Split `total` objects over plain, kustomize and helm apps of <= 150 objects."""
    kinds = ["plain", "kustomize", "helm"]
    apps: list[tuple[str, int]] = []
    remaining, i = total, 0
    per_app = max(5, min(150, total // 3 + (total % 3 > 0)))
    while remaining > 0:
        size = min(per_app, remaining)
        apps.append((kinds[i % 3], size))
        remaining -= size
        i += 1
    return apps


def _write_app(
    root: Path, renderer: str, index: int, count: int, tag: str, drop_last: bool
) -> None:
    ns = f"team{index}"
    objs = [
        _obj(KINDS[j % 3], f"svc{index}-{j}", ns, tag if j % 3 == 0 else "1.0")
        for j in range(count - (1 if drop_last else 0))
    ]
    if renderer == "plain":
        d = root / f"apps/plain{index}"
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.yaml"):
            old.unlink()
        for j, o in enumerate(objs):
            (d / f"{j:04d}.yaml").write_text(yaml.safe_dump(o))
    elif renderer == "kustomize":
        d = root / f"apps/kust{index}"
        (d / "base").mkdir(parents=True, exist_ok=True)
        (d / "base/all.yaml").write_text(yaml.safe_dump_all(objs))
        (d / "base/kustomization.yaml").write_text("resources: [all.yaml]\n")
        (d / "overlay").mkdir(exist_ok=True)
        (d / "overlay/kustomization.yaml").write_text(
            f"resources: [../base]\ncommonLabels: {{team: t{index}}}\n"
        )
    else:
        d = root / f"charts/chart{index}"
        (d / "templates").mkdir(parents=True, exist_ok=True)
        (d / "Chart.yaml").write_text(f"apiVersion: v2\nname: chart{index}\nversion: 0.1.0\n")
        (d / "values.yaml").write_text(f"tag: '{tag}'\n")
        for old in (d / "templates").glob("*.yaml"):
            old.unlink()
        for j, o in enumerate(objs):
            text = yaml.safe_dump(o).replace(f":{tag}", ":{{ .Values.tag }}")
            (d / f"templates/t{j:04d}.yaml").write_text(text)


def generate(dest: Path, total: int) -> list[tuple[str, int]]:
    """A git repo with `main`, a `change` branch touching every app, and `change2`
    (a docs-only push on top of `change`)."""
    plan = _plan(total)
    apps_cfg = []
    for i, (renderer, _) in enumerate(plan):
        path = {
            "plain": f"apps/plain{i}",
            "kustomize": f"apps/kust{i}/overlay",
            "helm": f"charts/chart{i}",
        }[renderer]
        apps_cfg.append(f"  app{i}: {{renderer: {renderer}, path: {path}, namespace: team{i}}}")
    dest.mkdir(parents=True)
    (dest / ".gitops-bot.yaml").write_text(
        "environments:\n  production: {branch: main}\napps:\n" + "\n".join(apps_cfg) + "\n"
    )
    for i, (renderer, count) in enumerate(plan):
        _write_app(dest, renderer, i, count, "1.0", False)

    def run(*a: str) -> None:
        subprocess.run(["git", "-C", str(dest), *a], check=True, capture_output=True)

    run("init", "-q", "-b", "main")
    run("-c", "user.name=b", "-c", "user.email=b@x", "add", "-A")
    run("-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "base")
    run("checkout", "-qb", "change")
    for i, (renderer, count) in enumerate(plan):
        _write_app(dest, renderer, i, count, "2.0", True)
    run("add", "-A")
    run("-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "change")
    (dest / "README.md").write_text("docs only\n")
    run("checkout", "-qb", "change2")
    run("add", "-A")
    run("-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "docs")
    return plan


def naive_review(repo: Path, tools: Tools, plan: list[tuple[str, int]]) -> float:
    """The same review done naively; returns seconds."""
    import kubernetes_validate  # the per-call validator the bot avoids

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sides = {}
        for side in ("main", "change"):
            out = Path(tmp) / side
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(out), side],
                check=True,
                capture_output=True,
            )
            sides[side] = out
        rendered: dict[str, list[Manifest]] = {}
        for side, root in sides.items():
            objs: list[Manifest] = []
            for i, (renderer, _) in enumerate(plan):
                objs += _naive_render(root, renderer, i, tools)
            rendered[side] = objs
        for m in rendered["change"]:
            try:
                kubernetes_validate.validate(dict(m.body), "1.35.0", strict=True)
            except Exception:  # noqa: BLE001 - naive path only counts time
                pass
        diffs = diff_manifests(rendered["main"], rendered["change"])
        assert diffs
        for side in sides.values():
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(side)],
                check=True,
                capture_output=True,
            )
    return time.perf_counter() - started


def _naive_render(root: Path, renderer: str, i: int, tools: Tools) -> list[Manifest]:
    docs: list[Any] = []
    if renderer == "plain":
        for f in sorted((root / f"apps/plain{i}").glob("*.yaml")):
            docs += list(yaml.load_all(f.read_text(), Loader=yaml.SafeLoader))  # pure Python
    elif renderer == "kustomize":
        overlay = str(root / f"apps/kust{i}/overlay")
        out = subprocess.run(
            [tools.require("kubectl"), "kustomize", overlay],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        docs += list(yaml.load_all(out, Loader=yaml.SafeLoader))
    else:
        chart = root / f"charts/chart{i}"
        for t in sorted((chart / "templates").glob("*.yaml")):  # a renderer process per file
            out = subprocess.run(
                [
                    tools.require("helm"),
                    "template",
                    f"app{i}",
                    str(chart),
                    "--namespace",
                    f"team{i}",
                    "--show-only",
                    f"templates/{t.name}",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            docs += list(yaml.load_all(out, Loader=yaml.SafeLoader))
    return [Manifest(d) for d in docs if d]


ENGINE = EmbeddedEngine()  # the service keeps one per process: policies compile once


def bot_review(
    repo: Path, tools: Tools, cache: Path | None, head: str = "change", policies: bool = False
) -> float:
    """Seconds for one review; `policies` adds the bot's default Rego policies."""
    options = ReviewOptions(tools=tools, cache_dir=cache, policy_engine=ENGINE)
    if not policies:
        options = ReviewOptions(
            tools=tools, cache_dir=cache, policy_engine=ENGINE, server_policies=None
        )
    started = time.perf_counter()
    result = review_change(repo, "main", head, options)
    render_markdown(result)
    elapsed = time.perf_counter() - started
    assert result.targets and all(not t.errors for t in result.targets), [
        f for t in result.targets for f in t.findings
    ][:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tools = Tools.discover()
    print(
        f"{'objects':>8} {'review':>10} {'naive':>10} {'ratio':>7} {'cache hit':>10} "
        f"{'+policies':>10} {'hit+pol':>9}  targets"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "repo"
            plan = generate(repo, size)
            cold = statistics.median(bot_review(repo, tools, None) for _ in range(args.repeat))
            naive = naive_review(repo, tools, plan)
            cache = Path(tmp) / "cache"
            bot_review(repo, tools, cache)  # warm the cache with the `change` review
            hits = [bot_review(repo, tools, cache, head="change2") for _ in range(args.repeat)]
            hit = statistics.median(hits)
            with_pol = statistics.median(
                bot_review(repo, tools, None, policies=True) for _ in range(args.repeat)
            )
            pol_cache = Path(tmp) / "cache-policies"
            bot_review(repo, tools, pol_cache, policies=True)
            pol_hit = statistics.median(
                bot_review(repo, tools, pol_cache, "change2", True) for _ in range(args.repeat)
            )
            print(
                f"{size:>8} {cold * 1000:>8.0f}ms {naive * 1000:>8.0f}ms {naive / cold:>6.1f}x "
                f"{hit * 1000:>8.1f}ms {with_pol * 1000:>8.0f}ms {pol_hit * 1000:>7.1f}ms  "
                f"{len(plan)} ({', '.join(r for r, _ in plan)})"
            )


if __name__ == "__main__":
    main()
