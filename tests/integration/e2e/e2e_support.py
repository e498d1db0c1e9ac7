"""The end-to-end tests' client: the shared job client plus the dev cluster's state."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import JobClient, wait_for

__all__ = ["Client", "wait_for"]


class Client(JobClient):
    def master_state(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(f"{self.stack.master_url}/master/state", timeout=10.0).json()
        return state
