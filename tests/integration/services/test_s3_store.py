"""S3Store against the real Ceph RGW of the test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import juice.storage.s3 as s3_module
from juice.errors import ObjectNotFound, StorageError
from juice.local.ceph_rgw import CephRGW
from juice.local.procs import free_port
from juice.storage.port import ObjectStore
from juice.storage.s3 import S3Store

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture
def bucket(s3_store: S3Store) -> str:
    name = f"juice-test-{uuid.uuid4().hex[:12]}"
    s3_store.ensure_bucket(name)
    return name


def test_is_an_object_store(s3_store: S3Store) -> None:
    store: ObjectStore = s3_store
    assert store is s3_store


def test_ensure_bucket_is_idempotent(s3_store: S3Store, bucket: str) -> None:
    s3_store.ensure_bucket(bucket)
    s3_store.put_bytes(bucket, "k", b"v")
    s3_store.ensure_bucket(bucket)
    assert s3_store.get_bytes(bucket, "k") == b"v"


def test_invalid_bucket_name_is_a_storage_error(s3_store: S3Store) -> None:
    with pytest.raises(StorageError):
        s3_store.ensure_bucket("Not_A_Valid/Bucket")


def test_put_get_exists_with_content_type(s3_store: S3Store, bucket: str) -> None:
    s3_store.put_bytes(bucket, "jobs/j1/master.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")
    assert s3_store.get_bytes(bucket, "jobs/j1/master.m3u8") == b"#EXTM3U\n"
    assert s3_store.exists(bucket, "jobs/j1/master.m3u8")
    assert not s3_store.exists(bucket, "jobs/j1/other.m3u8")
    response = httpx.get(s3_store.presign_get(bucket, "jobs/j1/master.m3u8", 60))
    assert response.headers["content-type"] == "application/vnd.apple.mpegurl"


def test_missing_object_and_bucket_raise_object_not_found(s3_store: S3Store, bucket: str) -> None:
    with pytest.raises(ObjectNotFound, match="NoSuchKey"):
        s3_store.get_bytes(bucket, "nope")
    with pytest.raises(ObjectNotFound, match="NoSuchBucket"):
        s3_store.get_bytes(f"{bucket}-absent", "nope")
    assert not s3_store.exists(f"{bucket}-absent", "nope")


def test_list_keys_with_prefix(s3_store: S3Store, bucket: str) -> None:
    for key in ("a/1", "a/2", "a/sub/3", "ab/4", "b/5"):
        s3_store.put_bytes(bucket, key, b"x")
    assert s3_store.list_keys(bucket, "a/") == ["a/1", "a/2", "a/sub/3"]
    assert s3_store.list_keys(bucket, "a") == ["a/1", "a/2", "a/sub/3", "ab/4"]
    assert s3_store.list_keys(bucket, "zzz/") == []


def test_list_keys_pages_past_one_response(
    s3_store: S3Store, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "LIST_PAGE_SIZE", 2)
    keys = [f"many/{i:02d}" for i in range(7)]
    for key in keys:
        s3_store.put_bytes(bucket, key, b"")
    assert s3_store.list_keys(bucket, "many/") == keys


def test_delete_prefix_in_batches(s3_store: S3Store, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 2)
    monkeypatch.setattr(s3_module, "LIST_PAGE_SIZE", 3)
    for key in ("seg/0", "seg/1", "seg/2", "seg/3", "seg/4", "segment-keep", "other/0"):
        s3_store.put_bytes(bucket, key, b"x")
    assert s3_store.delete_prefix(bucket, "seg/") == 5
    assert s3_store.list_keys(bucket, "") == ["other/0", "segment-keep"]
    assert s3_store.delete_prefix(bucket, "seg/") == 0


def test_delete_prefix_refuses_an_empty_prefix(s3_store: S3Store, bucket: str) -> None:
    s3_store.put_bytes(bucket, "k", b"x")
    with pytest.raises(StorageError, match="empty prefix"):
        s3_store.delete_prefix(bucket, "")
    assert s3_store.exists(bucket, "k")


def test_put_file_multipart(
    s3_store: S3Store, rgw_store_small_parts: S3Store, bucket: str, tmp_path: Path
) -> None:
    data = os.urandom(12 * MIB + 123)
    path = tmp_path / "big.mp4"
    path.write_bytes(data)
    rgw_store_small_parts.put_file(bucket, "big.mp4", str(path), "video/mp4")
    got = httpx.get(s3_store.presign_get(bucket, "big.mp4", 60))
    assert got.content == data
    assert got.headers["etag"].strip('"').endswith("-2")  # a multipart upload of two parts
    assert got.headers["content-type"] == "video/mp4"


def test_put_file_small_and_missing_local_file(s3_store: S3Store, bucket: str, tmp_path: Path) -> None:
    path = tmp_path / "small.ts"
    path.write_bytes(b"segment")
    s3_store.put_file(bucket, "small.ts", str(path))
    assert s3_store.get_bytes(bucket, "small.ts") == b"segment"
    with pytest.raises(StorageError):
        s3_store.put_file(bucket, "ghost.ts", str(tmp_path / "ghost.ts"))


def test_put_file_to_a_missing_bucket(s3_store: S3Store, bucket: str, tmp_path: Path) -> None:
    path = tmp_path / "small.ts"
    path.write_bytes(b"segment")
    with pytest.raises(ObjectNotFound, match="NoSuchBucket"):
        s3_store.put_file(f"{bucket}-absent", "small.ts", str(path))


def test_presigned_put_then_get_over_plain_http(s3_store: S3Store, bucket: str) -> None:
    put_url = s3_store.presign_put(bucket, "out/seg_00001.m4s", 300)
    assert "X-Amz-Signature=" in put_url
    response = httpx.put(put_url, content=b"\x00moof", headers={"Content-Type": "video/iso.segment"})
    assert response.status_code == 200
    got = httpx.get(s3_store.presign_get(bucket, "out/seg_00001.m4s", 300))
    assert got.status_code == 200
    assert got.content == b"\x00moof"
    assert s3_store.get_bytes(bucket, "out/seg_00001.m4s") == b"\x00moof"


def test_presigned_url_is_bound_to_its_key(s3_store: S3Store, bucket: str) -> None:
    s3_store.put_bytes(bucket, "mine", b"1")
    s3_store.put_bytes(bucket, "theirs", b"2")
    url = s3_store.presign_get(bucket, "mine", 60)
    assert httpx.get(url.replace("/mine?", "/theirs?")).status_code == 403


def test_anonymous_requests_are_refused(s3_store: S3Store, bucket: str) -> None:
    s3_store.put_bytes(bucket, "private", b"secret")
    base = s3_store.endpoint
    get = httpx.get(f"{base}/{bucket}/private")
    assert get.status_code == 403
    assert b"secret" not in get.content
    assert httpx.put(f"{base}/{bucket}/intruder", content=b"x").status_code == 403
    assert not s3_store.exists(bucket, "intruder")


def test_presign_lifetime_is_checked(s3_store: S3Store, bucket: str) -> None:
    with pytest.raises(StorageError, match="lifetime"):
        s3_store.presign_get(bucket, "k", 0)
    with pytest.raises(StorageError, match="lifetime"):
        s3_store.presign_put(bucket, "k", 8 * 24 * 3600)


def test_shared_between_threads(s3_store: S3Store, bucket: str) -> None:
    def roundtrip(i: int) -> bytes:
        s3_store.put_bytes(bucket, f"t/{i}", str(i).encode())
        return s3_store.get_bytes(bucket, f"t/{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(roundtrip, range(40)))
    assert results == [str(i).encode() for i in range(40)]


def test_unreachable_endpoint_is_a_storage_error() -> None:
    store = S3Store(f"http://127.0.0.1:{free_port()}", "ak", "sk", connect_timeout=1, max_attempts=1)
    try:
        with pytest.raises(StorageError, match="put s3://b/k"):
            store.put_bytes("b", "k", b"x")
        with pytest.raises(StorageError):
            store.list_keys("b", "")
    finally:
        store.close()


def test_bad_endpoint_is_refused() -> None:
    with pytest.raises(StorageError, match="http"):
        S3Store("127.0.0.1:9000", "ak", "sk")


def test_wrong_credentials_are_a_storage_error(s3_store: S3Store, bucket: str) -> None:
    store = S3Store(s3_store.endpoint, "WRONGKEY", "wrong-secret", max_attempts=1)
    try:
        with pytest.raises(StorageError, match="InvalidAccessKeyId") as info:
            store.get_bytes(bucket, "k")
        assert not isinstance(info.value, ObjectNotFound)
    finally:
        store.close()


@pytest.fixture
def rgw_store_small_parts(rgw: CephRGW) -> Iterator[S3Store]:
    """A second store on the same cluster that switches to multipart from 5 MiB on."""
    store = S3Store(rgw.endpoint, rgw.access_key, rgw.secret_key, multipart_threshold=5 * MIB)
    yield store
    store.close()
