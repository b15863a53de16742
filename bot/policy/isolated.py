"""Policies evaluated in a sandboxed child process (`bot/policy/child.py`).

Policy files from a pull request are programs written by whoever opened it. They are
compiled and evaluated only in a child with an empty environment, no network, a memory
limit and a time limit per answer; results come back as JSON data. The same child compiles
every trusted set once before the bot compiles it in-process, so a regopy crash or a
forbidden built-in is found without risk to the bot (docs/security.md#untrusted-rego).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot import proc, scratch
from bot.errors import BudgetExceeded, ToolError
from bot.policy.capabilities import FORBIDDEN_BUILTINS, BuiltinCall
from bot.policy.regocore import RegoFailure

CHILD = Path(__file__).with_name("child.py")
DEFAULT_MEMORY = 2 << 30  # address space of the child, bytes
DEFAULT_COMPILE_TIMEOUT = 120.0
DEFAULT_ANSWER_TIMEOUT = 30.0  # per evaluated input


class ForbiddenBuiltins(RegoFailure):
    """The compiled policies call built-ins the bot never runs; nothing was evaluated."""

    def __init__(self, calls: Sequence[BuiltinCall]) -> None:
        self.calls = tuple(calls)
        super().__init__(
            "; ".join(
                f"{c.where}{c.name} is not allowed in policies "
                f"({FORBIDDEN_BUILTINS.get(c.name, 'refused')})"
                for c in self.calls
            )
        )


class IsolatedProgram:
    """One compiled policy set living in a sandboxed child; `evaluate` asks it for a value.

    Same interface as the in-process `regocore.Program`. Raises RegoFailure when the set
    does not compile, crashes the compiler or calls a built-in in `forbidden`
    (ForbiddenBuiltins; the bot always passes the default, FORBIDDEN_BUILTINS).
    """

    def __init__(
        self,
        modules: Sequence[tuple[str, str]],
        data: Mapping[str, Any],
        entrypoints: Sequence[str],
        *,
        smoke: bool = False,
        memory: int = DEFAULT_MEMORY,
        compile_timeout: float = DEFAULT_COMPILE_TIMEOUT,
        answer_timeout: float = DEFAULT_ANSWER_TIMEOUT,
        forbidden: Collection[str] = tuple(FORBIDDEN_BUILTINS),
        plan_check: bool = True,
    ) -> None:
        self.entrypoints = tuple(entrypoints)
        self._answer_timeout = answer_timeout
        self._home = str(scratch.mkdtemp("gitops-bot-rego-"))
        self._pipe: proc.Pipe | None = proc.Pipe(
            [sys.executable, "-I", str(CHILD), str(memory)], cwd=self._home, env={}, no_network=True
        )
        request = {
            "modules": [list(m) for m in modules],
            "data": data,
            "entrypoints": list(entrypoints),
            "forbidden": sorted(forbidden),
            "smoke": smoke,
            "plan_check": plan_check,
        }
        try:
            answer = self._ask(request, compile_timeout, "compiling")
        except RegoFailure:
            self.close()
            raise
        if "forbidden" in answer or "error" in answer:
            self.close()
            if "forbidden" in answer:
                raise ForbiddenBuiltins([BuiltinCall(*c) for c in answer["forbidden"]])
            raise RegoFailure(str(answer["error"]))
        self.builtins = tuple(BuiltinCall(*c) for c in answer.get("builtins", ()))

    def _ask(
        self, request: Mapping[str, Any] | bytes, timeout: float, doing: str
    ) -> dict[str, Any]:
        if self._pipe is None:
            raise RegoFailure("the policy process is gone (an earlier evaluation failed)")
        try:
            line = self._pipe.request(
                request
                if isinstance(request, bytes)
                else json.dumps(request, separators=(",", ":")).encode(),
                timeout=timeout,
            )
        except (ToolError, BudgetExceeded) as exc:
            self.close()
            raise RegoFailure(_crash_reason(exc, doing)) from exc
        try:
            answer = json.loads(line)
        except ValueError as exc:
            self.close()
            raise RegoFailure(f"the policy process answered {line[:200]!r}") from exc
        if not isinstance(answer, dict):
            raise RegoFailure(f"the policy process answered {line[:200]!r}")
        return answer

    def evaluate(self, entrypoint: str, value: Any) -> tuple[bool, Any]:
        """(defined, value) of `entrypoint` for input `value` (JSON-safe)."""
        answer = self._ask(
            {"entrypoint": entrypoint, "input": value}, self._answer_timeout, "evaluating"
        )
        if "error" in answer:
            raise RegoFailure(str(answer["error"]))
        return bool(answer.get("defined")), answer.get("value")

    def evaluate_json(self, entrypoint: str, document: bytes) -> tuple[bool, Any]:
        """As `evaluate`, the input given as one JSON document (sent as it is)."""
        line = b'{"entrypoint":%s,"input":%s}' % (json.dumps(entrypoint).encode(), document)
        answer = self._ask(line, self._answer_timeout, "evaluating")
        if "error" in answer:
            raise RegoFailure(str(answer["error"]))
        return bool(answer.get("defined")), answer.get("value")

    def close(self) -> None:
        """Stop the child and remove its private folder."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        shutil.rmtree(self._home, ignore_errors=True)

    def __del__(self) -> None:
        self.close()


def _crash_reason(exc: ToolError | BudgetExceeded, doing: str) -> str:
    if isinstance(exc, BudgetExceeded):
        return f"the policy answer was too large while {doing}: {exc}"
    if isinstance(exc, ToolError) and exc.timed_out:
        return f"the policies took too long while {doing} ({exc}); the policy process was killed"
    code = exc.returncode if isinstance(exc, ToolError) else None
    tail = exc.stderr.strip().splitlines() if isinstance(exc, ToolError) else []
    last = tail[-1].strip() if tail else "no message"
    if "bad_alloc" in last:
        return (
            f"the policies needed more memory than the policy process may use while "
            f"{doing}; it was stopped"
        )
    if code is not None and code < 0:
        return (
            f"regopy crashed while {doing} (signal {-code}: {last}); a construct it does "
            "not support, such as `with input as` in a policy rule, or a policy that "
            "needs more than the memory limit, is the usual cause"
        )
    return f"the policy process failed while {doing}: {exc} ({last})"


def probe(
    modules: Sequence[tuple[str, str]],
    data: Mapping[str, Any],
    entrypoints: Sequence[str],
    *,
    evaluate: bool = True,
) -> str | None:
    """Compile (and smoke-evaluate) in the sandboxed child; the reason it fails, or None."""
    try:
        IsolatedProgram(modules, data, entrypoints, smoke=evaluate).close()
    except RegoFailure as exc:
        return str(exc)
    return None
