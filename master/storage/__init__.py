"""The master's storage: the cluster tables in Redis (``store`` is their interface,
``redis_store`` and ``memory_store`` its two implementations), the users' tables in
PostgreSQL (``db``) and the SQL migrations (``sql``). It imports only ``master.policy``."""
