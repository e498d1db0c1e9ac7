"""PUT a task's outputs to their presigned URLs: segments first, then init segments, the manifest last.

The manifest is the framework's proof that everything before it is in place, so it goes only after every
other object has been stored. Network errors, 5xx, 408 and 429 are retried with exponential backoff;
any other 4xx (expired or wrong URL) fails at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from juice.core.worktask import AudioTask, TaskManifest, VideoChunkTask
from juice.errors import StorageError
from juice.media.probe import redact
from workers.transcode import EncodedRendition

log = logging.getLogger(__name__)

SEGMENT_TYPE = "video/iso.segment"
INIT_TYPE = "video/mp4"
MANIFEST_TYPE = "application/json"
_RETRY_STATUS = frozenset({408, 429})


class UploadError(StorageError):
    """An output object could not be stored."""


@dataclass(frozen=True)
class Upload:
    url: str
    content_type: str
    path: Path | None = None
    data: bytes | None = None

    def body(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise UploadError("an upload has neither a file nor data")
        return self.path.read_bytes()

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        return self.path.stat().st_size if self.path is not None else 0


class Uploader:
    """PUTs bodies with retries. `sleep` is injectable so tests need not wait."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep

    def put(self, upload: Upload) -> None:
        body = upload.body()
        shown = redact(upload.url)
        for attempt in range(1, self._attempts + 1):
            problem = self._try_put(upload.url, body, upload.content_type)
            if problem is None:
                return
            retryable, reason = problem
            if not retryable or attempt == self._attempts:
                raise UploadError(f"PUT {shown} failed after {attempt} attempt(s): {reason}")
            delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
            log.warning("PUT %s: %s; retrying in %.1f s", shown, reason, delay, extra={"attempt": attempt})
            self._sleep(delay)

    def _try_put(self, url: str, body: bytes, content_type: str) -> tuple[bool, str] | None:
        try:
            response = self._client.put(url, content=body, headers={"Content-Type": content_type})
        except httpx.TransportError as exc:
            return True, f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        status = response.status_code
        return status >= 500 or status in _RETRY_STATUS, f"HTTP {status} {response.reason_phrase}"


def video_uploads(task: VideoChunkTask, encoded: Sequence[EncodedRendition]) -> list[Upload]:
    """Every rendition's segments, then every init segment; the manifest goes after these."""
    outputs = {r.name: r for r in task.renditions}
    segments: list[Upload] = []
    inits: list[Upload] = []
    for rendition in encoded:
        spec = outputs[rendition.name]
        for segment in rendition.segments:
            index = segment.number - task.first_segment
            if not 0 <= index < len(spec.segment_urls):
                raise UploadError(f"{rendition.name}: no upload URL for segment {segment.number}")
            url = spec.segment_urls[index]
            segments.append(Upload(url, SEGMENT_TYPE, path=rendition.segment_path(segment)))
        inits.append(Upload(spec.init_url, INIT_TYPE, path=rendition.init_path))
    return segments + inits


def audio_uploads(task: AudioTask, encoded: EncodedRendition) -> list[Upload]:
    if len(encoded.segments) > len(task.segment_urls):
        raise UploadError(f"{task.name}: {len(encoded.segments)} segments, {len(task.segment_urls)} URLs")
    uploads = [
        Upload(task.segment_urls[segment.number], SEGMENT_TYPE, path=encoded.segment_path(segment))
        for segment in encoded.segments
    ]
    return [*uploads, Upload(task.init_url, INIT_TYPE, path=encoded.init_path)]


def manifest_upload(manifest_url: str, manifest: TaskManifest) -> Upload:
    return Upload(manifest_url, MANIFEST_TYPE, data=manifest.model_dump_json().encode())


def upload_all(
    uploader: Uploader, uploads: Sequence[Upload], on_done: Callable[[int], None] | None = None
) -> int:
    """PUT in order; returns the bytes sent. `on_done(n)` is told how many uploads finished so far."""
    sent = 0
    for done, upload in enumerate(uploads, start=1):
        uploader.put(upload)
        sent += upload.size
        if on_done is not None:
            on_done(done)
    return sent
