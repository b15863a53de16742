"""Guarded access to regopy: compile once, evaluate many times, never crash or print.

regopy 1.5.2 pitfalls handled here (measured on these machines):
- a failed query's output must not be turned into a string (the process segfaults), so
  outputs are read through the C API only after `regoOutputOk`;
- some errors come back as an "ok" output whose text is an `(error ...)` tree;
- compile errors go to stdout unless the log level is NONE;
- `with input as` next to helper rules aborts the process: every module's `input` is
  routed through `data.gitops_bot_io.doc` (so tests use `with data... as`), and a compile
  probe in a child process catches any other crash before the bot compiles in-process.
"""
from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from regopy import Input, Interpreter, LogLevel, RegoError
from regopy import rego_shared as capi

from bot import proc
from bot.errors import GitopsBotError
from bot.policy import source

IO_REF = "data.gitops_bot_io.doc"
IO_MODULE = ("gitops_bot_io.rego", "package gitops_bot_io\n\ndoc := input\n")
PROBE = Path(__file__).with_name("probe.py")
_LEN_PREFIXED = re.compile(r"(\d+):")


class RegoFailure(GitopsBotError):
    """regopy could not compile or evaluate; the message is readable."""


def _length_prefixed(text: str, pos: int) -> tuple[str, int]:
    match = _LEN_PREFIXED.match(text, pos)
    if not match:
        return "", pos
    start = match.end()
    return text[start:start + int(match.group(1))], start + int(match.group(1))


def describe_error(text: str, sources: Mapping[str, str]) -> str:
    """Turn regopy's error tree into `file:line: message` lines (at most five)."""
    found: list[str] = []
    for match in re.finditer(r"\(error(?=[\s)])", text):
        pos, where = match.end(), ""
        if text.startswith(" ", pos) and _LEN_PREFIXED.match(text, pos + 1):
            name, end = _length_prefixed(text, pos + 1)
            offset = re.match(r"\|(\d+)\|", text[end:])
            line = ""
            if offset and name in sources:
                line = f":{sources[name][:int(offset.group(1))].count(chr(10)) + 1}"
            where = f"{name}{line}: "
        at = text.find("(errormsg ", pos)
        if at < 0:
            continue
        message, _ = _length_prefixed(text, at + len("(errormsg "))
        found.append(f"{where}{message}")
    if not found:
        return text.strip()[:500] or "unknown regopy error"
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return "; ".join(found[:5]) + more


def prepare_modules(modules: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Modules as the embedded engine compiles them: `input` routed through the IO rule."""
    return [IO_MODULE, *((path, source.rewrite(src, input_ref=IO_REF)) for path, src in modules)]


def probe(modules: Sequence[tuple[str, str]], data: Mapping[str, Any],
          entrypoints: Sequence[str], *, evaluate: bool = True) -> str | None:
    """Compile in a child process first; the reason when that fails or crashes, else None."""
    request = json.dumps({"modules": list(modules), "data": data,
                          "entrypoints": list(entrypoints), "evaluate": evaluate}).encode()
    try:
        done = proc.run([sys.executable, "-I", str(PROBE)], stdin=request, timeout=120,
                        check=False)
    except GitopsBotError as exc:
        return f"the policy compile probe failed: {exc}"
    if done.returncode < 0:
        tail = done.stderr_tail.strip().splitlines()
        return (f"regopy crashed compiling these policies (signal {-done.returncode}: "
                f"{tail[-1] if tail else 'no message'}); a construct it does not support, "
                "such as `with input as` in a policy rule, is the usual cause")
    try:
        answer = json.loads(done.stdout or b"{}")
    except ValueError:
        return f"the policy compile probe answered {done.stdout[:200]!r}"
    if "error" in answer:
        return describe_error(str(answer["error"]), dict(modules))
    return None if answer.get("ok") else "the policy compile probe gave no answer"


class Program:
    """A compiled bundle plus a runtime interpreter; evaluation is serialised by a lock."""

    def __init__(self, modules: Sequence[tuple[str, str]], data: Mapping[str, Any],
                 entrypoints: Sequence[str]) -> None:
        self.entrypoints = tuple(entrypoints)
        builder = Interpreter()
        builder.log_level = LogLevel.NONE
        try:
            if data:
                builder.add_data(data)
            for name, src in modules:
                builder.add_module(name, src)
            self._bundle = builder.build(None, self.entrypoints)
        except RegoError as exc:
            raise RegoFailure(describe_error(str(exc), dict(modules))) from exc
        if not self._bundle.ok():
            raise RegoFailure("regopy could not build the policy bundle")
        self._builder = builder  # the bundle refers to the builder's state; keep it alive
        self._runtime = Interpreter()
        self._runtime.log_level = LogLevel.NONE
        self._lock = threading.Lock()

    def evaluate(self, entrypoint: str, value: Any) -> tuple[bool, Any]:
        """(defined, value) of `entrypoint` for input `value` (JSON-safe)."""
        with self._lock:
            try:
                self._runtime.set_input(Input(value))
                output = capi.rego_bundle_query_entrypoint(
                    self._runtime._impl, self._bundle._impl, entrypoint)
            except (RegoError, ValueError) as exc:
                raise RegoFailure(f"evaluation failed: {str(exc)[:300]}") from exc
            try:
                if not capi.rego_output_ok(output):
                    raise RegoFailure("evaluation failed (conflicting rule values, a failing "
                                      "built-in or a type error; regopy gives no detail)")
                text = capi.rego_output_string(output)
            finally:
                capi.rego_free_output(output)
        if text == "undefined":
            return False, None
        if text.lstrip().startswith("(error"):
            raise RegoFailure(describe_error(text, {}))
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise RegoFailure(f"unreadable result {text[:200]!r}") from exc
        first = parsed[0] if isinstance(parsed, list) and parsed else parsed
        expressions = first.get("expressions") if isinstance(first, dict) else None
        if not expressions:
            return False, None
        return True, expressions[0]
