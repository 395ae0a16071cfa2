"""The master's ports: the protocols and web fronts that parse what arrives (from clients,
slaves, browsers, Prometheus) and dispatch it to the services."""
