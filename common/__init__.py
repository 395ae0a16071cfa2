"""Code shared by every framecast role: the wire protocol, tokens, config, metrics."""
