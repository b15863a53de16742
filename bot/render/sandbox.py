"""The render sandbox: budgets, path containment, checkout scans and private work dirs."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bot.errors import BudgetExceeded, UserError
from bot.model import Finding, Severity


@dataclass(frozen=True)
class Budgets:
    """Size and time limits for one render; defaults are sized for real repositories."""

    max_file_bytes: int = 8 * 1024 * 1024  # one YAML file / values file
    max_render_bytes: int = 32 * 1024 * 1024  # one target's renderer output
    max_yaml_nodes: int = 1_000_000  # expanded node count per file, aliases at full size
    render_timeout: float = 60.0


class Refused(UserError):
    """The sandbox said no: a path escape, a remote reference, a plugin, a bad file type."""


def output_budgets(budgets: Budgets) -> Budgets:
    """Budgets for parsing a renderer's whole output: one 'file' of up to max_render_bytes."""
    scale = max(1, budgets.max_render_bytes // max(1, budgets.max_file_bytes))
    return replace(budgets, max_file_bytes=budgets.max_render_bytes,
                   max_yaml_nodes=budgets.max_yaml_nodes * scale)


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def repo_path(root: Path, path: Path) -> str:
    """`path` relative to `root` as a POSIX string (for messages and Manifest.file)."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def resolve_inside(root: Path, rel: str, what: str) -> Path:
    """Resolve repo-relative `rel` (following symlinks); refuse anything outside `root`."""
    real_root = root.resolve()
    if not rel:
        raise UserError(f"{what} is empty")
    if os.path.isabs(rel) or "\0" in rel:
        raise Refused(f"{what} {rel} resolves outside the repository")
    try:
        resolved = (real_root / rel).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise UserError(f"{what} {rel} cannot be resolved (symlink loop)") from exc
    if not _inside(real_root, resolved):
        raise Refused(f"{what} {rel} resolves outside the repository")
    return resolved


def _scan(root: Path, top: Path, recursive: bool) -> list[Finding]:
    real_root = root.resolve()
    findings: list[Finding] = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        here = Path(dirpath)
        if here == top:
            dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in sorted(dirnames + filenames):
            path = here / name
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            shown = repo_path(root, path)
            if stat.S_ISLNK(mode):
                if not _inside(real_root, Path(os.path.realpath(path))):
                    findings.append(Finding(
                        Severity.ERROR, "sandbox",
                        f"symlink {shown} points outside the repository; refused", file=shown))
            elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or \
                    stat.S_ISSOCK(mode):
                findings.append(Finding(
                    Severity.ERROR, "sandbox",
                    f"{shown} is a device, fifo or socket, not a regular file; refused",
                    file=shown))
        if not recursive:
            break
    return findings


def scan_checkout(root: Path) -> list[Finding]:
    """Findings for out-of-repo symlinks and device/fifo/socket files anywhere under root."""
    return _scan(root, root, recursive=True)


def scan_dir(root: Path, top: Path, recursive: bool = True) -> list[Finding]:
    """Like `scan_checkout` but only for `top` (a directory under root) and below."""
    return _scan(root, top, recursive)


def read_limited(path: Path, limit: int, shown: str) -> bytes:
    """Read a regular file of at most `limit` bytes; never opens fifos or devices."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"{shown} is not a regular file")
    if info.st_size > limit:
        raise BudgetExceeded(f"{shown} is too large ({info.st_size} bytes, limit {limit})")
    with path.open("rb") as handle:  # the file may grow between stat and read
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BudgetExceeded(f"{shown} is too large (over {limit} bytes)")
    return data


@contextmanager
def private_dir(prefix: str = "gitops-bot-render-") -> Iterator[Path]:
    """A fresh, random, mode-0700 directory that is removed afterwards, whatever its modes."""
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    try:
        yield path
    finally:
        shutil.rmtree(path, onerror=_unlock_and_retry)


def _unlock_and_retry(func: Callable[..., object], name: str, exc: object) -> None:
    # A tool may leave read-only dirs behind; open them up and try once more.
    try:
        os.chmod(os.path.dirname(name), 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o700)
            shutil.rmtree(name, ignore_errors=True)
        else:
            os.unlink(name)
    except OSError:
        pass


def tool_message(text: str, limit: int, *prefixes: str | Path) -> str:
    """Tool output fit for a finding: private paths removed, at most `limit` characters."""
    for prefix in sorted((str(p).rstrip("/") for p in prefixes if str(p)), key=len,
                         reverse=True):
        text = text.replace(prefix + "/", "").replace(prefix, ".")
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]
