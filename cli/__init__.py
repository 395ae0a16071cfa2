"""The ``framecast`` command line, and the local cluster runner behind ``framecast up``.

This package sits above the client library (``client/``) and the servers (``master/``,
``slave/``): it is the only place that starts servers or reads a user's saved login.
"""
