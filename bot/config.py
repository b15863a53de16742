"""Server configuration, read once from the environment (and an optional YAML file)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.errors import ConfigError
from bot.redact import mask_url, remember

PREFIX = "GITOPS_BOT_"
FORK_MODES = ("validate", "render", "skip")
SQLITE_SYNC = ("full", "normal")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
POLICY_ENGINES = ("embedded", "opa")
DEFAULT_MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
DEFAULT_QUEUE_MAX = 10_000  # pending jobs; hours of work for a few workers, not a flood


class Secret:
    """A credential that never shows itself in repr(), str() or logs; `reveal()` gets it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember(value)  # masked in every output from now on, in any encoding

    def reveal(self) -> str:
        """The secret text, for the one place that needs it (HMAC key, auth header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Config:
    """Everything the service needs to know, fixed for the life of the process."""

    data_dir: Path = Path(".gitops-bot-data")
    github_api_url: str = "https://api.github.com"
    github_token: Secret | None = None
    github_app_id: int | None = None
    github_private_key_file: Path | None = None
    github_webhook_secret: Secret | None = None
    # Seconds PyGithub waits between two writes (GitHub asks integrators to space writes
    # out, against its secondary rate limits); 0 only against a test server.
    github_write_spacing: float = 1.0
    gitlab_url: str = "https://gitlab.com"
    gitlab_token: Secret | None = None
    gitlab_webhook_secret: Secret | None = None
    clone_url_template: str = "https://{host}/{owner}/{repo}.git"
    repo_allowlist: tuple[str, ...] = ()
    database_url: str = ""  # empty: sqlite:///<data_dir>/gitops-bot.db
    # SQLite only: "full" fsyncs each delivery before the 202 (survives a power cut);
    # "normal" survives a crash of the bot but not of the machine, at ~1.5x the intake rate.
    sqlite_synchronous: str = "full"
    queue_url: str = ""  # empty: SqliteHuey at <data_dir>/queue.db; redis://... -> RedisHuey
    max_body_bytes: int = DEFAULT_MAX_BODY
    # With this many jobs pending (queued or running) the intake answers 503 with
    # Retry-After and records nothing, so the forge's redelivery is accepted later.
    queue_max: int = DEFAULT_QUEUE_MAX
    fork_mode: str = "validate"
    # "module:factory" returning the job handlers; the pipeline plugs in here (see bot.services).
    job_handlers: str = "bot.pipeline.handlers:pipeline_handlers"
    # A running job renews its lease every third of it; a dead worker's job runs again
    # within the lease plus a recovery pass (bot.queue.Queue.recovery_interval): < 60 s.
    job_lease_seconds: float = 45.0
    # Jobs wait (unclaimed, retried every recovery pass) while the data dir has less free
    # space than this: a full disk must not fail a change's review.
    data_min_free_mb: int = 100
    # Deploy targets: `kubernetes` needs a kubeconfig (exec plugins refused); `argocd` a URL
    # and token. Drift checks run every drift_interval seconds (0: off).
    kubeconfig: Path | None = None
    argocd_url: str = ""
    argocd_token: Secret | None = None
    drift_interval: float = 0.0
    # Dashboard and JSON API (read-only): bearer token or basic-auth password. Without a
    # token they are off (404) unless dashboard_public is true.
    dashboard_token: Secret | None = None
    dashboard_public: bool = False
    public_url: str = ""  # base URL of this bot; review comments link to its dashboard
    metrics_token: Secret | None = None  # /metrics is open (no repo or user labels) unless set
    log_format: str = "json"  # "json": one object per line; "text": for a terminal
    log_level: str = "INFO"
    # Rego policies: "embedded" (regopy in the worker) or "opa" (an OPA server at opa_url,
    # OPA 1.x in its default Rego v1 mode; opa_token if it runs with token authentication)
    policy_engine: str = "embedded"
    opa_url: str = ""
    opa_token: Secret | None = None
    # Governance: break-glass needs two members of this group (GitHub `org/team`, GitLab a
    # group path; empty: break-glass is off), the second within break_glass_window seconds.
    break_glass_group: str = ""
    break_glass_window: float = 3600.0
    # Missed events: every sweep_interval seconds (and at start) open changes and protected
    # branch tips of the repositories seen are compared with what was reviewed and deployed.
    sweep_interval: float = 600.0
    # The Kubernetes namespace the bot runs in (empty: the pod's service account namespace,
    # when it runs in a pod). The default change policies deny app folders objects in it
    # (docs/security.md#case-75).
    namespace: str = ""

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("database_url", "queue_url", "opa_url"):
                value = mask_url(value)
            parts.append(f"{f.name}={value!r}")
        return f"Config({', '.join(parts)})"

    # -- derived values -------------------------------------------------------------------
    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the store."""
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'gitops-bot.db'}"

    @property
    def queue(self) -> str:
        """The queue URL: `sqlite:///<path>` or `redis://...`."""
        return self.queue_url or f"sqlite:///{self.data_dir.resolve() / 'queue.db'}"

    @property
    def github_host(self) -> str:
        """Web host of GitHub: api.github.com -> github.com, GHES https://h/api/v3 -> h."""
        host = urlsplit(self.github_api_url).hostname or "github.com"
        return "github.com" if host == "api.github.com" else host

    @property
    def gitlab_host(self) -> str:
        """Host of the GitLab instance."""
        return urlsplit(self.gitlab_url).hostname or "gitlab.com"

    @property
    def github_enabled(self) -> bool:
        """Whether any GitHub setting is present (then its webhook secret is mandatory)."""
        return bool(
            self.github_token
            or self.github_app_id
            or self.github_private_key_file
            or self.github_webhook_secret
        )

    @property
    def gitlab_enabled(self) -> bool:
        """Whether any GitLab setting is present (then its webhook secret is mandatory)."""
        return bool(self.gitlab_token or self.gitlab_webhook_secret)

    def webhook_secret(self, forge: str) -> Secret | None:
        """The webhook secret of `forge`, None when that forge is not configured."""
        return {"github": self.github_webhook_secret, "gitlab": self.gitlab_webhook_secret}.get(
            forge
        )

    def forge_host(self, forge: str) -> str:
        """The host name events from `forge` belong to."""
        return self.github_host if forge == "github" else self.gitlab_host

    def allows(self, host: str, repo: str) -> bool:
        """Whether `host/repo` matches the allowlist (`*` globs, case-insensitive)."""
        name = f"{host}/{repo}".lower()
        return any(fnmatchcase(name, pattern.lower()) for pattern in self.repo_allowlist)

    def check_service(self) -> None:
        """Raise ConfigError unless the webhook service may start
        (docs/security.md#no-secret-no-service)."""
        problems = []
        if not (self.github_enabled or self.gitlab_enabled):
            problems.append(
                "no forge is configured: set GITOPS_BOT_GITHUB_WEBHOOK_SECRET "
                "and/or GITOPS_BOT_GITLAB_WEBHOOK_SECRET"
            )
        for forge, enabled in (("github", self.github_enabled), ("gitlab", self.gitlab_enabled)):
            secret = self.webhook_secret(forge)
            if enabled and not (secret and secret.reveal()):
                problems.append(
                    f"{forge} is configured but GITOPS_BOT_{forge.upper()}"
                    "_WEBHOOK_SECRET is empty; refusing to accept unsigned webhooks"
                )
        if not self.repo_allowlist:
            problems.append(
                "GITOPS_BOT_REPO_ALLOWLIST is empty; list the repositories the bot "
                "may act on, e.g. 'github.com/acme/*' ('*' allows every repository)"
            )
        problems += self._allowlist_problems()
        if self.github_app_id and not self.github_private_key_file:
            problems.append("GITOPS_BOT_GITHUB_APP_ID needs GITOPS_BOT_GITHUB_PRIVATE_KEY_FILE")
        if problems:
            raise ConfigError("; ".join(problems))

    def _allowlist_problems(self) -> list[str]:
        """Allowlist entries without a forge host: they could never match a delivery
        (entries are matched against `<host>/<owner>/<name>`), so they are refused."""
        hosts = [
            self.forge_host(f)
            for f, on in (("github", self.github_enabled), ("gitlab", self.gitlab_enabled))
            if on
        ]
        problems = []
        for entry in self.repo_allowlist:
            first, _, rest = entry.partition("/")
            if entry == "*" or (
                rest and ("." in first or ":" in first or "*" in first or first == "localhost")
            ):
                continue
            spelled = " or ".join(f"'{host}/{entry}'" for host in hosts or ["github.com"])
            problems.append(
                f"GITOPS_BOT_REPO_ALLOWLIST entry '{entry}' names no forge host; write {spelled}"
            )
        return problems

    # -- loading --------------------------------------------------------------------------
    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read the config once: GITOPS_BOT_CONFIG (YAML) first, GITOPS_BOT_* variables over it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        path = env.get(PREFIX + "CONFIG")
        if path:
            values.update(_read_yaml(Path(path)))
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = raw
        return cls.from_mapping(values, source=path)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str | None = None) -> Config:
        """Build a Config from plain values (strings are converted, unknown keys refused)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}", file=source)
        kwargs: dict[str, Any] = {}
        for name, raw in values.items():
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue  # empty means "not set": the default applies
            try:
                kwargs[name] = _convert(name, raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(str(exc), file=source, key=PREFIX + name.upper()) from None
        config = cls(**kwargs)
        for name, allowed in (
            ("fork_mode", FORK_MODES),
            ("sqlite_synchronous", SQLITE_SYNC),
            ("log_format", LOG_FORMATS),
            ("log_level", LOG_LEVELS),
            ("policy_engine", POLICY_ENGINES),
        ):
            if getattr(config, name) not in allowed:
                raise ConfigError(
                    f"must be one of {', '.join(allowed)}", file=source, key=PREFIX + name.upper()
                )
        if config.public_url and not config.public_url.startswith(("http://", "https://")):
            raise ConfigError("must be an http(s) URL", file=source, key=PREFIX + "PUBLIC_URL")
        _check_opa(config, source)
        return config

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields replaced (tests, CLI overrides)."""
        return replace(self, **changes)


# Names of variables that hold credentials, besides the bot's own secret settings.
_CREDENTIAL_NAME = re.compile(
    r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|"
    r"API_KEY|ACCESS_KEY|_AUTH\b|AUTHORIZATION)"
)


def drop_credentials(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove credentials from the process environment once they have been read.

    Every `GITOPS_BOT_*` setting that may hold a credential (tokens, webhook secrets, the
    database and queue URLs) and every variable whose name says it holds one is removed,
    and its value registered with `redact`. Afterwards nothing running in this process
    (a policy engine's `opa.runtime()` included) can read them from the environment
    (docs/security.md#credentials-in-the-environment). Returns the names removed.
    """
    env = os.environ if environ is None else environ
    settings = {PREFIX + name.upper() for name in (*_SECRETS, "database_url", "queue_url")}
    names = sorted(n for n in env if n in settings or _CREDENTIAL_NAME.search(n))
    for name in names:
        value = env.pop(name)
        remember(value)
    return names


_SECRETS = {
    "github_token",
    "github_webhook_secret",
    "gitlab_token",
    "gitlab_webhook_secret",
    "dashboard_token",
    "metrics_token",
    "argocd_token",
    "opa_token",
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_PATHS = {"data_dir", "github_private_key_file", "kubeconfig"}


def _convert(name: str, raw: Any) -> Any:
    if name in _SECRETS:
        return raw if isinstance(raw, Secret) else Secret(str(raw))
    if name in _PATHS:
        return Path(raw)
    if name == "repo_allowlist":
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(str(i).strip() for i in items if str(i).strip())
    if name == "data_min_free_mb":
        value = int(raw)
        if value < 0:
            raise ValueError("must be 0 or a number of megabytes")
        return value
    if name in ("github_app_id", "max_body_bytes", "queue_max"):
        value = int(raw)
        if value <= 0:
            raise ValueError("must be a positive integer")
        return value
    if name == "job_lease_seconds":
        seconds = float(raw)
        if seconds <= 0:
            raise ValueError("must be positive")
        return seconds
    if name == "github_write_spacing":
        seconds = float(raw)
        if seconds < 0:
            raise ValueError("must be 0 or a number of seconds")
        return seconds
    if name in ("drift_interval", "sweep_interval"):
        seconds = float(raw)
        if seconds < 0:
            raise ValueError("must be 0 (off) or a number of seconds")
        return seconds
    if name == "break_glass_window":
        seconds = float(raw)
        if seconds <= 0:
            raise ValueError("must be a positive number of seconds")
        return seconds
    if name in ("fork_mode", "sqlite_synchronous", "log_format", "policy_engine"):
        return str(raw).strip().lower()
    if name == "log_level":
        return str(raw).strip().upper()
    if name == "dashboard_public":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word not in _TRUE + _FALSE:
            raise ValueError("must be true or false")
        return word in _TRUE
    return str(raw).strip()


def _check_opa(config: Config, source: str | None) -> None:
    """The OPA settings go together: the engine `opa` needs a URL, a URL needs the engine."""
    if config.policy_engine == "opa":
        parts = urlsplit(config.opa_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                "GITOPS_BOT_POLICY_ENGINE=opa needs the OPA server's URL, e.g. http://opa:8181",
                file=source,
                key=PREFIX + "OPA_URL",
            )
    elif config.opa_url or config.opa_token:
        raise ConfigError(
            "is set but GITOPS_BOT_POLICY_ENGINE is embedded: set "
            "GITOPS_BOT_POLICY_ENGINE=opa to evaluate policies on that OPA "
            "server, or unset it",
            file=source,
            key=PREFIX + ("OPA_URL" if config.opa_url else "OPA_TOKEN"),
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of setting: value", file=str(path))
    # Accept both `github_webhook_secret:` and `GITOPS_BOT_GITHUB_WEBHOOK_SECRET:` keys.
    return {str(k).lower().removeprefix(PREFIX.lower()): v for k, v in data.items()}


SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace(config: Config, namespace_file: Path = SERVICE_ACCOUNT_NAMESPACE) -> str:
    """The namespace the bot runs in: `GITOPS_BOT_NAMESPACE`, else the one Kubernetes mounts
    into every pod with its service account token, else "" (not in a pod: `check`, tests)."""
    if config.namespace:
        return config.namespace
    try:
        return namespace_file.read_text().strip()
    except OSError:
        return ""
