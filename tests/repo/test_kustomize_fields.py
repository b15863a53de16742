"""One table of kustomization fields: the inputs walk and the render sandbox see the same paths."""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest

from bot.render.kustomize import Walk as SandboxWalk
from bot.render.sandbox import Budgets
from bot.repo.kustomize_fields import FIELDS, RefKind, path_refs, renders_objects
from bot.repo.kustomize_refs import (
    KUSTOMIZATION_FILES,
    RepoIndex,
    join,
    load_kustomization,
    raw_refs,
    walk,
)
from tests.corpus_changes import CORPUS, load_corpus
from tests.repo.config_trees import load_dir, reader

# Every field of the table, each naming one path (helm fields: the sandbox refuses them,
# but still checks what they name).
EVERY_FIELD = """\
resources: [res.yaml, base]
bases: [old-base]
components: [comp]
generators: [gen.yaml]
transformers: [tr.yaml]
validators: [val.yaml]
crds: [crd.json]
configurations: [conf.yaml]
patchesStrategicMerge: [psm.yaml, "apiVersion: v1\\nkind: X\\n"]
patches: [{path: p.yaml}, {patch: "- op: remove\\n  path: /x\\n"}]
patchesJson6902: [{path: pj.yaml, target: {kind: X}}]
replacements: [{path: repl.yaml}]
configMapGenerator: [{name: a, files: [k=cm-file.txt, cm-plain.txt], envs: [cm.env], env: old.env}]
secretGenerator: [{name: b, files: [s.txt], envs: [s.env]}]
openapi: {path: schema.json}
helmGlobals: {chartHome: charts}
helmCharts: [{name: c, valuesFile: v.yaml, additionalValuesFiles: [v2.yaml]}]
helmChartInflationGenerator: [{chartName: c, chartHome: home, values: hv.yaml}]
"""
EVERY_PATH = {
    "res.yaml",
    "base",
    "old-base",
    "comp",
    "gen.yaml",
    "tr.yaml",
    "val.yaml",
    "crd.json",
    "conf.yaml",
    "psm.yaml",
    "p.yaml",
    "pj.yaml",
    "repl.yaml",
    "cm-file.txt",
    "cm-plain.txt",
    "cm.env",
    "old.env",
    "s.txt",
    "s.env",
    "schema.json",
    "charts",
    "v.yaml",
    "v2.yaml",
    "home",
    "hv.yaml",
}


def test_the_table_names_every_path_field_once() -> None:
    tree = {"k/kustomization.yaml": EVERY_FIELD}
    kust = load_kustomization("k/kustomization.yaml", reader(tree))
    refs = list(path_refs(kust))
    assert {r.path for r in refs} == EVERY_PATH and len(refs) == len(EVERY_PATH)
    assert {r.field for r in refs} == {f.name for f in FIELDS}
    assert {r.path for r in refs if r.kind is RefKind.BUILD} == {
        "res.yaml",
        "base",
        "old-base",
        "comp",
    }
    assert renders_objects(kust) and not renders_objects({"patches": [{"path": "p.yaml"}]})


def _refs_walk(root_dir: str, index: RepoIndex, read: object) -> set[str]:
    """Every local path the inputs walk meets, from every kustomization it visits."""
    seen: set[str] = set()
    for kdir in walk(root_dir, index, read).kustomizations:  # type: ignore[arg-type]
        kfile = index.kustomization_file(kdir)
        if kfile is None:
            continue
        for ref, _ in raw_refs(load_kustomization(kfile, read)):  # type: ignore[arg-type]
            path = join(kdir, ref)
            if path is not None and "://" not in ref and "?ref=" not in ref:
                seen.add(path)
    return seen


def _sandbox_walk(root: Path, kdir: str) -> set[str]:
    sandbox = SandboxWalk(root.resolve(), Budgets())
    sandbox.visit((root / kdir).resolve())
    return set(sandbox.checked)


def test_both_walkers_see_every_field(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k/kustomization.yaml").write_text(EVERY_FIELD)
    index = RepoIndex(["k/kustomization.yaml"])
    tree = {"k/kustomization.yaml": EVERY_FIELD}
    expected = {f"k/{p}" for p in EVERY_PATH}
    assert _refs_walk("k", index, reader(tree)) == expected
    assert _sandbox_walk(tmp_path, "k") == expected


# Every corpus tree: each repository's root, and the Argo CD version its upgrade brings in.
ROOTS = sorted({spec["root"] for spec in load_corpus().values()} | {"argoproj--argo-cd/v3.5.1"})


@pytest.mark.parametrize("root", ROOTS)
def test_both_walkers_see_the_same_paths_on_every_corpus_kustomization(root: str) -> None:
    tree = load_dir(CORPUS / root)
    index = RepoIndex(tree)
    read = reader(tree)
    kdirs = sorted(
        posixpath.dirname(f) or "." for f in tree if posixpath.basename(f) in KUSTOMIZATION_FILES
    )
    for kdir in kdirs:
        assert _sandbox_walk(CORPUS / root, kdir) == _refs_walk(kdir, index, read), kdir


def test_the_corpus_holds_enough_kustomizations_to_compare() -> None:
    count = sum(
        1 for root in ROOTS for p in (CORPUS / root).rglob("*") if p.name in KUSTOMIZATION_FILES
    )
    assert count >= 80
