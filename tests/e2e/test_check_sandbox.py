"""`gitops-bot check DIR` (the CI use) on hostile working trees: `.git/` and unreadable paths."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, write_tree

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVA=="  # what CI checkouts store: basic auth, b64
HEADER = f"AUTHORIZATION: basic {TOKEN}"
CHART = "apiVersion: v2\nname: shop\nversion: 0.1.0\n"
CM = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  labels:\n"
    "    app.kubernetes.io/name: shop\n"
)
LEAK = CM.format("leak") + 'data:\n  x: {{{{ .Files.Get "{}" | b64enc | quote }}}}\n'
# Dropping these two capabilities makes root obey file modes like every other user.
NO_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def check(repo: Path, *args: str, as_user: bool = False) -> tuple[int, dict[str, Any], str]:
    prefix = NO_DAC if as_user and os.geteuid() == 0 else []
    done = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-m",
            "bot",
            "check",
            str(repo),
            "--no-cache",
            "--format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["check"], f["file"], f["message"]) for t in report["targets"] for f in t["findings"]]


def ci_checkout(path: Path, files: dict[str, str]) -> Path:
    """A working tree as a CI job leaves it: the credential sits in `.git/config`."""
    write_tree(
        path,
        {
            ".gitops-bot.yaml": "apps:\n  shop: {path: %s, renderer: %s}\n"
            % (files.pop("path"), files.pop("renderer")),
            **files,
        },
    )
    git(path, "init", "-q")
    git(path, "config", "http.https://github.com/.extraheader", HEADER)
    return path


def assert_no_credential(output: str) -> None:
    config = b'[http "https://github.com/"]\n\textraheader = ' + HEADER.encode()
    for text in (
        TOKEN,
        "extraheader",
        base64.b64encode(config).decode()[:40],
        base64.b64encode(base64.b64decode(TOKEN)).decode(),
    ):
        assert text not in output


def test_chart_link_to_git_config_is_refused_in_worktree_mode(tmp_path: Path) -> None:
    """Reproduces issue 14 item 3 as CI runs it: `check DIR` rendered from the working tree
    itself, so `files/link.txt -> ../../../.git/config` in a chart put the CI's
    `extraheader` credential, base64-encoded past redaction, into the report."""
    repo = ci_checkout(
        tmp_path / "ci",
        {
            "path": "charts/shop",
            "renderer": "helm",
            "charts/shop/Chart.yaml": CHART,
            "charts/shop/templates/cm.yaml": LEAK.format("files/link.txt"),
        },
    )
    (repo / "charts/shop/files").mkdir()
    os.symlink("../../../.git/config", repo / "charts/shop/files/link.txt")
    code, report, output = check(repo)
    assert code == 1
    assert findings(report) == [
        (
            "sandbox",
            "charts/shop/files/link.txt",
            "symlink charts/shop/files/link.txt -> ../../../.git/config points into .git; refused",
        )
    ]
    assert_no_credential(output)


@pytest.mark.parametrize(
    "renderer, files",
    [
        ("helm", {"Chart.yaml": CHART, "templates/cm.yaml": LEAK.format(".git/config")}),
        (
            "kustomize",
            {"kustomization.yaml": "configMapGenerator:\n- name: leak\n  files: [cfg]\n"},
        ),
    ],
)
def test_app_at_the_repository_root_never_sees_git(
    tmp_path: Path, renderer: str, files: dict[str, str]
) -> None:
    """Reproduces issue 14 item 3 without any symlink: an app at the root of a CI working
    tree has `.git/` inside its own folder; helm's `.Files.Get ".git/config"` and a
    kustomize generator reading `cfg -> .git/config` (kustomize's root-only loader allows
    it: the link stays in the kustomization's folder) both rendered the credential."""
    repo = ci_checkout(tmp_path / "ci", {"path": ".", "renderer": renderer, **files})
    if renderer == "kustomize":
        os.symlink(".git/config", repo / "cfg")
    code, report, output = check(repo, "--no-server-policies")
    assert_no_credential(output)
    if renderer == "helm":  # .git/ is simply absent from the chart's sandbox copy
        assert code == 0, findings(report)
        [diff] = report["targets"][0]["diffs"]
        assert diff["key"] == "ConfigMap/leak" and "x: ''" in diff["diff"]
    else:
        assert code == 1
        assert findings(report) == [
            ("sandbox", "cfg", "symlink cfg -> .git/config points into .git; refused")
        ]


@pytest.mark.parametrize(
    "renderer, files, locked",
    [
        (
            "plain",
            {"apps/shop/cm.yaml": CM.format("a"), "apps/shop/more/cm.yaml": CM.format("b")},
            "apps/shop/more",
        ),
        (
            "plain",
            {"apps/shop/cm.yaml": CM.format("a"), "apps/shop/b.yaml": CM.format("b")},
            "apps/shop/b.yaml",
        ),
        (
            "helm",
            {
                "apps/shop/Chart.yaml": CHART,
                "apps/shop/templates/cm.yaml": CM.format("a"),
                "apps/shop/templates/more/x.tpl": "{{/* */}}\n",
            },
            "apps/shop/templates/more",
        ),
    ],
)
def test_unreadable_paths_are_errors_in_worktree_mode(
    tmp_path: Path, renderer: str, files: dict[str, str], locked: str
) -> None:
    """Reproduces issue 14 item 9: a mode-000 folder in a plain app was skipped silently and
    the check passed. The check runs with root's file-permission override dropped
    (`setpriv` removes CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so mode 000 really
    denies reading, as it does for the unprivileged user a CI job runs as; as root the
    mode would be ignored and there would be nothing to find."""
    repo = ci_checkout(tmp_path / "ci", {"path": "apps/shop", "renderer": renderer, **files})
    os.chmod(repo / locked, 0)
    try:
        code, report, _ = check(repo, "--no-server-policies", as_user=True)
    finally:
        os.chmod(repo / locked, 0o755)
    assert code == 1
    assert findings(report) == [("render", locked, f"cannot read {locked}: permission denied")]
    code, report, _ = check(repo, "--no-server-policies", as_user=True)
    assert code == 0, findings(report)


def test_unreadable_config_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    """An unreadable `.gitops-bot.yaml` crashed `check DIR` with a traceback; it is a usage
    error naming the file (run with the read override dropped, as above)."""
    repo = ci_checkout(
        tmp_path / "ci",
        {"path": "apps/shop", "renderer": "plain", "apps/shop/cm.yaml": CM.format("a")},
    )
    os.chmod(repo / ".gitops-bot.yaml", 0)
    prefix = NO_DAC if os.geteuid() == 0 else []
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "bot", "check", str(repo), "--no-cache"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
    finally:
        os.chmod(repo / ".gitops-bot.yaml", 0o644)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gitops-bot: error: cannot read .gitops-bot.yaml: permission denied"
    )
