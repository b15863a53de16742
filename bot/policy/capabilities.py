"""Built-ins no policy may call: the bot's policies are data checks, not programs with I/O.

Two checks, each refusing the whole set before anything is evaluated:
- the compiled plan (`regocore.Program.builtin_calls`) of every set regopy compiles, so
  every spelling regopy resolves is caught as the engine will run it;
- the text scan (`source.forbidden_calls`, dotted, bracketed and escaped references) of
  every set, which is what guards the OPA server engine: OPA resolves spellings regopy
  does not (`opa["run\u0074ime"]()`).
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
