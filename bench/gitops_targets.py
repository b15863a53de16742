"""Benchmark: finding the targets Argo CD / Flux objects define, on the corpus repositories.

For each repository it times `list_targets` (scan of the files, ApplicationSet expansion, the
renders of app-of-apps charts and Flux Kustomizations that discovery needs) and one review
of a scripted change (discovery runs on both revisions), and prints the target counts.

Usage: .venv/bin/python bench/gitops_targets.py [--repeat 3]
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.pipeline.listing import list_targets  # noqa: E402
from bot.pipeline.change import review_change  # noqa: E402
from bot.pipeline.review import ReviewOptions  # noqa: E402
from bot.tools import Tools  # noqa: E402
from tests.corpus_changes import apply_change, build_repo  # noqa: E402

REPOS = {
    "flux2-kustomize-helm-example": "image-bump",
    "flux2-multi-tenancy": "shared-base",
    "argo-cd-applicationsets": "image-bump",
    "eks-blueprints-workloads": "image-bump",
    "argo-cd-manifests": "image-bump",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tools = Tools.discover()
    print(f"{'repository':32} {'targets':>7} {'remote':>6} {'list s':>7} {'review s':>8}")
    for name, change in REPOS.items():
        with tempfile.TemporaryDirectory() as tmp:
            repo = build_repo(name, Path(tmp) / "repo")
            branch = apply_change(repo, name, change)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                found = list_targets(repo, tools)
                times.append(time.perf_counter() - start)
            options = ReviewOptions(
                tools=tools,
                cache_dir=None,
                enforce_approvals=False,
                server_policies=None,
                validator="embedded",
            )
            start = time.perf_counter()
            review_change(repo, "main", branch, options)
            review = time.perf_counter() - start
            remote = sum(t.renderer == "remote" for t in found.targets)
            print(f"{name:32} {len(found.targets):7} {remote:6} {min(times):7.2f} {review:8.2f}")


if __name__ == "__main__":
    main()
