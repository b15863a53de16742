"""A Kubernetes API test server on loopback (there is no real API server on these machines)."""

from tests.kubeapi.server import KubeAPIServer

__all__ = ["KubeAPIServer"]
