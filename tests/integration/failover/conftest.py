from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from failover_support import Harness

from juice.devcluster.server import DevClusterConfig, DevClusterThread
from juice.local.ceph_rgw import CephRGW
from juice.local.stack import LocalStack, StackConfig
from juice.media.samples import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "clip16.mp4"
    make_clip(path, seconds=16, rate="25", width=320, height=180)
    return path


@pytest.fixture
def harness(rgw: CephRGW, clip: Path) -> Iterator[Harness]:
    cluster = DevClusterThread(
        DevClusterConfig(agents=2, cpus=2.0, mem=4096.0, update_retry_initial=2.0)
    ).start()
    stack = LocalStack(
        StackConfig(master_url=cluster.url, extra_env={"JUICE_RECONCILE_SECONDS": "1"}), rgw=rgw
    )
    try:
        stack.start()
        store = stack.object_store()
        store.put_file("uploads", "failover/clip16.mp4", str(clip), "video/mp4")
        h = Harness(stack, cluster)
        yield h
        h.close()
    finally:
        if stack.framework is not None:
            print(f"--- framework log tail ---\n{stack.framework.tail()}")
        stack.stop()
        cluster.stop()
