"""One whole local stack for the integration tests that need it: its own Redis, the session's Ceph RGW,
a dev cluster and the framework, as `juice local` runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from juice.local.ceph_rgw import CephRGW
from juice.local.stack import LocalStack, StackConfig


@pytest.fixture(scope="session")
def stack(rgw: CephRGW) -> Iterator[LocalStack]:
    s = LocalStack(StackConfig(agents=2, cpus=2.0, mem=4096.0), rgw=rgw).start()
    try:
        yield s
    finally:
        for proc in (s.framework, s.devcluster):  # left for the reader of a failed run
            if proc is not None:
                print(f"--- {proc.name} log tail ---\n{proc.tail()}")
        s.stop()
