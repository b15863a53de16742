"""Where an object kustomize built starts in the file it came from.

kustomize's origin annotation names the file an object came from, not its line, and its
name may carry a `namePrefix`/`nameSuffix`. A finding without a line gets no check-run
annotation (bot/pipeline/job.py), so the line is looked up here: one regex pass over the
file's text finds each document's first line, `kind` and `metadata.name`. It reads block-
style YAML as Kubernetes manifests are written; a document it cannot read (flow style, a
list) gets no line, and neither does an ambiguous match. Each render scans each origin file
once (bot/render/kustomize.py): 38 ms for 1.9 MB, microseconds for a typical file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Top-level lines (a key, `---`, a comment) and indented `name:` keys; nothing else matters.
_LINES = re.compile(
    r"^(?:(---|\.\.\.)(?:[ \t].*)?|(#).*|([ \t]+)name:[ \t]*(.*)|(\S.*))$", re.MULTILINE
)
_KEY = re.compile(r"([A-Za-z_][\w.-]*):(?:[ \t]+(.*))?$")


@dataclass(frozen=True)
class DocumentStart:
    """One document of a file: its first line, its kind and its name as written."""

    line: int
    kind: str
    name: str


def _scalar(raw: str | None) -> str:
    """A plain or quoted one-line scalar, without a trailing comment."""
    value = (raw or "").strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else ""
    return value.split(" #", 1)[0].strip()


def document_starts(text: str) -> tuple[DocumentStart, ...]:
    """The documents of `text` that name a kind and a name, with their first lines."""
    found: list[DocumentStart] = []
    line, pos = 1, 0
    start: int | None = None
    kind = name = ""
    name_indent: int | None = None
    in_metadata = False

    def close() -> None:
        if start is not None and kind and name:
            found.append(DocumentStart(start, kind, name))

    for m in _LINES.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        separator, comment, indent, indented_name, top = m.groups()
        if separator:
            close()
            start, kind, name, name_indent, in_metadata = None, "", "", None, False
        elif comment:
            continue
        elif indent is not None:
            # metadata's own `name:` is the least indented one in the block (labels nest)
            if in_metadata and (name_indent is None or len(indent) < name_indent):
                name, name_indent = _scalar(indented_name), len(indent)
        elif top is not None:
            if start is None:
                start = line
            key_value = _KEY.match(top)
            in_metadata = key_value is not None and key_value.group(1) == "metadata"
            if key_value is not None and key_value.group(1) == "kind":
                kind = _scalar(key_value.group(2))
    close()
    return tuple(found)


def line_of(starts: tuple[DocumentStart, ...], kind: str, built_name: str) -> int | None:
    """The first line of the document `kind`/`built_name` came from, or None when no single
    document matches. The built name is the written one, or it with a prefix or a suffix."""
    same_kind = [d for d in starts if d.kind == kind]
    exact = [d.line for d in same_kind if d.name == built_name]
    if exact:
        return exact[0] if len(exact) == 1 else None
    inside = [d for d in same_kind if d.name and d.name in built_name]
    if not inside:
        return None
    longest = max(len(d.name) for d in inside)
    best = [d.line for d in inside if len(d.name) == longest]
    return best[0] if len(best) == 1 else None
