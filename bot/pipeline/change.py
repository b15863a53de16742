"""What a change is, for `gitops-bot check --base/--head` and the service alike.

* The **rules** (`.gitops-bot.yaml`, server and repository policies, CRD folders) come from
  the protected branch's **tip**: a branch cut before a policy was tightened must meet the
  tightened policy.
* The **proposal** is what merging produces: the head merged into that tip
  (`git merge-tree --write-tree`, no work tree or index touched). A conflict is a failing
  result that says so, never a crash.
* The **diff** is tip -> merge result, so commits the protected branch gained since the
  branch was cut are not shown (reversed) as part of the change; the report says how many
  commits the branch is behind.

`review_change` is the one function both callers use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bot import gitrepo, proc
from bot.errors import ToolError, UserError
from bot.gitrepo import GitSnapshot
from bot.model import Finding, ReviewResult, Severity
from bot.pipeline.review import ReviewOptions, run_review
from bot.policy import ChangeInfo

MAX_CONFLICTS_SHOWN = 20


@dataclass(frozen=True)
class Proposal:
    """The change between a protected branch's tip and a head, as merging would make it.

    `merged` is the tree of the merge result (None when the merge conflicts, then
    `conflicts` names the files); `behind` counts the tip's commits the head lacks.
    """

    base_name: str
    base_sha: str
    head_sha: str
    merged: str | None
    behind: int
    conflicts: tuple[str, ...] = ()


def propose(repo: Path, base_sha: str, head_sha: str, base_name: str) -> Proposal:
    """Merge `head_sha` into `base_sha` in `repo`'s object store (refs, index and work tree
    untouched) and count how far behind the head is."""
    if gitrepo.contains(repo, head_sha, base_sha):  # the head is up to date: no merge to make
        return Proposal(
            base_name, base_sha, head_sha, gitrepo.commit_field(repo, head_sha, "tree"), 0
        )
    behind = int(
        gitrepo.git(repo, "rev-list", "--count", f"{head_sha}..{base_sha}").decode().strip() or 0
    )
    done = proc.run(
        [
            "git",
            "-C",
            str(repo),
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "-z",
            "--allow-unrelated-histories",
            base_sha,
            head_sha,
        ],
        env=gitrepo.git_env(repo),
        timeout=120,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise ToolError(
            f"git merge-tree failed for {base_name} and {head_sha[:12]}",
            argv=list(done.argv),
            returncode=done.returncode,
            stderr=done.stderr_tail,
        )
    parts = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    tree = parts[0].strip()
    if done.returncode == 1:
        files = tuple(dict.fromkeys(p for p in parts[1:] if p))
        return Proposal(base_name, base_sha, head_sha, None, behind, files)
    return Proposal(base_name, base_sha, head_sha, tree, behind)


def conflict_result(proposal: Proposal) -> ReviewResult:
    """The failing result of a head that does not merge cleanly into the base tip."""
    files = proposal.conflicts
    shown = ", ".join(files[:MAX_CONFLICTS_SHOWN])
    more = (
        f" and {len(files) - MAX_CONFLICTS_SHOWN} more" if len(files) > MAX_CONFLICTS_SHOWN else ""
    )
    finding = Finding(
        Severity.ERROR,
        "merge",
        f"conflicts with {proposal.base_name}: rebase the branch onto "
        f"{proposal.base_name} (or merge it in) and push again; conflicting "
        f"files: {shown}{more}",
        file=files[0] if files else None,
    )
    return ReviewResult(
        base=proposal.base_sha,
        head=proposal.head_sha,
        findings=(finding,),
        notes=tuple(_behind_note(proposal)),
        base_ref=proposal.base_name,
        behind=proposal.behind,
    )


def _behind_note(proposal: Proposal) -> list[str]:
    if proposal.behind <= 0:
        return []
    commits = "commit" if proposal.behind == 1 else "commits"
    return [
        f"The branch is {proposal.behind} {commits} behind {proposal.base_name}; this "
        f"review shows the result of merging it into {proposal.base_name}'s tip "
        f"{proposal.base_sha[:12]}, judged by the rules at that tip."
    ]


def review_change(
    repo: Path, base: str, head: str, options: ReviewOptions, *, base_name: str | None = None
) -> ReviewResult:
    """Review what merging `head` into the tip `base` of a protected branch does, by the
    rules at that tip (the one definition of a change; see the module docstring)."""
    base_sha, head_sha = gitrepo.rev_parse(repo, base), gitrepo.rev_parse(repo, head)
    proposal = propose(repo, base_sha, head_sha, base_name or base)
    if proposal.merged is None:
        return conflict_result(proposal)
    changed = gitrepo.changed_files(repo, base_sha, proposal.merged)
    author = options.change.author if options.change else gitrepo.author_email(repo, head_sha)
    info = ChangeInfo(
        author=author,
        base_sha=base_sha,
        head_sha=head_sha,
        labels=options.change.labels if options.change else (),
        changed_files=tuple(changed),
        number=options.change.number if options.change else None,
        title=options.change.title if options.change else None,
    )
    options = dataclasses.replace(
        options, change=info, repo_urls=options.repo_urls or gitrepo.remote_urls(repo)
    )
    result = run_review(
        GitSnapshot(repo, base_sha), GitSnapshot(repo, proposal.merged), changed, options
    )
    return dataclasses.replace(
        result,
        base=base_sha,
        head=head_sha,
        base_ref=proposal.base_name,
        behind=proposal.behind,
        notes=(*_behind_note(proposal), *result.notes),
    )


def branch_ref(name: str) -> str:
    """The remote-tracking ref a workspace fetches the protected branch `name` into."""
    if (
        not name
        or name.startswith(("-", "/"))
        or name.endswith(("/", ".lock", "."))
        or ".." in name
        or "@{" in name
        or "//" in name
        or any(c in name for c in " ~^:?*[\\\0\t\n")
    ):
        raise UserError(f"not a branch name: {name!r}")
    return f"refs/remotes/origin/{name}"
