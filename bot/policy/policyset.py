"""Policy sets: the Rego modules and data of one layer at one revision, from disk or from git."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from bot import proc
from bot.errors import ToolError, UserError

DEFAULT_NAMESPACES = ("main",)
DATA_FILES = ("data.json", "data.yaml", "data.yml")
MAX_FILES = 2000
MAX_BYTES = 8 * 1024 * 1024


class PolicyLoadError(UserError):
    """A policy folder could not be read (bad data file, too large, unknown revision)."""


@dataclass(frozen=True)
class PolicySet:
    """The policies of one layer ("server" or "repository") at one revision.

    `revision` is the sha256 of the sorted file names and contents, so equal folders give
    equal revisions wherever they were read from. `modules` are (path, source) pairs without
    `*_test.rego`; `data` is the merged base document (OPA bundle layout: `a/b/data.json`
    lands at `data.a.b`). `namespaces` are the packages holding resource rules (conftest's
    `--namespace`; `"*"` means every package).
    """

    name: str
    revision: str
    modules: tuple[tuple[str, str], ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES

    @property
    def empty(self) -> bool:
        return not self.modules

    @property
    def short(self) -> str:
        return self.revision[:12]


def is_test_module(path: str) -> bool:
    """True for `*_test.rego` files, which hold unit tests rather than policy."""
    return path.endswith("_test.rego")


def _merge(target: dict[str, Any], where: tuple[str, ...], value: Any, origin: str) -> None:
    node = target
    for key in where:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise PolicyLoadError(f"{origin}: data path {'.'.join(where)} clashes with a value")
    if not isinstance(value, dict):
        raise PolicyLoadError(f"{origin}: a data file must hold an object at the top level")
    for key, item in value.items():
        if key in node and isinstance(node[key], dict) and isinstance(item, dict):
            _merge(node, (key,), item, origin)
        else:
            node[key] = item


def _parse_data(path: str, content: bytes) -> Any:
    try:
        text = content.decode("utf-8")
        return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise PolicyLoadError(f"{path}: cannot parse policy data: {exc}") from exc


def policy_set_from_files(
    files: Mapping[str, bytes],
    name: str,
    *,
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES,
    include_tests: bool = False,
) -> PolicySet:
    """Build a PolicySet from {relative POSIX path: content}; other file types are ignored."""
    wanted = {
        p: c
        for p, c in files.items()
        if (p.endswith(".rego") and (include_tests or not is_test_module(p)))
        or PurePosixPath(p).name in DATA_FILES
    }
    if len(wanted) > MAX_FILES or sum(len(c) for c in wanted.values()) > MAX_BYTES:
        raise PolicyLoadError(f"{name} policies exceed {MAX_FILES} files or {MAX_BYTES} bytes")
    digest = hashlib.sha256()
    modules: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    for path in sorted(wanted):
        content = wanted[path]
        digest.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
        if path.endswith(".rego"):
            try:
                modules.append((path, content.decode("utf-8")))
            except UnicodeDecodeError as exc:
                raise PolicyLoadError(f"{path}: policy is not UTF-8") from exc
        else:
            where = PurePosixPath(path).parent.parts
            _merge(data, tuple(where), _parse_data(path, content) or {}, path)
    return PolicySet(name, digest.hexdigest(), tuple(modules), data, tuple(namespaces))


def load_policy_set(
    directory: Path,
    name: str,
    *,
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES,
    include_tests: bool = False,
) -> PolicySet:
    """Read a policy folder from disk; a missing or empty folder gives an empty set."""
    files: dict[str, bytes] = {}
    if directory.is_dir():
        for path in sorted(directory.rglob("*")):
            rel = path.relative_to(directory)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            if path.suffix == ".rego" or path.name in DATA_FILES:
                files[rel.as_posix()] = path.read_bytes()
    return policy_set_from_files(files, name, namespaces=namespaces, include_tests=include_tests)


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = proc.clean_env(home=repo, extra={"GIT_CONFIG_NOSYSTEM": "1"})
    try:
        return proc.run(["git", "-C", str(repo), *args], env=env, stdin=stdin, timeout=60).stdout
    except ToolError as exc:
        raise PolicyLoadError(f"git {args[0]} failed: {exc.stderr.strip() or exc}") from exc


def load_policy_set_from_git(
    repo: Path,
    revision: str,
    folder: str,
    name: str,
    *,
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES,
) -> PolicySet:
    """Read `folder` as it is at `revision` (the protected base), never the working tree.

    The PR head may have rewritten the checkout; reading blobs at the base commit means a
    change cannot weaken the policies that judge it (docs/security.md#the-judge-is-not-on-trial).
    Symlinks are skipped. A folder that does not exist at that revision gives an empty set.
    """
    clean = PurePosixPath(folder.strip("/") or ".")
    if revision.startswith("-") or clean.is_absolute() or ".." in clean.parts:
        raise PolicyLoadError(f"bad policy folder or revision: {folder!r} @ {revision!r}")
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", revision, "--", str(clean))
    entries: list[tuple[str, str]] = []
    for record in listing.decode("utf-8", "replace").split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob" and mode != "120000":
            rel = PurePosixPath(path).relative_to(clean) if str(clean) != "." else path
            if str(rel).endswith(".rego") or PurePosixPath(str(rel)).name in DATA_FILES:
                entries.append((str(rel), sha))
    if len(entries) > MAX_FILES:
        raise PolicyLoadError(f"{name} policies exceed {MAX_FILES} files")
    files: dict[str, bytes] = {}
    if entries:
        out = _git(
            repo, "cat-file", "--batch", stdin="".join(f"{s}\n" for _, s in entries).encode()
        )
        pos = 0
        for rel, _sha in entries:
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            files[rel] = out[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
    return policy_set_from_files(files, name, namespaces=namespaces)


def diff_policy_sets(old: PolicySet, new: PolicySet) -> str:
    """Unified diff of two policy sets' modules and data, for the report."""
    old_files = dict(old.modules)
    new_files = dict(new.modules)
    old_files["(data)"] = json.dumps(old.data, indent=2, sort_keys=True) if old.data else ""
    new_files["(data)"] = json.dumps(new.data, indent=2, sort_keys=True) if new.data else ""
    chunks: list[str] = []
    for path in sorted(set(old_files) | set(new_files)):
        before, after = old_files.get(path, ""), new_files.get(path, "")
        if before != after:
            chunks.extend(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=f"a/{path}" if path in old_files else "/dev/null",
                    tofile=f"b/{path}" if path in new_files else "/dev/null",
                )
            )
    return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)
