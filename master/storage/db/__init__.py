"""The masters' PostgreSQL storage (U1): SQL lives in plain synchronous ``_txn`` functions
run by ``Database.run`` (adbapi's ``runInteraction``), one module per concept: ``users``,
``relations`` (friends, allow and ignore lists), ``preferences`` and ``admissions``
(invitations, view requests, consent, throws)."""
