"""Settings of the dev master (built by the server from `DevClusterConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class MasterSettings:
    work_dir: Path
    image_entrypoints: Mapping[str, list[str]]
    heartbeat_interval: float = 15.0
    allocation_interval: float = 1.0
    offer_timeout: float | None = None
    update_retry_initial: float = 10.0
    update_retry_max: float = 600.0
    simulate_seconds: float | None = None
    split_records: bool = True
    agent_reregister_seconds: float = 1.0
    agent_env: Mapping[str, str] = field(default_factory=dict)
