"""One slave's settings (``framecast slave``'s options). ``id`` and the addresses are filled
in once its ports listen, so parts that name this slave read them from here when they do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SlaveConfig:
    id: str
    addr: str
    metrics_addr: str = ""
    web_addr: str = ""
    grace: float = 10.0
    refresh_interval: float = 120.0
    heartbeat_interval: float = 1.0
    drain_deadline: float = 30.0
    master_timeout: float = 5.0
    keepalive: float = 2.0
    container: str = ""
    stall_timeout: float = 20.0
    max_upload_kbps: float = 0.0
    upload_window: int = 32
