"""The bot's own kubeconfig (exec plugins refused) and the kubectl runner built on bot.proc.

Only the kubeconfig the bot is configured with is ever used: a copy of the validated bytes
goes to a private temporary file, so the file cannot change between the check and the use.
Any `users[].user.exec` or `auth-provider` runs a program (docs/security.md#case-41): refused.
Every kubectl call gets a clean environment (no KUBECONFIG, no tokens), a private HOME and
a fresh discovery cache (so kinds added by CRDs earlier in the same deploy are seen).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bot import proc, scratch
from bot.errors import ConfigError, ToolError
from bot.redact import redact

MAX_KUBECONFIG_BYTES = 1 << 20
_UNREACHABLE = re.compile(
    r"(connection to the server .* was refused|Unable to connect to the server|dial tcp|"
    r"i/o timeout|no such host|connection reset|TLS handshake timeout|context deadline "
    r"exceeded|the server is currently unable to handle the request|"
    r"Client\.Timeout exceeded|EOF$)",
    re.IGNORECASE | re.MULTILINE,
)


def check_kubeconfig(data: bytes, context: str, source: str = "kubeconfig") -> dict[str, Any]:
    """The parsed kubeconfig when it is safe to hand to kubectl; ConfigError otherwise."""
    if len(data) > MAX_KUBECONFIG_BYTES:
        raise ConfigError("kubeconfig is too large", file=source)
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig is not valid YAML: {exc}", file=source) from None
    if not isinstance(doc, dict):
        raise ConfigError("kubeconfig is not a mapping", file=source)
    for i, entry in enumerate(doc.get("users") or []):
        user = entry.get("user") if isinstance(entry, dict) else None
        for key in ("exec", "auth-provider"):
            if isinstance(user, dict) and key in user:
                raise ConfigError(
                    f"users[{i}].user.{key} runs a program to get credentials; "
                    "refused (use a token or client certificate)",
                    file=source,
                    key=f"users[{i}].user.{key}",
                )
    names = [c.get("name") for c in doc.get("contexts") or [] if isinstance(c, dict)]
    if context.startswith("-") or context not in names:
        raise ConfigError(
            f"context {context!r} is not defined in the kubeconfig", file=source, key="contexts"
        )
    return doc


def unreachable(stderr: str) -> bool:
    """Whether kubectl's error says the API server could not be reached."""
    return bool(_UNREACHABLE.search(stderr))


class Kubectl:
    """kubectl against one context of the bot's kubeconfig."""

    def __init__(
        self, kubeconfig: Path, context: str, *, binary: str, timeout: float = 120.0
    ) -> None:
        try:
            data = Path(kubeconfig).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the kubeconfig: {exc.strerror}", file=str(kubeconfig)
            ) from None
        check_kubeconfig(data, context, str(kubeconfig))
        self._data, self.context, self.binary, self.timeout = data, context, binary, timeout

    def run(self, args: Sequence[str], *, stdin: bytes | None = None) -> proc.Completed:
        """Run `kubectl <args>` (never raises on exit status; see `returncode`)."""
        with scratch.temporary("gitops-bot-kubectl-") as tmp:
            config = Path(tmp) / "kubeconfig"
            fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(self._data)
            argv = [
                self.binary,
                f"--kubeconfig={config}",
                f"--context={self.context}",
                f"--cache-dir={tmp}/cache",
                "--request-timeout=30s",
            ]
            try:
                return proc.run(
                    [*argv, *args],
                    env=proc.clean_env(home=tmp),
                    cwd=tmp,
                    timeout=self.timeout,
                    stdin=stdin,
                    check=False,
                )
            except ToolError as exc:
                raise ToolError(
                    redact(str(exc)),
                    argv=[self.binary, *args],
                    stderr=redact(exc.stderr),
                    timed_out=exc.timed_out,
                ) from None
