"""Deprecated and removed API versions per environment's Kubernetes version: the table is
checked against the bundled Kubernetes schemas, and each outcome is a finding."""

from __future__ import annotations

from typing import Any

import pytest

from bot.model import Manifest, Severity
from bot.validate import EmbeddedValidator, supported_versions
from bot.validate import schemas
from bot.validate.deprecations import DEPRECATED_RULE, REMOVED_RULE, TABLE, api_findings


def manifest(api_version: str, kind: str, **spec: Any) -> Manifest:
    return Manifest(
        {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "x", "namespace": "shop"},
            **spec,
        },
        "app/x.yaml",
        3,
    )


def _minor(v: str) -> tuple[int, int]:
    major, minor = v.split(".")
    return int(major), int(minor)


@pytest.mark.parametrize("version", supported_versions())
def test_the_table_agrees_with_the_bundled_schemas(version: str) -> None:
    """A deprecated API is in the schemas until its removal and never after, and its
    replacement is served in every release where the old one is deprecated."""
    normalized = schemas.normalize_version(version)
    for change in TABLE:
        group, _ = schemas.split_api_version(change.api_version)
        for kind in change.kinds:
            served = change.api_version in schemas.served_api_versions(normalized, group, kind)
            if _minor(version) >= _minor(change.removed):
                assert not served, f"{change.api_version} {kind} still served in {version}"
            elif _minor(version) >= _minor(change.deprecated):
                assert served, f"{change.api_version} {kind} not served in {version}"
            replacement = change.replacement_in(_minor(version))
            if not replacement.startswith("nothing") and _minor(version) >= _minor(
                change.deprecated
            ):
                new_group, _ = schemas.split_api_version(replacement)
                assert replacement in schemas.served_api_versions(normalized, new_group, kind), (
                    f"{replacement} {kind} in {version}"
                )


def test_removed_api_is_an_error_naming_the_replacement_and_release() -> None:
    findings, rest = api_findings(
        [manifest("autoscaling/v2beta2", "HorizontalPodAutoscaler")], "1.35"
    )
    assert rest == []
    [f] = findings
    assert (f.severity, f.rule, f.file, f.line) == (Severity.ERROR, REMOVED_RULE, "app/x.yaml", 3)
    assert f.message == (
        "HorizontalPodAutoscaler/shop/x: HorizontalPodAutoscaler "
        "autoscaling/v2beta2 is removed in Kubernetes 1.26 (this environment "
        "runs 1.35); use autoscaling/v2"
    )


def test_deprecated_but_served_api_warns_with_replacement_and_removal() -> None:
    findings, rest = api_findings(
        [manifest("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema")], "1.30"
    )
    assert len(rest) == 1  # still schema-checked: it is served
    [f] = findings
    assert (f.severity, f.rule) == (Severity.WARNING, DEPRECATED_RULE)
    assert f.message.endswith(
        "is deprecated since Kubernetes 1.29 and removed in 1.32; use "
        "flowcontrol.apiserver.k8s.io/v1"
    )


def test_not_yet_deprecated_and_current_apis_say_nothing() -> None:
    assert (
        api_findings([manifest("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema")], "1.28")[0]
        == []
    )
    assert api_findings([manifest("apps/v1", "Deployment")], "1.35")[0] == []


def test_the_validator_reports_a_removed_api_once_with_the_migration() -> None:
    cronjob = manifest("batch/v1beta1", "CronJob", spec={"schedule": "* * * * *"})
    found = EmbeddedValidator().validate([cronjob], "1.35")
    assert [(f.severity, f.rule) for f in found] == [(Severity.ERROR, REMOVED_RULE)]
    assert "use batch/v1" in found[0].message
