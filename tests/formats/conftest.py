"""Reviews made once by the real pipeline (helm, kubectl, policies) to render in CI formats:
the example change (a schema error, a deletion, an image bump) and a change with policy
denials and warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.model import ReviewResult
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.tools import Tools
from tests.conftest import git

ROOT = Path(__file__).resolve().parents[2]
LATEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: api
  labels:
    app.kubernetes.io/name: api
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: api}
  template:
    metadata:
      labels: {app.kubernetes.io/name: api}
    spec:
      containers:
        - name: api
          image: ghcr.io/example/api:latest
"""


@pytest.fixture(scope="session")
def example_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("formats") / "shop"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    git(repo, "checkout", "-q", "-b", "denied", "main")
    (repo / "apps/web/api-latest.yaml").write_text(LATEST)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "api: latest, no resources, root allowed")
    git(repo, "checkout", "-q", "main")
    return repo


@pytest.fixture(scope="session")
def reviews(example_repo: Path, tools: Tools) -> dict[str, ReviewResult]:
    options = ReviewOptions(tools=tools, enforce_approvals=False)
    return {
        branch: review_change(example_repo, "main", branch, options)
        for branch in ("change", "denied")
    }
