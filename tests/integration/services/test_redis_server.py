"""RedisServer: starts on a free loopback port, answers, stops clean; the redis fixtures."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
import redis

from juice.errors import ServiceError
from juice.local.procs import pid_alive, pid_listens_on, port_is_free
from juice.local.redis_server import RedisServer

pytestmark = pytest.mark.integration


def test_lifecycle_start_answer_stop_clean() -> None:
    server = RedisServer().start()
    pid, port, work_dir = server.pid, server.port, server.work_dir
    assert work_dir is not None
    try:
        assert server.url == f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(server.url)
        assert client.set("k", "v")
        assert client.get("k") == b"v"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("dir") == {"dir": str(work_dir)}
        client.close()
        assert pid_listens_on(pid, port)
    finally:
        server.stop()
    assert not pid_alive(pid)
    assert port_is_free(port)
    assert not work_dir.exists()
    server.stop()  # idempotent


def test_context_manager_and_given_work_dir_is_kept(tmp_path: Path) -> None:
    with RedisServer(work_dir=tmp_path / "r") as server:
        pid = server.pid
        redis.Redis.from_url(server.url).close()
    assert not pid_alive(pid)
    assert (tmp_path / "r" / "redis.out").exists()
    with pytest.raises(ServiceError):
        _ = server.url


def test_port_in_use_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(ServiceError, match="already in use"):
            RedisServer(port=sock.getsockname()[1]).start()


def test_missing_executable_is_a_service_error() -> None:
    server = RedisServer(executable="juice-no-such-redis-server")
    assert server.missing_prerequisites() == ["juice-no-such-redis-server"]
    with pytest.raises(ServiceError, match="juice-no-such-redis-server"):
        server.start()


def test_a_failing_start_reports_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-redis"
    fake.write_text("#!/bin/sh\necho 'fatal: cannot open config' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    work_dir = tmp_path / "w"
    with pytest.raises(ServiceError, match="fatal: cannot open config"):
        RedisServer(executable=str(fake), work_dir=work_dir).start()
    assert os.listdir(work_dir) == ["redis.out"]


def test_redis_client_fixture_writes(redis_client: redis.Redis) -> None:
    redis_client.set("juice:test:leftover", "1")
    assert redis_client.dbsize() == 1


def test_redis_client_fixture_starts_from_an_empty_db(redis_client: redis.Redis, redis_url: str) -> None:
    assert redis_url.startswith("redis://127.0.0.1:")
    assert redis_client.dbsize() == 0
