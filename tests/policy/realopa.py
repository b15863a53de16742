"""The real OPA engine (OPA v1.20's Go `rego` package) for the tests, through ctypes.

`./scripts/setup` puts `libopabridge.so` from the PyPI wheel `opa-golib-python-bindings`
0.4.4 (Apache-2.0) into `.tools/opa/`. That library exports a small C API (`OpaNew`,
`OpaAddPolicy`, `OpaAddData`, `OpaEvalQuery`, ...) whose fallible calls return a malloc'd
JSON envelope `{"result": ...}` or `{"error": {"code", "message"}}`; this module is our own
binding of it (the wheel's Python wrapper is not used: the wheel is tagged for Python 3.14).

What the library does, as OPA does it:
- modules are parsed as Rego v1 (OPA 1.x's default; `--v0-compatible` is not available);
- modules are compiled together when a query is prepared (`rego.New(...).PrepareForEval`);
- built-in errors are strict (`rego.StrictBuiltinErrors(true)`), unlike `opa run --server`,
  whose data API makes an erroring built-in undefined unless `?strict-builtin-errors`.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = Path(
    os.environ.get("GITOPS_BOT_OPA_LIBRARY") or ROOT / ".tools" / "opa" / "libopabridge.so"
)
NO_INPUT: Any = object()  # a query without `input` (unlike `input` = null)
_loaded: ctypes.CDLL | None = None
_load_lock = threading.Lock()


class OpaFailure(Exception):
    """The engine refused a module, a data document or a query; `code` is the bridge's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def library() -> ctypes.CDLL:
    """Load the bridge once; a clear error names the setup step when it is missing."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            if not LIBRARY.is_file():
                raise FileNotFoundError(
                    f"{LIBRARY} is missing: run ./scripts/setup (it fetches "
                    "the real OPA engine for the OPA-server tests)"
                )
            lib = ctypes.CDLL(str(LIBRARY))
            lib.OpaNew.restype, lib.OpaNew.argtypes = ctypes.c_uint64, []
            lib.OpaDestroy.restype, lib.OpaDestroy.argtypes = None, [ctypes.c_uint64]
            lib.OpaFreeString.restype, lib.OpaFreeString.argtypes = None, [ctypes.c_void_p]
            for name, args in (
                ("OpaAddPolicy", [ctypes.c_char_p, ctypes.c_char_p]),
                ("OpaAddData", [ctypes.c_char_p, ctypes.c_char_p]),
                ("OpaEvalQuery", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]),
            ):
                fn = getattr(lib, name)
                # c_void_p, not c_char_p: the envelope must be freed by OpaFreeString
                fn.restype, fn.argtypes = ctypes.c_void_p, [ctypes.c_uint64, *args]
            _loaded = lib
        return _loaded


def _text(value: str) -> bytes:
    if "\0" in value:  # Go reads C strings up to the first NUL: refuse, never truncate
        raise OpaFailure("invalid_argument", "text contains a NUL character")
    return value.encode("utf-8")


class RealOpa:
    """One OPA engine: modules and a data document, then queries (one at a time)."""

    def __init__(self) -> None:
        self._lib = library()
        self._handle: int | None = self._lib.OpaNew()
        self._lock = threading.Lock()
        self.prints: list[str] = []  # what `print(...)` wrote during the last call

    def close(self) -> None:
        """Release the engine on the Go side."""
        with self._lock:
            if self._handle is not None:
                self._lib.OpaDestroy(self._handle)
                self._handle = None

    def __enter__(self) -> RealOpa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            if self._handle is None:
                raise OpaFailure("closed", "the engine is closed")
            pointer = fn(self._handle, *args)
            if not pointer:
                raise OpaFailure("internal", "the bridge returned NULL")
            try:
                raw = ctypes.string_at(pointer)
            finally:
                self._lib.OpaFreeString(pointer)
        envelope = json.loads(raw)
        error = envelope.get("error")
        if error:
            raise OpaFailure(str(error.get("code", "unknown")), str(error.get("message", "")))
        self.prints = [str(p.get("message", "")) for p in envelope.get("prints") or ()]
        return envelope.get("result")

    def add_module(self, name: str, source: str) -> None:
        """Parse and add one module (OpaFailure code `parse_error` when it does not parse)."""
        self._call(self._lib.OpaAddPolicy, _text(name), _text(source))

    def add_data(self, document: dict[str, Any]) -> None:
        """Merge a JSON object into the base document `data`."""
        self._call(self._lib.OpaAddData, b"", _text(json.dumps(document)))

    def query(self, query: str, input_value: Any = NO_INPUT) -> Any:
        """The result set of `query` (a list of {"expressions", "bindings"}), [] if undefined.

        Compiles every module first (OpaFailure code `prepare_error` on compile errors).
        """
        document = b"" if input_value is NO_INPUT else _text(json.dumps(input_value))
        return self._call(self._lib.OpaEvalQuery, _text(query), document, 0, 0) or []

    def evaluate(self, ref: str, input_value: Any = NO_INPUT) -> tuple[bool, Any]:
        """(defined, value) of the reference `ref` (e.g. `data.main.deny`)."""
        results = self.query(ref, input_value)
        if not results or not results[0].get("expressions"):
            return False, None
        return True, results[0]["expressions"][0]["value"]

    def compile(self) -> None:
        """Compile all modules together, as OPA does on every policy change."""
        self.query("true")
