"""The object-store port. `juice.storage.s3.S3Store` is the real one (boto3 against Ceph RGW)."""

from __future__ import annotations

from typing import Protocol


class ObjectStore(Protocol):
    def ensure_bucket(self, bucket: str) -> None: ...

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None: ...

    def put_file(
        self, bucket: str, key: str, path: str, content_type: str = "application/octet-stream"
    ) -> None: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...  # raises ObjectNotFound

    def exists(self, bucket: str, key: str) -> bool: ...

    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...

    def delete_prefix(self, bucket: str, prefix: str) -> int: ...  # returns how many objects went

    def presign_get(self, bucket: str, key: str, expires_seconds: int) -> str: ...

    def presign_put(self, bucket: str, key: str, expires_seconds: int) -> str: ...
