"""Import rules of `bot/`: no import cycles, and the core (decisions on data) imports no I/O.

The core modules take plain data and return plain data; adapters do the I/O. Importing a core
module must therefore not load, directly or through anything it imports, a library that talks
to the network, a database, a queue, a subprocess or the policy engine.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"

# Top-level names of libraries (and bot modules) that do I/O.
IO_LIBRARIES = frozenset(
    {
        "flask",
        "werkzeug",
        "gunicorn",
        "requests",
        "urllib3",
        "github",
        "gitlab",
        "sqlalchemy",
        "alembic",
        "huey",
        "redis",
        "psycopg",
        "regopy",
        "opa_client",
        "prometheus_client",
        "subprocess",
        "bot.proc",
        "bot.gitrepo",
        "bot.tools",
        "bot.store",
        "bot.live",
        "bot.web",
    }
)

CORE = [
    "bot.decide",
    "bot.outcomes",
    "bot.diff",
    "bot.report",
    "bot.markdown",
    "bot.redact",
    "bot.model",
    "bot.repo.targets",
    "bot.repo.repo_config",
    "bot.repo.config_yaml",
    "bot.repo.discovery",
    "bot.repo.kustomize_refs",
    "bot.repo.kustomize_fields",
    "bot.repo.safeyaml",
    "bot.repo.layout",
    "bot.repo.sniff",
    "bot.repo.discovery_plain",
    "bot.forges.payload",
    "bot.forges.github_parse",
    "bot.forges.gitlab_parse",
    "bot.commands",
    "bot.governance",
    "bot.authority",
    "bot.merge_group",
    "bot.missed",
    "bot.chain",
    "bot.formats",
    "bot.formats.sarif",
    "bot.formats.junit",
    "bot.formats.codequality",
]

PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def io_imports(module: str) -> list[str]:
    """The I/O libraries that importing `module` loads, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return [
        name
        for name in loaded
        if any(name == lib or name.startswith(lib + ".") for lib in IO_LIBRARIES)
    ]


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io_library(module: str) -> None:
    assert io_imports(module) == []


def test_the_check_sees_an_io_library_loaded_indirectly() -> None:
    # bot.cli.drift imports bot.store, which imports SQLAlchemy: both must be reported.
    found = io_imports("bot.cli.drift")
    assert "bot.store" in found and "sqlalchemy" in found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in BOT.rglob("*.py")}


def _type_checking_only(tree: ast.Module) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return skipped


def imported_modules(module: str, source: str) -> set[str]:
    """The bot modules `module` imports anywhere in its source (function-level imports
    included; `if TYPE_CHECKING:` blocks are not imports at run time)."""
    tree = ast.parse(source)
    skipped = _type_checking_only(tree)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(name, path.read_text()) for name, path in MODULES.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_no_import_cycle_among_bot_modules() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function() -> None:
    # The shape of the old discovery <-> repo_config cycle: the import back sits in a function.
    graph = import_graph()
    graph["bot.repo.repo_config"] |= imported_modules(
        "bot.repo.repo_config", "def f():\n    from bot.repo.discovery import discover_config\n"
    )
    assert cycles(graph) == [["bot.repo.discovery", "bot.repo.repo_config"]]
