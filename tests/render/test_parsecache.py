"""The parse cache gives exactly what reading each stream in one piece gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import Finding
from bot.render import parsecache, yamlload
from bot.render.sandbox import Budgets

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
BOMB = (
    b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n"
)

STREAMS = {
    "plain": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    "several": b"# lead\n---\napiVersion: v1\nkind: A\n---\n---\napiVersion: v1\nkind: B\n...\n"
    b"--- # c\napiVersion: v1\nkind: C\n",
    "block scalars": b"a: |\n  x\n  ---\n  y\n--- |\n  top\n---\nb: >\n  ---\n",
    "marker with content": b"--- !!map\na: 1\n--- [1, 2]\n---\t{b: 2}\n---\n",
    "list items": b"---\napiVersion: v1\nkind: List\nitems:\n- kind: A\n  apiVersion: v1\n"
    b"- kind: B\n  apiVersion: v1\n---\napiVersion: v1\nkind: List\nitems:\n"
    b"- kind: C\n  apiVersion: v1\n",
    "crlf": b"a: 1\r\n---\r\nb: 2\r\n",
    "lone cr": b"a: 1\r---\rb: 2\r",
    "bom": b"\xef\xbb\xbfa: 1\n---\nb: 2\n",
    "directive": b"%YAML 1.1\n---\na: 1\n---\nb: 2\n",
    "duplicate key later": b"a: 1\n---\nb: 1\nb: 2\n---\nc: 3\n",
    "bad tag": b"a: 1\n---\nb: !!python/name:os.system x\n---\nc: 3\n",
    "syntax error later": b"a: 1\n---\nb: [1,\n---\nc: 3\n",
    "quoted across marker": b'a: "x\n---\ny"\n',
    "recursive": b"a: 1\n---\n&x [*x]\n",
    "bomb": b"a: 1\n---\n" + BOMB + b"---\nz: 1\n",
    "empty": b"",
    "comments only": b"# nothing\n---\n# still nothing\n",
}


def _plain(data: bytes, budgets: Budgets) -> tuple[list[yamlload.Document], list[Finding]]:
    return yamlload._load_stream(data, "f.yaml", budgets.max_yaml_nodes)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_cached_reading_equals_reading_in_one_piece(name: str) -> None:
    data = STREAMS[name]
    for budgets in (Budgets(), Budgets(max_yaml_nodes=150)):
        parsecache.SHARED.clear()
        want = _plain(data, budgets)
        first = yamlload.load_documents(data, "f.yaml", budgets)
        again = yamlload.load_documents(data, "f.yaml", budgets)  # from the cache now
        assert first == want, name
        assert again == want, name


def test_corpus_files_read_the_same_and_documents_are_shared() -> None:
    install = CORPUS / "argoproj--argo-cd" / "v3.5.1" / "manifests" / "install.yaml"
    core = install.with_name("core-install.yaml")
    parsecache.SHARED.clear()
    budgets = Budgets()
    data = install.read_bytes()
    assert yamlload.load_documents(data, "x", budgets) == _plain(data, budgets)
    hits = parsecache.SHARED.hits
    a = yamlload.load_documents(install.read_bytes(), "x", budgets)[0]
    b = yamlload.load_documents(core.read_bytes(), "x", budgets)[0]
    assert parsecache.SHARED.hits > hits
    crds = {id(d.data) for d in a if d.data.get("kind") == "CustomResourceDefinition"}
    assert crds and crds <= {id(d.data) for d in b}  # one parse, shared by both bundles


def test_budget_counts_the_whole_stream_across_cached_documents() -> None:
    doc = b"---\n" + b"".join(b"k%d: v\n" % i for i in range(40))  # 81 nodes each
    stream = doc * 3
    parsecache.SHARED.clear()
    assert yamlload.load_documents(doc, "f.yaml", Budgets(max_yaml_nodes=200))[1] == []
    docs, findings = yamlload.load_documents(stream, "f.yaml", Budgets(max_yaml_nodes=200))
    assert (docs, findings) == _plain(stream, Budgets(max_yaml_nodes=200))
    assert len(docs) == 2 and "more than" in findings[0].message


def test_split_refuses_streams_libyaml_would_break_differently() -> None:
    assert parsecache.split_stream(b"a\r---\rb") is None
    assert parsecache.split_stream(b"a\xc2\x85---\nb") is None
    assert parsecache.split_stream(b"%TAG ! x\n---\na") is None
    assert parsecache.split_stream(b"a: 1\n---\nb: 2\n----\n") == [
        (1, b"a: 1\n"),
        (2, b"---\nb: 2\n----\n"),
    ]


def test_the_cache_is_bounded_by_source_bytes() -> None:
    cache = parsecache.ParseCache(max_bytes=100)
    parse = yamlload._parse_chunk
    for i in range(20):
        assert cache.chunk(b"k: %d\n" % i + b"#" * 20 + b"\n", 1000, parse) is not None
    assert cache._bytes <= 100 and len(cache._items) == 100 // 27
