"""The kustomize renderer: `kubectl kustomize` offline, after a walk that refuses remote refs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bot import proc
from bot.errors import BudgetExceeded, ToolError
from bot.model import Finding, Manifest, Severity, Target
from bot.render.sandbox import (
    GO_RUNTIME,
    Budgets,
    Refused,
    is_git_path,
    output_budgets,
    private_dir,
    read_limited,
    repo_path,
    resolve_inside,
    scan_dir,
    tool_message,
)
from bot.render.doc_lines import DocumentStart, document_starts, line_of
from bot.render.yamlload import load_documents, load_manifests
from bot.repo.kustomize_fields import RefKind, inline_plugins, path_refs

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN = "config.kubernetes.io/origin"
MAX_KUSTOMIZATIONS = 1000
# URLs, scp-style git, go-getter and the host shorthands kustomize treats as remote.
REMOTE = re.compile(
    r"^([a-z][a-z0-9+.-]*::?//|[a-z][a-z0-9+.-]*::|git@|gh:|ssh:|"
    r"(github\.com|gitlab\.com|bitbucket\.org|dev\.azure\.com)([/:]|$))|"
    r"\?(ref|version|submodules|timeout)=|/_git/|\.git(/|\?|$)",
    re.IGNORECASE,
)
HELM_FIELDS = ("helmCharts", "helmChartInflationGenerator", "helmGlobals")
FUNCTION_ANNOTATIONS = ("config.kubernetes.io/function", "config.k8s.io/function")


# kustomize echoes secretGenerator literals in its errors ("literal sources [k:v]: invalid
# literal source k:v"); those are Secret values.
_LITERALS = re.compile(r"(literal sources? )(\[[^\]\n]*\]|[^,\s]+)")


def mask_literals(message: str) -> str:
    """kustomize's error text with the secretGenerator literals it quotes masked."""
    return _LITERALS.sub(r"\1***", message)


def kustomize_argv(kubectl: str, directory: str | os.PathLike[str]) -> list[str]:
    """The only kustomize command line: default RootOnly loader, no helm, no plugins."""
    return [kubectl, "kustomize", os.fspath(directory)]


def is_remote(ref: str) -> bool:
    """True for anything kustomize would fetch: URLs, git specs, host shorthands."""
    return bool(REMOTE.search(ref.strip()))


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of a directory, if it has one."""
    for name in KUSTOMIZATION_FILES:
        if (directory / name).exists() or (directory / name).is_symlink():
            return directory / name
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class Walk:
    """Every kustomization a target reaches, checked without running anything."""

    root: Path
    budgets: Budgets
    findings: list[Finding] = field(default_factory=list)
    done: set[Path] = field(default_factory=set)
    stack: list[Path] = field(default_factory=list)
    own_origin: bool = False
    root_kind: str = "Kustomization"
    checked: list[str] = field(default_factory=list)  # every local reference, as repo paths

    def refuse(self, message: str, file: str) -> None:
        self.findings.append(Finding(Severity.ERROR, "sandbox", message, file=file))

    def visit(self, directory: Path) -> None:
        """Check the kustomization in `directory` (resolved) and everything it references."""
        if directory in self.stack:
            chain = " -> ".join(repo_path(self.root, d) for d in [*self.stack, directory])
            self.findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"kustomization cycle: {chain}",
                    file=repo_path(self.root, directory),
                )
            )
            return
        if directory in self.done:
            return
        if len(self.done) >= MAX_KUSTOMIZATIONS:
            self.refuse(
                f"more than {MAX_KUSTOMIZATIONS} kustomizations", repo_path(self.root, directory)
            )
            return
        self.done.add(directory)
        self.findings += scan_dir(self.root, directory, recursive=False)
        kfile = kustomization_file(directory)
        shown_dir = repo_path(self.root, directory)
        if kfile is None:
            self.findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"no kustomization.yaml in {shown_dir}",
                    file=shown_dir,
                )
            )
            return
        shown = repo_path(self.root, kfile)
        try:
            data = read_limited(
                resolve_inside(self.root, shown, "kustomization"),
                self.budgets.max_file_bytes,
                shown,
            )
        except (Refused, BudgetExceeded) as exc:
            self.refuse(str(exc), shown)
            return
        docs, problems = load_documents(data, shown, self.budgets)
        self.findings += problems
        if not docs or not isinstance(docs[0].data, dict):
            if not problems:
                self.findings.append(
                    Finding(Severity.ERROR, "render", "kustomization is not a mapping", file=shown)
                )
            return
        self.stack.append(directory)
        try:
            self._check(directory, docs[0].data, shown)
        finally:
            self.stack.pop()

    def _check(self, here: Path, kust: dict[str, Any], shown: str) -> None:
        if len(self.stack) == 1:
            self.root_kind = str(kust.get("kind") or "Kustomization")
        if "originAnnotations" in _strings(kust.get("buildMetadata")):
            self.own_origin = True
        for name in HELM_FIELDS:
            if name in kust:
                self.refuse(
                    f"{name} is not allowed: the bot never runs kustomize with "
                    "--enable-helm (use a helm target with a vendored chart)",
                    shown,
                )
        for name, text in inline_plugins(kust):
            self.plugin_config(text.encode(), shown, name)
        for ref in path_refs(kust):
            self.ref(
                here,
                ref.path,
                shown,
                ref.field,
                recurse=ref.kind is not RefKind.FILE,
                plugin=ref.kind is RefKind.PLUGIN,
            )

    def ref(
        self,
        here: Path,
        ref: str,
        shown: str,
        name: str,
        recurse: bool = False,
        plugin: bool = False,
    ) -> None:
        """Check one path reference of a kustomization; recurse into directories."""
        if is_remote(ref):
            self.refuse(
                f"{name} entry {ref} is a remote reference; the bot renders only "
                "what is in the repository (no remote bases, no network)",
                shown,
            )
            return
        if not os.path.isabs(ref):
            self.checked.append(repo_path(self.root, Path(os.path.normpath(here / ref))))
        real_root = self.root.resolve()
        try:
            target = (here / ref).resolve()
        except (OSError, RuntimeError):  # symlink loop
            self.refuse(f"{name} entry {ref} cannot be resolved", shown)
            return
        if os.path.isabs(ref) or not (target == real_root or real_root in target.parents):
            self.refuse(f"{name} entry {ref} resolves outside the repository", shown)
            return
        if is_git_path(target.relative_to(real_root)):
            self.refuse(f"{name} entry {ref} is inside .git; refused", shown)
            return
        if not target.exists():
            self.findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"{name} entry {ref} does not exist in the "
                    "repository (remote references are not allowed)",
                    file=shown,
                )
            )
        elif target.is_dir():
            if recurse:
                self.visit(target)
        elif not target.is_file():
            self.refuse(f"{name} entry {ref} is not a regular file", shown)
        elif plugin:
            try:
                data = read_limited(target, self.budgets.max_file_bytes, ref)
            except (Refused, BudgetExceeded) as exc:
                self.refuse(str(exc), shown)
                return
            self.plugin_config(data, repo_path(self.root, target), name)

    def plugin_config(self, data: bytes, shown: str, name: str) -> None:
        """Only kustomize's builtin plugins; no helm inflation, exec or KRM functions."""
        docs, problems = load_documents(data, shown, self.budgets)
        self.findings += problems
        for doc in docs:
            body: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
            meta = _mapping(body.get("metadata"))
            notes = _mapping(meta.get("annotations"))
            if body.get("kind") == "HelmChartInflationGenerator":
                self.refuse(
                    f"{name}: HelmChartInflationGenerator is not allowed: the bot "
                    "never runs kustomize with --enable-helm",
                    shown,
                )
            elif (
                any(a in notes for a in FUNCTION_ANNOTATIONS) or body.get("apiVersion") != "builtin"
            ):
                self.refuse(
                    f"{name}: kustomize plugins and KRM functions are disabled "
                    "(only builtin generators and transformers)",
                    shown,
                )


def _origin(body: dict[str, Any], base: Path, real_root: Path, keep: bool) -> str | None:
    """The repo-relative file kustomize's origin annotation names; drop it unless `keep`."""
    meta = body.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(notes, dict) or ORIGIN not in notes:
        return None
    raw = notes[ORIGIN]
    if not keep:  # parsed values are shared (parse cache): change copies
        meta = body["metadata"] = dict(meta)
        notes = meta["annotations"] = {k: v for k, v in notes.items() if k != ORIGIN}
        if not notes:
            del meta["annotations"]
    try:
        origin = yaml.load(str(raw), Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(origin, dict):
        return None
    where = origin.get("path") or origin.get("configuredIn")
    if not isinstance(where, str) or is_remote(where):
        return None
    path = Path(os.path.normpath(base / where))
    return repo_path(real_root, path) if real_root in path.parents else None


def _with_lines(root: Path, built: list[Manifest], max_bytes: int) -> list[Manifest]:
    """The built objects with the line each starts at in its origin file, where one
    document there matches (bot/render/doc_lines.py); the rest as they are."""
    files: dict[str, tuple[DocumentStart, ...]] = {}
    out = []
    for m in built:
        if m.file and m.file not in files:
            files[m.file] = _starts(root, m.file, max_bytes)
        line = line_of(files[m.file], m.kind, m.key.name) if m.file else None
        out.append(replace(m, line=line) if line else m)
    return out


def _starts(root: Path, file: str, max_bytes: int) -> tuple[DocumentStart, ...]:
    path = root / file
    try:
        if is_git_path(file) or path.is_symlink() or root not in path.resolve().parents:
            return ()  # only the repository's own files, as written
        return document_starts(read_limited(path, max_bytes, file).decode("utf-8", "replace"))
    except (OSError, Refused, BudgetExceeded):
        return ()


def render_kustomize(
    root: Path, target: Target, kubectl: str, budgets: Budgets
) -> tuple[list[Manifest], list[Finding]]:
    """Walk and check the kustomizations, then build offline; objects mapped to their files."""
    root = root.resolve()
    directory = resolve_inside(root, target.path, "path")
    walk = Walk(root, budgets)
    walk.visit(directory)
    if any(f.severity is Severity.ERROR for f in walk.findings):
        return [], walk.findings
    real_root, shown = root.resolve(), repo_path(root.resolve(), directory)
    # The wrapper sits in the (private) checkout, one level down: the origin paths it makes
    # kustomize write (`../apps/web/deploy.yaml`) are then the same for both sides of a
    # change and every review, so unchanged objects come out byte for byte the same and
    # are parsed once (bot/render/parsecache.py). Not when the repository root is one of
    # the kustomizations built: kustomize refuses a root that contains another.
    inside = None if real_root in walk.done else real_root
    with private_dir() as tmp, private_dir(".gitops-bot-wrap-", inside=inside) as wrap:
        home = tmp / "home"
        for d in (home, tmp / "config", tmp / "plugins"):
            d.mkdir()
        build = directory
        # A private wrapper asks kustomize to record each object's origin file.
        if not walk.own_origin and walk.root_kind == "Kustomization":
            wrap.joinpath("kustomization.yaml").write_text(
                yaml.safe_dump(
                    {
                        "resources": [os.path.relpath(directory, wrap)],
                        "buildMetadata": ["originAnnotations"],
                    }
                )
            )
            build = wrap
        env = proc.clean_env(
            home,
            extra={
                **GO_RUNTIME,
                "XDG_CONFIG_HOME": str(tmp / "config"),
                "KUSTOMIZE_PLUGIN_HOME": str(tmp / "plugins"),
            },
        )
        try:
            done = proc.run(
                kustomize_argv(kubectl, build),
                cwd=tmp,
                env=env,
                timeout=budgets.render_timeout,
                max_output=budgets.max_render_bytes,
                no_network=True,
            )
        except BudgetExceeded as exc:
            raise BudgetExceeded(
                f"render output exceeded {budgets.max_render_bytes} bytes"
            ) from exc
        except ToolError as exc:
            exc.stderr = mask_literals(tool_message(exc.stderr, 2000, wrap, real_root, tmp))
            raise
        objs, findings = load_manifests(done.stdout, shown, output_budgets(budgets))
        out = []
        for obj in objs:  # output lines say nothing about the sources: drop them
            body = dict(obj.body)
            # The user's own originAnnotations stay; paths are then relative to the target.
            origin = _origin(body, build, real_root, keep=build != wrap)
            out.append(Manifest(body=body, file=origin or shown))
        return _with_lines(real_root, out, budgets.max_render_bytes), findings
