"""Finding the external tools (helm, kubectl, kubeconform, git) and their versions.

Look-up order for each tool: an explicit path, then `GITOPS_BOT_TOOLS_DIR`, then the
project-local `.tools/bin` that `./scripts/setup` fills, then PATH.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot import proc
from bot.errors import ToolMissing

PROJECT_TOOLS = Path(__file__).resolve().parent.parent / ".tools" / "bin"
INSTALL_HINT = "run ./scripts/setup, put it on PATH, or set GITOPS_BOT_TOOLS_DIR"


def find_tool(name: str, explicit: str | None = None, tools_dir: str | None = None) -> str:
    """Absolute path of tool `name`, or ToolMissing saying where the bot looked."""
    looked: list[str] = []
    if explicit:
        if os.access(explicit, os.X_OK):
            return os.path.abspath(explicit)
        raise ToolMissing(f"{name} not found at configured path {explicit}")
    for folder in (tools_dir or os.environ.get("GITOPS_BOT_TOOLS_DIR"), str(PROJECT_TOOLS)):
        if folder:
            candidate = os.path.join(folder, name)
            looked.append(folder)
            if os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which(name)
    if found:
        return found
    raise ToolMissing(
        f"{name} is not installed (looked in {', '.join(looked)} and PATH); {INSTALL_HINT}"
    )


@functools.cache
def tool_version(path: str) -> str:
    """The version a tool reports (cached per path), e.g. `v4.1.4` or `v1.35.2`."""
    name = os.path.basename(path)
    argv = {
        "helm": [path, "version", "--short"],
        "kubectl": [path, "version", "--client"],
        "kubeconform": [path, "-v"],
    }.get(name, [path, "--version"])
    out = proc.run(argv, env=proc.clean_env(home="/nonexistent"), timeout=20)
    text = out.stdout.decode("utf-8", "replace")
    match = re.search(r"v?\d+\.\d+\.\d+", text)
    return match.group(0) if match else text.strip()[:40]


@dataclass(frozen=True)
class Tools:
    """Where the bot's external tools are. `kubeconform` is optional (None)."""

    helm: str | None
    kubectl: str | None
    git: str
    kubeconform: str | None = None

    @staticmethod
    def discover(tools_dir: str | None = None, kubeconform: str | None = None) -> "Tools":
        """Find the tools; helm/kubectl may be None (a render that needs one says so)."""

        def optional(name: str, explicit: str | None = None) -> str | None:
            try:
                return find_tool(name, explicit, tools_dir)
            except ToolMissing:
                if explicit:
                    raise
                return None

        return Tools(
            helm=optional("helm"),
            kubectl=optional("kubectl"),
            git=find_tool("git", tools_dir=tools_dir),
            kubeconform=optional("kubeconform", kubeconform),
        )

    def require(self, name: str) -> str:
        """Path of a tool that must exist, or ToolMissing naming it."""
        path = getattr(self, name)
        if not path:
            raise ToolMissing(f"{name} is not installed; {INSTALL_HINT}")
        return str(path)
