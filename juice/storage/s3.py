"""`S3Store`: the ObjectStore port on boto3, for Ceph RGW or any S3 endpoint.

Path-style addressing and SigV4. Checksums are only computed or validated when an operation requires
them: newer botocore adds a streaming checksum trailer by default, which Pacific RGW over HTTPS refuses
(MissingContentLength). One instance is safe to share between threads (one boto3 client, made once).
Every boto3/botocore failure leaves this module as `StorageError`, or `ObjectNotFound` for a missing
object or bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from juice.errors import ObjectNotFound, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs are valid for at most 7 days
DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys
LIST_PAGE_SIZE = 1000  # ListObjectsV2 returns at most 1000 keys per page
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
OWNED_BUCKET_CODES = frozenset({"BucketAlreadyOwnedByYou"})
MIB = 1024 * 1024


def _error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def _fail(action: str, bucket: str, key: str, exc: Exception) -> NoReturn:
    """Raise the Juice error for a boto3/botocore failure of one operation on bucket/key."""
    where = f"s3://{bucket}/{key}"
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        if code in NOT_FOUND_CODES:
            raise ObjectNotFound(f"{action} {where}: not found ({code})") from exc
        raise StorageError(f"{action} {where}: {code or 'error'}: {exc}") from exc
    raise StorageError(f"{action} {where}: {exc}") from exc


def _check_expiry(expires_seconds: int) -> None:
    if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
        raise StorageError(
            f"presigned URL lifetime must be 1..{MAX_PRESIGN_SECONDS} s, got {expires_seconds}"
        )


class S3Store:
    """ObjectStore on an S3 endpoint (Ceph RGW in production and in tests)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        max_pool_connections: int = 32,
        multipart_threshold: int = 16 * MIB,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise StorageError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_pool_connections,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            session = boto3.session.Session(
                aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
            )
            self._client: S3Client = session.client("s3", endpoint_url=endpoint, config=config)
        except (BotoCoreError, Boto3Error, ValueError) as exc:
            raise StorageError(f"cannot build an S3 client for {endpoint}: {exc}") from exc
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(8 * MIB, multipart_threshold // 2),
            max_concurrency=4,
        )

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._client.close()

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket unless it exists already (and is ours)."""
        try:
            self._client.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in NOT_FOUND_CODES:
                _fail("head bucket", bucket, "", exc)
        except BotoCoreError as exc:
            _fail("head bucket", bucket, "", exc)
        try:
            self._client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if _error_code(exc) not in OWNED_BUCKET_CODES:
                _fail("create bucket", bucket, "", exc)
        except BotoCoreError as exc:
            _fail("create bucket", bucket, "", exc)
        log.info("bucket created", extra={"bucket": bucket})

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        try:
            self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            _fail("put", bucket, key, exc)

    def put_file(
        self, bucket: str, key: str, path: str, content_type: str = "application/octet-stream"
    ) -> None:
        """Upload a local file; multipart above the threshold."""
        try:
            self._client.upload_file(
                path, bucket, key, ExtraArgs={"ContentType": content_type}, Config=self._transfer
            )
        except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:
            # S3UploadFailedError wraps the ClientError (as its context) that says what went wrong.
            cause = (exc.__cause__ or exc.__context__) if isinstance(exc, Boto3Error) else None
            if isinstance(cause, ClientError):
                _fail("upload", bucket, key, cause)
            _fail("upload", bucket, key, exc)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        """The object's content; ObjectNotFound when the object or the bucket does not exist."""
        try:
            response = self._client.get_object(Bucket=bucket, Key=key)
            with response["Body"] as body:
                data: bytes = body.read()
        except (BotoCoreError, ClientError) as exc:
            _fail("get", bucket, key, exc)
        return data

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in NOT_FOUND_CODES:
                return False
            _fail("head", bucket, key, exc)
        except BotoCoreError as exc:
            _fail("head", bucket, key, exc)
        return True

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under the prefix, in S3's (lexicographic) order."""
        try:
            return list(self._iter_keys(bucket, prefix))
        except (BotoCoreError, ClientError) as exc:
            _fail("list", bucket, prefix, exc)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under a non-empty prefix, in batches; returns how many were deleted."""
        if not prefix:
            raise StorageError(f"refusing to delete everything in bucket {bucket!r}: empty prefix")
        deleted = 0
        try:
            batch: list[str] = []
            for key in self._iter_keys(bucket, prefix):
                batch.append(key)
                if len(batch) == DELETE_BATCH:
                    deleted += self._delete_batch(bucket, batch)
                    batch = []
            if batch:
                deleted += self._delete_batch(bucket, batch)
        except (BotoCoreError, ClientError) as exc:
            _fail("delete", bucket, prefix, exc)
        log.info("prefix deleted", extra={"bucket": bucket, "prefix": prefix, "objects": deleted})
        return deleted

    def presign_get(self, bucket: str, key: str, expires_seconds: int) -> str:
        """A URL that lets a plain HTTP GET read the object until it expires."""
        return self._presign("get_object", bucket, key, expires_seconds)

    def presign_put(self, bucket: str, key: str, expires_seconds: int) -> str:
        """A URL that lets a plain HTTP PUT write the object until it expires."""
        return self._presign("put_object", bucket, key, expires_seconds)

    def _presign(self, operation: str, bucket: str, key: str, expires_seconds: int) -> str:
        _check_expiry(expires_seconds)
        try:
            url: str = self._client.generate_presigned_url(
                operation, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
            )
        except (BotoCoreError, ClientError) as exc:
            _fail(f"presign {operation}", bucket, key, exc)
        return url

    def _iter_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def _delete_batch(self, bucket: str, keys: list[str]) -> int:
        objects: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in keys]
        response = self._client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageError(
                f"delete s3://{bucket}/: {len(errors)} of {len(keys)} objects failed, first "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )
        return len(keys)
