"""kubeconform's own acceptance fixtures get the verdicts `kubeconform -strict` gives them.

The fixtures and verdicts come from kubeconform's `fixtures/` and `acceptance.bats` (see
tests/fixtures/PROVENANCE.md). Each fixture is rendered as a plain target (the file alone)
and validated strictly by the embedded validator, as a review does. The one intended
difference: YAML that is no Kubernetes object at all (`missing_kind.yaml` is `key: value`)
is skipped with a note where kubeconform reports "missing 'kind' key".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import Severity, Target
from bot.render import render_target
from bot.tools import Tools
from bot.validate import make_validator
from tests.conftest import FIXTURES

ACCEPTANCE = FIXTURES / "kubeconform" / "acceptance"
PASS, FAIL, SKIP = "pass", "fail", "skipped with a note"

# fixture: (kubeconform -strict exit verdict, resources it counts when acceptance.bats says)
VERDICTS: dict[str, tuple[str, int | None]] = {
    "valid.yaml": (PASS, 1),
    "folder": (PASS, 7),
    "int_or_string.yaml": (PASS, 1),
    "valid.json": (PASS, 1),
    "generate_name.yaml": (PASS, 1),
    "quantity.yaml": (PASS, 1),
    "null_string.yaml": (PASS, 1),
    "multi_valid.yaml": (PASS, 6),
    "multi_invalid.yaml": (FAIL, None),
    "invalid.yaml": (FAIL, None),
    "blank.yaml": (PASS, 0),
    "comment.yaml": (PASS, 0),
    "missing_kind.yaml": (SKIP, 0),  # kubeconform: FAIL, "missing 'kind' key"
    "missing_apiversion.yaml": (FAIL, None),
    "missing_kind_value.yaml": (FAIL, None),
    "test_crd.yaml": (FAIL, None),  # no schema for the custom resource
    "extra_property.yaml": (FAIL, None),  # -strict
    "duplicate_property.yaml": (FAIL, None),  # -strict
    "list_valid.yaml": (PASS, 6),
    "list_invalid.yaml": (FAIL, 2),
    "list_empty_valid.yaml": (PASS, 0),
    "multi_with_list.yaml": (PASS, 2),
}


def verdict(path: str, tools: Tools, crd_dirs: tuple[Path, ...] = ()) -> tuple[str, int]:
    result = render_target(ACCEPTANCE, Target("f", "default", "plain", path), tools)
    findings = list(result.findings)
    if result.ok:
        validator = make_validator(tools, prefer="embedded", strict=True, crd_dirs=crd_dirs)
        findings += validator.validate(result.manifests, "1.35")
    if any(f.severity is Severity.ERROR for f in findings):
        return FAIL, len(result.manifests)
    if findings and all(
        f.severity is Severity.INFO and "skipped YAML" in f.message for f in findings
    ):
        return SKIP, len(result.manifests)
    assert findings == []
    return PASS, len(result.manifests)


def test_every_vendored_fixture_has_a_verdict() -> None:
    vendored = {p.name for p in ACCEPTANCE.iterdir() if p.name not in ("LICENSE", "registry")}
    assert vendored == set(VERDICTS)


@pytest.mark.parametrize("fixture", sorted(VERDICTS))
def test_kubeconform_fixture_verdict(fixture: str, tools: Tools) -> None:
    expected, resources = VERDICTS[fixture]
    got, count = verdict(fixture, tools)
    assert got == expected
    if resources is not None:
        assert count == resources


def test_a_custom_resource_passes_with_its_crd(tools: Tools) -> None:
    """acceptance-nonetwork.bats: the TrainingJob passes with a registry that has its schema
    (here: the CRD it was generated from, given as a CRD folder)."""
    assert verdict("test_crd.yaml", tools, (ACCEPTANCE / "registry",)) == (PASS, 1)
