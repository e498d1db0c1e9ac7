from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from juice.store import keys
from juice.store.lease import LeaderLease


@pytest.fixture
async def client(redis_url: str, redis_client: sync_redis.Redis) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_one_holder_at_a_time(client: aioredis.Redis) -> None:
    a, b = LeaderLease(client, "a", ttl_seconds=5), LeaderLease(client, "b", ttl_seconds=5)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert await a.renew() and not await b.renew()
    await b.release()  # not b's to release
    assert await client.get(keys.LEADER) == b"a"
    await a.release()
    assert await b.try_acquire()
    assert not await a.renew()  # a lost it: it must stop


async def test_a_lapsed_lease_passes_to_the_standby(client: aioredis.Redis) -> None:
    a, b = LeaderLease(client, "a", ttl_seconds=0.2), LeaderLease(client, "b", ttl_seconds=0.2)
    assert await a.try_acquire()
    await asyncio.wait_for(b.acquire(poll_seconds=0.05), timeout=10)
    assert await client.get(keys.LEADER) == b"b"
    assert not await a.renew()
