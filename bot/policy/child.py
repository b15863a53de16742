"""The sandboxed policy process: compiles one policy set and evaluates inputs on request.

Run as `python -I child.py <memory-bytes>` with an empty environment and no network (see
`bot/policy/isolated.py`). It imports only the standard library, regopy and its sibling
`regocore.py`, so nothing of the bot (and no credential) is in this process. A regopy crash
or a runaway policy ends this process, never the bot.

Protocol, one JSON document per line on stdin and stdout:
  -> {"modules": [[name, source]...], "data": {...}, "entrypoints": [...],
      "forbidden": [builtin...], "smoke": bool, "plan_check": bool}
  <- {"ok": true, "builtins": [[name, file, line]...]} | {"error": "..."}
     | {"forbidden": [[name, file, line]...]}   (nothing was evaluated)
  -> {"entrypoint": "...", "input": ...}        (any number of times)
  <- {"defined": bool, "value": ...} | {"error": "..."}
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any, BinaryIO


def _limit(memory: int) -> None:
    """Cap the address space at what is mapped now plus `memory` bytes.

    regopy's allocator (snmalloc) reserves a very large address range when it starts, so
    the cap is set after the first interpreter exists: growth beyond the budget then fails
    with bad_alloc and ends this process, not the bot.
    """
    from regopy import Interpreter  # noqa: PLC0415 - initialises the allocator

    Interpreter()
    with open("/proc/self/status", encoding="ascii") as status:
        mapped = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + memory, mapped + memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))


def _send(out: BinaryIO, answer: dict[str, Any]) -> None:
    out.write(json.dumps(answer, separators=(",", ":")).encode() + b"\n")
    out.flush()


def main() -> int:
    """Serve one policy set until stdin closes."""
    _limit(int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30)
    # The protocol gets a private copy of stdout; fd 1 goes to stderr so that anything
    # regopy prints cannot corrupt the answers.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from regocore import Program, RegoFailure  # noqa: PLC0415 - after the limits are set

    first = sys.stdin.readline()
    if not first:
        return 0
    request = json.loads(first)
    try:
        program = Program(
            [tuple(m) for m in request["modules"]],
            request.get("data") or {},
            request["entrypoints"],
        )
        # reading the plan costs ~0.2 s for two entrypoints but seconds for the dozens of
        # a test suite; the caller may rely on the text scan and this empty sandbox instead
        calls = program.builtin_calls() if request.get("plan_check", True) else []
    except RegoFailure as exc:
        _send(out, {"error": str(exc)})
        return 0
    refused = [c for c in calls if c[0] in set(request.get("forbidden", ()))]
    if refused:
        _send(out, {"forbidden": refused})
        return 0
    if request.get("smoke"):
        for entrypoint in request["entrypoints"]:  # a crash here is caught by the parent
            try:
                program.evaluate(entrypoint, {})
            except RegoFailure:
                pass
    _send(out, {"ok": True, "builtins": calls})
    for line in sys.stdin:
        ask = json.loads(line)
        try:
            document = json.dumps(ask.get("input"), separators=(",", ":")).encode()
            defined, value = program.evaluate_json(ask["entrypoint"], document)
            _send(out, {"defined": defined, "value": value})
        except RegoFailure as exc:
            _send(out, {"error": str(exc)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
