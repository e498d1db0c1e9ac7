"""Test doubles for the media pipeline tests: a directory-backed object store and a tiny HTTP server
(run in a thread) that serves presigned-style URLs (GET with byte ranges, PUT) from the same directory."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from juice.errors import ObjectNotFound

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


class DirStore:
    """An ObjectStore on a directory: <root>/<bucket>/<key>. Presigned URLs point at the test server."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url

    def _path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def put_file(
        self, bucket: str, key: str, path: str, content_type: str = "application/octet-stream"
    ) -> None:
        self.put_bytes(bucket, key, Path(path).read_bytes(), content_type)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        path = self._path(bucket, key)
        if not path.is_file():
            raise ObjectNotFound(f"{bucket}/{key}")
        return path.read_bytes()

    def exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).is_file()

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        base = self.root / bucket
        keys = [p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()]
        return sorted(k for k in keys if k.startswith(prefix))

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        keys = self.list_keys(bucket, prefix)
        for key in keys:
            self._path(bucket, key).unlink()
        return len(keys)

    def presign_get(self, bucket: str, key: str, expires_seconds: int) -> str:
        return f"{self.base_url}/{bucket}/{key}?X-Amz-Signature=secret"

    def presign_put(self, bucket: str, key: str, expires_seconds: int) -> str:
        return f"{self.base_url}/{bucket}/{key}?X-Amz-Signature=secret"


class ObjectServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.release = threading.Event()  # requests under /stall/ wait for this
        self.puts: list[tuple[str, str]] = []  # (path, content type) in arrival order


class _Handler(BaseHTTPRequestHandler):
    server: ObjectServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def _file(self) -> Path:
        return self.server.root / self.path.split("?", 1)[0].lstrip("/")

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path.startswith("/deny/"):
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self._file()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        self.server.puts.append((self.path.split("?", 1)[0], self.headers.get("Content-Type", "")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.startswith("/stall/"):
            self.server.release.wait(60)
        path = self._file()
        if not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = path.read_bytes()
        match = _RANGE.fullmatch(self.headers.get("Range", ""))
        start, end = 0, len(data) - 1
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), end) if match.group(2) else end
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        try:
            self.wfile.write(data[start : end + 1])
        except (BrokenPipeError, ConnectionResetError):
            return
