"""PURE: the documented input document of change policies (bot/schemas/policy-input.schema.json)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.model import Danger, DiffStatus, Finding, FindingRecord, ObjectDiff, TargetResult

INPUT_VERSION = 1


@dataclass(frozen=True)
class ChangeInfo:
    """The change request under review, in forge-neutral terms."""

    author: str
    base_sha: str
    head_sha: str
    labels: tuple[str, ...] = ()
    changed_files: tuple[str, ...] = ()
    number: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class Review:
    """One review event: `state` in GitHub's vocabulary (APPROVED, CHANGES_REQUESTED,
    COMMENTED, DISMISSED; a GitLab approval is APPROVED), `sha` the commit it was given on,
    `teams` the reviewer's team slugs at review time."""

    user: str
    state: str
    sha: str
    teams: tuple[str, ...] = ()


def approving_reviews(reviews: Sequence[Review], change: ChangeInfo) -> list[Review]:
    """Reviews that approve the head SHA: each user's latest review, APPROVED, on the head
    commit, not by the author. An approval of an older commit lapses on every push, and
    an author cannot approve their own change (docs/security.md#approvals-by-others-at-the-head)."""
    latest: dict[str, Review] = {}
    for review in reviews:  # chronological: a later review replaces an earlier one
        if review.state.upper() in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user.lower()] = review
    return [
        r
        for r in latest.values()
        if r.state.upper() == "APPROVED"
        and r.sha == change.head_sha
        and r.user.lower() != change.author.lower()
    ]


def _object(diff: ObjectDiff) -> dict[str, Any]:
    out = {
        "group": diff.key.group,
        "kind": diff.key.kind,
        "namespace": diff.key.namespace,
        "name": diff.key.name,
        "status": diff.status.value,
        "changed_fields": list(diff.changed_fields),
        "file": diff.file,
        "line": diff.line,
    }
    if diff.renamed_from is not None:
        out["renamed_from"] = str(diff.renamed_from)
    return out


def _objects(diffs: Sequence[ObjectDiff]) -> list[dict[str, Any]]:
    """Every object's entry; a renamed object also leaves a `deleted` entry for the old
    name, as Kubernetes prunes it (not for a random name that changed and nothing else)."""
    out: list[dict[str, Any]] = []
    for diff in diffs:
        out.append(_object(diff))
        old = diff.renamed_from
        if old is not None and diff.status is not DiffStatus.UNCHANGED:
            out.append(
                {
                    "group": old.group,
                    "kind": old.kind,
                    "namespace": old.namespace,
                    "name": old.name,
                    "status": DiffStatus.DELETED.value,
                    "changed_fields": [],
                    "file": diff.file,
                    "line": diff.line,
                    "renamed_to": str(diff.key),
                }
            )
    return out


def _danger(danger: Danger, target: str) -> dict[str, Any]:
    return {**danger.to_dict(), "target": target}


def _finding(finding: Finding) -> FindingRecord:
    return finding.to_dict()


def build_change_input(
    targets: Sequence[TargetResult],
    change: ChangeInfo,
    reviews: Sequence[Review] = (),
    approvals: Mapping[str, Mapping[str, Any]] | None = None,
    bot_namespace: str = "",
) -> dict[str, Any]:
    """The `input` of `gitops.change` policies: targets with their objects' diff status and
    findings, the change's metadata and the approvals of the head SHA (see the schema).
    `approvals` maps an environment to what `.gitops-bot.yaml` asks of changes to it
    (`{"count": N, "groups": [...]}`); each target carries its environment's (or null).
    `bot_namespace`: the namespace the bot itself runs in ("" when not known, e.g. `check`)."""
    asked = approvals or {}
    return {
        "bot": {"namespace": bot_namespace},
        "version": INPUT_VERSION,
        "change": {
            "number": change.number,
            "title": change.title,
            "author": change.author,
            "labels": sorted(change.labels),
            "base_sha": change.base_sha,
            "head_sha": change.head_sha,
            "changed_files": sorted(change.changed_files),
        },
        "targets": [
            {
                "id": result.target.id,
                "app": result.target.app,
                "environment": result.target.environment,
                "kubernetes_version": result.target.kubernetes_version,
                "renderer": result.target.renderer,
                "path": result.target.path,
                "namespace": result.target.namespace,
                "state": result.state.name.lower(),
                "objects": _objects(result.diffs),
                "findings": [_finding(f) for f in result.findings],
                "approvals": asked.get(result.target.environment),
                "dangerous": [_danger(d, result.target.id) for d in result.dangers],
                "prune": sum(d.count for d in result.dangers if d.kind == "prune"),
            }
            for result in targets
        ],
        "dangerous": [_danger(d, t.target.id) for t in targets for d in t.dangers],
        "reviews": [
            {"user": r.user, "state": "APPROVED", "sha": r.sha, "teams": sorted(r.teams)}
            for r in sorted(approving_reviews(reviews, change), key=lambda r: r.user)
        ],
    }
