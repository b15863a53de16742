"""Where each object lives on an environment branch: validated names, stable paths, YAML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from bot.diff import SERVER_METADATA
from bot.live.base import UnsafeObject
from bot.model import Manifest, ObjKey

CLUSTER_DIR = "_cluster"
CORE_GROUP = "core"
# Names: DNS subdomains, plus ':' and '@' that RBAC and some CRDs use; never '/', never a
# leading dot (so never '.' or '..'), never a control character.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
_GROUP = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_APP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value) or ".." in value:
        raise UnsafeObject(
            f"{what} {value!r} cannot be used in a file path (allowed: {pattern.pattern}, no '..')"
        )
    return value


def check_base(path: str | None) -> str:
    """The branch folder from DeployGit.path: relative, no '..', '.git' or empty segments."""
    if not path or path.strip("/") in ("", "."):
        return ""
    parts = path.strip("/").split("/")
    for part in parts:
        if part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\0" in part:
            raise UnsafeObject(f"deploy path {path!r} is not a plain relative folder")
    return "/".join(parts)


def app_dir(base: str, app: str) -> str:
    """`<base>/<app>`, the folder one app owns on the branch."""
    _check(app, _APP, "app name")
    return f"{base}/{app}" if base else app


def object_path(base: str, app: str, key: ObjKey) -> str:
    """`<base>/<app>/<namespace or _cluster>/<Kind>.<group or core>/<name>.yaml`."""
    name = _check(key.name, _NAME, f"{key.kind} name")
    namespace = _check(key.namespace, _NAMESPACE, "namespace") if key.namespace else CLUSTER_DIR
    kind = _check(key.kind, _KIND, "kind")
    group = _check(key.group, _GROUP, "API group") if key.group else CORE_GROUP
    return f"{app_dir(base, app)}/{namespace}/{kind}.{group}/{name}.yaml"


def deployable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object without `status` and server-set metadata. Empty values stay: unlike
    `bot.diff.normalize`, this is what gets deployed, and `podSelector: {}` means "all pods".
    """
    out = {str(k): v for k, v in body.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {str(k): v for k, v in meta.items() if k not in SERVER_METADATA}
    return out


def to_yaml(body: Mapping[str, Any]) -> bytes:
    """YAML of one deployable object with sorted keys (stable bytes for stable commits)."""
    text: str = yaml.dump(
        deployable(body),
        Dumper=_DUMPER,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
    )
    return text.encode()


def app_files(base: str, app: str, manifests: Sequence[Manifest]) -> dict[str, bytes]:
    """Path -> YAML for every object of one app; UnsafeObject before anything is written."""
    files: dict[str, bytes] = {}
    for manifest in manifests:
        path = object_path(base, app, manifest.key)
        if path in files:
            raise UnsafeObject(f"{manifest.key} is rendered twice ({manifest.location})")
        files[path] = to_yaml(manifest.body)
    return files


def plan(
    old: Mapping[str, object],
    new: Mapping[str, object],
    dirs: Iterable[str],
) -> tuple[list[str], list[str], list[str]]:
    """(written, removed, unchanged) paths when the `dirs` subtrees become `new` (values are
    contents or content ids)."""
    prefixes = tuple(d + "/" for d in dirs)
    owned_old = {p for p in old if p.startswith(prefixes)}
    written = sorted(p for p, data in new.items() if old.get(p) != data)
    unchanged = sorted(p for p, data in new.items() if old.get(p) == data)
    removed = sorted(owned_old - new.keys())
    return written, removed, unchanged


def key_of(app_path: str, path: str) -> ObjKey:
    """The object a branch file holds, from its path under `app_path` (inverse of
    `object_path`)."""
    namespace, kind_group, file = path.removeprefix(app_path + "/").split("/", 2)
    kind, _, group = kind_group.partition(".")
    return ObjKey(
        group="" if group == CORE_GROUP else group,
        kind=kind,
        namespace="" if namespace == CLUSTER_DIR else namespace,
        name=file.removesuffix(".yaml"),
    )
