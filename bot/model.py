"""Plain values shared by every part of the bot: targets, manifests, findings, states."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, NotRequired, TypedDict


class State(IntEnum):
    """Outcome of a check, ordered so that the worst one wins (`worst`)."""

    SKIPPED = 0
    SUCCESS = 1
    PENDING = 2
    WARNING = 3
    FAILURE = 4
    ERROR = 5


def worst(states: Iterable[State], default: State = State.SUCCESS) -> State:
    """Fold states to the worst one; `default` when there are none."""
    return max(states, default=default)


class Severity(IntEnum):
    """How much a finding matters; ERROR findings fail the check."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def state(self) -> State:
        """The check state this severity implies."""
        return {
            Severity.INFO: State.SUCCESS,
            Severity.WARNING: State.WARNING,
            Severity.ERROR: State.FAILURE,
        }[self]


@dataclass(frozen=True, order=True)
class ObjKey:
    """Identity of a Kubernetes object: API group, kind, namespace and name.

    The API version is not part of identity: `apps/v1` and `apps/v1beta1` Deployments
    with the same name are the same object.
    """

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    @staticmethod
    def of(body: Mapping[str, Any]) -> "ObjKey":
        """The key of a manifest body (missing fields become empty strings).

        An object named by `generateName` (the API server picks its name when it is
        created) is identified by the prefix and a hash of its content: `prefix-~1a2b3c4d`.
        """
        api_version = str(body.get("apiVersion") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        raw = body.get("metadata")
        meta: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        name = str(meta.get("name") or "")
        if not name and meta.get("generateName"):
            name = generated_name(str(meta["generateName"]), body)
        return ObjKey(
            group=group,
            kind=str(body.get("kind") or ""),
            namespace=str(meta.get("namespace") or ""),
            name=name,
        )


GENERATED_MARK = "~"


def generated_name(prefix: str, body: Mapping[str, Any]) -> str:
    """The identity of a `generateName` object: its prefix, `~` and 8 hex digits of a hash
    of its content (two renders of the same object get the same name)."""
    blob = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return f"{prefix}{GENERATED_MARK}{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Manifest:
    """One rendered Kubernetes object and where it came from.

    `file` is relative to the repository root (or names the renderer output such as
    `helm:charts/shop/templates/deploy.yaml`); `line` is the 1-based line where the YAML
    document starts, when known.
    """

    body: Mapping[str, Any] = field(compare=False, hash=False)
    file: str | None = None
    line: int | None = None

    @property
    def key(self) -> ObjKey:
        return ObjKey.of(self.body)

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion") or "")

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def location(self) -> str:
        """`file:line` (or just the file) for messages."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or "<unknown>"


# How the warnings of targets the bot cannot render start (the report reads them): a
# `remote` target, and a target that merging points at a source outside the review.
NOT_RENDERED = "not rendered:"
MOVED_AWAY = "after this change not rendered here"


class FindingRecord(TypedDict):
    """A Finding as JSON (`Finding.to_dict`): what a review run stores and the API returns."""

    severity: str  # "error", "warning", "info"
    check: str
    message: str
    file: str | None
    line: int | None
    object: str | None  # the ObjKey as text
    rule: str | None
    new: bool
    owners: NotRequired[list[str]]
    waived: NotRequired[str]


@dataclass(frozen=True)
class Finding:
    """Something a check found: a render refusal, a schema error, a policy denial."""

    severity: Severity
    check: str  # "render", "sandbox", "validate", "policy", "config", "diff"
    message: str
    file: str | None = None
    line: int | None = None
    object: ObjKey | None = None
    rule: str | None = None
    # False when the base revision already had this finding (bot.novelty): it is listed
    # apart and does not decide the state unless `findings.block` is `all`.
    new: bool = True
    # policy findings: the groups the policy names as the rule's owners (who may override it)
    owners: tuple[str, ...] = ()
    # set when an override or break-glass passed this (once failing) finding: who and why
    waived: str | None = None

    @property
    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def to_dict(self) -> FindingRecord:
        """JSON-ready form (`owners` and `waived` only when set)."""
        data: FindingRecord = {
            "severity": self.severity.name.lower(),
            "check": self.check,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "object": str(self.object) if self.object else None,
            "rule": self.rule,
            "new": self.new,
        }
        if self.owners:
            data["owners"] = list(self.owners)
        if self.waived:
            data["waived"] = self.waived
        return data


RENDERERS = ("plain", "kustomize", "helm", "remote")


@dataclass(frozen=True)
class Target:
    """One app in one environment: what to render and how.

    `path` is the directory to render (repo-relative, POSIX separators): the manifests
    folder (plain), the kustomization folder (kustomize) or the chart folder (helm); for
    `remote` (a source outside the repository, listed but never rendered) the file that
    declares it. `origin` says where the target came from (`config`, `folders`, or the
    Argo CD / Flux object and file that define it); `options` holds the renderer settings
    such an object adds (canonical JSON, see `bot.render.options`).
    `exclude`: subfolders of a plain folder that belong to other apps (left out).
    """

    app: str
    environment: str
    renderer: str
    path: str
    values: tuple[str, ...] = ()
    release: str | None = None
    namespace: str | None = None
    kubernetes_version: str = "1.35"
    exclude: tuple[str, ...] = ()
    origin: str = ""
    options: str = ""
    helm_hooks: bool = False  # keep objects annotated `helm.sh/hook` (render.helm.hooks)

    @property
    def id(self) -> str:
        return f"{self.app}/{self.environment}"


@dataclass(frozen=True)
class RenderResult:
    """The objects a target renders to, or the findings explaining why it did not."""

    target: Target
    manifests: tuple[Manifest, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


class DiffStatus(str, Enum):
    """What a change does to one object."""

    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ObjectDiff:
    """The difference for one object between two renders (base or live -> head).

    `diff` is a unified diff of the normalised YAML with Secret values masked; it is empty
    for unchanged objects. `changed_fields` lists dotted paths (`spec.replicas`,
    `spec.template.spec.containers[0].image`). `file`/`line` locate the head object (the
    base object for deletions).
    """

    key: ObjKey
    status: DiffStatus
    diff: str = ""
    changed_fields: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None
    # the base object this one replaces under a new name (a rename, a new hash suffix of a
    # generated ConfigMap, a random name); `key` is the head object's
    renamed_from: ObjKey | None = None


@dataclass(frozen=True)
class Danger:
    """A change Kubernetes rejects or that destroys things a revert cannot bring back
    (bot.dangerous): an immutable field changed, a Namespace / PVC / PV / CRD deleted, an
    app whose objects would be cascaded away, replicas set to 0, objects a deploy prunes.

    `severity` is advice to change policies (`input.dangerous`), which decide: "error" (the
    default policies deny it without an approval of the platform team), "warning", "info".
    """

    kind: str  # immutable-field | delete | scale-to-zero | type-change | prune
    message: str
    severity: str = "error"
    object: ObjKey | None = None
    field: str | None = None
    file: str | None = None
    line: int | None = None
    count: int = 0  # prune: how many objects

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also the change policies' `input.dangerous` items)."""
        obj = self.object
        return {
            "kind": self.kind,
            "message": self.message,
            "severity": self.severity,
            "object": None
            if obj is None
            else {
                "group": obj.group,
                "kind": obj.kind,
                "namespace": obj.namespace,
                "name": obj.name,
                "key": str(obj),
            },
            "field": self.field,
            "file": self.file,
            "line": self.line,
            "count": self.count,
        }


@dataclass(frozen=True)
class ApprovalRequirement:
    """Who must approve: `count` approvals from members of `group`, and why."""

    group: str
    count: int
    reason: str
    satisfied_by: tuple[str, ...] = ()
    # people who could give the missing approvals (members of the group with write access)
    candidates: tuple[str, ...] = field(default=(), compare=False)

    @property
    def satisfied(self) -> bool:
        return len(self.satisfied_by) >= self.count


@dataclass(frozen=True)
class TargetResult:
    """Everything the review found for one target."""

    target: Target
    state: State
    diffs: tuple[ObjectDiff, ...] = ()
    findings: tuple[Finding, ...] = ()
    cached: bool = False
    seconds: float = 0.0
    # live -> head (what merging does to what is live); None when live was not compared
    live_diffs: tuple[ObjectDiff, ...] | None = None
    # objects where live differs from the base render: drift that predates this change
    drift: tuple[ObjectDiff, ...] = ()
    dangers: tuple[Danger, ...] = ()
    # the change's files among this target's inputs (what made it affected), sorted
    changed_inputs: tuple[str, ...] = ()

    def count(self, status: DiffStatus) -> int:
        return sum(1 for d in self.diffs if d.status is status)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)


@dataclass(frozen=True)
class Attachment:
    """A block of text shown folded in the report, e.g. the diff of a policy change."""

    title: str
    body: str
    lang: str = "diff"


@dataclass(frozen=True)
class PolicyImpact:
    """What the policies a change proposes would do to one target (`target` is a target id,
    or "(change)" for the change rules): `verdict` is "newly fails", "newly passes" or
    "changes findings"."""

    target: str
    verdict: str
    added: tuple[Finding, ...] = ()
    removed: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class ReviewResult:
    """The review of one change: per-target results plus change-level findings.

    `approvals_enforced` is False where no forge reviews exist (`gitops-bot check` on a
    local repository): required approvals are then listed but do not fail the review.
    """

    base: str | None
    head: str | None
    targets: tuple[TargetResult, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    approvals: tuple[ApprovalRequirement, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    approvals_enforced: bool = True
    base_ref: str | None = None  # the protected branch the rules came from, as named
    behind: int = 0  # commits on the base tip the head does not have
    uncovered: tuple[str, ...] = ()  # changed files no target reads ("not part of any app")
    policy_impact: tuple[PolicyImpact, ...] = ()  # the proposed policies, over every target
    # the revisions of the policy sets that judged the change: (("server", sha256), ...)
    policy_revisions: tuple[tuple[str, str], ...] = ()

    @property
    def state(self) -> State:
        states = [t.state for t in self.targets]
        states += [f.severity.state for f in self.findings]
        if self.approvals_enforced:
            states += [State.FAILURE for a in self.approvals if not a.satisfied]
        return worst(states, default=State.SUCCESS)


FORGES = ("github", "gitlab")


class EventKind(str, Enum):
    """What a forge event asks the bot to do, once normalised."""

    REVIEW = "review"  # change opened / updated / reopened / ready / approvals changed
    RECHECK = "recheck"  # the recheck comment command (bot.markers.RECHECK)
    PUSH = "push"  # push to (or merge into) a branch: deploy candidates
    CLOSED = "closed"  # change closed or merged (cancel pending work)
    MERGE_GROUP = "merge_group"  # GitHub merge queue: review the queued merge commit
    COMMAND = "command"  # override / break-glass comment commands (bot.commands)


@dataclass(frozen=True)
class Event:
    """A verified webhook delivery reduced to what the bot acts on (forge-neutral).

    Payloads are hints: the worker re-reads the change from the forge by number/SHA.
    """

    forge: str  # "github" | "gitlab"
    delivery_id: str
    kind: EventKind
    action: str  # the forge's own action/event name, for logs
    host: str  # forge host, e.g. "github.com" (part of every cache key)
    repo: str  # "owner/name" (GitLab: path_with_namespace)
    sender: str
    number: int | None = None  # PR number / MR iid
    head_sha: str | None = None
    base_ref: str | None = None
    is_fork: bool = False
    installation_id: int | None = None
    project_id: int | None = None  # GitLab project id
    ref: str | None = None  # push: "refs/heads/main"
    before: str | None = None  # push: old SHA
    after: str | None = None  # push: new SHA
    comment: str | None = None  # comment command text


@dataclass(frozen=True)
class Change:
    """A pull / merge request as the forge reports it now (the truth, not the payload)."""

    repo: str
    number: int
    title: str
    author: str
    base_ref: str
    base_sha: str
    head_sha: str
    is_fork: bool = False
    draft: bool = False
    state: str = "open"  # "open" | "closed" | "merged"
    labels: tuple[str, ...] = ()
    changed_files: tuple[str, ...] = ()
    web_url: str | None = None
    # The commit the merge put on the base branch (merge, squash or rebase result; the head
    # itself for a fast-forward), when the change is merged and the forge says which.
    merge_sha: str | None = None


@dataclass(frozen=True)
class Approval:
    """An approving review bound to the SHA it approved, with the reviewer's teams."""

    user: str
    sha: str
    teams: tuple[str, ...] = ()
    can_write: bool = False
    review_id: str | None = None  # the forge's id of the approving review (GitLab: none)
