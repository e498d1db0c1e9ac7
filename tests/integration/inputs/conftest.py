"""The edge-input tests run on the session's local stack (tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from juice.local.stack import LocalStack
from tests.support import JobClient


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[JobClient]:
    c = JobClient(stack)
    yield c
    c.close()
