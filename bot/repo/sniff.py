"""PURE: what the first bytes of a YAML file say about it, without parsing the whole file.

Discovery reads only a prefix of each file: enough to tell a Kubernetes manifest (top-level
`apiVersion` and `kind`), a broken one (only one of them, or one empty), and the identity of
the first objects (to see files that are alternatives of each other, and which namespace a
folder declares or uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX_BYTES = 4096  # enough to see apiVersion and kind of a manifest's first document
_DOC_SPLIT = re.compile(rb"^---[^\n]*$", re.MULTILINE)
_API_VERSION = re.compile(rb"^apiVersion:[ \t]*['\"]?[\w.-]", re.MULTILINE)
_KIND = re.compile(rb"^kind:[ \t]*['\"]?[A-Za-z]", re.MULTILINE)
_API_VERSION_KEY = re.compile(rb"^['\"]?apiVersion['\"]?[ \t]*:", re.MULTILINE)
_KIND_KEY = re.compile(rb"^['\"]?kind['\"]?[ \t]*:", re.MULTILINE)
_KIND_VALUE = re.compile(rb"^kind:[ \t]*['\"]?([A-Za-z][\w.-]*)", re.MULTILINE)
_METADATA = re.compile(rb"^metadata:[ \t]*\n((?:[ \t]+[^\n]*\n|[ \t]*\n)*)", re.MULTILINE)
_META_FIELD = re.compile(rb"^( +)(name|namespace):[ \t]*['\"]?([\w.:-]+)", re.MULTILINE)


@dataclass(frozen=True)
class ObjectHead:
    """Kind, name and namespace of one object as its document's first lines state them."""

    kind: str
    name: str | None
    namespace: str | None


def _docs(content: bytes) -> list[bytes]:
    return _DOC_SPLIT.split(content[:PREFIX_BYTES])


def looks_like_manifest(content: bytes | None) -> bool:
    """Whether the start of a YAML file holds a document with top-level apiVersion and kind."""
    if not content:
        return False
    return any(_API_VERSION.search(doc) and _KIND.search(doc) for doc in _docs(content))


def looks_broken(content: bytes | None) -> bool:
    """Whether a document at the start of a YAML file claims to be a Kubernetes object but is
    not one: a top-level `kind` without `apiVersion` or the reverse, or either left empty."""
    if not content:
        return False
    for doc in _docs(content):
        has_api, has_kind = _API_VERSION_KEY.search(doc), _KIND_KEY.search(doc)
        if not (has_api or has_kind):
            continue
        if not (_API_VERSION.search(doc) and _KIND.search(doc)):
            return True
    return False


def _metadata(doc: bytes) -> dict[str, str]:
    block = _METADATA.search(doc)
    if not block:
        return {}
    body = block.group(1)
    first = body.lstrip(b"\n")
    indent = len(first) - len(first.lstrip(b" "))  # of metadata's own keys
    fields: dict[str, str] = {}
    for match in _META_FIELD.finditer(body):
        if len(match.group(1)) == indent:
            fields.setdefault(match.group(2).decode(), match.group(3).decode())
    return fields


def object_heads(content: bytes | None) -> list[ObjectHead]:
    """The objects whose kind the prefix of a YAML file states, in order."""
    heads: list[ObjectHead] = []
    for doc in _docs(content or b""):
        kind = _KIND_VALUE.search(doc)
        if kind and _API_VERSION.search(doc):
            meta = _metadata(doc)
            heads.append(
                ObjectHead(kind.group(1).decode(), meta.get("name"), meta.get("namespace"))
            )
    return heads
