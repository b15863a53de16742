#!/usr/bin/env python3
"""Create the example GitOps repository as a real git repo with a `change` branch.

    python examples/make_repo.py DEST

`main` holds examples/shop/ (plain, kustomize and helm apps). The `change` branch copies
examples/shop-change/ over it: a Deployment whose `replicas` became a string (a schema
error), a ConfigMap deleted, and a new image tag for production.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(dest: Path) -> Path:
    """Build the repository at `dest` (which must not exist yet) and return it."""
    if dest.exists():
        raise SystemExit(f"{dest} already exists; choose a new folder")
    shutil.copytree(HERE / "shop", dest)
    git(dest, "init", "-q", "-b", "main")
    for key, value in (("user.name", "Example Dev"), ("user.email", "dev@example.com"),
                       ("commit.gpgsign", "false")):
        git(dest, "config", key, value)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "shop: web, api and shop apps")
    git(dest, "checkout", "-q", "-b", "change")
    shutil.copytree(HERE / "shop-change", dest, dirs_exist_ok=True)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "web: three replicas, drop the banner; shop 2.2.0 in production")
    git(dest, "checkout", "-q", "main")
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(make_repo(Path(sys.argv[1])))
