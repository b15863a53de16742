"""The `git` deploy target: rendered manifests committed to an environment branch.

One file per object under `<path>/<app>/<namespace or _cluster>/<Kind>.<group or core>/
<name>.yaml`. Work happens in a private bare repository in a temporary directory (the
index is a private file, nothing is checked out). The push is a compare-and-swap
(`--force-with-lease=<branch>:<sha fetched>`), so a branch that moved meanwhile makes the
deploy Transient and writes nothing (docs/security.md#case-26).

Credentials never reach `.git/config` or a URL: an HTTP `Authorization` header scoped to
the remote URL (`http.<url>.extraHeader`) is handed to git through `GIT_CONFIG_COUNT` /
`GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n` in the child's environment only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import faults, proc, scratch
from bot.config import Secret
from bot.errors import ToolError, Transient, UserError
from bot.gitrepo import GitSnapshot, git_env
from bot.live import layout
from bot.live.base import DeployOutcome, DeploySource, EmptyRenderRefused, LiveUnavailable
from bot.model import Manifest, ObjKey, Target
from bot.redact import redact
from bot.render.sandbox import Budgets
from bot.render.yamlload import load_manifests

_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ZERO = "0" * 40


@dataclass(frozen=True)
class GitCredentials:
    """HTTP basic credentials for the environment repository (e.g. `x-access-token`)."""

    username: str
    token: Secret

    def header(self) -> str:
        pair = f"{self.username}:{self.token.reveal()}".encode()
        return "Authorization: Basic " + base64.b64encode(pair).decode()


def blob_id(data: bytes) -> str:
    """The id git gives a blob with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def commit_message(source: DeploySource, apps: Sequence[str], changed: int, pruned: int) -> str:
    """The environment commit's message: names the source SHA, repo, change, environment."""
    change = f" (change {source.change})" if source.change is not None else ""
    lines = [
        f"gitops-bot: deploy {_clean(source.repo)}@{source.sha[:12]}{change} to "
        f"{_clean(source.environment) or 'default'}",
        "",
        f"{changed} object{'s' if changed != 1 else ''} changed, {pruned} pruned "
        f"({', '.join(apps)}).",
        "",
        f"Source-Repository: {_clean(source.repo)}",
        f"Source-Commit: {source.sha}",
    ]
    if source.change is not None:
        lines.append(f"Change: {source.change}")
    lines.append(f"Environment: {_clean(source.environment)}")
    return "\n".join(lines) + "\n"


class Promotion:
    """A prepared environment commit (or "nothing to do"), not yet pushed."""

    def __init__(
        self,
        branch: GitBranch,
        work: Path,
        old: str | None,
        new: str | None,
        outcome: DeployOutcome,
    ) -> None:
        self._branch, self._work = branch, work
        self.old, self.new, self.outcome = old, new, outcome

    def publish(self) -> DeployOutcome:
        """Push with compare-and-swap; Transient (nothing written) when the branch moved."""
        if self.new is not None:
            self._branch._push(self._work, self.old, self.new)
        return self.outcome


class GitBranch:
    """Deployer and LiveState for one environment branch of `remote`."""

    def __init__(
        self,
        remote: str,
        branch: str,
        path: str | None = None,
        *,
        credentials: GitCredentials | None = None,
        author: tuple[str, str] = ("gitops-bot", "gitops-bot@localhost"),
        allowed_protocols: Sequence[str] = ("https", "ssh"),
        allow_empty: bool = False,
        timeout: float = 120.0,
    ) -> None:
        if not _BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "/")):
            raise UserError(f"not a valid environment branch name: {branch!r}")
        if remote.startswith("-") or re.match(r"^[a-z]+://[^/@]*:[^/@]*@", remote):
            raise UserError(
                "the environment repository URL must not carry options or "
                "credentials (configure GitCredentials instead)"
            )
        self.remote, self.branch, self.base = remote, branch, layout.check_base(path)
        self.credentials, self.author = credentials, author
        self.allowed_protocols, self.allow_empty, self.timeout = (
            allowed_protocols,
            allow_empty,
            timeout,
        )

    # -- git plumbing ---------------------------------------------------------------------
    def _env(self, work: Path, index: bool = False) -> dict[str, str]:
        extra = {
            "GIT_ALLOW_PROTOCOL": ":".join(self.allowed_protocols),
            "GIT_AUTHOR_NAME": self.author[0],
            "GIT_AUTHOR_EMAIL": self.author[1],
            "GIT_COMMITTER_NAME": self.author[0],
            "GIT_COMMITTER_EMAIL": self.author[1],
        }
        if index:
            extra["GIT_INDEX_FILE"] = str(work / "index.private")
        if self.credentials:
            extra.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0=f"http.{self.remote}.extraHeader",
                GIT_CONFIG_VALUE_0=self.credentials.header(),
            )
        return git_env(work, extra)

    def _git(
        self,
        work: Path,
        *args: str,
        stdin: bytes | None = None,
        index: bool = False,
        check: bool = True,
    ) -> proc.Completed:
        try:
            return proc.run(
                ["git", "-C", str(work / "repo.git"), *args],
                env=self._env(work, index),
                timeout=self.timeout,
                stdin=stdin,
                check=check,
            )
        except ToolError as exc:
            raise ToolError(
                redact(f"{exc}: {exc.stderr.strip()}"),
                argv=exc.argv,
                returncode=exc.returncode,
                stderr=redact(exc.stderr),
            ) from None

    @contextmanager
    def _workspace(self) -> Iterator[Path]:
        with scratch.temporary("gitops-bot-envbranch-") as tmp:
            work = Path(tmp)
            proc.run(
                ["git", "init", "-q", "--bare", str(work / "repo.git")],
                env=self._env(work),
                timeout=self.timeout,
            )
            yield work

    def _fetch(self, work: Path) -> str | None:
        """The branch head (fetched into the workspace), None when the branch is absent."""
        ref = f"refs/heads/{self.branch}"
        heads = self._git(work, "ls-remote", "--", self.remote, ref).stdout.decode().split()
        if not heads:
            return None
        self._git(
            work,
            "fetch",
            "-q",
            "--no-tags",
            "--depth=1",
            "--",
            self.remote,
            f"+{ref}:refs/gitops-bot/env",
        )
        return (
            self._git(work, "rev-parse", "--verify", "refs/gitops-bot/env^{commit}")
            .stdout.decode()
            .strip()
        )

    def _push(self, work: Path, old: str | None, new: str) -> None:
        ref = f"refs/heads/{self.branch}"
        faults.point("before_push")
        done = self._git(
            work,
            "push",
            "--porcelain",
            "--no-verify",
            f"--force-with-lease={ref}:{old or ''}",
            "--",
            self.remote,
            f"{new}:{ref}",
            check=False,
        )
        if done.returncode == 0:
            faults.point("after_push")
            return
        text = redact((done.stdout + done.stderr).decode("utf-8", "replace"))
        if any(
            s in text
            for s in (
                "stale info",
                "fetch first",
                "non-fast-forward",
                "[rejected]",
                "cannot lock ref",
            )
        ):
            raise Transient(
                f"environment branch {self.branch} moved while deploying; "
                "nothing was pushed (will retry from the new head)"
            )
        raise ToolError(f"git push to {self.branch} failed: {text.strip()[-2000:]}")

    # -- LiveState ------------------------------------------------------------------------
    def read(
        self,
        targets: Sequence[Target],
        desired: Mapping[str, Sequence[Manifest]] | None = None,
    ) -> dict[str, list[Manifest]]:
        """target.id -> the objects on the environment branch for the target's app."""
        try:
            with self._workspace() as work:
                head = self._fetch(work)
                if head is None:
                    return {t.id: [] for t in targets}
                snap = GitSnapshot(work / "repo.git", head)
                try:
                    return {t.id: self._objects(snap, t.app) for t in targets}
                finally:
                    snap.close()
        except (ToolError, UserError) as exc:
            raise LiveUnavailable(f"environment branch {self.branch}: {redact(str(exc))}") from None

    def _objects(self, snap: GitSnapshot, app: str) -> list[Manifest]:
        prefix = layout.app_dir(self.base, app) + "/"
        out: list[Manifest] = []
        for path in sorted(p for p in snap.files if p.startswith(prefix)):
            data = snap.read(path)
            manifests, findings = load_manifests(data or b"", path, Budgets())
            if findings or data is None:
                raise UserError(f"{path} on the branch is not a readable object")
            out += manifests
        return out

    # -- Deployer -------------------------------------------------------------------------
    def deploy(
        self, rendered: Mapping[Target, Sequence[Manifest]], source: DeploySource
    ) -> DeployOutcome:
        """Commit the rendered apps to the branch and push (no commit when nothing changed)."""
        with self.prepare(rendered, source) as promotion:
            return promotion.publish()

    @contextmanager
    def prepare(
        self, rendered: Mapping[Target, Sequence[Manifest]], source: DeploySource
    ) -> Iterator[Promotion]:
        """Build the environment commit in a private workspace; `publish()` pushes it."""
        apps: dict[str, dict[str, bytes]] = {}
        for target, manifests in rendered.items():
            if target.app in apps:
                raise UserError(f"app {target.app} is deployed twice to branch {self.branch}")
            apps[target.app] = layout.app_files(self.base, target.app, manifests)
        dirs = {app: layout.app_dir(self.base, app) for app in apps}
        with self._workspace() as work:
            try:
                old = self._fetch(work)
            except ToolError as exc:  # remote down or refusing: worth a later retry
                raise Transient(f"environment repository unavailable: {exc}") from None
            old_files = self._tree(work, old, list(dirs.values()))
            for app, files in apps.items():
                if (
                    not files
                    and any(p.startswith(dirs[app] + "/") for p in old_files)
                    and not self.allow_empty
                ):
                    raise EmptyRenderRefused(
                        f"{app} rendered no objects but has objects on branch {self.branch}; "
                        "refusing to remove them all"
                    )
            new_files = {p: data for files in apps.values() for p, data in files.items()}
            new_ids = {p: blob_id(data) for p, data in new_files.items()}
            written, removed, unchanged = layout.plan(old_files, new_ids, dirs.values())

            def keys(paths: Sequence[str]) -> tuple[ObjKey, ...]:
                return tuple(
                    layout.key_of(dirs[app], p)
                    for p in paths
                    for app in dirs
                    if p.startswith(dirs[app] + "/")
                )

            outcome = DeployOutcome(
                applied=keys(written), pruned=keys(removed), unchanged=keys(unchanged), revision=old
            )
            new = None
            if written or removed:
                new = self._commit(
                    work,
                    old,
                    {p: new_files[p] for p in written},
                    removed,
                    commit_message(source, sorted(apps), len(written), len(removed)),
                )
                outcome = DeployOutcome(
                    applied=outcome.applied,
                    pruned=outcome.pruned,
                    unchanged=outcome.unchanged,
                    revision=new,
                )
            yield Promotion(self, work, old, new, outcome)

    def _tree(self, work: Path, head: str | None, dirs: Sequence[str]) -> dict[str, str]:
        """path -> blob id of the files under `dirs` at `head`."""
        if head is None or not dirs:
            return {}
        out = self._git(
            work, "ls-tree", "-r", "-z", "--full-tree", head, "--", *dirs
        ).stdout.decode("utf-8", "surrogateescape")
        files = {}
        for entry in filter(None, out.split("\0")):
            meta, _, path = entry.partition("\t")
            files[path] = meta.split()[2]
        return files

    def _commit(
        self,
        work: Path,
        old: str | None,
        written: Mapping[str, bytes],
        removed: Sequence[str],
        message: str,
    ) -> str:
        stage = work / "stage"
        stage.mkdir()
        staged = []
        for i, data in enumerate(written.values()):
            (stage / f"{i}.yaml").write_bytes(data)
            staged.append(str(stage / f"{i}.yaml"))
        blobs = (
            self._git(
                work,
                "hash-object",
                "-w",
                "--no-filters",
                "--stdin-paths",
                stdin="\n".join(staged).encode() + b"\n",
            )
            .stdout.decode()
            .split()
            if staged
            else []
        )
        lines = [f"0 {_ZERO}\t{p}" for p in removed]
        lines += [f"100644 {blob}\t{p}" for p, blob in zip(written, blobs, strict=True)]
        self._git(work, "read-tree", *([old] if old else ["--empty"]), index=True)
        self._git(
            work,
            "update-index",
            "--add",
            "--index-info",
            index=True,
            stdin=("\n".join(lines) + "\n").encode(),
        )
        tree = self._git(work, "write-tree", index=True).stdout.decode().strip()
        parents = ["-p", old] if old else []
        return (
            self._git(work, "commit-tree", tree, *parents, "-F", "-", stdin=message.encode())
            .stdout.decode()
            .strip()
        )
