"""The framecast client library and the ``framecast`` command line."""
