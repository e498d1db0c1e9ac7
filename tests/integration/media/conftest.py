"""Fixtures for the media pipeline tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_objects import DirStore, ObjectServer


@pytest.fixture
def object_server(tmp_path: Path) -> Iterator[ObjectServer]:
    root = tmp_path / "objects"
    root.mkdir()
    server = ObjectServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def store(object_server: ObjectServer) -> DirStore:
    host, port = object_server.server_address[:2]
    return DirStore(object_server.root, f"http://{host!s}:{port}")
