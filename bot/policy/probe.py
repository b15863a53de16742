"""Compiles a policy bundle in a throwaway process, so a regopy crash cannot take the bot down.

regopy 1.5.2 aborts the whole process (a C++ exception) on some constructs it does not
support; this script is run first with `python -I probe.py`, reading
{"modules": [[name, source]...], "data": {...}, "entrypoints": [...]} on stdin and printing
{"ok": true} or {"error": "..."}. A negative exit code means the compiler crashed.
"""
from __future__ import annotations

import json
import sys


def main() -> int:
    """Compile the request and evaluate every entrypoint once with an empty input."""
    request = json.load(sys.stdin)
    from regopy import Input, Interpreter, LogLevel

    interp = Interpreter()
    interp.log_level = LogLevel.NONE
    try:
        if request.get("data"):
            interp.add_data(request["data"])
        for name, src in request["modules"]:
            interp.add_module(name, src)
        bundle = interp.build(None, request["entrypoints"])
        if request.get("evaluate", True):
            runtime = Interpreter()
            runtime.log_level = LogLevel.NONE
            runtime.set_input(Input({}))
            for entrypoint in request["entrypoints"]:
                runtime.query_bundle_entrypoint(bundle, entrypoint)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        sys.stdout.write(json.dumps({"error": str(exc)}))
        return 0
    sys.stdout.write(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
