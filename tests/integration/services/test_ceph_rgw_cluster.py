"""CephRGW launcher: one-node cluster answers signed S3 only, and stops clean."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from juice.errors import ServiceError
from juice.local.ceph_rgw import CephRGW
from juice.local.procs import pid_alive, pid_listens_on, port_is_free

pytestmark = pytest.mark.integration


def _client(endpoint: str, access_key: str, secret_key: str):  # type: ignore[no-untyped-def]
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_session_cluster_answers_signed_requests(rgw: CephRGW) -> None:
    assert rgw.endpoint == f"http://127.0.0.1:{rgw.port}"
    assert set(rgw.pids) == {"ceph-mon", "ceph-osd", "radosgw"}
    assert all(pid_alive(pid) for pid in rgw.pids.values())
    assert pid_listens_on(rgw.pids["radosgw"], rgw.port)
    client = _client(rgw.endpoint, rgw.access_key, rgw.secret_key)
    try:
        client.create_bucket(Bucket="juice-launcher-check")
        names = [b["Name"] for b in client.list_buckets()["Buckets"]]
        assert "juice-launcher-check" in names
        client.delete_bucket(Bucket="juice-launcher-check")
    finally:
        client.close()


def test_wrong_secret_is_refused(rgw: CephRGW) -> None:
    client = _client(rgw.endpoint, rgw.access_key, "not-" + rgw.secret_key)
    try:
        with pytest.raises(ClientError) as info:
            client.list_buckets()
        assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    finally:
        client.close()


def test_logs_and_config_live_in_the_work_dir(rgw: CephRGW) -> None:
    assert rgw.work_dir is not None
    logs = {p.name for p in (rgw.work_dir / "log").iterdir()}
    assert {
        "ceph-mon.out",
        "ceph-osd.out",
        "radosgw.out",
        "mon.a.log",
        "osd.0.log",
        "client.rgw.a.log",
    } <= logs
    conf = rgw.conf_path.read_text()
    assert "osd objectstore = memstore" in conf
    assert f"beast endpoint=127.0.0.1:{rgw.port}" in conf


def test_second_cluster_is_isolated_and_stops_clean(rgw: CephRGW) -> None:
    other = CephRGW().start()
    pids, port, work_dir = dict(other.pids), other.port, other.work_dir
    assert work_dir is not None
    try:
        assert port != rgw.port
        assert (other.access_key, other.secret_key) != (rgw.access_key, rgw.secret_key)
        stranger = _client(other.endpoint, rgw.access_key, rgw.secret_key)
        try:
            with pytest.raises(ClientError) as info:
                stranger.list_buckets()
            assert info.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        finally:
            stranger.close()
    finally:
        other.stop()
    assert not any(pid_alive(pid) for pid in pids.values())
    assert port_is_free(port)
    assert not work_dir.exists()
    other.stop()  # idempotent
    with pytest.raises(ServiceError):
        _ = other.endpoint
    assert all(pid_alive(pid) for pid in rgw.pids.values())


def test_busy_port_is_refused(rgw: CephRGW) -> None:
    with pytest.raises(ServiceError, match="already in use"):
        CephRGW(port=rgw.port).start()


def test_given_work_dir_with_a_stale_cluster_is_reused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "mon" / "ceph-a").mkdir(parents=True)
    (tmp_path / "mon" / "ceph-a" / "keyring").write_text("stale")
    (tmp_path / "ceph.conf").write_text("[global]\nfsid = stale\n")
    with CephRGW(work_dir=tmp_path) as cluster:
        client = _client(cluster.endpoint, cluster.access_key, cluster.secret_key)
        try:
            assert client.list_buckets()["Buckets"] == []
        finally:
            client.close()
        assert cluster.fsid in cluster.conf_path.read_text()
    assert (tmp_path / "log" / "radosgw.out").exists()
