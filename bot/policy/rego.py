"""How the bot compiles Rego: `input` routed through an IO rule, then regopy (in-process
for trusted sets, in a sandboxed child for untrusted ones).

regopy aborts on `with input as` next to helper rules; every module's `input` is routed
through `data.gitops_bot_io.doc` (so tests use `with data... as`). The guarded regopy
access itself is in `regocore.py`, the sandboxed child in `isolated.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.policy import source
from bot.policy.isolated import ForbiddenBuiltins, IsolatedProgram, probe
from bot.policy.regocore import Program, RegoFailure, describe_error

IO_REF = "data.gitops_bot_io.doc"
IO_MODULE = ("gitops_bot_io.rego", "package gitops_bot_io\n\ndoc := input\n")

__all__ = [
    "IO_MODULE",
    "IO_REF",
    "ForbiddenBuiltins",
    "IsolatedProgram",
    "Program",
    "RegoFailure",
    "describe_error",
    "prepare_modules",
    "probe",
]


def prepare_modules(modules: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Modules as the embedded engine compiles them: `input` routed through the IO rule."""
    return [IO_MODULE, *((path, source.rewrite(src, input_ref=IO_REF)) for path, src in modules)]
