"""In-memory repository trees for config, discovery and target tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

SAMPLE_CONFIG = """\
environments:
  staging:    {branch: main, kubernetes_version: "1.35"}
  production: {branch: main}
apps:
  web: {path: apps/web}                        # plain manifests, all environments
  api:
    renderer: kustomize
    environments:
      staging:    {path: apps/api/overlays/staging}
      production: {path: apps/api/overlays/production}
  shop:
    renderer: helm
    path: charts/shop
    namespace: shop
    environments:
      staging:    {values: [charts/shop/values-staging.yaml]}
      production: {values: [charts/shop/values-production.yaml]}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
"""

# A realistic repository: a plain app, a kustomize base with two overlays that use a
# component and patches, a helm chart with a vendored subchart, docs and CI files.
REALISTIC: dict[str, str] = {
    "README.md": "# infra\n",
    ".github/workflows/ci.yaml": "on: push\njobs: {}\n",
    ".gitops-bot.yaml": SAMPLE_CONFIG,
    "policies/deny_latest.rego": "package gitops.images\n",
    "policies/fixtures/bad.yaml": DEPLOYMENT.format(name="bad"),
    "apps/web/deployment.yaml": DEPLOYMENT.format(name="web"),
    "apps/web/service.yml": "---\n# the web service\napiVersion: v1\nkind: Service\n"
    "metadata: {name: web}\n",
    "apps/web/notes.txt": "not yaml\n",
    "apps/api/base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - service.yaml\n",
    "apps/api/base/deployment.yaml": DEPLOYMENT.format(name="api"),
    "apps/api/base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: api}\n",
    "apps/api/components/monitoring/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    "resources: [servicemonitor.yaml]\n",
    "apps/api/components/monitoring/servicemonitor.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\n",
    "apps/api/overlays/staging/kustomization.yaml": "resources:\n  - ../../base\ncomponents:\n  - ../../components/monitoring\n"
    "patches:\n  - path: replicas.yaml\n  - patch: |-\n      - op: add\n"
    "        path: /metadata/labels/x\n        value: y\n    target: {kind: Service}\n"
    "configMapGenerator:\n  - name: api-config\n    files: [settings=config/settings.ini]\n"
    "    envs: [config/api.env]\n",
    "apps/api/overlays/staging/replicas.yaml": DEPLOYMENT.format(name="api"),
    "apps/api/overlays/staging/config/settings.ini": "debug=true\n",
    "apps/api/overlays/staging/config/api.env": "MODE=staging\n",
    "apps/api/overlays/production/kustomization.yml": "bases: [../../base]\npatchesStrategicMerge:\n  - replicas.yaml\n"
    "  - |-\n    apiVersion: v1\n    kind: Service\n    metadata: {name: api}\n"
    "resources:\n  - https://github.com/example/remote//deploy?ref=v1\n",
    "apps/api/overlays/production/replicas.yaml": DEPLOYMENT.format(name="api"),
    "charts/shop/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    "charts/shop/values.yaml": "replicas: 1\n",
    "charts/shop/values-staging.yaml": "replicas: 1\n",
    "charts/shop/values-production.yaml": "replicas: 3\n",
    "charts/shop/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    "charts/shop/charts/redis/Chart.yaml": "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
    "charts/shop/charts/redis/templates/sts.yaml": "apiVersion: apps/v1\nkind: StatefulSet\n",
    "docs/example.yaml": "title: not a manifest\nitems: [1, 2]\n",
}


def reader(tree: Mapping[str, str | bytes]) -> Callable[[str], bytes | None]:
    """A `read` callback over an in-memory tree."""

    def read(path: str) -> bytes | None:
        content = tree.get(path)
        return content.encode() if isinstance(content, str) else content

    return read


def load_dir(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by POSIX path relative to it."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
