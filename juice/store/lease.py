"""The leader lease: one scheduler at a time drives the framework.

Marathon can briefly run two copies of the scheduler (a partitioned task replaced while it still runs).
Two schedulers subscribing with the same framework id would take the framework from each other in turn,
so a scheduler first takes `juice:leader` (SET NX with a TTL), renews it well before it expires, and stops
when it cannot: the standby takes over once the lease has lapsed.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from juice.errors import StoreError
from juice.store import keys

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLease:
    def __init__(self, client: aioredis.Redis, owner: str, *, ttl_seconds: float = 15.0) -> None:
        self._r = client
        self.owner = owner
        self._ttl_ms = int(ttl_seconds * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def ttl_seconds(self) -> float:
        return self._ttl_ms / 1000

    async def try_acquire(self) -> bool:
        try:
            return bool(await self._r.set(keys.LEADER, self.owner, nx=True, px=self._ttl_ms))
        except RedisError as exc:
            raise StoreError(f"redis: leader lease: {exc}") from exc

    async def acquire(self, poll_seconds: float = 1.0) -> None:
        """Wait until this scheduler holds the lease."""
        waiting = False
        while not await self.try_acquire():
            if not waiting:
                holder = await self._r.get(keys.LEADER)
                log.info("waiting for the leader lease", extra={"holder": holder, "owner": self.owner})
                waiting = True
            await asyncio.sleep(poll_seconds)
        log.info("leader lease taken", extra={"owner": self.owner})

    async def renew(self) -> bool:
        """False when the lease is no longer ours (it lapsed and someone else took it)."""
        try:
            return bool(await self._renew(keys=[keys.LEADER], args=[self.owner, self._ttl_ms]))
        except RedisError as exc:
            raise StoreError(f"redis: leader lease: {exc}") from exc

    async def release(self) -> None:
        try:
            await self._release(keys=[keys.LEADER], args=[self.owner])
        except RedisError as exc:
            log.warning("leader lease release failed", extra={"reason": str(exc)})
