"""The master's services: what it does for clients and slaves (accounts, admission, chat,
placement, the registry, ...). Each receives the stores, tables and other services it uses
in its constructor; ``master.node`` wires them. They import policy and storage, never ports."""
