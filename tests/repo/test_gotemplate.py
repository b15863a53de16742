"""The Go template subset ApplicationSets use, with Go's printing and missing-key rules."""

from __future__ import annotations

import pytest

from bot.repo.gotemplate import TemplateError, render

DATA = {
    "path": {"path": "apps/web", "basename": "web", "segments": ["apps", "web"]},
    "cluster": "prod",
    "labels": ["blue"],
    "n": 3,
    "ratio": 1.5,
    "on": True,
    "values": {"project": "shop"},
}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("{{.path.basename}}-{{.cluster}}", "web-prod"),
        ("{{ index .path.segments 1 }}/{{ index .labels 0 }}", "web/blue"),
        ('{{ .cluster | upper | printf "%s!" }}', "PROD!"),
        ('{{ default "dev" .missing }} {{ default "dev" .cluster }}', "dev prod"),
        ("{{ .n }} {{ .ratio }} {{ .on }} {{ .values }}", "3 1.5 true map[project:shop]"),
        ("{{ .nope }}", "<no value>"),
        ('{{ if eq .cluster "dev" }}d{{ else if eq .cluster "prod" }}p{{ else }}x{{ end }}', "p"),
        ("{{- range $i, $s := .path.segments }}[{{ $i }}:{{ $s }}]{{ end -}}", "[0:apps][1:web]"),
        ("{{ with .values }}{{ .project }}{{ end }}", "shop"),
        ("{{ $c := .cluster }}{{ $c }}-{{ $.n }}", "prod-3"),
        (
            '{{ normalize "Team_A.prod" }} {{ .path.path | replace "/" "-" }}',
            "team-a.prod apps-web",
        ),
        ("{{ trunc 3 .cluster }}{{ /* note */ }}", "pro"),
        ('a {{- " b " -}} c', "a b c"),
    ],
)
def test_renders_like_go(text: str, out: str) -> None:
    assert render(text, DATA) == out


@pytest.mark.parametrize(
    ("text", "missing_error", "message"),
    [
        ("{{ .nope }}", True, 'map has no entry for key "nope"'),
        ("{{ .nope.deeper }}", False, "nil pointer evaluating interface {}.deeper"),
        ('{{ template "x" }}', False, "{{template}} is not supported"),
        ('{{ lookup "v1" }}', False, 'function "lookup" is not supported'),
        ("{{ if .on }}unclosed", False, "unclosed"),
        ("{{ end }}", False, "unexpected {{end}}"),
    ],
)
def test_what_cannot_be_evaluated_is_an_error(text: str, missing_error: bool, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        render(text, DATA, missing_error=missing_error)
