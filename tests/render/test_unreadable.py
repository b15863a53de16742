"""Unreadable files and folders are ERROR findings naming the path, never a silent skip.

Tests run as root, and root reads mode-000 files anyway (CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH). The renders below run in a child process started through `setpriv`
with those two capabilities dropped, so file modes deny reading exactly as they do for the
unprivileged user a CI job or the service runs as. The child prints the findings as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_tree

ROOT = Path(__file__).resolve().parents[2]
NO_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]
CHILD = """
import json, sys
from pathlib import Path
from bot.model import Target
from bot.render import render_target, scan_checkout
from bot.tools import Tools
root, renderer, path = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
result = render_target(root, Target("shop", "prod", renderer, path), Tools.discover())
scan = scan_checkout(root)
print(json.dumps({"render": [[f.check, f.file, f.message] for f in result.findings],
                  "objects": len(result.manifests),
                  "scan": [[f.check, f.file, f.message] for f in scan]}))
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
CHART = "apiVersion: v2\nname: shop\nversion: 0.1.0\n"


def render_as_user(root: Path, renderer: str, path: str) -> dict[str, list[list[str]]]:
    prefix = NO_DAC if os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, str(root), renderer, path],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list[list[str]]] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize(
    "renderer, files, locked",
    [
        (
            "plain",
            {"apps/shop/a.yaml": CM.format("a"), "apps/shop/more/b.yaml": CM.format("b")},
            "apps/shop/more",
        ),
        (
            "plain",
            {"apps/shop/a.yaml": CM.format("a"), "apps/shop/b.yaml": CM.format("b")},
            "apps/shop/b.yaml",
        ),
        (
            "helm",
            {
                "apps/shop/Chart.yaml": CHART,
                "apps/shop/templates/a.yaml": CM.format("a"),
                "apps/shop/files/more/x": "x\n",
            },
            "apps/shop/files/more",
        ),
        (
            "helm",
            {
                "apps/shop/Chart.yaml": CHART,
                "apps/shop/templates/a.yaml": CM.format("a"),
                "apps/shop/files/x": "x\n",
            },
            "apps/shop/files/x",
        ),
    ],
)
def test_unreadable_paths_in_an_app_are_errors(
    tmp_path: Path, renderer: str, files: dict[str, str], locked: str
) -> None:
    """Reproduces issue 14 item 9 in the renderers: the plain renderer's folder walk and
    the checkout scan skipped a mode-000 folder without a word and rendered the rest."""
    write_tree(tmp_path, files)
    os.chmod(tmp_path / locked, 0)
    try:
        found = render_as_user(tmp_path, renderer, "apps/shop")
    finally:
        os.chmod(tmp_path / locked, 0o755)
    error = ["render", locked, f"cannot read {locked}: permission denied"]
    assert found["render"] == [error] and found["objects"] == 0
    if locked.endswith("more"):  # a folder: the checkout scan cannot look inside either
        assert found["scan"] == [error]
    readable = render_as_user(tmp_path, renderer, "apps/shop")
    assert readable["render"] == [] and readable["objects"] == (2 if renderer == "plain" else 1)
