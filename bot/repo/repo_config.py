"""The repository config `.gitops-bot.yaml`: frozen dataclasses, JSON Schema, parser."""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema
import yaml

from bot.repo import config_yaml
from bot.errors import ConfigError

CONFIG_FILE = ".gitops-bot.yaml"
DEFAULT_ENVIRONMENT = "default"
DEFAULT_BRANCH = "main"
DEFAULT_KUBERNETES_VERSION = "1.35"
MAX_CONFIG_BYTES = 1 << 20
APP_SETTINGS = ("from", "repo_urls")  # keys of `apps:` that are settings, not app names


@dataclass(frozen=True)
class FluxReconcile:
    """After a promotion, ask Flux to reconcile `source` and wait for `kustomizations`."""

    context: str
    source: str = "flux-system/flux-system"
    kustomizations: tuple[str, ...] = ("flux-system/flux-system",)
    timeout: float = 300.0


@dataclass(frozen=True)
class DeployGit:
    """Promote rendered manifests to `branch` (of `repository`, default this one) under `path`."""

    branch: str
    repository: str | None = None
    path: str | None = None
    target: str = "git"
    flux: FluxReconcile | None = None


@dataclass(frozen=True)
class DeployKubernetes:
    """Server-side apply with kubeconfig `context`, optionally into `namespace`."""

    context: str
    namespace: str | None = None
    target: str = "kubernetes"


@dataclass(frozen=True)
class DeployArgoCD:
    """Sync the Argo CD `application` (on `server`, default the configured one)."""

    application: str
    server: str | None = None
    target: str = "argocd"


Deploy = DeployGit | DeployKubernetes | DeployArgoCD


@dataclass(frozen=True)
class Approvals:
    """Approvals an environment demands: `count` approvals from members of any of `groups`
    (no groups: any reviewer); the default change policies turn them into requirements."""

    count: int = 1
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    """A deployment environment and its protected branch."""

    name: str
    branch: str = DEFAULT_BRANCH
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    deploy: Deploy | None = None
    approvals: Approvals | None = None
    self_heal: bool = False
    destinations: tuple[str, ...] = ()  # Argo CD destinations / Flux clusters (globs)

    @property
    def deploy_namespace(self) -> str | None:
        """The namespace the deploy target applies namespaced objects without one into
        (only the kubernetes target has one); None: theirs, or the renderer's default."""
        return self.deploy.namespace if isinstance(self.deploy, DeployKubernetes) else None


@dataclass(frozen=True)
class AppEnvironment:
    """Per-environment overrides of an app; None fields inherit from the app."""

    name: str
    path: str | None = None
    values: tuple[str, ...] = ()
    namespace: str | None = None
    release: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class App:
    """An app: what to render. `renderer` None means detected from the files at `path`.

    `environments` None means every environment; otherwise only the listed, enabled ones.
    Environment `values` are applied after the app's own `values`.
    """

    name: str
    path: str | None = None
    renderer: str | None = None
    release: str | None = None
    namespace: str | None = None
    values: tuple[str, ...] = ()
    environments: tuple[AppEnvironment, ...] | None = None

    def override(self, environment: str) -> AppEnvironment | None:
        """The overrides for `environment`, if the app lists it."""
        return next((e for e in self.environments or () if e.name == environment), None)

    def covers(self, environment: str) -> bool:
        """Whether the app is rendered in `environment`."""
        if self.environments is None:
            return True
        override = self.override(environment)
        return override is not None and override.enabled


@dataclass(frozen=True)
class ValidationSettings:
    """How rendered objects are schema-validated."""

    strict: bool = True
    skip_kinds: tuple[str, ...] = ()
    crd_dirs: tuple[str, ...] = ()
    kubeconform: str = "auto"  # auto | always | never


@dataclass(frozen=True)
class RepoConfig:
    """The parsed `.gitops-bot.yaml` (or a discovered equivalent when `discovered`).

    `lines` maps dotted key paths (`apps.web.path`) to 1-based lines in `file`.
    """

    environments: tuple[Environment, ...]
    apps: tuple[App, ...]
    policies_dir: str = "policies"
    validation: ValidationSettings = ValidationSettings()
    findings_block: str = "new"  # findings.block: new | all
    helm_hooks: str = "exclude"  # render.helm.hooks: exclude | include
    file: str = CONFIG_FILE
    discovered: bool = False
    apps_from: str = ""  # apps.from; "" = config when apps are listed, else auto
    repo_urls: tuple[str, ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def environment(self, name: str) -> Environment:
        """The environment called `name` (KeyError when there is none)."""
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    def app(self, name: str) -> App:
        """The app called `name` (KeyError when there is none)."""
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.environments)


@functools.cache
def _schema_text() -> str:
    return resources.files("bot").joinpath("schemas/gitops-bot.schema.json").read_text("utf-8")


def load_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of `.gitops-bot.yaml`, a fresh copy."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def normalise_path(path: str) -> str:
    """A repo-relative POSIX path without `./` or trailing `/` (`.` for the root)."""
    return posixpath.normpath(path)


def parse_repo_config(text: str | bytes, file: str = CONFIG_FILE) -> RepoConfig:
    """Parse and validate `.gitops-bot.yaml`; ConfigError names file, line, key and reason."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES} bytes", file=file, line=1)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 ({exc.reason})", file=file, line=1) from None
    root = config_yaml.compose(text, file)
    if root is None:
        raise ConfigError("missing required key (the file is empty)", file=file, line=1, key="apps")
    config_yaml.check_keys(root, file)
    data = config_yaml.construct(root)
    error = config_yaml.first_schema_error(_validator(), data, root, file)
    if error is not None:
        raise error
    return _build(data, _Where(root, file))


@dataclass(frozen=True)
class _Where:
    root: yaml.Node
    file: str

    def error(self, reason: str, *path: str | int) -> ConfigError:
        return ConfigError(
            reason,
            file=self.file,
            line=config_yaml.line_of(self.root, path),
            key=config_yaml.key_str(path),
        )


def _kubernetes_version(where: _Where, path: tuple[str, ...]) -> str:
    _, node = config_yaml.find(where.root, path)
    raw = str(getattr(node, "value", "")).strip()  # raw text: a float would turn 1.30 into 1.3
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", raw)
    if not match:
        raise where.error(f'{raw!r} is not a Kubernetes version such as "1.35"', *path)
    return f"{int(match.group(1))}.{int(match.group(2))}"


def _deploy(raw: Mapping[str, Any]) -> Deploy:
    options = {k: v for k, v in raw.items() if k != "target"}
    if raw["target"] == "git":
        if "path" in options:
            options["path"] = normalise_path(options["path"])
        if "flux" in options:
            flux = dict(options["flux"])
            if "kustomizations" in flux:
                flux["kustomizations"] = tuple(flux["kustomizations"])
            options["flux"] = FluxReconcile(**flux)
        return DeployGit(**options)
    if raw["target"] == "kubernetes":
        return DeployKubernetes(**options)
    return DeployArgoCD(**options)


def _environment(name: str, raw: Mapping[str, Any] | None, where: _Where) -> Environment:
    raw = raw or {}
    version = DEFAULT_KUBERNETES_VERSION
    if "kubernetes_version" in raw:
        version = _kubernetes_version(where, ("environments", name, "kubernetes_version"))
    approvals = raw.get("approvals")
    return Environment(
        name=name,
        branch=raw.get("branch", DEFAULT_BRANCH),
        kubernetes_version=version,
        deploy=_deploy(raw["deploy"]) if raw.get("deploy") else None,
        approvals=Approvals(count=approvals["count"], groups=tuple(approvals.get("groups", ())))
        if approvals
        else None,
        self_heal=bool(raw.get("self_heal", False)),
        destinations=tuple(raw.get("destinations") or ()),
    )


def _paths(raw: list[str] | None) -> tuple[str, ...]:
    return tuple(normalise_path(p) for p in raw or ())


def _app(name: str, raw: Mapping[str, Any], envs: tuple[str, ...], where: _Where) -> App:
    overrides: list[AppEnvironment] | None = None
    if "environments" in raw:
        overrides = []
        for env_name, env_raw in (raw["environments"] or {}).items():
            if env_name not in envs:
                raise where.error(
                    f"unknown environment {env_name!r} (known: {', '.join(envs)})",
                    "apps",
                    name,
                    "environments",
                    env_name,
                )
            env_raw = env_raw or {}
            if "path" not in raw and "path" not in env_raw and env_raw.get("enabled", True):
                raise where.error(
                    "missing: set a path on the app or in this environment",
                    "apps",
                    name,
                    "environments",
                    env_name,
                    "path",
                )
            overrides.append(
                AppEnvironment(
                    name=env_name,
                    path=normalise_path(env_raw["path"]) if "path" in env_raw else None,
                    values=_paths(env_raw.get("values")),
                    namespace=env_raw.get("namespace"),
                    release=env_raw.get("release"),
                    enabled=env_raw.get("enabled", True),
                )
            )
    elif "path" not in raw:
        raise where.error("missing required key", "apps", name, "path")
    renderer = raw.get("renderer")
    has_values = raw.get("values") or any(o.values for o in overrides or ())
    if renderer in ("plain", "kustomize") and has_values:
        raise where.error(
            f"values files need renderer helm, not {renderer}", "apps", name, "renderer"
        )
    return App(
        name=name,
        path=normalise_path(raw["path"]) if "path" in raw else None,
        renderer=renderer,
        release=raw.get("release"),
        namespace=raw.get("namespace"),
        values=_paths(raw.get("values")),
        environments=tuple(overrides) if overrides is not None else None,
    )


def _build(data: Mapping[str, Any], where: _Where) -> RepoConfig:
    if "environments" in data:
        envs = tuple(_environment(n, r, where) for n, r in data["environments"].items())
    else:
        envs = (Environment(DEFAULT_ENVIRONMENT),)
    names = tuple(e.name for e in envs)
    # without `apps:` the apps are discovered from the files (environments still apply)
    settings = {k: v for k, v in (data.get("apps") or {}).items() if k in APP_SETTINGS}
    apps = tuple(
        _app(n, r, names, where)
        for n, r in (data.get("apps") or {}).items()
        if n not in APP_SETTINGS
    )
    validation = data.get("validation") or {}
    return RepoConfig(
        environments=envs,
        apps=apps,
        policies_dir=normalise_path((data.get("policies") or {}).get("dir", "policies")),
        validation=ValidationSettings(
            strict=validation.get("strict", True),
            skip_kinds=tuple(validation.get("skip_kinds", ())),
            crd_dirs=_paths(validation.get("crd_dirs")),
            kubeconform=validation.get("kubeconform", "auto"),
        ),
        findings_block=(data.get("findings") or {}).get("block", "new"),
        helm_hooks=((data.get("render") or {}).get("helm") or {}).get("hooks", "exclude"),
        discovered=not apps,
        apps_from=str(settings.get("from") or ""),
        repo_urls=tuple(settings.get("repo_urls") or ()),
        file=where.file,
        lines=config_yaml.key_lines(where.root),
    )
