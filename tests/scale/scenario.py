"""The pieces of a scale-out scenario: a git repository with one small app per change,
the GitHub test server's pull requests, and signed deliveries that move each head."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo, git
from tests.e2e.loop import SLOW_TEMPLATE
from tests.forgeserver import GitHubServer
from tests.web.hookclient import fixture, github_headers, post

REPO = "Codertocat/Hello-World"  # the repository of GitHub's payload examples
TOKEN = "ghp_scaleTestToken0123456789abcdefABCDEF"
STATUS = "gitops-bot/review"


def configmap(name: str, rev: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {name}\n"
        f'  labels:\n    app.kubernetes.io/name: {name}\ndata:\n  rev: "{rev}"\n'
    )


@dataclass
class Change:
    """Pull request `number`: its app's file and the SHAs its head moves through."""

    number: int
    path: str
    shas: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)  # one id per SHA

    @property
    def head(self) -> str:
        return self.shas[-1]

    def rev(self, index: int) -> str:
        return f"c{self.number:02d}-s{index + 1}"


def build_repo(path: Path, changes: int, shas: int, slow_spin: int) -> tuple[str, list[Change]]:
    """`main` with one plain app per change plus a Helm chart `charts/slow`; change 1 edits
    the chart (its last head renders for seconds), the others edit their own ConfigMap."""
    repo = GitRepo(path)
    files: dict[str, str | bytes | None] = {
        "charts/slow/Chart.yaml": "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
        "charts/slow/values.yaml": "spin: 10\n",
        "charts/slow/templates/cm.yaml": SLOW_TEMPLATE,
    }
    result = [Change(1, "charts/slow/values.yaml")]
    for n in range(2, changes + 1):
        name = f"c{n:02d}"
        files[f"apps/{name}/cm.yaml"] = configmap(name, f"{name}-base")
        result.append(Change(n, f"apps/{name}/cm.yaml"))
    base = repo.commit(files, "base: one app per change")
    for change in result:
        repo.checkout("main")
        repo.checkout(f"change-{change.number}", create=True)
        for i in range(shas):
            if change.number == 1:
                spin = slow_spin if i == shas - 1 else 11 + i
                content = f"spin: {spin}\n"
            else:
                content = configmap(f"c{change.number:02d}", change.rev(i))
            change.shas.append(repo.commit({change.path: content}, change.rev(i)))
            change.deliveries.append(str(uuid.uuid4()))
    repo.checkout("main")
    assert git(repo.path, "rev-parse", "main") == base
    return base, result


def pr_body(action: str, number: int, head: str, base: str) -> bytes:
    data = json.loads(fixture(f"github/pull_request/{action}.payload.json"))
    pr = data["pull_request"]
    pr["number"] = data["number"] = number
    pr["head"]["sha"], pr["base"]["sha"] = head, base
    return json.dumps(data).encode()


class Sender:
    """Sends signed deliveries to the web processes and records every answer."""

    def __init__(self, forge: GitHubServer, base: str, urls: list[str]) -> None:
        self.forge, self.base, self.urls = forge, base, urls
        self.answers: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.bodies: dict[str, bytes] = {}
        self.sent = 0
        self._lock = threading.Lock()
        self._pair = ThreadPoolExecutor(max_workers=32, thread_name_prefix="send")

    def send(self, url: str, delivery: str) -> None:
        body = self.bodies[delivery]
        code, answer = post(
            url, "/hooks/github", body, github_headers("pull_request", body, delivery)
        )
        with self._lock:
            self.answers[delivery].append((code, str(answer.get("status"))))
            self.sent += 1

    def push(self, change: Change, index: int) -> None:
        """Move the change's head to SHA `index` on the forge, then deliver the event to
        every web process at once (a duplicate per extra process)."""
        head = change.shas[index]
        with self.forge.lock:
            if index == 0:
                self.forge.add_pull(
                    REPO,
                    change.number,
                    head_sha=head,
                    base_sha=self.base,
                    files=[change.path],
                    head_ref=f"change-{change.number}",
                )
            else:
                self.forge.pulls[(REPO, change.number)]["head"]["sha"] = head
        delivery = change.deliveries[index]
        self.bodies[delivery] = pr_body(
            "opened" if index == 0 else "synchronize", change.number, head, self.base
        )
        for future in [self._pair.submit(self.send, url, delivery) for url in self.urls]:
            future.result()

    def push_all(self, change: Change) -> None:
        for index in range(len(change.shas)):
            self.push(change, index)

    def summary(self) -> Counter[tuple[int, str]]:
        return Counter(a for answers in self.answers.values() for a in answers)

    def close(self) -> None:
        self._pair.shutdown(wait=True)


def statuses(forge: GitHubServer, sha: str) -> list[dict[str, Any]]:
    with forge.lock:
        return [s for s in forge.statuses if s["sha"] == sha and s["context"] == STATUS]


def final_statuses(forge: GitHubServer, sha: str) -> list[dict[str, Any]]:
    return [s for s in statuses(forge, sha) if s["state"] != "pending"]
