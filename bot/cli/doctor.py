"""`gitops-bot doctor`: check settings, tools, storage and forge access, and say what to fix."""

from __future__ import annotations

import enum
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import yaml

from bot.redact import mask_url, redact

P = "GITOPS_BOT_"
SECRET_KEYS = (
    P + "GITHUB_TOKEN",
    P + "GITHUB_WEBHOOK_SECRET",
    P + "GITLAB_TOKEN",
    P + "GITLAB_WEBHOOK_SECRET",
)
URL_KEYS = (P + "DATABASE_URL", P + "QUEUE_URL")  # may carry a password
EXPECTED_VERSIONS = {"helm": "v4.", "kubectl": "v1.35."}


class Status(enum.Enum):
    """Outcome of one check; FAIL makes the command exit 1."""

    OK = "✓"
    WARN = "!"
    FAIL = "✗"
    SKIP = "-"


@dataclass(frozen=True)
class Row:
    """One line of the report: what was checked, how it went, and how to fix it."""

    check: str
    status: Status
    message: str
    fix: str = ""


# -- settings ---------------------------------------------------------------------------------
def read_settings(env: Mapping[str, str]) -> dict[str, str]:
    """GITOPS_BOT_* values: the optional GITOPS_BOT_CONFIG YAML file, then the environment."""
    values: dict[str, str] = {}
    path = env.get(P + "CONFIG")
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            data = {}  # the "settings" row reports the unreadable file
        if isinstance(data, dict):
            for key, value in data.items():
                name = P + str(key).upper().removeprefix(P)
                values[name] = "" if value is None else str(value)
    values.update({k: v for k, v in env.items() if k.startswith(P)})
    return {k: v.strip() for k, v in values.items() if v.strip()}


def store_urls(s: Mapping[str, str]) -> tuple[str, str]:
    """(database URL, queue URL): the settings, else SQLite files in the data folder."""
    data = Path(s.get(P + "DATA_DIR", ".gitops-bot-data")).resolve()
    return (
        s.get(P + "DATABASE_URL") or f"sqlite:///{data / 'gitops-bot.db'}",
        s.get(P + "QUEUE_URL") or f"sqlite:///{data / 'queue.db'}",
    )


def masker(s: Mapping[str, str]) -> Callable[[str], str]:
    """A function that blanks every secret value (and URL password) in a text."""
    secrets = [s[k] for k in SECRET_KEYS if s.get(k)]
    secrets += [p for k in URL_KEYS if (p := urlsplit(s.get(k, "")).password)]
    return lambda text: redact(text, known=secrets)


# -- pure rules: facts -> rows ----------------------------------------------------------------
def _need(check: str, s: Mapping[str, str], key: str, fix: str) -> Row:
    """OK when setting `key` has a value, FAIL with `fix` otherwise; never shows the value."""
    if s.get(key):
        return Row(check, Status.OK, f"{key} set")
    return Row(check, Status.FAIL, f"{key} missing", fix)


def configured(s: Mapping[str, str]) -> dict[str, bool]:
    """Which forges have any setting (then all of that forge's settings are required)."""
    return {
        f: any(
            s.get(f"{P}{f.upper()}_{k}")
            for k in ("TOKEN", "WEBHOOK_SECRET", "APP_ID", "PRIVATE_KEY_FILE")
        )
        for f in ("github", "gitlab")
    }


def forge_rows(s: Mapping[str, str], load_error: str | None) -> list[Row]:
    """Settings that parse, configured forges, secrets shown only as set / missing."""
    rows = [
        Row("settings", Status.FAIL, load_error, "correct the setting named above")
        if load_error
        else Row("settings", Status.OK, "GITOPS_BOT_* settings parse")
    ]
    on = configured(s)
    if not any(on.values()):
        rows.append(
            Row(
                "forges",
                Status.FAIL,
                "no forge is configured",
                f"set {P}GITHUB_WEBHOOK_SECRET and a GitHub token or App, and/or "
                f"{P}GITLAB_WEBHOOK_SECRET and {P}GITLAB_TOKEN",
            )
        )
    app = [P + "GITHUB_APP_ID", P + "GITHUB_PRIVATE_KEY_FILE"]
    for name, enabled in on.items():
        if not enabled:
            rows.append(Row(name, Status.SKIP, "not configured"))
            continue
        hook = f"{P}{name.upper()}_WEBHOOK_SECRET"
        rows.append(
            _need(
                f"{name} webhook secret",
                s,
                hook,
                f"set {hook} to the webhook's secret; the service refuses unsigned webhooks",
            )
        )
        if name == "github" and any(s.get(k) for k in app):
            rows += [
                _need("github credentials", s, k, f"a GitHub App needs both {app[0]} and {app[1]}")
                for k in app
            ]
        else:
            token = f"{P}{name.upper()}_TOKEN"
            rows.append(
                _need(
                    f"{name} credentials",
                    s,
                    token,
                    f"set {token} so the bot can comment and set statuses",
                )
            )
    allow = s.get(P + "REPO_ALLOWLIST")
    rows.append(
        Row("repo allowlist", Status.OK, allow)
        if allow
        else _need(
            "repo allowlist",
            s,
            P + "REPO_ALLOWLIST",
            f"list the repositories the bot may act on, e.g. {P}REPO_ALLOWLIST='github.com/acme/*'",
        )
    )
    return rows


def tool_rows(found: Mapping[str, tuple[str | None, str | None]]) -> list[Row]:
    """Rows for tools found as name -> (path or None, version or an error text)."""
    rows = []
    for name in ("helm", "kubectl", "git", "kubeconform"):
        path, version = found.get(name, (None, None))
        if path is None:
            optional = name == "kubeconform"
            rows.append(
                Row(
                    name,
                    Status.WARN if optional else Status.FAIL,
                    "not found",
                    "optional: put kubeconform on PATH for faster validation"
                    if optional
                    else f"run ./scripts/setup, put it on PATH, or set {P}TOOLS_DIR",
                )
            )
            continue
        want = EXPECTED_VERSIONS.get(name)
        odd = want is not None and not (version or "").startswith(want)
        rows.append(
            Row(
                name,
                Status.WARN if odd else Status.OK,
                f"{version} ({path})",
                f"the bot is tested with {name} {want}x" if odd else "",
            )
        )
    return rows


def isolation_row(available: bool) -> Row:
    """Whether renders can run without network."""
    if available:
        return Row("render isolation", Status.OK, "renders run in an empty network namespace")
    return Row(
        "render isolation",
        Status.WARN,
        "`unshare -n` is not available: renders keep the process's network",
        "allow unprivileged user namespaces, or limit "
        "egress (deploy/kubernetes has NetworkPolicies that do)",
    )


def store_row(check: str, url: str, error: str | None, fix: str) -> Row:
    """A database / queue probe outcome."""
    if error is None:
        return Row(check, Status.OK, f"{mask_url(url)} reachable")
    return Row(check, Status.FAIL, f"{mask_url(url)}: {error}", fix)


def forge_probe_row(
    name: str, status: int | None, login: str | None, error: str | None, url: str
) -> Row:
    """A forge API probe outcome: HTTP status and login, or why it failed."""
    check = f"{name} API"
    if error is not None:
        return Row(
            check,
            Status.FAIL,
            f"{url} unreachable: {error}",
            f"check network access to {url} and {P}{name.upper()}_"
            f"{'API_URL' if name == 'github' else 'URL'}",
        )
    if status == 200:
        return Row(check, Status.OK, f"authenticated as {login or '?'} ({url})")
    if status in (401, 403):
        return Row(
            check,
            Status.FAIL,
            f"{url} answered {status}: credentials rejected",
            "create a new token / App key with the permissions in the README",
        )
    return Row(check, Status.FAIL, f"{url} answered {status}", f"is {url} the forge's API address?")


def webhook_rows(s: Mapping[str, str], forges: Iterable[str]) -> list[Row]:
    """Where to point each configured forge's webhook."""
    public = s.get(P + "PUBLIC_URL", "").rstrip("/")
    rows = []
    for forge in forges:
        url = f"{public or 'https://<public address>'}/hooks/{forge}"
        if not public:
            rows.append(
                Row(
                    f"{forge} webhook",
                    Status.WARN,
                    f"point the webhook at {url}",
                    f"set {P}PUBLIC_URL to the address forges reach the bot at",
                )
            )
        elif not public.startswith("https://"):
            rows.append(
                Row(
                    f"{forge} webhook",
                    Status.WARN,
                    f"point the webhook at {url}",
                    "serve webhooks over HTTPS (TLS at the ingress)",
                )
            )
        else:
            rows.append(
                Row(
                    f"{forge} webhook",
                    Status.OK,
                    f"point the webhook at {url} with the secret {P}{forge.upper()}_WEBHOOK_SECRET",
                )
            )
    return rows


# -- gatherers: thin I/O ----------------------------------------------------------------------
def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:240]


def _writable(path: Path) -> str | None:
    """None when `path` can be written (or created), else why not."""
    if path.exists():
        return None if os.access(path, os.R_OK | os.W_OK) else f"{path} is not writable"
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    return None if os.access(folder, os.W_OK | os.X_OK) else f"{folder} is not writable"


def _find(name: str, tools_dir: str | None) -> str | None:
    from bot.errors import ToolMissing
    from bot.tools import find_tool

    try:
        return find_tool(name, tools_dir=tools_dir)
    except ToolMissing:
        return None


def _sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1] if ":///" in url else "")


def probe_database(url: str, timeout: float) -> str | None:
    """None when the store answers `SELECT 1` (SQLite: when its file can be written)."""
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if not path.exists():  # the service creates it; the doctor leaves no files behind
            return _writable(path)
    args = {"connect_timeout": max(1, int(timeout))} if url.startswith("postgres") else {}
    try:
        engine = create_engine(url, connect_args=args)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error is the answer we report
        return _short(exc)
    return None


def probe_queue(url: str, timeout: float) -> str | None:
    """None when Redis answers PING, or the SQLite queue file can be written."""
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        import redis

        try:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            client.ping()
            client.close()
        except Exception as exc:  # connection, auth and protocol errors alike
            return _short(exc)
        return None
    if scheme == "sqlite":
        return _writable(_sqlite_path(url))
    return f"unsupported queue URL scheme {scheme!r} (use redis:// or sqlite:///)"


def _get(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, dict[str, Any]]:
    import requests

    # No redirects: a redirect would carry the credential header to another address.
    resp = requests.get(url, headers=dict(headers), timeout=timeout, allow_redirects=False)
    try:
        body = resp.json()
    except ValueError:
        body = {}
    return resp.status_code, body if isinstance(body, dict) else {}


def probe_forge(
    forge: str, s: Mapping[str, str], timeout: float
) -> tuple[int | None, str | None, str | None]:
    """(HTTP status, login, error) of GitHub GET /user or /app (App JWT), GitLab /api/v4/user."""
    try:
        if forge == "gitlab":
            url = s.get(P + "GITLAB_URL", "https://gitlab.com").rstrip("/") + "/api/v4/user"
            status, body = _get(url, {"PRIVATE-TOKEN": s[P + "GITLAB_TOKEN"]}, timeout)
            return status, str(body.get("username") or "") or None, None
        api = s.get(P + "GITHUB_API_URL", "https://api.github.com").rstrip("/")
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if s.get(P + "GITHUB_TOKEN"):
            headers["Authorization"] = f"Bearer {s[P + 'GITHUB_TOKEN']}"
            status, body = _get(f"{api}/user", headers, timeout)
            return status, str(body.get("login") or "") or None, None
        import jwt

        key = Path(s[P + "GITHUB_PRIVATE_KEY_FILE"]).read_text(encoding="utf-8")
        now = int(time.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": s[P + "GITHUB_APP_ID"]}
        headers["Authorization"] = f"Bearer {jwt.encode(claims, key, algorithm='RS256')}"
        status, body = _get(f"{api}/app", headers, timeout)
        return status, str(body.get("slug") or body.get("name") or "") or None, None
    except Exception as exc:  # offline, bad key file, TLS: all reported, none fatal
        return None, None, _short(exc)


def gather_tools(tools_dir: str | None) -> dict[str, tuple[str | None, str | None]]:
    """name -> (path, version) for helm, kubectl, git and kubeconform."""
    from bot.errors import GitopsBotError, ToolMissing
    from bot.tools import Tools, tool_version

    names = ("helm", "kubectl", "git", "kubeconform")
    try:
        t = Tools.discover(tools_dir=tools_dir)
        paths = dict(zip(names, (t.helm, t.kubectl, t.git, t.kubeconform), strict=True))
    except ToolMissing:  # discover() insists on git: look for the others one by one
        paths = {n: shutil.which(n) if n == "git" else _find(n, tools_dir) for n in names}
    found: dict[str, tuple[str | None, str | None]] = {}
    for name, path in paths.items():
        try:
            found[name] = (path, tool_version(path) if path else None)
        except (GitopsBotError, OSError) as exc:
            found[name] = (path, f"version unknown ({_short(exc)})")
    return found


def collect(env: Mapping[str, str], timeout: float = 5.0) -> list[Row]:
    """Every check, in report order, with secrets masked."""
    from bot import proc
    from bot.config import Config
    from bot.errors import ConfigError

    s = read_settings(env)
    try:
        Config.load(env)
        load_error = None
    except ConfigError as exc:
        load_error = str(exc)
    rows = forge_rows(s, load_error)
    rows += tool_rows(gather_tools(s.get(P + "TOOLS_DIR")))
    rows.append(isolation_row(proc.network_isolation_available()))
    db, queue = store_urls(s)
    rows.append(
        store_row(
            "database",
            db,
            probe_database(db, timeout),
            f"start the database or correct {P}DATABASE_URL (SQLite: make {P}DATA_DIR writable)",
        )
    )
    rows.append(
        store_row(
            "queue",
            queue,
            probe_queue(queue, timeout),
            f"start Redis or correct host/port/password in {P}QUEUE_URL and "
            "allow its port in NetworkPolicies (SQLite: make the data dir "
            "writable)",
        )
    )
    forges = [f for f, on in configured(s).items() if on]
    for forge in forges:  # probe only with complete credentials
        if all(r.status is Status.OK for r in rows if r.check == f"{forge} credentials"):
            api = (
                s.get(P + "GITHUB_API_URL", "https://api.github.com")
                if forge == "github"
                else s.get(P + "GITLAB_URL", "https://gitlab.com")
            )
            rows.append(forge_probe_row(forge, *probe_forge(forge, s, timeout), api))
    rows += webhook_rows(s, forges)
    mask = masker(s)
    return [Row(r.check, r.status, mask(r.message), mask(r.fix)) for r in rows]


def render_table(rows: Iterable[Row]) -> str:
    """The report: one line per check, a fix line under anything not OK, a summary."""
    rows = list(rows)
    width = max((len(r.check) for r in rows), default=0)
    lines = []
    for r in rows:
        lines.append(f"{r.status.value} {r.check.ljust(width)}  {r.message}")
        if r.fix and r.status in (Status.FAIL, Status.WARN):
            lines.append(f"  {' ' * width}  fix: {r.fix}")
    counts = {st: sum(r.status is st for r in rows) for st in Status}
    lines.append(
        f"{len(rows)} checks: {counts[Status.OK]} ok, {counts[Status.WARN]} "
        f"warnings, {counts[Status.FAIL]} failed"
    )
    return "\n".join(lines)


@click.command("doctor")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--timeout",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds to wait for each database, queue and forge probe.",
)
def doctor(fmt: str, timeout: float) -> None:
    """Check settings, tools, database, queue and forge access; print what to fix.

    Secrets are shown only as set / missing. Exit status: 0 when nothing failed (warnings
    allowed), 1 otherwise.
    """
    rows = collect(os.environ, timeout=timeout)
    if fmt == "json":
        click.echo(
            json.dumps([{**asdict(r), "status": r.status.name.lower()} for r in rows], indent=2)
        )
    else:
        click.echo(render_table(rows))
    sys.exit(1 if any(r.status is Status.FAIL for r in rows) else 0)
