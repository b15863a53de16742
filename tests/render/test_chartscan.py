"""Which charts need the second render that tells made-up values from changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.render.chartscan import chart_may_vary

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: %s}\n"


def chart(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "chart"
    for name, text in {"Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


@pytest.mark.parametrize(
    ("files", "varies"),
    [
        ({"templates/cm.yaml": CM % "{{ .Values.a | quote }}"}, False),
        ({"templates/cm.yaml": CM % "{{ randAlphaNum 10 | quote }}"}, True),
        ({"templates/_helpers.tpl": '{{- define "t" -}}{{ now | date "2006" }}{{- end -}}'}, True),
        ({"templates/cm.yaml": CM % "{{ uuidv4 | quote }}"}, True),
        ({"templates/cert.yaml": '{{ $ca := genCA "x" 365 }}'}, True),
        ({"charts/db/templates/secret.yaml": CM % "{{ randAscii 8 | b64enc }}"}, True),
        ({"charts/db-1.0.0.tgz": b"\x1f\x8b packaged"}, True),
        # the words outside templates (values, docs) make nothing up
        ({"values.yaml": "password: randAlphaNum\n", "README.md": "uses now\n"}, False),
        ({"templates/cm.yaml": CM % "{{ .Values.update | quote }}"}, False),
    ],
)
def test_only_charts_that_make_values_up_may_vary(
    tmp_path: Path, files: dict[str, str | bytes], varies: bool
) -> None:
    assert chart_may_vary(chart(tmp_path, files)) is varies
