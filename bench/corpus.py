#!/usr/bin/env python3
"""Benchmark: the real-world corpus (tests/fixtures/corpus) reviewed cold, warm and from the cache.

Each case is one corpus repository built as a git repository with one of its scripted
changes (`tests/corpus_changes.py`); the default cases are Argo CD's `manifests/` upgraded
from v3.4.7 to v3.5.1 and one change per other repository. Per case it prints:

- targets, objects (base and head, counted once per target) and MB (distinct YAML blobs of
  both revisions);
- cold: the review in a fresh process (imports done, nothing compiled, no render cache);
- warm: the review again in a process that already reviewed it (compiled schemas and
  policies, parsed documents), still without a render cache;
- cache: the review again with the render cache filled by a previous review;
- naive: the same targets reviewed the naive way in the same run (every file and render
  parsed with PyYAML's pure-Python loader, a validator built per object through
  `kubernetes_validate.validate`, one policy evaluation per object with a fresh regopy
  interpreter, difflib on whole objects), and naive / cold.

Every review runs with the bot's default policies. Times are the best of `--repeat` runs
(the machine is shared). Figures, not assertions: not a test.

    .venv/bin/python bench/corpus.py [--cases argo-cd-manifests:upgrade,...] [--repeat 3]
                                     [--no-naive] [--profile FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.model import Target  # noqa: E402
from bot.pipeline.change import review_change  # noqa: E402
from bot.pipeline.review import ReviewOptions  # noqa: E402
from bot.policy import EmbeddedEngine  # noqa: E402
from bot.report import render_markdown  # noqa: E402
from bot.tools import Tools  # noqa: E402
from tests.corpus_changes import apply_change, build_repo, load_corpus  # noqa: E402

DEFAULT_CASES = (
    "argo-cd-manifests:upgrade",
    "kube-prometheus-stack:many-objects",
    "podinfo:image-bump",
    "flux2-kustomize-helm-example:image-bump",
    "flux2-multi-tenancy:image-bump",
    "argo-cd-applicationsets:image-bump",
    "eks-blueprints-workloads:image-bump",
    "kustomize-examples:image-bump",
)
BASE = "main"
POLICIES = ROOT / "policies"
ENGINE = EmbeddedEngine()  # the service keeps one per process: policies compile once


def review(repo: Path, head: str, cache: Path | None) -> tuple[float, int, int, list[Target]]:
    """(seconds, targets, objects, targets reviewed) of one review with default policies."""
    options = ReviewOptions(
        tools=Tools.discover(), cache_dir=cache, enforce_approvals=False, policy_engine=ENGINE
    )
    started = time.perf_counter()
    result = review_change(repo, BASE, head, options)
    render_markdown(result)
    elapsed = time.perf_counter() - started
    objects = sum(len(t.diffs) for t in result.targets)
    return elapsed, len(result.targets), objects, [t.target for t in result.targets]


def yaml_megabytes(repo: Path, refs: tuple[str, ...]) -> float:
    """Size of the distinct YAML blobs of the given revisions, in MB."""
    blobs: dict[str, int] = {}
    for ref in refs:
        out = subprocess.run(
            ["git", "-C", str(repo), "ls-tree", "-r", "-l", ref],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for line in out.splitlines():
            meta, _, path = line.partition("\t")
            _, kind, blob, size = meta.split()
            if kind == "blob" and path.endswith((".yaml", ".yml")):
                blobs[blob] = int(size)
    return sum(blobs.values()) / 1e6


# ---------------------------------------------------------------------------- the naive way


@contextlib.contextmanager
def worktree(repo: Path, ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="naive-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(path), ref],
            check=True,
            capture_output=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
                check=True,
                capture_output=True,
            )


def _pure(text: bytes | str) -> list[Any]:
    try:
        return [d for d in yaml.load_all(text, Loader=yaml.SafeLoader) if d]  # pure Python
    except yaml.YAMLError:
        return []


def naive_render(root: Path, target: Target, tools: Tools) -> list[dict[str, Any]]:
    """One target rendered with the same tools, every output parsed by the Python loader."""
    where = root / target.path
    docs: list[Any] = []
    try:
        if target.renderer == "plain":
            files = (
                [where]
                if where.is_file()
                else sorted(
                    p for p in where.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                )
            )
            for f in files:
                docs += _pure(f.read_bytes())
        elif target.renderer == "kustomize":
            out = subprocess.run(
                [tools.require("kubectl"), "kustomize", str(where)], check=True, capture_output=True
            ).stdout
            docs += _pure(out)
        elif target.renderer == "helm":
            argv = [
                tools.require("helm"),
                "template",
                target.release or target.app,
                str(where),
                "--namespace",
                target.namespace or "default",
            ]
            for values in target.values:
                argv += ["--values", str(root / values)]
            docs += _pure(subprocess.run(argv, check=True, capture_output=True).stdout)
    except (subprocess.CalledProcessError, OSError):
        pass
    return [d for d in docs if isinstance(d, dict) and d.get("kind")]


def _policy_sources() -> list[tuple[str, str]]:
    return [
        (str(p.relative_to(POLICIES)), p.read_text())
        for p in sorted(POLICIES.rglob("*.rego"))
        if not p.name.endswith("_test.rego") and "change" not in p.parts
    ]


def naive_policy(obj: dict[str, Any], sources: list[tuple[str, str]], data: Any) -> None:
    """One policy evaluation with a fresh interpreter (the policies compiled again)."""
    from regopy import Input, Interpreter

    interp = Interpreter()
    for name, src in sources:
        interp.add_module(name, src)
    interp.add_data(data)
    interp.set_input(Input(json.loads(json.dumps(obj, default=str))))
    interp.query("data.main.deny")


def naive_review(repo: Path, head: str, targets: list[Target]) -> float:
    """Seconds to review `targets` the naive way."""
    import kubernetes_validate

    tools = Tools.discover()
    sources = _policy_sources()
    data = json.loads((POLICIES / "data.json").read_text())
    started = time.perf_counter()
    with worktree(repo, BASE) as base_root, worktree(repo, head) as head_root:
        for target in targets:
            before = naive_render(base_root, target, tools)
            after = naive_render(head_root, target, tools)
            for obj in after:
                try:
                    kubernetes_validate.validate(obj, target.kubernetes_version + ".0", strict=True)
                except Exception:  # noqa: BLE001 - the naive way only counts time
                    pass
                try:
                    naive_policy(obj, sources, data)
                except Exception:  # noqa: BLE001
                    pass

            def key(d: dict[str, Any]) -> tuple[Any, Any, Any]:
                meta = d.get("metadata") or {}
                return d.get("kind"), meta.get("namespace"), meta.get("name")

            old = {key(d): d for d in before}
            for k, d in {key(d): d for d in after}.items():
                a = yaml.dump(d, Dumper=yaml.SafeDumper, sort_keys=True).splitlines()
                b = yaml.dump(old.get(k) or {}, Dumper=yaml.SafeDumper, sort_keys=True).splitlines()
                list(difflib.unified_diff(b, a))
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- driver


def child(repo: Path, head: str) -> None:
    """Print one cold review's figures as JSON (run in a fresh process)."""
    seconds, targets, objects, _ = review(repo, head, None)
    print(json.dumps({"seconds": seconds, "targets": targets, "objects": objects}))


def cold(repo: Path, head: str) -> tuple[float, int, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(repo), head],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return data["seconds"], data["targets"], data["objects"]


def run_case(case: str, tmp: Path, repeat: int, naive: bool) -> str:
    name, _, change = case.partition(":")
    corpus = load_corpus()
    repo = tmp / name
    build_repo(name, repo, corpus)
    head = apply_change(repo, name, change, corpus)
    megabytes = yaml_megabytes(repo, (BASE, head))
    colds = [cold(repo, head) for _ in range(repeat)]
    best_cold, targets, objects = min(colds)
    review(repo, head, None)  # this process is now warm
    warm = min(review(repo, head, None)[0] for _ in range(repeat))
    cache = tmp / f"{name}-cache"
    _, _, _, reviewed = review(repo, head, cache)
    hit = min(review(repo, head, cache)[0] for _ in range(repeat))
    naive_s = naive_review(repo, head, reviewed) if naive else float("nan")
    ratio = f"{naive_s / best_cold:6.1f}x" if naive else "     -"
    naive_text = f"{naive_s:8.2f}s" if naive else "        -"
    return (
        f"{case:42} {targets:>4} {objects:>6} {megabytes:>6.1f} {best_cold:>7.2f}s "
        f"{warm:>7.2f}s {hit * 1000:>7.1f}ms {naive_text} {ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("REPO", "HEAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    print(
        f"{'case':42} {'tgts':>4} {'objs':>6} {'MB':>6} {'cold':>8} {'warm':>8} "
        f"{'cache':>9} {'naive':>9} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        for case in args.cases.split(","):
            print(run_case(case.strip(), Path(tmp), args.repeat, not args.no_naive), flush=True)


if __name__ == "__main__":
    main()
