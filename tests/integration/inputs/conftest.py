"""One local stack (own Redis, the session's Ceph RGW, the dev cluster, the framework) for this module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from inputs_support import Client

from juice.local.ceph_rgw import CephRGW
from juice.local.stack import LocalStack, StackConfig


@pytest.fixture(scope="module")
def stack(rgw: CephRGW) -> Iterator[LocalStack]:
    s = LocalStack(StackConfig(agents=2, cpus=2.0, mem=4096.0), rgw=rgw).start()
    try:
        yield s
    finally:
        for proc in (s.framework, s.devcluster):  # left for the reader of a failed run
            if proc is not None:
                print(f"--- {proc.name} log tail ---\n{proc.tail()}")
        s.stop()


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[Client]:
    c = Client(stack)
    yield c
    c.close()
