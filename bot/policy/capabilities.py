"""Built-ins no policy may call: the bot's policies are data checks, not programs with I/O.

The check runs on the compiled plan (`regocore.Program.builtin_calls`), so every spelling
of a call is caught; the text scan in `source.forbidden_calls` is only a first, cheap look
for the OPA server engine, whose sets are also compiled by regopy before upload.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

# name -> why it is refused (shown to the policy author)
FORBIDDEN_BUILTINS: dict[str, str] = {
    "opa.runtime": "it returns the process environment, where credentials live",
    "http.send": "no network access from policies",
    "net.lookup_ip_addr": "no DNS or network access from policies",
    "rego.parse_module": "policies may not compile other code at run time",
    "time.now_ns": "results are cached per revision; put dates in data files instead",
    "rand.intn": "results must not change between two evaluations of the same input",
    "uuid.rfc4122": "results must not change between two evaluations of the same input",
}


class BuiltinCall(NamedTuple):
    """One call of a built-in in a compiled policy set."""

    name: str
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        """`file:line: ` when known, else empty."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}: " if self.line else f"{self.file}: "


def refused(calls: Iterable[tuple[str, str, int]]) -> list[BuiltinCall]:
    """The calls of forbidden built-ins among (name, file, line) calls, in the order given."""
    return [BuiltinCall(*c) for c in calls if c[0] in FORBIDDEN_BUILTINS]
