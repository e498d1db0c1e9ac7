"""The end-to-end tests run on the session's local stack (tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Client

from juice.local.stack import LocalStack
from juice.media.samples import make_clip


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    make_clip(path, seconds=12, rate="25", width=320, height=180)
    return path


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> Iterator[Client]:
    c = Client(stack)
    yield c
    c.close()


@pytest.fixture(scope="session")
def source(stack: LocalStack, clip: Path) -> str:
    """The clip uploaded once, as an upload service would: s3://uploads/e2e/clip.mp4."""
    store = stack.object_store()
    store.put_file("uploads", "e2e/clip.mp4", str(clip), "video/mp4")
    return "s3://uploads/e2e/clip.mp4"
