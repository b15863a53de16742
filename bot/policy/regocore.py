"""Guarded access to regopy: compile once, evaluate many times, never crash or print.

This module imports only the standard library and regopy, so the sandboxed policy child
(`bot/policy/child.py`) loads it by path without importing the rest of the bot.

regopy 1.5.2 pitfalls handled here (measured on these machines):
- a failed query's output must not be turned into a string (the process segfaults), so
  outputs are read through the C API only after `regoOutputOk`;
- some errors come back as an "ok" output whose text is an `(error ...)` tree;
- compile errors go to stdout unless the log level is NONE;
- `with input as` next to helper rules aborts the process: every module's `input` is
  routed through `data.gitops_bot_io.doc` (so tests use `with data... as`), and every set
  is compiled in a child process first, so any other crash happens there.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from regopy import BundleFormat, Input, Interpreter, LogLevel, RegoError
from regopy import rego_shared as capi

from bot import scratch

_LEN_PREFIXED = re.compile(r"(\d+):")


class RegoFailure(Exception):
    """regopy could not compile or evaluate; the message is readable."""


def _length_prefixed(text: str, pos: int) -> tuple[str, int]:
    match = _LEN_PREFIXED.match(text, pos)
    if not match:
        return "", pos
    start = match.end()
    return text[start : start + int(match.group(1))], start + int(match.group(1))


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
                line = f":{sources[name][: int(offset.group(1))].count(chr(10)) + 1}"
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


def _builtin_calls(plan: Mapping[str, Any], files: Sequence[str]) -> list[tuple[str, str, int]]:
    """(built-in, file, line) of every call in a compiled plan, in plan order."""
    declared = {str(f.get("name")) for f in plan.get("static", {}).get("builtin_funcs", ())}
    calls: list[tuple[str, str, int]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            stmt = node.get("stmt")
            if (
                node.get("type") == "CallStmt"
                and isinstance(stmt, dict)
                and stmt.get("func") in declared
            ):
                index = stmt.get("file", -1)
                name = files[index] if isinstance(index, int) and 0 <= index < len(files) else ""
                calls.append((str(stmt["func"]), name, int(stmt.get("row", 0) or 0)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    seen = {c[0] for c in calls}
    # A built-in the plan declares but no statement calls (e.g. used through `with`) still
    # counts: the declaration list is what the engine will link.
    calls += [(name, "", 0) for name in sorted(declared - seen)]
    return calls


_SET_INPUT_JSON = capi.rego.regoSetInputJSON
_SET_INPUT_JSON.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_SET_INPUT_JSON.restype = ctypes.c_uint


def _set_input_json(interpreter: Interpreter, document: bytes) -> None:
    if b"\0" in document:  # a C string: JSON escapes NUL, so this is not JSON text
        raise ValueError("input document holds a NUL byte")
    code = _SET_INPUT_JSON(interpreter._impl, document)
    if code != 0:
        raise RegoError("cannot read the input document", code)


class Program:
    """A compiled bundle plus a runtime interpreter; evaluation is serialised by a lock."""

    def __init__(
        self,
        modules: Sequence[tuple[str, str]],
        data: Mapping[str, Any],
        entrypoints: Sequence[str],
    ) -> None:
        self.entrypoints = tuple(entrypoints)
        self._sources = dict(modules)
        builder = Interpreter()
        builder.log_level = LogLevel.NONE
        try:
            if data:
                builder.add_data(data)
            for name, src in modules:
                builder.add_module(name, src)
            self._bundle = builder.build(None, self.entrypoints)
        except RegoError as exc:
            raise RegoFailure(describe_error(str(exc), self._sources)) from exc
        if not self._bundle.ok():
            raise RegoFailure("regopy could not build the policy bundle")
        self._builder = builder  # the bundle refers to the builder's state; keep it alive
        self._runtime = Interpreter()
        self._runtime.log_level = LogLevel.NONE
        self._lock = threading.Lock()

    def builtin_calls(self) -> list[tuple[str, str, int]]:
        """(built-in, file, line) of every built-in the compiled plan calls.

        Read from the compiled plan, not the source text, so every spelling of a call
        (`opa.runtime()`, `opa["runtime"]()`, a function value passed through `with`) shows
        up exactly as the engine will run it.
        """
        folder = str(scratch.mkdtemp("gitops-bot-plan-"))
        try:
            with self._lock:
                self._builder.save_bundle(folder, self._bundle, BundleFormat.JSON)
            with open(os.path.join(folder, "plan.json"), encoding="utf-8") as handle:
                plan = json.load(handle)
        except (OSError, ValueError, RegoError) as exc:
            raise RegoFailure(f"cannot read the compiled plan: {exc}") from exc
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        files = [str(f.get("value", "")) for f in plan.get("static", {}).get("files", ())]
        return _builtin_calls(plan, files)

    def evaluate(self, entrypoint: str, value: Any) -> tuple[bool, Any]:
        """(defined, value) of `entrypoint` for input `value` (JSON-safe)."""
        return self._evaluate(entrypoint, lambda: self._runtime.set_input(Input(value)))

    def evaluate_json(self, entrypoint: str, document: bytes) -> tuple[bool, Any]:
        """As `evaluate`, with the input given as one JSON document: regopy parses it in
        one call instead of being handed the value one node at a time."""
        return self._evaluate(entrypoint, lambda: _set_input_json(self._runtime, document))

    def _evaluate(self, entrypoint: str, set_input: Callable[[], None]) -> tuple[bool, Any]:
        with self._lock:
            try:
                set_input()
                output = capi.rego_bundle_query_entrypoint(
                    self._runtime._impl, self._bundle._impl, entrypoint
                )
            except (RegoError, ValueError) as exc:
                raise RegoFailure(f"evaluation failed: {str(exc)[:300]}") from exc
            try:
                if not capi.rego_output_ok(output):
                    raise RegoFailure(
                        "evaluation failed (conflicting rule values, a failing "
                        "built-in or a type error; regopy gives no detail)"
                    )
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

    def close(self) -> None:
        """Nothing to release in-process (the interpreters go with the object)."""
