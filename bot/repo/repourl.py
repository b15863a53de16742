"""PURE: which repository URLs and revisions are "this repository at the reviewed revision".

Argo CD Applications and Flux sources name repositories by URL. A source is rendered from
the reviewed checkout only when its URL is this repository's and its revision follows the
reviewed branch; everything else is listed as "not rendered: remote source <url>".

How "this repository" is decided, in order: the URLs `.gitops-bot.yaml` names
(`apps.repo_urls`); else the forge repository or the checkout's `origin` remote; else the
repository URL most Argo CD Applications / Flux GitRepositories in the repository use.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# revisions that follow the branch being reviewed (plus the configured branches)
FOLLOWING = frozenset({"", "HEAD", "main", "master"})


def normalise_url(url: str) -> str:
    """`host/owner/repo` of a git URL (https, ssh, scp-style), lower-case, no `.git`."""
    url = url.strip()
    scp = re.match(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$", url)
    if scp and "://" not in url:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host, path = parts.hostname or "", parts.path
    path = re.sub(r"\.git$", "", path.strip("/")).strip("/")
    return f"{host.lower()}/{path.lower()}" if host else path.lower()


@dataclass(frozen=True)
class ThisRepo:
    """The URLs (normalised) that are this repository and the branches reviewed."""

    urls: frozenset[str]
    branches: frozenset[str] = FOLLOWING
    how: str = ""  # how the URLs were decided, for `gitops-bot apps` and notes

    def is_this(self, url: str) -> bool:
        return bool(url) and normalise_url(url) in self.urls

    def follows(self, revision: str) -> bool:
        """Whether a targetRevision / branch tracks the reviewed branch."""
        rev = revision.strip().removeprefix("refs/heads/")
        return rev in self.branches

    def at_review(self, url: str, revision: str) -> bool:
        return self.is_this(url) and self.follows(revision)


def decide(
    configured: Iterable[str],
    remote: Iterable[str],
    used: Iterable[str],
    branches: Iterable[str] = (),
) -> ThisRepo:
    """ThisRepo from configured URLs, else the forge / origin remote, else the most common
    URL among those the repository's Argo CD and Flux objects use."""
    follow = FOLLOWING | frozenset(b for b in branches if b)
    configured, remote = [u for u in configured if u], [u for u in remote if u]
    if configured:
        return ThisRepo(
            frozenset(map(normalise_url, configured)), follow, "apps.repo_urls in .gitops-bot.yaml"
        )
    if remote:
        return ThisRepo(
            frozenset(map(normalise_url, remote)),
            follow,
            "the repository's forge / origin remote URL",
        )
    counts = Counter(normalise_url(u) for u in used if u)
    if not counts:
        return ThisRepo(frozenset(), follow, "no repository URL known")
    best = max(counts.values())
    top = sorted(u for u, n in counts.items() if n == best)
    return ThisRepo(
        frozenset(top[:1]),
        follow,
        f"the URL most Argo CD / Flux objects here use ({counts[top[0]]} of "
        f"{sum(counts.values())})",
    )
