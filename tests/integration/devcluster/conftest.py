"""Fixtures: a dev cluster in a thread and a factory of minimal v1 schedulers (devcluster_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from devcluster_support import Scheduler

from juice.devcluster.server import DevClusterConfig, DevClusterThread


@pytest.fixture
def cluster() -> Iterator[DevClusterThread]:
    config = DevClusterConfig(
        agents=2,
        cpus=2.0,
        mem=1024.0,
        heartbeat_interval=0.5,
        allocation_interval=0.2,
        update_retry_initial=30.0,
        attributes={"rack": "r1", "gen": "3"},
    )
    with DevClusterThread(config) as running:
        yield running


@pytest.fixture
def make_scheduler(cluster: DevClusterThread) -> Iterator[Callable[..., Scheduler]]:
    created: list[Scheduler] = []

    def make(**kwargs: Any) -> Scheduler:
        scheduler = Scheduler(cluster.url, **kwargs)
        created.append(scheduler)
        return scheduler

    yield make
    for scheduler in created:
        scheduler.close()
