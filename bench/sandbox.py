#!/usr/bin/env python3
"""Benchmark: what "renders see only their app" costs.

Prints, per size: the time `check DIR` now spends copying a working tree (without `.git`)
into its private workspace; the time to walk and copy one chart into helm's sandbox; the
time to check a large values.schema.json for references; and a whole `helm template` of the
same chart for scale. Figures, not assertions: not a test.

    .venv/bin/python bench/sandbox.py [--sizes 1000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.gitrepo import WorktreeSnapshot  # noqa: E402
from bot.model import Target  # noqa: E402
from bot.render import render_target  # noqa: E402
from bot.render.appfiles import copy_app, walk_app  # noqa: E402
from bot.render.helmschema import reference_problems  # noqa: E402
from bot.tools import Tools  # noqa: E402

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  k: '{i}'\n"


def timed(repeat: int, work: Callable[[], object]) -> float:
    """Median seconds of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def tree(root: Path, files: int) -> int:
    """`files` small manifests in folders of 50; returns the bytes written."""
    total = 0
    for i in range(files):
        path = root / f"apps/app{i // 50}/cm{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        total += path.write_text(CM.format(i=i))
    return total


def worktree_copy(files: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        size = tree(root, files)
        counter = iter(range(1000))

        def copy() -> None:
            WorktreeSnapshot(root).materialize(Path(tmp) / f"copy{next(counter)}")

        seconds = timed(repeat, copy)
        print(
            f"working tree {files:>6} files {size / 1e6:6.1f} MB: list + copy "
            f"{seconds * 1000:7.1f} ms ({seconds / files * 1e6:.0f} µs per file)"
        )


def chart_copy(templates: int, repeat: int, tools: Tools) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        chart = root / "charts/shop"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
        for i in range(templates):
            (chart / f"templates/cm{i}.yaml").write_text(CM.format(i=i))
        counter = iter(range(1000))

        def copy() -> None:
            copy_app(walk_app(root, chart), root / f"copy{next(counter)}")

        seconds = timed(repeat, copy)
        target = Target("shop", "prod", "helm", "charts/shop")
        render = timed(repeat, lambda: render_target(root, target, tools))
        print(
            f"chart {templates:>5} templates: walk + copy {seconds * 1000:6.1f} ms, "
            f"whole helm render {render * 1000:7.1f} ms ({seconds / render:.1%})"
        )


def schema_check(properties: int, repeat: int) -> None:
    schema = {
        "type": "object",
        "definitions": {"n": {"type": "integer"}},
        "properties": {
            f"p{i}": {
                "type": "object",
                "default": {"a": i},
                "properties": {"x": {"$ref": "#/definitions/n"}},
            }
            for i in range(properties)
        },
    }
    size = len(json.dumps(schema))
    seconds = timed(repeat, lambda: reference_problems(schema))
    print(
        f"values.schema.json {size / 1e6:5.2f} MB ({properties} properties): reference "
        f"check {seconds * 1000:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tools = Tools.discover()
    for size in (int(s) for s in args.sizes.split(",")):
        worktree_copy(size, args.repeat)
    for templates in (10, 200):
        chart_copy(templates, args.repeat, tools)
    for properties in (1000, 20000):
        schema_check(properties, args.repeat)


if __name__ == "__main__":
    main()
