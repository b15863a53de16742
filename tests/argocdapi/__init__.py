"""An Argo CD API test server on loopback (there is no Argo CD on these machines)."""

from tests.argocdapi.server import ArgoCDServer

__all__ = ["ArgoCDServer"]
