"""The repository's own documents: every `docs/*.md#anchor` the code cites resolves, no
document a reader of this repository does not have is cited, and every test that
docs/security.md names exists."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Where citations live. tests/fixtures holds other projects' files, quoted unchanged.
SCANNED = ["bot", "tests", "policies", "deploy", "bench", "scripts", "examples", "README.md"]
SKIPPED = [ROOT / "tests" / "fixtures", Path(__file__)]  # this file spells the patterns
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".rego",
    ".yaml",
    ".yml",
    ".json",
    ".toml",
    ".txt",
    ".sh",
    ".cfg",
    ".ini",
    ".html",
    ".css",
    ".j2",
    "",
}

CITATION = re.compile(r"docs/([\w.-]+\.md)(?:#([\w-]+))?")
# Documents that exist outside this repository (a design note and a threat catalogue the
# project started from) and their numbering: citing them sends the reader nowhere.
OUTSIDE = {
    "a design or threat document outside the repository": re.compile(
        r"\b(?:SECURITY|DESIGN)\.md\b|\bSECURITY (?:case|P\d)|\bDESIGN\s*§"
    ),
    "a path into the shared folder outside the repository": re.compile(
        r"/work/shared\b|\.\./shared/(?:SECURITY|DESIGN|fixtures|README)"
    ),
    "a bare case number (cite docs/security.md#case-N)": re.compile(r"(?<![\w/#-])[Cc]ases? \d+"),
    "a promise number like P21 (cite the promise's anchor in docs/security.md)": re.compile(
        r"(?<![\w/#-])P\d{1,2}\b"
    ),
    "a section sign": re.compile("§"),
}
TEST_REF = re.compile(r"`((?:tests|policies)/[\w/.-]+\.(?:py|rego))::([\w:]+)`")
CASE_ROW = re.compile(r'^\| <a id="case-(\d+)"></a>(\d+) \|')


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        top = ROOT / name
        candidates = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in candidates:
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and "__pycache__" not in path.parts
                and not any(path == s or s in path.parents for s in SKIPPED)
            ):
                files.append(path)
    return files


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link targets and markup dropped, lower case,
    everything but letters, digits, spaces, hyphens and underscores removed, spaces to
    hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # [text](url) -> text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor of a Markdown file: its headings (duplicates numbered like GitHub) and
    explicit `<a id=...>` / `<a name=...>` targets."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        heading = re.match(r"#{1,6} +(.+?) *#* *$", line)
        if heading and not fenced:
            slug = github_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(re.findall(r'<a\s+(?:id|name)="([^"]+)"', line))
    return frozenset(found)


def unresolved(doc: str, anchor: str | None) -> str | None:
    """Why `docs/<doc>#<anchor>` does not resolve, or None."""
    path = DOCS / doc
    if not path.is_file():
        return f"docs/{doc} does not exist"
    if anchor is not None and anchor not in anchors(path):
        return f"docs/{doc} has no anchor #{anchor}"
    return None


def test_github_slugs() -> None:
    assert github_slug("Fast, durable acknowledgement") == "fast-durable-acknowledgement"
    assert github_slug("`gitops-bot check`") == "gitops-bot-check"
    assert (
        github_slug("What was reviewed versus what is deployed")
        == "what-was-reviewed-versus-what-is-deployed"
    )
    assert github_slug("Costs that shape the code") == "costs-that-shape-the-code"
    assert github_slug("See [the flows](architecture.md#flows) & more") == "see-the-flows--more"


def test_every_docs_citation_resolves() -> None:
    problems, cited = [], 0
    for path in scanned_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in CITATION.finditer(line):
                cited += 1
                why = unresolved(match.group(1), match.group(2))
                if why:
                    problems.append(f"{path.relative_to(ROOT)}:{n}: {why}")
    assert cited > 50  # the code does cite the documents
    assert problems == []


def test_links_inside_docs_resolve() -> None:
    problems = []
    for path in sorted(DOCS.glob("*.md")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([\w-]+))?\)", line):
                if target and not target.endswith(".md"):
                    continue
                doc = path.name if not target else target
                why = f"{target} is not in docs/" if "/" in doc else unresolved(doc, anchor or None)
                if why:
                    problems.append(f"docs/{path.name}:{n}: {why}")
    assert problems == []


def test_no_citation_of_documents_outside_the_repository() -> None:
    problems = []
    for path in scanned_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for what, pattern in OUTSIDE.items():
                if pattern.search(line):
                    problems.append(f"{path.relative_to(ROOT)}:{n}: {what}: {line.strip()}")
    assert problems == []


def test_the_outside_patterns_catch_what_they_should() -> None:
    caught = [
        "see SECURITY.md P12",
        "(SECURITY case 53)",
        "DESIGN §6",
        "cases 88-93",
        "(P21, case 13)",
        "../shared/SECURITY.md",
        "Case 94: mint once",
    ]
    allowed = [
        "docs/security.md#case-53",
        "resources: [../base, ../shared/extra.yaml]",
        "p99 latency",
        "PEP 8",
        "showcase 3",
        "P2P",
    ]
    for text in caught:
        assert any(p.search(text) for p in OUTSIDE.values()), text
    for text in allowed:
        assert not any(p.search(text) for p in OUTSIDE.values()), text


@cache
def python_tests(path: Path) -> frozenset[str]:
    """`name` and `Class::name` of every test function defined in a test module."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{f.name}"
                for f in node.body
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
    return frozenset(n for n in names if n.split("::")[-1].startswith("test"))


def named_test_exists(rel: str, name: str) -> bool:
    path = ROOT / rel
    if not path.is_file():
        return False
    if rel.endswith(".rego"):
        return (
            re.search(
                rf"^{re.escape(name)}\b.*\bif\b|^{re.escape(name)}\s*\{{",
                path.read_text(),
                re.MULTILINE,
            )
            is not None
        )
    return name in python_tests(path)


def catalogue_rows() -> list[tuple[int, list[str]]]:
    rows = []
    for line in (DOCS / "security.md").read_text().splitlines():
        match = CASE_ROW.match(line)
        if match:
            assert match.group(1) == match.group(2), line[:60]
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append((int(match.group(1)), cells))
    return rows


def test_every_named_test_exists() -> None:
    named = [
        (m.group(1), m.group(2))
        for path in sorted(DOCS.glob("*.md"))
        for m in TEST_REF.finditer(path.read_text())
    ]
    assert len(named) > 150
    assert [f"{rel}::{name}" for rel, name in named if not named_test_exists(rel, name)] == []


def test_every_case_has_a_test_or_says_why_not() -> None:
    rows = catalogue_rows()
    numbers = [n for n, _ in rows]
    assert numbers == sorted(set(numbers)) and len(numbers) >= 99
    for number, cells in rows:
        assert len(cells) == 4, f"case {number}: {len(cells)} columns"
        proof = cells[3]
        if TEST_REF.search(proof) is None:
            reason = proof.removeprefix("untested:").strip()
            assert proof.startswith("untested:") and len(reason) > 10, (
                f"case {number}: names no test and says no reason"
            )


@pytest.mark.parametrize("doc", ["architecture.md", "security.md"])
def test_module_paths_in_the_docs_exist(doc: str) -> None:
    text = (DOCS / doc).read_text()
    paths = set(re.findall(r"`(bot/[\w/.-]*[\w/])`", text))
    assert paths
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []
