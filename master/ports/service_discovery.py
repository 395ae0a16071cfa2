"""The master's HTTP extras: Prometheus HTTP service discovery at ``/sd`` (O3).

Prometheus polls ``/sd`` on a master and scrapes every live slave and master it lists, so
slaves started by ``docker compose up --scale slave=N`` are scraped without editing any
configuration.
"""

from __future__ import annotations

import json

from twisted.internet.defer import ensureDeferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from master.services.status import ClusterStatus


class ServiceDiscovery(Resource):
    isLeaf = True

    def __init__(self, status: ClusterStatus):
        super().__init__()
        self.status = status

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"application/json")

        def answer(targets) -> None:
            request.write(json.dumps(targets).encode())
            request.finish()

        def failed(failure) -> None:
            request.setResponseCode(503)
            request.write(json.dumps({"error": failure.getErrorMessage()}).encode())
            request.finish()

        ensureDeferred(self.status.metrics_targets()).addCallbacks(answer, failed)
        return NOT_DONE_YET
