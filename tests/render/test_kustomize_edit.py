"""The kustomization Argo CD's `kustomize edit` and kustomize-controller leave behind."""

from __future__ import annotations

import pytest

from bot.render.kustomize_edit import edit, generated, parse_image


@pytest.mark.parametrize(
    ("spec", "image"),
    [
        ("nginx:1.27", {"name": "nginx", "newTag": "1.27"}),
        (
            "nginx=registry.example/nginx:1.27",
            {"name": "nginx", "newName": "registry.example/nginx", "newTag": "1.27"},
        ),
        (
            "nginx=registry.example:5000/nginx",
            {"name": "nginx", "newName": "registry.example:5000/nginx"},
        ),
        ("nginx@sha256:abc", {"name": "nginx", "digest": "sha256:abc"}),
    ],
)
def test_image_arguments(spec: str, image: dict[str, str]) -> None:
    assert parse_image(spec) == image


def test_flux_generates_resources_for_a_folder() -> None:
    files = [
        "c/a.yaml",
        "c/b.yml",
        "c/.sops.yaml",
        "c/notes.txt",
        "c/sub/x.yaml",
        "c/k/kustomization.yaml",
        "c/k/deep/y.yaml",
        "other/z.yaml",
    ]
    assert generated("c", files)["resources"] == ["./a.yaml", "./b.yml", "./k", "./sub/x.yaml"]
    assert generated("empty", files)["namespace"] == "_placeholder"


def test_flux_image_override_replaces_tag_and_digest_together() -> None:
    original = {"images": [{"name": "web", "newTag": "1.0", "digest": "sha256:old"}]}
    out = edit(original, {"images": [{"name": "web", "newTag": "2.0"}]}, "flux", "x", [])
    assert out["images"] == [{"name": "web", "newTag": "2.0"}]
    argo = edit(original, {"images": ["web:2.0"]}, "argocd", "x", [])
    assert argo["images"] == [{"name": "web", "newTag": "2.0", "digest": "sha256:old"}]


def test_labels_with_and_without_selector() -> None:
    out = edit({"commonLabels": {"a": "1"}}, {"commonLabels": {"b": "2"}}, "argocd", "x", [])
    assert out["commonLabels"] == {"a": "1", "b": "2"}
    out = edit({}, {"commonLabels": {"b": "2"}, "labelWithoutSelector": True}, "argocd", "x", [])
    assert out["labels"] == [{"pairs": {"b": "2"}, "includeSelectors": False}]
    with pytest.raises(ValueError, match="label a already"):
        edit({"commonLabels": {"a": "1"}}, {"commonLabels": {"a": "2"}}, "argocd", "x", [])


def test_remote_components_are_refused() -> None:
    with pytest.raises(ValueError, match="must be local and relative"):
        edit({}, {"components": ["https://example.com/c"]}, "flux", "x", [])
