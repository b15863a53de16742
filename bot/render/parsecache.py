"""Each YAML document parsed once per process, shared by every render that holds it.

The renders of one review repeat the same documents many times: every install variant of an
app carries the same CRDs, a base appears in each overlay, the generated bundles are the
kustomize outputs again, and both sides of a change share whatever it left alone. A stream
is split at its `---` lines into documents; each is parsed (with the same loader, checks
and budgets) once and kept, keyed by a digest of its bytes, in a bounded LRU.

Only clean documents are kept. A stream that cannot be split exactly as libyaml would
(directives, byte-order marks, line breaks other than LF and CRLF), a document with any
finding, or a stream whose documents together pass the node budget is handed back to the
caller's own loader, which reports exactly what it always did. Parsed values are shared:
callers must treat them as read-only (copy before changing).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_CACHED_BYTES = 32 * 1024 * 1024  # source bytes kept (about 3x that in Python objects)
_MARKER = re.compile(rb"^---(?=[ \t\r\n]|\Z)", re.M)
_DIRECTIVE = re.compile(rb"^%", re.M)
# libyaml also breaks lines at CR alone, NEL, LS and PS; a stream holding one is not split
# (its line numbers would differ), nor one with a byte-order mark (libyaml reads it).
_UNSPLITTABLE = (
    b"\xef\xbb\xbf",
    b"\xfe\xff",
    b"\xff\xfe",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b"\xe2\x80\xa9",
)


@dataclass(frozen=True)
class Parsed:
    """A clean document chunk: its documents as (value, line, item lines), lines relative
    to the chunk (1-based), and the expanded node count they used."""

    docs: tuple[tuple[Any, int, tuple[int, ...] | None], ...]
    nodes: int


# (chunk, node budget) -> Parsed when every document in it is clean, None otherwise
ChunkParser = Callable[[bytes, int], "Parsed | None"]


def split_stream(data: bytes) -> list[tuple[int, bytes]] | None:
    """(first line, bytes) of each `---`-separated part of a YAML stream, or None when it
    cannot be split safely."""
    if (not data.isascii() and any(bad in data for bad in _UNSPLITTABLE)) or _DIRECTIVE.search(
        data
    ):
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None
    starts = [m.start() for m in _MARKER.finditer(data)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    parts: list[tuple[int, bytes]] = []
    line = 1
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        parts.append((line, chunk))
        line += chunk.count(b"\n")
    return parts


class ParseCache:
    """Clean parsed chunks by digest, bounded by their total source bytes; thread-safe,
    and a chunk being parsed by one thread is waited for, not parsed again."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, tuple[Parsed, int]] = OrderedDict()
        self._pending: dict[bytes, threading.Event] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def clear(self) -> None:
        """Forget everything (tests, memory pressure)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _get(self, key: bytes) -> Parsed | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def _put(self, key: bytes, parsed: Parsed, size: int) -> None:
        if size > self.max_bytes:
            return
        self._items[key] = (parsed, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped

    def chunk(self, data: bytes, max_nodes: int, parse: ChunkParser) -> Parsed | None:
        """The parsed chunk (from the cache, or parsed now); None when it is not clean."""
        key = hashlib.blake2b(data, digest_size=20).digest()
        while True:
            with self._lock:
                hit = self._get(key)
                if hit is not None:
                    self.hits += 1
                    return hit
                waiting = self._pending.get(key)
                if waiting is None:
                    self._pending[key] = threading.Event()
                    self.misses += 1
                    break
            waiting.wait()
            with self._lock:
                hit = self._get(key)
            return hit  # None: unclean, the caller's loader reads the stream for findings
        try:
            parsed = parse(data, max_nodes)
            if parsed is not None:
                with self._lock:
                    self._put(key, parsed, len(data))
            return parsed
        finally:
            with self._lock:
                self._pending.pop(key).set()

    def documents(
        self, data: bytes, max_nodes: int, parse: ChunkParser
    ) -> list[tuple[Any, int, tuple[int, ...] | None]] | None:
        """Every document of a stream with absolute lines, or None: the caller's loader
        must read this stream itself (it is not clean, or cannot be split)."""
        parts = split_stream(data)
        if parts is None:
            return None
        out: list[tuple[Any, int, tuple[int, ...] | None]] = []
        used = 0
        for first, chunk in parts:
            parsed = self.chunk(chunk, max_nodes - used, parse)
            if parsed is None:
                return None
            used += parsed.nodes
            if used > max_nodes:
                return None
            shift = first - 1
            out.extend(
                (value, line + shift, _shift(items, shift)) for value, line, items in parsed.docs
            )
        return out


def _shift(lines: Sequence[int] | None, by: int) -> tuple[int, ...] | None:
    return None if lines is None else tuple(n + by for n in lines)


SHARED = ParseCache()
