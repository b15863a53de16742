"""crds: CustomResourceDefinition -> JSON schema conversion details."""

from __future__ import annotations

import copy
from typing import Any

from bot.model import Manifest
from bot.validate import EmbeddedValidator, crds
from tests.validate.samples import CRD, WIDGET


def crd_with(spec_schema: dict[str, Any]) -> dict[str, Any]:
    crd = copy.deepcopy(CRD)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = spec_schema
    return crd


def check(crd: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    widget = dict(copy.deepcopy(WIDGET), spec=spec)
    found = EmbeddedValidator().validate(
        [Manifest(crd, "crd.yaml", 1), Manifest(widget, "w.yaml", 1)], "1.35"
    )
    return [f.message for f in found]


def test_openapi_boolean_exclusive_minimum_becomes_draft7() -> None:
    crd = crd_with(
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}},
        }
    )
    assert check(crd, {"n": 1}) == []
    assert check(crd, {"n": 0}) == [
        ("Widget/shop/w1: spec.n: 0 is less than or equal to the minimum of 0")
    ]


def test_patterns_python_cannot_compile_are_dropped_and_others_kept() -> None:
    crd = crd_with(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": r"^\p{L}+$"},
                "size": {"type": "string", "pattern": r"^[0-9]+(Mi|Gi)$"},
            },
        }
    )
    assert check(crd, {"name": "ünïcode", "size": "1Gi"}) == []
    assert check(crd, {"size": "lots"}) == [
        "Widget/shop/w1: spec.size: 'lots' does not match '^[0-9]+(Mi|Gi)$'"
    ]


def test_refs_and_unknown_keywords_in_crds_are_ignored() -> None:
    crd = crd_with(
        {
            "type": "object",
            "properties": {
                "a": {
                    "$ref": "https://example.com/schema.json",
                    "x-kubernetes-validations": [{"rule": "true"}],
                }
            },
        }
    )
    assert check(crd, {"a": {"free": True}}) == []


def test_uncompilable_crd_schema_is_an_error_finding() -> None:
    crd = crd_with({"type": "object", "properties": {"a": {"type": "no-such-type"}}})
    [message] = check(crd, {"a": 1})
    assert message.startswith("Widget/shop/w1: schema cannot be compiled")


def test_embedded_resource_may_carry_type_meta() -> None:
    crd = crd_with(
        {
            "type": "object",
            "properties": {
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                }
            },
        }
    )
    embedded = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert check(crd, {"template": embedded}) == []
    assert len(check(crd, {"template": dict(embedded, bogus=1)})) == 1


def test_v1beta1_crd_with_top_level_validation() -> None:
    body = {
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.org"},
        "spec": {
            "group": "example.org",
            "version": "v1alpha1",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "validation": {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {"x": {"type": "string"}}}
                    },
                }
            },
        },
    }
    found = crds.schemas_from([body], strict=True)
    assert list(found) == [("example.org", "v1alpha1", "Gadget")]
    assert found[("example.org", "v1alpha1", "Gadget")]["additionalProperties"] is False


def test_crd_without_schema_accepts_any_spec() -> None:
    crd = copy.deepcopy(CRD)
    del crd["spec"]["versions"][0]["schema"]
    assert check(crd, {"whatever": [1, 2]}) == []


def test_dollar_inside_a_character_class_compiles_in_both_engines() -> None:
    crd = crd_with(
        {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": r"^[a-z.]+\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$",
                }
            },
        }
    )
    assert check(crd, {"name": "example.net/gateway-controller"}) == []
    assert check(crd, {"name": "ok/a$b"}) == []
    [message] = check(crd, {"name": "no-slash"})
    assert message.startswith("Widget/shop/w1: spec.name: 'no-slash' does not match")


def test_required_property_with_a_default_may_be_left_out() -> None:
    crd = crd_with(
        {
            "type": "object",
            "required": ["mode", "size"],
            "properties": {
                "mode": {"type": "string", "default": "fast"},
                "size": {"type": "integer"},
            },
        }
    )
    assert check(crd, {"size": 1}) == []
    assert check(crd, {"mode": "slow"}) == [
        "Widget/shop/w1: spec: missing required property 'size'"
    ]


def test_branches_judge_the_default_of_an_absent_property() -> None:
    # Gateway API's addresses: `type` defaults to IPAddress; one oneOf branch per type.
    crd = crd_with(
        {
            "type": "object",
            "properties": {
                "addresses": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "default": "IPAddress"},
                            "value": {"type": "string"},
                        },
                        "oneOf": [
                            {
                                "properties": {
                                    "type": {"enum": ["IPAddress"]},
                                    "value": {"pattern": r"^[0-9.]+$"},
                                }
                            },
                            {"properties": {"type": {"not": {"enum": ["IPAddress"]}}}},
                        ],
                    },
                }
            },
        }
    )
    assert (
        check(
            crd, {"addresses": [{"value": "1.2.3.4"}, {"type": "Hostname", "value": "example.com"}]}
        )
        == []
    )
    [message] = check(crd, {"addresses": [{"value": "example.com"}]})
    assert message.startswith("Widget/shop/w1: spec.addresses[0]: ")


def test_null_optional_fields_are_dropped_as_the_api_server_does() -> None:
    crd = crd_with(
        {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer"},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "port": {"x-kubernetes-int-or-string": True},
                "sub": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        }
    )
    assert check(crd, {"size": 1, "mode": None, "port": None, "sub": None}) == []
    assert check(crd, {"size": None}) == [
        "Widget/shop/w1: spec.size: None is not of type 'integer'"
    ]
    assert check(crd, {"size": 1, "mode": "c"}) == [
        "Widget/shop/w1: spec.mode: 'c' is not one of ['a', 'b', None]"
    ]
