"""Serving Prometheus metrics over HTTP from the node's own reactor (features O3)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from twisted.web.resource import Resource
from twisted.web.server import Site


class MetricsResource(Resource):
    isLeaf = True

    def render_GET(self, request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(REGISTRY)


def metrics_site(extra: dict[bytes, Resource] | None = None) -> Site:
    """A web site with ``/metrics`` and any extra resources a role adds."""
    root = Resource()
    root.putChild(b"metrics", MetricsResource())
    for name, resource in (extra or {}).items():
        root.putChild(name, resource)
    return Site(root)
